namespace Gateway.Protocol;

/// <summary>
/// The naming rules of the protocol: session names and event names (spec section 1).
/// </summary>
public static class Names
{
    /// <summary>The longest session name accepted.</summary>
    public const int MaxSessionNameLength = 128;

    /// <summary>The longest event name accepted.</summary>
    public const int MaxEventNameLength = 64;

    /// <summary>The characters a name may contain, for error messages.</summary>
    public const string AllowedCharacters = "A-Z a-z 0-9 . _ : -";

    /// <summary>True when <paramref name="name"/> is a valid session name: 1-128 characters from <see cref="AllowedCharacters"/>.</summary>
    public static bool IsValidSessionName(ReadOnlySpan<char> name) => IsValid(name, MaxSessionNameLength);

    /// <summary>The longest event key accepted (spec section 19).</summary>
    public const int MaxKeyLength = 128;

    /// <summary>True when <paramref name="key"/> is a valid event key: 1-128 characters from <see cref="AllowedCharacters"/>.</summary>
    public static bool IsValidKey(ReadOnlySpan<char> key) => IsValid(key, MaxKeyLength);

    /// <summary>True when <paramref name="name"/> is a valid event name: 1-64 characters from <see cref="AllowedCharacters"/>.</summary>
    public static bool IsValidEventName(ReadOnlySpan<char> name) => IsValid(name, MaxEventNameLength);

    private static bool IsValid(ReadOnlySpan<char> name, int maxLength)
    {
        if (name.IsEmpty || name.Length > maxLength)
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!IsNameChar(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsNameChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-';
}
