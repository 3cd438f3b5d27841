using System.Text.Json;

namespace Gateway.Protocol.Messages;

/// <summary>
/// A JSON string or number kept as the client sent it, so that it can be echoed back unchanged
/// (a message <c>id</c>, a ping's <c>ts</c>).
/// </summary>
/// <param name="Text">The string's value, or the number's JSON text.</param>
/// <param name="IsString">True for a JSON string, false for a JSON number.</param>
public readonly record struct JsonScalar(string Text, bool IsString)
{
    /// <summary>The most characters an id or echoed scalar may have.</summary>
    public const int MaxLength = 64;

    /// <summary>Creates a string scalar.</summary>
    public static JsonScalar FromString(string text) => new(text, IsString: true);

    /// <summary>Creates a number scalar from its JSON text.</summary>
    public static JsonScalar FromNumber(long value) => new(value.ToString(System.Globalization.CultureInfo.InvariantCulture), IsString: false);

    /// <summary>Writes the scalar as a JSON value.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        if (IsString)
        {
            writer.WriteStringValue(Text);
        }
        else
        {
            // The text was a valid JSON number when it was read; write it back byte for byte.
            writer.WriteRawValue(Text, skipInputValidation: true);
        }
    }
}
