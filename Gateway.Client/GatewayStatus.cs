using System.Text.Json;

namespace Gateway.Client;

/// <summary>A session's status: where it stands, as the <c>status</c> message answers it.</summary>
public sealed class GatewayStatus
{
    /// <summary>The session's name.</summary>
    public required string Session { get; init; }

    /// <summary>The session's latest seq.</summary>
    public required long Seq { get; init; }

    /// <summary>The session's current life.</summary>
    public string? Epoch { get; init; }

    /// <summary>Its open WebSocket connections and SSE streams.</summary>
    public int Clients { get; init; }

    /// <summary>True once a final event has ended the session.</summary>
    public bool Complete { get; init; }

    /// <summary>The latest event of each name, oldest first.</summary>
    public required IReadOnlyDictionary<string, GatewayStateEntry> State { get; init; }

    /// <summary>The latest event of each name and key (keyed events), empty when the session has none.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyDictionary<string, GatewayStateEntry>> Keyed { get; init; }
}

/// <summary>The latest event of a name (or of a name and key) in a session's state.</summary>
public sealed class GatewayStateEntry
{
    /// <summary>The event's seq.</summary>
    public required long Seq { get; init; }

    /// <summary>When the gateway accepted it.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Its data; for appended text, the whole text so far.</summary>
    public required JsonElement Data { get; init; }

    /// <summary>Who published it from a WebSocket connection, if anyone did.</summary>
    public GatewayEventSender? From { get; init; }

    /// <summary>For appended text, how many chunks it was assembled from; null otherwise.</summary>
    public int? Chunks { get; init; }
}
