namespace Gateway.Configuration;

/// <summary>The <c>Gateway:History</c> section: what each session keeps for late joiners and resumes.</summary>
internal sealed class HistoryOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:History";

    /// <summary>Spec section 1: the last 1000 events per session.</summary>
    public const int DefaultMaxEvents = 1000;

    /// <summary>
    /// 4 GiB: a sixth of the 24 GiB machines the gateway is measured on, leaving room for
    /// connections (about 10 KB each) and the runtime.
    /// </summary>
    public const long DefaultMaxTotalBytes = 4L * 1024 * 1024 * 1024;

    /// <summary>How many of a session's latest events are kept (1 to 1,000,000).</summary>
    public int MaxEvents { get; set; } = DefaultMaxEvents;

    /// <summary>
    /// The most memory all sessions' events may hold together, in bytes (1 MiB to 1 TiB); past it,
    /// publishes are refused until sessions expire.
    /// </summary>
    public long MaxTotalBytes { get; set; } = DefaultMaxTotalBytes;

    /// <summary>
    /// The most bytes of event data (each event's name and <c>data</c> JSON, in UTF-8) one session's
    /// history keeps (0: no bound beyond <see cref="MaxEvents"/> and <see cref="MaxTotalBytes"/>; else
    /// 1 KiB to 1 TiB). Past it the oldest events leave history; the newest always stays. 0 by
    /// default: most sessions are bounded well enough by their event count, and a byte bound is for
    /// sessions whose events vary widely in size (a build log's lines beside its artifacts).
    /// </summary>
    public long MaxBytes { get; set; }
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

    /// <summary>
    /// 100,000 sessions: far above the 160 to 2,000 of the gateway's own load scenarios, and small
    /// enough that empty sessions (about 1 KB each) cannot exhaust memory.
    /// </summary>
    public const int DefaultMaxSessions = 100_000;

    /// <summary>A job has a handful of event names; 1000 leaves room and bounds a session's state.</summary>
    public const int DefaultMaxEventNames = 1000;

    /// <summary>How long a session completed by a final event is kept for late joiners (at least 1 s).</summary>
    public TimeSpan CompletedRetention { get; set; } = DefaultCompletedRetention;

    /// <summary>How many sessions this node holds at most (1 to 10,000,000); past it, new sessions are refused with 503.</summary>
    public int MaxSessions { get; set; } = DefaultMaxSessions;

    /// <summary>How many distinct event names one session may have (1 to 100,000); its state holds one event per name.</summary>
    public int MaxEventNames { get; set; } = DefaultMaxEventNames;

    /// <summary>
    /// Spec section 19: a chat session keeps one keyed entry per message; 10,000 messages is a long
    /// conversation, and bounds what a session's keyed state can hold.
    /// </summary>
    public const int DefaultMaxKeys = 10_000;

    /// <summary>
    /// How many keyed entries (distinct event name and key pairs) one session's keyed state may hold
    /// (1 to 1,000,000); a publish that would add more is refused.
    /// </summary>
    public int MaxKeys { get; set; } = DefaultMaxKeys;

    /// <summary>
    /// The event names (exact, or prefixes ending in <c>*</c>; <c>*</c> alone for every name) that a
    /// reader which is behind may have conflated: a newer event of the same name and key replaces an
    /// older one not yet sent to it (spec section 12). Empty by default: only events published with
    /// <c>"conflate": true</c> are. Appends never are.
    /// </summary>
    public string[] Conflate { get; set; } = [];

    /// <summary>
    /// Session profiles (spec section 20), in order: a session takes the first whose
    /// <see cref="SessionProfileOptions.Match"/> matches its name, and what that profile leaves
    /// out comes from the global settings. Empty by default: every session takes the globals.
    /// </summary>
    public SessionProfileOptions[] Profiles { get; set; } = [];
}

/// <summary>
/// One entry of <c>Gateway:Sessions:Profiles</c>: the settings of the sessions it matches. Every
/// setting but <see cref="Match"/> is optional (null: the global one applies).
/// </summary>
internal sealed class SessionProfileOptions
{
    /// <summary>A session name (<c>lobby</c>), a prefix of names ending in <c>*</c> (<c>build-*</c>), or <c>*</c> alone for every session.</summary>
    public string Match { get; set; } = "";

