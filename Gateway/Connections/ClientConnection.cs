using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Protocol.Framing;
using Gateway.Security;
using Gateway.Sessions;
using Gateway.Transport;

namespace Gateway.Connections;

/// <summary>
/// What every transport's client connection does the same way, written once: its queue, its
/// session membership, the close state machine (one close, with one code and reason), the close
/// deadline (<c>Limits:CloseTimeout</c>, then the socket is aborted, counted as the eviction
/// <c>close_timeout</c> and logged), token expiry (1008, the eviction <c>token_expired</c>), the
/// slow-consumer close (4001), evictions, and the open and close metrics and logs.
/// </summary>
/// <remarks>
/// A transport (<see cref="GatewayConnection"/> for WebSocket frames, <see cref="ServerSentEventStream"/>
/// for SSE lines) supplies the bytes of its last message (<see cref="CreateCloseMessage"/>), the
/// principal whose token may expire, and its own heartbeat; it calls <see cref="Opened"/> when it
/// starts, <see cref="Finished"/> when it ends, and <see cref="ScanClose"/> from its heartbeat visit.
/// Everything is held in this one object, so that a connection costs no extra allocation for it.
/// </remarks>
internal abstract partial class ClientConnection : ISessionMember, IClientConnection, IPresenceParticipant, IConflatedForm
{
    private const int StateOpen = 0;
    private const int StateClosing = 1;
    private const int StateClosed = 2;

    /// <summary>RFC 6455's code for a connection that ended without a close; never sent.</summary>
    private const int Vanished = 1006;

    private readonly long _openedAt;
    private volatile SessionMembership? _membership;
    private long _closeDeadline;
    private int _state;

    // The code the connection ended with (its close frame, its @closed notice); 1006 when the
    // client left without one.
    private int _closeCode = Vanished;
    private int _aborted;

    protected ClientConnection(ConnectionEnvironment env, IConnectionLink link, string session, ClientIdentity identity)
    {
        Env = env;
        Link = link;
        Session = session;
        Identity = identity;
        Id = ConnectionIds.Next();

        // Its session's profile, resolved once: lag bounds, conflation, client publishing, presence.
        Settings = env.Profiles.For(session);
        Queue = new OutboundQueue(Settings.Lag, Settings.Conflation, this, env.Metrics);
        _openedAt = env.Time.GetTimestamp();
    }

    public string Id { get; }

    public string Session { get; }

    /// <summary>Its session's settings (spec section 20).</summary>
    public SessionSettings Settings { get; }

    /// <summary>Who the client says it is to the others: its user and info (spec section 17).</summary>
    public ClientIdentity Identity { get; protected set; }

    public int SessionSlot { get; set; } = -1;

    /// <summary>True when the client asked for <c>join</c> and <c>leave</c> messages (<c>presence=true</c>, spec section 17).</summary>
    public bool WatchesPresence { get; init; }

    /// <summary>Queues a presence message in the transport's form; not an event, so not counted as one.</summary>
    public void OnPresence(PresenceNotice notice) => Enqueue(PresenceForm(notice));

    /// <summary>The client's address, for logs: formatted when a log needs it, not kept for each connection.</summary>
    public string RemoteAddress => Link.RemoteAddress;

    protected ConnectionEnvironment Env { get; }

    /// <summary>The connection under this one: never the HTTP request itself, whose state a long-lived connection need not keep.</summary>
    protected IConnectionLink Link { get; }

    /// <summary>What waits to be sent; the transport's send loop is its only reader.</summary>
    protected OutboundQueue Queue { get; }

    /// <summary>When the connection was accepted, in the environment's clock's timestamps.</summary>
    protected long OpenedAt => _openedAt;

    /// <summary>Set once the connection has joined its session; a close leaves it.</summary>
    public SessionMembership? Membership
    {
        get => _membership;
        protected set => _membership = value;
    }

    /// <summary>True until a close begins (or the client is gone).</summary>
    protected bool IsOpen => Volatile.Read(ref _state) == StateOpen;

    /// <summary>The transport's name in metrics and the slow-consumer log (<see cref="GatewayMetrics.WebSocket"/>, <see cref="GatewayMetrics.ServerSentEvents"/>).</summary>
    /// <remarks>A property rather than a field: a connection holds no more than it must.</remarks>
    protected abstract string TransportName { get; }

