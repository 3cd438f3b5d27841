using System.Text.Json;

namespace Gateway.Client.Wire;

/// <summary>
/// Any message the gateway sends, as one flat shape: the client reads <see cref="Type"/> and then
/// the fields that type carries. One shape keeps the generated reader small, and unknown fields
/// are skipped, so a newer gateway's additions do not break an older client.
/// </summary>
internal sealed class WireMessage
{
    public string? Type { get; set; }

    public string? Id { get; set; }

    public string? Session { get; set; }

    public string? Connection { get; set; }

    /// <summary>A <c>join</c>'s or <c>leave</c>'s user.</summary>
    public string? User { get; set; }

    /// <summary>A <c>join</c>'s info object.</summary>
    public JsonElement Info { get; set; }

    public long? Seq { get; set; }

    public string? Epoch { get; set; }

    public bool? Complete { get; set; }

    public WireHeartbeat? Heartbeat { get; set; }

    public string? Event { get; set; }

    /// <summary>An event's time (RFC 3339), or a pong's echo of the client's <c>ts</c> (sent as a string).</summary>
    public string? Ts { get; set; }

    public long? ServerTs { get; set; }

    public JsonElement Data { get; set; }

    public string? Key { get; set; }

    public bool? Append { get; set; }

    public int? Conflated { get; set; }

    public WireFrom? From { get; set; }

    public long? Since { get; set; }

    public long? Replayed { get; set; }

    public int? Clients { get; set; }

    public int? Users { get; set; }

    public List<WireMember>? Members { get; set; }

    public List<WireMember>? Joined { get; set; }

    public List<WireMember>? Left { get; set; }

    public Dictionary<string, WireStateEntry>? State { get; set; }

    public Dictionary<string, Dictionary<string, WireStateEntry>>? Keyed { get; set; }

    public List<string>? Events { get; set; }

    public string? Code { get; set; }

    public string? Message { get; set; }
}

internal sealed class WireHeartbeat
{
    public long Interval { get; set; }

    public long Timeout { get; set; }
}

internal sealed class WireFrom
{
    public string? Connection { get; set; }

    public string? User { get; set; }
}

internal sealed class WireMember
{
    public string? Connection { get; set; }

    public string? User { get; set; }

    public JsonElement Info { get; set; }

    public string? Since { get; set; }
}

internal sealed class WireStateEntry
{
    public long Seq { get; set; }

    public string? Ts { get; set; }

    public JsonElement Data { get; set; }

    public WireFrom? From { get; set; }

    public int? Chunks { get; set; }
}

/// <summary>Any message the client sends; absent fields are left out of the JSON.</summary>
internal sealed class WireRequest
{
    public required string Type { get; init; }

    public string? Id { get; set; }

    public string? Event { get; init; }

    public string? Method { get; init; }

    public JsonElement? Data { get; init; }

    public string? Key { get; init; }

    public bool? Append { get; init; }

    public bool? Conflate { get; init; }

    public IReadOnlyList<string>? Events { get; init; }

    public string? Ts { get; init; }
}