    /// <summary>What these sessions' history keeps, instead of <c>Gateway:History</c>.</summary>
    public SessionProfileHistoryOptions? History { get; set; }

    /// <summary>The event names conflated for slow readers, instead of <c>Gateway:Sessions:Conflate</c>.</summary>
    public string[]? Conflate { get; set; }

    /// <summary>Whether these sessions keep presence, instead of <c>Gateway:Presence:Enabled</c> (either way round).</summary>
    public bool? Presence { get; set; }

    /// <summary>The event names clients may publish here, instead of <c>Gateway:Security:ClientPublishEvents</c>.</summary>
    public string[]? ClientPublishEvents { get; set; }

    /// <summary>How long these sessions are kept idle, instead of <c>Gateway:Sessions:IdleTimeout</c> (1 s to 365 days).</summary>
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>How long these sessions are kept once complete, instead of <c>Gateway:Sessions:CompletedRetention</c> (1 s to 365 days).</summary>
    public TimeSpan? CompletedRetention { get; set; }

    /// <summary>How far behind a client of these sessions may fall, in bytes, instead of <c>Gateway:Limits:MaxLagBytes</c> (same bounds).</summary>
    public long? MaxLagBytes { get; set; }

    /// <summary>How long a frame may wait for a client of these sessions, instead of <c>Gateway:Limits:MaxLagTime</c> (same bounds).</summary>
    public TimeSpan? MaxLagTime { get; set; }
}

/// <summary>The <c>History</c> of a session profile: either bound may be left out.</summary>
internal sealed class SessionProfileHistoryOptions
{
    /// <summary>How many of a session's latest events are kept, instead of <c>Gateway:History:MaxEvents</c> (1 to 1,000,000).</summary>
    public int? MaxEvents { get; set; }

    /// <summary>The bytes of event data a session's history keeps, instead of <c>Gateway:History:MaxBytes</c> (0: no bound; else 1 KiB to 1 TiB).</summary>
    public long? MaxBytes { get; set; }
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

    /// <summary>
    /// Spec section 4: 16 MiB, sixteen full publishes (a batch of 1000 events of 1 KB) behind a
    /// client that reads, and what one stalled client may pin of frames shared with everyone else.
    /// </summary>
    public const long DefaultMaxLagBytes = 16L * 1024 * 1024;

    /// <summary>Spec section 4: 30 s, far longer than any stall of a client that is still reading.</summary>
    public static readonly TimeSpan DefaultMaxLagTime = TimeSpan.FromSeconds(30);

    /// <summary>Spec section 4: a close frame gets 5 s to go out before the socket is aborted.</summary>
    public static readonly TimeSpan DefaultCloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The largest WebSocket message a client may send, in bytes (128 to 16 MiB); larger ones close with 1009.</summary>
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>The largest publish request body, in bytes (1 KiB to 64 MiB); larger ones get 413.</summary>
    public int MaxPublishBytes { get; set; } = DefaultMaxPublishBytes;

    /// <summary>
    /// How far behind a connection may fall, in bytes of frames not sent to it yet (64 KiB to 1 GiB,
    /// and at least twice <see cref="MaxPublishBytes"/>); further closes it with 4001. Replays do not count.
    /// </summary>
    public long MaxLagBytes { get; set; } = DefaultMaxLagBytes;

    /// <summary>How long the oldest frame not sent to a connection may wait (100 ms to 1 h); longer closes it with 4001.</summary>
    public TimeSpan MaxLagTime { get; set; } = DefaultMaxLagTime;

    /// <summary>
    /// 64 KiB: what the kernel may hold for one client beyond its lag. Left to itself, Linux grows a
    /// loopback or LAN socket's send buffer to megabytes, which a stalled client fills before its
    /// lag even starts to count; bounded, the kernel holds little and the lag bounds do the work.
    /// </summary>
    public const int DefaultSocketSendBufferBytes = 64 * 1024;

    /// <summary>The kernel send buffer of each WebSocket and SSE connection, in bytes (0: the operating system's own sizing; else 4 KiB to 16 MiB).</summary>
    public int SocketSendBufferBytes { get; set; } = DefaultSocketSendBufferBytes;

    /// <summary>Spec section 6: 18,000, below the process's limit of 20,000 open files with room for HTTP.</summary>
    public const int DefaultMaxConnections = 18_000;