    /// <summary>The principal whose token's expiry ends the connection; null while there is none.</summary>
    protected abstract GatewayPrincipal? Principal { get; }

    /// <summary>Client messages read, for the close log; transports that read none leave it at 0.</summary>
    protected virtual long MessagesIn => 0;

    public abstract void OnJoined(JoinState state);

    public abstract EnqueueResult Deliver(SessionEvent sessionEvent);

    public abstract void OnHeartbeatTick(long now);

    public void Wake() => Queue.Wake();

    public void OnSessionClosed(ushort code, string reason) => TryBeginClose(code, reason, discardPending: false);

    /// <summary>Shutdown: the client gets 1001 after what is already queued.</summary>
    public void CloseForShutdown() => TryBeginClose(CloseCodes.GoingAway, "going away", discardPending: false);

    /// <summary>Drops the connection without a close. Idempotent, any thread.</summary>
    public void Abort() => Link.Abort();

    /// <summary>An event that replaced older ones for this client, in the transport's form, saying how many (spec section 12).</summary>
    public abstract byte[] ConflatedForm(SessionEvent e, int conflated);

    /// <summary>A presence message as this transport sends it: a text frame, an SSE event named after its type.</summary>
    protected abstract byte[] PresenceForm(PresenceNotice notice);

    /// <summary>The last message of a connection that ends with <paramref name="code"/>: a close frame, an <c>@closed</c> event.</summary>
    protected abstract byte[] CreateCloseMessage(ushort code, string reason);

    /// <summary>Registers the connection with the heartbeat scan and shutdown, counts and logs it open.</summary>
    protected void Opened()
    {
        SocketSendBuffer.Bound(Link.Socket, Env.SocketSendBufferBytes);
        Env.Registry.Add(this);
        Env.Metrics.ConnectionOpened(TransportName);
        Log.Opened(Env.Logger, Id, Session, RemoteAddress);
        Env.Hooks.Connected(Id, Session, Identity.User);
    }

    /// <summary>The connection's end, once its loops are done: unregisters it, counts the close by its code, and logs it.</summary>
    protected void Finished()
    {
        Volatile.Write(ref _state, StateClosed);

        // Queued before the registry lets go: a shutdown that sees the last connection gone then
        // flushes its disconnect too.
        Env.Hooks.Disconnected(Id, Session, Identity.User);
        Env.Registry.Remove(this);
        Env.Metrics.ConnectionClosed(TransportName, _closeCode);
        Log.Closed(Env.Logger, Id, Session, RemoteAddress, _closeCode,
            (long)Env.Time.GetElapsedTime(_openedAt).TotalMilliseconds, MessagesIn, Queue.Dequeued);
    }

    /// <summary>
    /// The client went away without a close (1006): nothing more can be sent, and there is no
    /// close to wait for. False when a close had already begun.
    /// </summary>
    protected bool TryEndAsGone()
    {
        if (Interlocked.CompareExchange(ref _state, StateClosed, StateOpen) != StateOpen)
        {
            return false;
        }

        Queue.Complete(null, discardPending: true);
        _membership?.Leave();
        return true;
    }

    /// <summary>
    /// Starts the one close: the queue ends with the transport's close message, the connection
    /// leaves its session, and the scan aborts the socket if the close is not done by the
    /// deadline. False when a close had already begun.
    /// </summary>
    protected bool TryBeginClose(ushort code, string reason, bool discardPending, bool leaveSession = true)
    {
        if (Interlocked.CompareExchange(ref _state, StateClosing, StateOpen) != StateOpen)
        {
            return false;
        }

        _closeCode = code;
        Volatile.Write(ref _closeDeadline, Env.CloseDeadlineFromNow());
        Queue.Complete(CreateCloseMessage(code, reason), discardPending);
        if (leaveSession)
        {
            _membership?.Leave();
        }

        return true;
    }

    /// <summary>
    /// Closes for a reason of policy, counted and logged as an eviction. What is queued goes out
    /// first (an error that explains the close), except for a connection that stopped answering.
    /// </summary>
    protected void Evict(ushort code, string reason, string metricReason)
    {
        if (TryBeginClose(code, reason, discardPending: code == CloseCodes.HeartbeatTimeout))
        {
            // Logged before it is counted: whoever sees the count sees the line.
            Log.Evicted(Env.Logger, Id, Session, RemoteAddress, metricReason);
            Env.Metrics.ConnectionEvicted(metricReason);
        }
    }

