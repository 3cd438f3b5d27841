using System.Globalization;
using System.Threading.Channels;
using Gateway.Configuration;
using Gateway.Connections;
using Gateway.Diagnostics;
using Microsoft.Extensions.Options;

namespace Gateway.Hooks;

/// <summary>
/// The notifications waiting for the backend (<c>Hooks:Url</c>): a bounded queue that never
/// makes a connection or the hub wait. When it is full, a new notification is dropped, counted
/// and logged; everything queued is sent, at least once, by <see cref="HookSender"/>. With no
/// <c>Hooks:Url</c> nothing is queued.
/// </summary>
internal sealed partial class HookOutbox
{
    /// <summary>At most one line a second about drops: an outbox that overflows does so by the thousand.</summary>
    private static readonly TimeSpan DropLogInterval = TimeSpan.FromSeconds(1);

    private readonly Channel<HookNotification> _queue;
    private readonly TimeProvider _time;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<HookOutbox> _logger;

    // Ids are this node's random prefix and a counter: unique across nodes and restarts without
    // a random draw per notification.
    private readonly string _idPrefix = ConnectionIds.Next() + "-";
    private long _nextId;

    private readonly Lock _dropGate = new();
    private long _droppedSinceLog;
    private long _lastDropLog = long.MinValue;

    public HookOutbox(IOptions<HooksOptions> options, TimeProvider time, GatewayMetrics metrics, ILogger<HookOutbox> logger)
    {
        HooksOptions hooks = options.Value;
        Enabled = !string.IsNullOrEmpty(hooks.Url);
        _time = time;
        _metrics = metrics;
        _logger = logger;

        // Wait mode only so that TryWrite says "full": nothing ever waits to write.
        _queue = Channel.CreateBounded<HookNotification>(new BoundedChannelOptions(hooks.OutboxCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        if (Enabled)
        {
            metrics.ObserveHooks(() => _queue.Reader.Count, () => (int)BreakerState);
        }

        OnLeft = (session, remaining) =>
        {
            if (remaining == 0)
            {
                Vacated(session);
            }
        };
    }

    /// <summary>True when <c>Hooks:Url</c> is set: notifications are queued and sent.</summary>
    public bool Enabled { get; }

    /// <summary>What the sender takes its batches from.</summary>
    public ChannelReader<HookNotification> Reader => _queue.Reader;

    /// <summary>The circuit breaker of the notification POSTs, as the sender's pipeline last said.</summary>
    public HookBreakerState BreakerState { get; set; }

    /// <summary>For <see cref="Gateway.Log.ISessionLog.Left"/>: a session with no client left on any node is vacated.</summary>
    public Action<string, long> OnLeft { get; }

    /// <summary>A client connection opened.</summary>
    public void Connected(string connection, string session, string? user) => Add(HookType.Connect, session, connection, user);

    /// <summary>A client connection closed.</summary>
    public void Disconnected(string connection, string session, string? user) => Add(HookType.Disconnect, session, connection, user);

    /// <summary>A session got its first client, across every node.</summary>
    public void Occupied(string session) => Add(HookType.SessionOccupied, session, null, null);

    /// <summary>A session's last client left, across every node.</summary>
    public void Vacated(string session) => Add(HookType.SessionVacated, session, null, null);

    /// <summary>No more notifications: shutdown is flushing what is queued. Later ones are dropped, counted and logged.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private void Add(HookType type, string session, string? connection, string? user)
    {
        if (!Enabled)
        {
            return;
        }

        string id = _idPrefix + Interlocked.Increment(ref _nextId).ToString("x", CultureInfo.InvariantCulture);
        if (_queue.Writer.TryWrite(new HookNotification(id, type, session, connection, user, _time.GetUtcNow())))
        {
            return;
        }

        _metrics.HookNotifications(GatewayMetrics.HookDropped, 1);
        long now = _time.GetTimestamp();
        long dropped;
        lock (_dropGate)
        {
            _droppedSinceLog++;
            if (_lastDropLog != long.MinValue && _time.GetElapsedTime(_lastDropLog, now) < DropLogInterval)
            {
                return;
            }

            _lastDropLog = now;
            dropped = _droppedSinceLog;
            _droppedSinceLog = 0;
        }

        Log.Dropped(_logger, dropped, type, session, _queue.Reader.Count);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "Hook outbox full: dropped {Dropped} notifications since the last line, the latest {Type} of session {Session}; {Queued} wait to be sent (Gateway:Hooks:OutboxCapacity)")]
        public static partial void Dropped(ILogger logger, long dropped, HookType type, string session, int queued);
    }
}

/// <summary>The circuit breaker's state, as the gauge <c>gateway.hooks.breaker.state</c> shows it.</summary>
internal enum HookBreakerState
{
    /// <summary>POSTs go out.</summary>
    Closed = 0,

    /// <summary>Most recent POSTs failed: none go out until the break ends.</summary>
    Open = 1,

    /// <summary>The break ended: one POST probes the backend.</summary>
    HalfOpen = 2,
}