    /// <summary>Spec section 6: a token bucket of 50 messages a second with a burst of 100.</summary>
    public const int DefaultMessagesPerSecond = 50;

    /// <summary>Spec section 6.</summary>
    public const int DefaultMessageBurst = 100;

    /// <summary>One full batch (1000 events) may always go through at once.</summary>
    public const int DefaultPublishBurst = 1000;

    /// <summary>How long a close handshake may take before the socket is aborted (100 ms to 5 min).</summary>
    public TimeSpan CloseTimeout { get; set; } = DefaultCloseTimeout;

    /// <summary>Spec section 18: 5 min, far longer than a build step that prints nothing, short enough to free a dead pipe's request.</summary>
    public static readonly TimeSpan DefaultIngestIdleTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a streaming ingest body (NDJSON or text/plain publish) may send no byte before the
    /// gateway answers with what it published so far and stops reading (100 ms to 24 h).
    /// </summary>
    public TimeSpan IngestIdleTimeout { get; set; } = DefaultIngestIdleTimeout;

    /// <summary>How many WebSocket connections and SSE streams this node holds at most (1 to 1,000,000); past it, 503.</summary>
    public int MaxConnections { get; set; } = DefaultMaxConnections;

    /// <summary>How many connections one IP address may hold (0: no limit). Off by default: behind a proxy every client shares one address.</summary>
    public int MaxConnectionsPerIp { get; set; }

    /// <summary>How many connections one session may have (0: no limit).</summary>
    public int MaxConnectionsPerSession { get; set; }

    /// <summary>The steady rate of messages one connection may send (0: no limit).</summary>
    public int MessagesPerSecond { get; set; } = DefaultMessagesPerSecond;

    /// <summary>How many messages a connection may send at once above the steady rate.</summary>
    public int MessageBurst { get; set; } = DefaultMessageBurst;

    /// <summary>The steady rate of published events per API key, token subject or IP address (0: no limit, the default).</summary>
    public int PublishesPerSecond { get; set; }

    /// <summary>How many events a publisher may publish at once above the steady rate (at least one batch of 1000).</summary>
    public int PublishBurst { get; set; } = DefaultPublishBurst;

    /// <summary>Spec section 19: 1 MiB, a long LLM answer many times over.</summary>
    public const int DefaultMaxAssembledBytes = 1024 * 1024;

    /// <summary>
    /// The longest text appends may assemble under one name and key, in bytes of its JSON string as
    /// published, quotes and escapes included (64 bytes to 64 MiB); an append past it is refused.
    /// </summary>
    public int MaxAssembledBytes { get; set; } = DefaultMaxAssembledBytes;
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
    /// Whether WebSocket clients may send <c>publish</c> without a token that grants it. Off by
    /// default: browsers are usually watchers, and the backend is the publisher (spec section 3).
    /// </summary>
    public bool AllowClientPublish { get; set; }

    /// <summary>
    /// The event names WebSocket clients may publish (spec section 13): names, or prefixes ending
    /// in <c>*</c> (<c>chat.*</c>); <c>*</c> alone is every name. Empty, as when the setting is not
    /// given, stands for <see cref="DefaultClientPublishEvents"/>. A list rather than a default
    /// value here, because configuration adds to an array it binds instead of replacing it.
    /// </summary>
    public string[] ClientPublishEvents { get; set; } = [];

    /// <summary>What <see cref="ClientPublishEvents"/> means when empty: every name (who may publish at all is <see cref="AllowClientPublish"/> and the token's).</summary>
    public static readonly string[] DefaultClientPublishEvents = ["*"];

    /// <summary>
    /// The origins (<c>https://app.example.com</c>) whose pages may open WebSockets and SSE streams;
    /// an upgrade or a stream with another <c>Origin</c> gets 403. Empty: any origin (for local
    /// use). Clients that send no <c>Origin</c> (wscat, backends) are not browsers and are not checked.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];
}

