using System.Text.Json;

namespace Gateway.Client;

/// <summary>How a <see cref="GatewayClient"/> connects, what it asks for and how it reconnects.</summary>
public sealed class GatewayClientOptions
{
    /// <summary>The default first reconnection delay: a dropped connection is usually a blip, so the first retry comes soon.</summary>
    public const int DefaultReconnectDelayMilliseconds = 500;

    /// <summary>The default cap on the reconnection delay: the cap the gateway's browser client uses too.</summary>
    public const int DefaultMaxReconnectDelaySeconds = 30;

    /// <summary>The default ping interval: the gateway's own heartbeat interval.</summary>
    public const int DefaultPingIntervalSeconds = 15;

    /// <summary>The default <see cref="ConnectTimeout"/>, in seconds.</summary>
    public const int DefaultConnectTimeoutSeconds = 10;

    /// <summary>
    /// Gives a token for each connection, sent as <c>Authorization: Bearer</c> (never in the URL).
    /// Called before every connection, so it can hand out a fresh one. Null when auth is off.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? TokenProvider { get; set; }

    /// <summary>
    /// Gives a single-use ticket (from <c>POST /api/tickets</c>) for each connection, passed as
    /// <c>ticket=</c>. Called before every connection, since a ticket works once. Null when not used.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? TicketProvider { get; set; }

    /// <summary>The event names to receive (the <c>events=</c> filter); null or empty for every event.</summary>
    public IReadOnlyCollection<string>? Events { get; set; }

    /// <summary>Ask for <c>join</c> and <c>leave</c> notifications (<see cref="GatewayClient.PresenceChanged"/>). Default false.</summary>
    public bool Presence { get; set; }

    /// <summary>With auth off: who this client is to the others (<c>user=</c>). Ignored by the gateway when a token says who.</summary>
    public string? User { get; set; }

    /// <summary>With auth off: a JSON object the others see beside <see cref="User"/> (<c>info=</c>), at most 1 KiB.</summary>
    public JsonElement? Info { get; set; }

    /// <summary>
    /// Where to start: the held events after this seq come first (0 for every event history
    /// holds). Null, the default, starts with what is published after the client joins.
    /// </summary>
    public long? Since { get; set; }

    /// <summary>With <see cref="Since"/>: the life of the session that seq belongs to, so a seq of another life is not trusted.</summary>
    public string? Epoch { get; set; }

    /// <summary>The delay before the first reconnection attempt; it doubles with each failed attempt, with jitter. Default 500 ms.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(DefaultReconnectDelayMilliseconds);

    /// <summary>The longest delay between reconnection attempts. Default 30 s.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(DefaultMaxReconnectDelaySeconds);

    /// <summary>
    /// How long one connection attempt (the TCP connection, the credentials from a provider, and
    /// the WebSocket handshake) may take; an attempt that takes longer counts as failed. Default 10 s.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(DefaultConnectTimeoutSeconds);

    /// <summary>
    /// How often the client sends a <c>ping</c> message, to measure <see cref="GatewayClient.Latency"/>
    /// and to find a dead connection: one that brings no message for three intervals is dropped and
    /// made again. Default 15 s; <see cref="TimeSpan.Zero"/> turns both off (the gateway's WebSocket
    /// pings are still answered).
    /// </summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(DefaultPingIntervalSeconds);

    /// <summary>How <see cref="GatewayClient.PublishAsync"/> and <see cref="GatewayClient.RpcAsync"/> serialize data and read results. Default: the web defaults (camelCase).</summary>
    public JsonSerializerOptions SerializerOptions { get; set; } = JsonSerializerOptions.Web;

    internal void Validate()
    {
        if (ReconnectDelay <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ReconnectDelay), ReconnectDelay, "ReconnectDelay must be positive.");
        }

        if (MaxReconnectDelay < ReconnectDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReconnectDelay), MaxReconnectDelay, "MaxReconnectDelay must be at least ReconnectDelay.");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "ConnectTimeout must be positive.");
        }

        if (PingInterval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PingInterval), PingInterval, "PingInterval must be zero (off) or positive.");
        }

        if (Since < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Since), Since, "Since must be 0 or more.");
        }

        if (Epoch is not null && Since is null)
        {
            throw new ArgumentException("Epoch is given only with Since: it names the session's life that seq belongs to.", nameof(Epoch));
        }

        if (Info is { ValueKind: not JsonValueKind.Object })
        {
            throw new ArgumentException($"Info must be a JSON object, not {Info.Value.ValueKind}.", nameof(Info));
        }

        if (TokenProvider is not null && TicketProvider is not null)
        {
            throw new ArgumentException("Give TokenProvider or TicketProvider, not both.", nameof(TicketProvider));
        }
    }
}
