using System.Globalization;
using System.Text.Json;

namespace Gateway.Protocol.Json;

/// <summary>Event timestamps on the wire: RFC 3339, UTC, milliseconds (<c>2026-11-22T05:26:25.123Z</c>).</summary>
public static class Timestamps
{
    /// <summary>The length of a formatted timestamp.</summary>
    public const int Length = 24;

    private const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    /// <summary>Drops sub-millisecond ticks, so that a stored time equals the one sent.</summary>
    public static DateTimeOffset TruncateToMilliseconds(DateTimeOffset time) =>
        new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    /// <summary>Formats <paramref name="time"/> as RFC 3339 UTC with milliseconds.</summary>
    public static string ToRfc3339(DateTimeOffset time) =>
        time.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    internal static void Write(Utf8JsonWriter writer, JsonEncodedText name, DateTimeOffset time)
    {
        Span<byte> text = stackalloc byte[Length];
        bool formatted = time.UtcDateTime.TryFormat(text, out int written, Format, CultureInfo.InvariantCulture);
        System.Diagnostics.Debug.Assert(formatted && written == Length);
        writer.WriteString(name, text[..written]);
    }
}
