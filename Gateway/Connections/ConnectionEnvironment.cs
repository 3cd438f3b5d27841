using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hooks;
using Gateway.Hub;
using Gateway.Security;
using Microsoft.Extensions.Options;

namespace Gateway.Connections;

/// <summary>What every connection shares: services and settings, resolved once, held by one reference.</summary>
internal sealed class ConnectionEnvironment(
    SessionHub hub,
    ConnectionRegistry registry,
    GatewayLifecycle lifecycle,
    GatewayMetrics metrics,
    TimeProvider time,
    ILoggerFactory loggerFactory,
    IOptions<LimitsOptions> limits,
    IOptions<HeartbeatOptions> heartbeat,
    IOptions<SecurityOptions> security,
    IOptions<AuthOptions> auth,
    IOptions<WebSocketsOptions> webSockets,
    Authenticator authenticator,
    HookOutbox hooks,
    Hooks.RpcClient rpc,
    Sessions.SessionProfiles profiles)
{
    /// <summary>
    /// Each session's settings (spec section 20): a connection takes its session's lag bounds
    /// (<c>Limits:MaxLagBytes</c>, <c>Limits:MaxLagTime</c>), client publish names
    /// (<c>Security:ClientPublishEvents</c>) and presence from there, never from the globals directly.
    /// </summary>
    public Sessions.SessionProfiles Profiles { get; } = profiles;

    /// <summary>The backend's connect and disconnect notifications (nothing is queued without <c>Hooks:Url</c>).</summary>
    public HookOutbox Hooks { get; } = hooks;

    public SessionHub Hub { get; } = hub;

    public ConnectionRegistry Registry { get; } = registry;

    public GatewayLifecycle Lifecycle { get; } = lifecycle;

    public GatewayMetrics Metrics { get; } = metrics;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = loggerFactory.CreateLogger("Gateway.Connections");

    public int MaxMessageBytes { get; } = limits.Value.MaxMessageBytes;

    /// <summary>Whether a WebSocket client's permessage-deflate offer is accepted (<c>WebSockets:Compression</c>).</summary>
    public bool Compression { get; } = webSockets.Value.Compression;

    public int SocketSendBufferBytes { get; } = limits.Value.SocketSendBufferBytes;

    public TimeSpan CloseTimeout { get; } = limits.Value.CloseTimeout;

    public TimeSpan HeartbeatInterval { get; } = heartbeat.Value.Interval;

    public TimeSpan HeartbeatTimeout { get; } = heartbeat.Value.Timeout;

    public bool AllowClientPublish { get; } = security.Value.AllowClientPublish;

    public Authenticator Authenticator { get; } = authenticator;

    /// <summary>Where a client's <c>rpc</c> goes (spec section 13).</summary>
    public Hooks.RpcClient Rpc { get; } = rpc;

    public TimeSpan FirstMessageTimeout { get; } = auth.Value.FirstMessageTimeout;

    /// <summary>0 when messages are not rate-limited.</summary>
    public int MessagesPerSecond { get; } = limits.Value.MessagesPerSecond;

    public int MessageBurst { get; } = limits.Value.MessageBurst;

    /// <summary>The timestamp by which a close begun now must be done, or the socket is aborted.</summary>
    public long CloseDeadlineFromNow() => Time.GetTimestamp() + (long)(CloseTimeout.TotalSeconds * Time.TimestampFrequency);
}
