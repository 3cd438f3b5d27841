using System.Buffers;
using System.Text.Json;

namespace Gateway.Hooks;

/// <summary>What a notification to the backend tells (spec section 13).</summary>
internal enum HookType
{
    /// <summary>A client connection opened (WebSocket or SSE).</summary>
    Connect,

    /// <summary>A client connection closed.</summary>
    Disconnect,

    /// <summary>A session got its first client, across every node.</summary>
    SessionOccupied,

    /// <summary>A session's last client left, across every node.</summary>
    SessionVacated,
}

/// <summary>
/// One notification to the backend. Its <paramref name="Id"/> is made once, when it is queued,
/// so that every retry of its batch carries the same id and the backend can drop repeats.
/// </summary>
/// <param name="Id">Unique across nodes and restarts (a random node prefix and a counter).</param>
/// <param name="Type">What happened.</param>
/// <param name="Session">The session it happened in.</param>
/// <param name="Connection">The connection's id; null for the session notifications.</param>
/// <param name="User">The connection's user (spec section 17); null when it has none, and for the session notifications.</param>
/// <param name="At">When it happened.</param>
internal readonly record struct HookNotification(string Id, HookType Type, string Session, string? Connection, string? User, DateTimeOffset At);

/// <summary>The JSON the backend gets: an array of <c>{id, type, session, connection, user, ts}</c>.</summary>
internal static class HookJson
{
    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText SessionName = JsonEncodedText.Encode("session");
    private static readonly JsonEncodedText ConnectionName = JsonEncodedText.Encode("connection");
    private static readonly JsonEncodedText UserName = JsonEncodedText.Encode("user");
    private static readonly JsonEncodedText TsName = JsonEncodedText.Encode("ts");

    private static readonly JsonEncodedText[] TypeNames =
    [
        JsonEncodedText.Encode("connect"),
        JsonEncodedText.Encode("disconnect"),
        JsonEncodedText.Encode("session_occupied"),
        JsonEncodedText.Encode("session_vacated"),
    ];

    /// <summary>The body of one POST: <paramref name="batch"/> as a JSON array, in order.</summary>
    public static byte[] Serialize(IReadOnlyList<HookNotification> batch)
    {
        var buffer = new ArrayBufferWriter<byte>(128 * batch.Count + 2);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (HookNotification n in batch)
            {
                json.WriteStartObject();
                json.WriteString(IdName, n.Id);
                json.WriteString(TypeName, TypeNames[(int)n.Type]);
                json.WriteString(SessionName, n.Session);
                json.WriteString(ConnectionName, n.Connection);
                json.WriteString(UserName, n.User);

                // RFC 3339, UTC, milliseconds: what every backend's date parser takes.
                json.WriteString(TsName, n.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
