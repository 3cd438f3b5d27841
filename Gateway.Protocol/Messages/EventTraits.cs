namespace Gateway.Protocol.Messages;

/// <summary>
/// What a publisher may say about an event beyond its name and data (spec sections 12 and 19):
/// the <c>key</c> its state is kept under, whether it <c>append</c>s its text to that key's, and
/// whether a reader that is behind may skip it for a newer one (<c>conflate</c>).
/// </summary>
/// <param name="Key">A key (<see cref="Names.IsValidKey"/>), or null.</param>
/// <param name="Append">True when the event's string data adds to the text kept for its name and key.</param>
/// <param name="Conflate">True when the publisher marked the event conflatable.</param>
public readonly record struct EventTraits(string? Key = null, bool Append = false, bool Conflate = false)
{
    /// <summary>What is wrong with these traits on an event whose data is (or is not) a JSON string, or null.</summary>
    public string? Problem(bool dataIsString)
    {
        if (Append && Key is null)
        {
            return Errors.AppendWithoutKey;
        }

        if (Append && !dataIsString)
        {
            return Errors.AppendNotString;
        }

        return Append && Conflate ? Errors.AppendConflate : null;
    }

    /// <summary>The texts of the errors about these fields, shared by every decoder.</summary>
    internal static class Errors
    {
        public const string KeyInvalid = "field \"key\" must be a key: a string of 1-128 characters from " + Names.AllowedCharacters;
        public const string AppendInvalid = "field \"append\" must be true or false";
        public const string ConflateInvalid = "field \"conflate\" must be true or false";
        public const string AppendWithoutKey = "field \"append\" needs a \"key\": an append adds its text to the text kept for its event name and key";
        public const string AppendNotString = "an append's \"data\" must be a JSON string: the text to add";
        public const string AppendConflate = "an append is never conflated: give \"append\" or \"conflate\", not both";
    }
}
