namespace Gateway.Protocol;

/// <summary>
/// The rule for a session's epoch (spec section 4): a short string naming one life of a session,
/// which a client hands back with a seq so that a seq of a life that is gone is not trusted.
/// </summary>
public static class Epochs
{
    /// <summary>The longest epoch accepted from a client.</summary>
    public const int MaxLength = 32;

    /// <summary>What an epoch is, for error messages.</summary>
    public const string Rule = "1-32 characters from A-Z a-z 0-9, as the gateway sent it";

    /// <summary>True when <paramref name="epoch"/> is 1-32 ASCII letters and digits (so it never holds the <c>:</c> of an SSE id).</summary>
    public static bool IsValid(ReadOnlySpan<char> epoch)
    {
        if (epoch.IsEmpty || epoch.Length > MaxLength)
        {
            return false;
        }

        foreach (char c in epoch)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