    /// <summary>
    /// Closes with 4001, dropping what is queued: the close message gets <c>Limits:CloseTimeout</c>
    /// to go out behind what the socket already holds, then the scan aborts the socket. Under the
    /// session's lock (<paramref name="leaveSession"/> false) the session drops the member itself.
    /// </summary>
    protected void CloseAsSlowConsumer(LagVerdict verdict, bool leaveSession)
    {
        // How far behind, read before the close discards the queue.
        Queue.CheckLag(Env.Time.GetTimestamp(), out long unsentBytes, out long oldestAge);
        if (TryBeginClose(CloseCodes.SlowConsumer, SlowConsumer.Reason(verdict, Env, Queue.Limits), discardPending: true, leaveSession))
        {
            SlowConsumer.Closed(Env, Queue.Limits, TransportName, Id, Session, RemoteAddress, verdict, unsentBytes, oldestAge);
        }
    }

    /// <summary>Queues a reply or control message; one that would put the client too far behind makes it a slow consumer.</summary>
    protected void Enqueue(byte[] message)
    {
        if (Queue.TryEnqueue(new OutboundFrame(message)) == EnqueueResult.Full)
        {
            CloseAsSlowConsumer(LagVerdict.TooManyBytes, leaveSession: true);
        }
    }

    /// <summary>
    /// A session event for this client, already in the transport's form: queued, or the client
    /// is closed as a slow consumer. Called under the session's lock, which drops a member that
    /// is full from the session itself.
    /// </summary>
    protected EnqueueResult Deliver(byte[] message, SessionEvent sessionEvent)
    {
        EnqueueResult result = Queue.TryEnqueue(new OutboundFrame(message, sessionEvent), out bool idle);
        if (result == EnqueueResult.Full)
        {
            CloseAsSlowConsumer(LagVerdict.TooManyBytes, leaveSession: false);
        }

        return idle ? EnqueueResult.EnqueuedIdle : result;
    }

    /// <summary>
    /// The heartbeat scan's part that every transport shares: aborts a close that ran past its
    /// deadline (once counted and logged), closes a connection whose token expired or whose lag
    /// passed its bounds (even when nothing more is published). True when the connection is open
    /// and none of that applied: the transport's own heartbeat is next.
    /// </summary>
    protected bool ScanClose(long now)
    {
        switch (Volatile.Read(ref _state))
        {
            case StateOpen when Principal?.ExpiresAt is { } expires && expires <= Env.Time.GetUtcNow():
                Evict(CloseCodes.PolicyViolation, "token expired", "token_expired");
                return false;

            case StateOpen when Queue.CheckLag(now, out _, out _) is not LagVerdict.Within and var verdict:
                CloseAsSlowConsumer(verdict, leaveSession: true);
                return false;

            case StateOpen:
                return true;

            case StateClosing when now >= Volatile.Read(ref _closeDeadline):
                if (Interlocked.Exchange(ref _aborted, 1) == 0)
                {
                    Log.CloseTimedOut(Env.Logger, Id, Session, _closeCode);
                    Env.Metrics.ConnectionEvicted("close_timeout");
                }

                Abort();
                return false;

            default:
                return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Connection {ConnectionId} opened to session {Session} from {RemoteAddress}")]
        public static partial void Opened(ILogger logger, string connectionId, string session, string remoteAddress);

        [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Connection {ConnectionId} to session {Session} from {RemoteAddress} closed with {CloseCode} after {DurationMs} ms; {MessagesIn} messages in, {MessagesOut} out")]
        public static partial void Closed(ILogger logger, string connectionId, string session, string remoteAddress, int closeCode, long durationMs, long messagesIn, long messagesOut);

        [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Connection {ConnectionId} to session {Session} from {RemoteAddress} evicted: {Reason}")]
        public static partial void Evicted(ILogger logger, string connectionId, string session, string remoteAddress, string reason);

        // 104, the slow-consumer close, is SlowConsumer's.

        [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Connection {ConnectionId} to session {Session} did not finish its close ({CloseCode}) in time; aborted")]
        public static partial void CloseTimedOut(ILogger logger, string connectionId, string session, int closeCode);

        // 111 and 112 were the SSE stream's own open and close lines; retired, never reused.
    }
}
