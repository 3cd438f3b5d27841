using System.Text.Json;

namespace Gateway.Client;

/// <summary>One event of a session, as the gateway delivered it.</summary>
public sealed class GatewayEvent
{
    /// <summary>The session the event belongs to.</summary>
    public required string Session { get; init; }

    /// <summary>The event's name, such as <c>build_progress</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The event's position in its session's life: 1, 2, 3, ... with no gaps (a filter or conflation may skip some).</summary>
    public required long Seq { get; init; }

    /// <summary>
    /// The life of the session that <see cref="Seq"/> belongs to, as the connection's <c>welcome</c>
    /// gave it; null only when talking to a gateway that does not send one.
    /// </summary>
    public string? Epoch { get; init; }

    /// <summary>
    /// True on the first event delivered after the session began a new life (it was deleted, expired,
    /// or its history was lost): seqs started again from 1, and events of the old life that were
    /// not yet delivered are gone. Read the state (<see cref="GatewayClient.StatusAsync"/>) to catch up.
    /// </summary>
    public bool EpochChanged { get; init; }

    /// <summary>When the gateway accepted the event (UTC, milliseconds).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>The event's data as published; a JSON <c>null</c> when it had none.</summary>
    public required JsonElement Data { get; init; }

    /// <summary>The key the publisher gave, when it gave one: the state keeps the latest event per name and key.</summary>
    public string? Key { get; init; }

    /// <summary>True when <see cref="Data"/> is a chunk of text to append to what this name and key hold so far.</summary>
    public bool Append { get; init; }

    /// <summary>How many older events of the same name (and key) this one replaced for a client that was behind; 0 when none.</summary>
    public int Conflated { get; init; }

    /// <summary>The connection and user that published the event over WebSocket; null for an event the backend published over HTTP.</summary>
    public GatewayEventSender? From { get; init; }

    /// <summary>Reads <see cref="Data"/> as a <typeparamref name="T"/>.</summary>
    /// <param name="options">Serializer options; the web defaults (camelCase) when null.</param>
    public T? DataAs<T>(JsonSerializerOptions? options = null) => Data.Deserialize<T>(options ?? JsonSerializerOptions.Web);
}

/// <summary>Who published an event from a WebSocket connection; set by the gateway, never by the publisher.</summary>
/// <param name="Connection">The publishing connection's id.</param>
/// <param name="User">Its user, or null when unknown.</param>
public sealed record GatewayEventSender(string Connection, string? User);
