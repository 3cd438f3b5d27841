namespace Gateway.Configuration;

/// <summary>The <c>Gateway:History</c> section: what each session keeps for late joiners and resumes.</summary>
internal sealed class HistoryOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:History";

    /// <summary>Spec section 1: the last 1000 events per session.</summary>
    public const int DefaultMaxEvents = 1000;

    /// <summary>How many of a session's latest events are kept (1 to 1,000,000).</summary>
    public int MaxEvents { get; set; } = DefaultMaxEvents;
}

/// <summary>The <c>Gateway:Sessions</c> section: how long sessions live.</summary>
internal sealed class SessionsOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Sessions";

    /// <summary>Spec section 1: a session with no clients and no publishes is forgotten after an hour.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromHours(1);

    /// <summary>Spec section 11: a completed job stays an hour for late joiners.</summary>
    public static readonly TimeSpan DefaultCompletedRetention = TimeSpan.FromHours(1);

    /// <summary>How long a session with no clients and no publishes is kept (at least 1 s).</summary>
    public TimeSpan IdleTimeout { get; set; } = DefaultIdleTimeout;

    /// <summary>How long a session completed by a final event is kept for late joiners (at least 1 s).</summary>
    public TimeSpan CompletedRetention { get; set; } = DefaultCompletedRetention;
}

/// <summary>The <c>Gateway:Limits</c> section: sizes and queues that bound what one client can cost.</summary>
internal sealed class LimitsOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Limits";

    /// <summary>Spec section 3: 64 KiB, far above any control message and a generous client publish.</summary>
    public const int DefaultMaxMessageBytes = 64 * 1024;

    /// <summary>Spec section 5: 1 MiB, a batch of 1000 events of about 1 KB each.</summary>
    public const int DefaultMaxPublishBytes = 1024 * 1024;

    /// <summary>Spec section 4: 1024 frames, several seconds of a busy stream for a briefly stalled reader.</summary>
    public const int DefaultSendQueueMessages = 1024;

    /// <summary>Spec section 4: a close frame gets 5 s to go out before the socket is aborted.</summary>
    public static readonly TimeSpan DefaultCloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The largest WebSocket message a client may send, in bytes (128 to 16 MiB); larger ones close with 1009.</summary>
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>The largest publish request body, in bytes (1 KiB to 64 MiB); larger ones get 413.</summary>
    public int MaxPublishBytes { get; set; } = DefaultMaxPublishBytes;

    /// <summary>How many frames may wait in one connection's send queue (1 to 1,000,000); overflow closes it with 4001.</summary>
    public int SendQueueMessages { get; set; } = DefaultSendQueueMessages;

    /// <summary>How long a close handshake may take before the socket is aborted (100 ms to 5 min).</summary>
    public TimeSpan CloseTimeout { get; set; } = DefaultCloseTimeout;
}

/// <summary>The <c>Gateway:Heartbeat</c> section: pings and dead-connection eviction.</summary>
internal sealed class HeartbeatOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Heartbeat";

    /// <summary>Spec section 4: a ping every 15 s keeps idle connections alive through proxies that cut at 30-60 s.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(15);

    /// <summary>Spec section 4: three missed intervals before a silent connection is evicted.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(45);

    /// <summary>How often the gateway sends a WebSocket ping (10 ms to 1 h, below <see cref="Timeout"/>).</summary>
    public TimeSpan Interval { get; set; } = DefaultInterval;

    /// <summary>How long a connection may send nothing before it is evicted with 4000 (above <see cref="Interval"/>, at most 24 h).</summary>
    public TimeSpan Timeout { get; set; } = DefaultTimeout;
}

/// <summary>The <c>Gateway:Shutdown</c> section.</summary>
internal sealed class ShutdownOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Shutdown";

    /// <summary>Spec section 8: 10 s for clients to answer the 1001 close.</summary>
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long shutdown waits for close handshakes before it aborts what is left (0 to 10 min).</summary>
    public TimeSpan DrainTimeout { get; set; } = DefaultDrainTimeout;
}

/// <summary>The <c>Gateway:Security</c> section.</summary>
internal sealed class SecurityOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Security";

    /// <summary>
    /// Whether WebSocket clients may send <c>publish</c>. Off by default: browsers are usually
    /// watchers, and the backend is the publisher (spec section 3).
    /// </summary>
    public bool AllowClientPublish { get; set; }
}