/// <summary>The <c>Gateway:Auth</c> section: who may connect, publish, list and delete (spec sections 6 and 14).</summary>
internal sealed class AuthOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Auth";

    /// <summary>Spec section 6: 5 s of clock difference between token issuer and gateway.</summary>
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromSeconds(5);

    /// <summary>Spec section 14: a client gets 5 s to send its auth message.</summary>
    public static readonly TimeSpan DefaultFirstMessageTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Spec section 14: a ticket is good for 30 s, enough for a page to open its socket.</summary>
    public static readonly TimeSpan DefaultTicketLifetime = TimeSpan.FromSeconds(30);

    /// <summary><c>none</c> (anyone may do anything; for local use) or <c>jwt</c>.</summary>
    public string Mode { get; set; } = "none";

    /// <summary>The HS256 secret, at least 32 bytes of UTF-8. Set this or a public key.</summary>
    public string? SigningKey { get; set; }

    /// <summary>An RSA public key in PEM (<c>-----BEGIN PUBLIC KEY-----</c>) for RS256 tokens.</summary>
    public string? PublicKey { get; set; }

    /// <summary>A file holding an RSA public key in PEM, instead of <see cref="PublicKey"/>.</summary>
    public string? PublicKeyFile { get; set; }

    /// <summary>When set, a token's <c>iss</c> must equal it.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, a token's <c>aud</c> must contain it.</summary>
    public string? Audience { get; set; }

    /// <summary>The tolerance on <c>exp</c> and <c>nbf</c> (0 to 5 min).</summary>
    public TimeSpan ClockSkew { get; set; } = DefaultClockSkew;

    /// <summary>Keys for server-side publishers, sent in <c>X-Api-Key</c>; each grants everything. At least 16 characters each.</summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>Whether a client may connect without credentials and send <c>{"type":"auth","token"}</c> first.</summary>
    public bool FirstMessage { get; set; }

    /// <summary>How long a first-message client has to authenticate (100 ms to 1 min).</summary>
    public TimeSpan FirstMessageTimeout { get; set; } = DefaultFirstMessageTimeout;

    /// <summary>How long a ticket from <c>POST /api/tickets</c> is good for (1 s to 10 min).</summary>
    public TimeSpan TicketLifetime { get; set; } = DefaultTicketLifetime;

    /// <summary>True when tokens are checked.</summary>
    public bool IsJwt => string.Equals(Mode, "jwt", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The <c>Gateway:Telemetry</c> section: where metrics and logs go (spec section 9).</summary>
internal sealed class TelemetryOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Telemetry";

    /// <summary>OpenTelemetry's own default export interval.</summary>
    public static readonly TimeSpan DefaultOtlpExportInterval = TimeSpan.FromSeconds(60);

    /// <summary>
    /// An OpenTelemetry collector to push metrics to (<c>http://collector:4317</c> for gRPC,
    /// <c>http://collector:4318</c> for HTTP). Empty: no push; <c>/metrics</c> is always there to scrape.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c>.</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>How often metrics are pushed to the collector (1 s to 1 h).</summary>
    public TimeSpan OtlpExportInterval { get; set; } = DefaultOtlpExportInterval;

    /// <summary><c>text</c> (one line per entry, for people) or <c>json</c> (one object per line, for log shippers).</summary>
    public string LogFormat { get; set; } = "text";
}

/// <summary>The <c>Gateway:Transport</c> section: how Kestrel runs the gateway's sockets.</summary>
internal sealed class TransportOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Transport";

    /// <summary>On: measured 2.6x the fan-out throughput per CPU second (docs/benchmarks.md).</summary>
    public const bool DefaultInlineScheduling = true;

    /// <summary>
    /// Whether Kestrel runs socket continuations inline on its I/O threads instead of queueing
    /// them to the thread pool. Turn it off only when investigating a stall.
    /// </summary>
    public bool InlineScheduling { get; set; } = DefaultInlineScheduling;

    /// <summary>On: an upgraded connection holds none of Kestrel's per-request state (docs/architecture.md).</summary>
    public const bool DefaultDirectUpgrade = true;

    /// <summary>
    /// Whether a WebSocket upgrade that opens a connection is handshaken on the listener's
    /// connection, below Kestrel's HTTP layer, with the same admission and refusals; off, every
    /// upgrade goes through Kestrel's HTTP/1.1 layer and keeps its request for the connection's life.
    /// </summary>
    public bool DirectUpgrade { get; set; } = DefaultDirectUpgrade;
}

/// <summary>The <c>Gateway:WebSockets</c> section: what the gateway's WebSocket connections may negotiate.</summary>
internal sealed class WebSocketsOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:WebSockets";

    /// <summary>
    /// On: every browser offers permessage-deflate, and an event compressed once for every
    /// compressing client costs CPU per event, not per client (docs/benchmarks.md).
    /// </summary>
    public const bool DefaultCompression = true;

    /// <summary>
    /// Whether a client that offers permessage-deflate (RFC 7692) gets it: events are then sent
    /// compressed (one compressed frame shared by every such client) and the client may send
    /// compressed messages. Off: the extension is never answered and every frame goes plain.
    /// </summary>
    public bool Compression { get; set; } = DefaultCompression;
}

/// <summary>The <c>Gateway:Backplane</c> section: where sessions live (spec section 7).</summary>
internal sealed class BackplaneOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Backplane";

    /// <summary>Every session in this process: nothing to install.</summary>
    public const string MemoryMode = "memory";

    /// <summary>Sessions in Redis, shared by every node that points at it.</summary>
    public const string RedisMode = "redis";

    /// <summary>
    /// Two seconds: a Redis on the same network answers in well under a millisecond, so a command
    /// this late means Redis is gone, and the publisher is better told so than kept waiting.
    /// </summary>
    public static readonly TimeSpan DefaultOperationTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Ten seconds: how long the last events of a stream may wait at worst after a failover or a
    /// moving slot made the channel drop them, for one cheap read per session a node follows.
    /// </summary>
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromSeconds(10);

    /// <summary><c>memory</c> (one process) or <c>redis</c> (any number of nodes sharing one Redis).</summary>
    public string Mode { get; set; } = MemoryMode;

    /// <summary>A StackExchange.Redis connection string, such as <c>127.0.0.1:6379</c> or <c>redis:6379,password=...</c>.</summary>
    public string Redis { get; set; } = "";

    /// <summary>
    /// What every Redis key and channel of this gateway starts with, so that two deployments can
    /// share one Redis (1 to 64 characters from <c>A-Z a-z 0-9 . _ : -</c>).
    /// </summary>
    public string KeyPrefix { get; set; } = "gateway:";

    /// <summary>How long a Redis command may take before the operation fails as unavailable (100 ms to 1 min).</summary>
    public TimeSpan OperationTimeout { get; set; } = DefaultOperationTimeout;

    /// <summary>
    /// How many replicas must have an accepted publish before it is acknowledged (0 to 16; 0: the
    /// primary's word is enough, the default). Redis replicates asynchronously: a primary killed
    /// right after a publish can fail over to a replica without it. With 1 or more, the node sends
    /// <c>WAIT</c> after each publish and answers 503 (retry with the same ids) when too few
    /// replicas confirmed within half of <see cref="OperationTimeout"/>.
    /// </summary>
    public int WaitReplicas { get; set; }

    /// <summary>
    /// How often a node compares each session it follows with the session's log in Redis (0: never;
    /// else 100 ms to 1 h). Pub/sub delivers at most once: while a failover or a moving slot has
    /// Redis drop a channel's subscribers, what is published reaches no node, and a later event
    /// shows the gap, but the last events of a stream have none after them. A session found behind
    /// reads what it missed from history.
    /// </summary>
    public TimeSpan CheckInterval { get; set; } = DefaultCheckInterval;

    /// <summary>
    /// The pub/sub channels events reach the nodes by: <c>session</c> (the default), one sharded
    /// channel per session, which a node subscribes to while it has members of the session; or
    /// <c>slot</c>, one per hash slot, which a node subscribes to while it has members of any
    /// session of the slot, dropping the other sessions' events. Every node of a deployment must
    /// use the same: a node of the other kind neither hears nor is heard.
    /// </summary>
    public string Channels { get; set; } = SessionChannels;

    /// <summary>A channel per session (<see cref="Channels"/>).</summary>
    public const string SessionChannels = "session";

    /// <summary>A channel per hash slot (<see cref="Channels"/>).</summary>
    public const string SlotChannels = "slot";

    /// <summary>True when the channels are per hash slot.</summary>
    public bool IsPerSlot => string.Equals(Channels, SlotChannels, StringComparison.OrdinalIgnoreCase);

    /// <summary>True when sessions live in Redis.</summary>
    public bool IsRedis => string.Equals(Mode, RedisMode, StringComparison.OrdinalIgnoreCase);
}
