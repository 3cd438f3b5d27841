using System.IO.Pipelines;
using Gateway.Backplane;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// One client's WebSocket connection to one session, from the upgrade to the end of the close
/// handshake. Two loops run: the receive loop reads and answers the client's frames; the send
/// loop is the only writer to the socket and drains the <see cref="OutboundQueue"/> that
/// everything else (publishers, replies, heartbeat pings) fills without waiting, bounded by the
/// connection's lag in bytes and time.
/// </summary>
internal sealed partial class GatewayConnection : ISessionMember, IClientConnection
{
    private const int StateOpen = 0;
    private const int StateClosing = 1;
    private const int StateClosed = 2;

    private static readonly byte[] PingFrame = WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Ping, []);

    private readonly ConnectionEnvironment _env;
    private readonly HttpContext _http;
    private readonly Stream _transport;
    private readonly PipeReader _input;
    private readonly OutboundQueue _queue;
    private readonly WebSocketMessageReader _frames;
    private readonly long _openedAt;

    private volatile SessionMembership? _membership;
    private volatile EventFilter _filter;

    // Null until a first-message client has authenticated.
    private volatile GatewayPrincipal? _principal;
    private TokenBucket _messageRate;
    private long _lastInbound;
    private long _lastPing;
    private long _closeDeadline;
    private int _state;
    private int _closeCode = 1006;
    private int _aborted;
    private long _messagesIn;
    private readonly ResumePoint? _since;

    public GatewayConnection(ConnectionEnvironment env, HttpContext http, Stream transport, string session, EventFilter filter, ResumePoint? since, GatewayPrincipal? principal)
    {
        _principal = principal;
        _env = env;
        _http = http;
        _transport = transport;
        Session = session;
        _filter = filter;
        _since = since;
        Id = ConnectionIds.Next();

        // Zero-byte reads: an idle connection holds no read buffer until bytes arrive.
        _input = PipeReader.Create(transport, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));
        _queue = new OutboundQueue(env.Lag);
        _frames = new WebSocketMessageReader(env.MaxMessageBytes);
        _openedAt = _lastInbound = _lastPing = env.Time.GetTimestamp();
        _messageRate = new TokenBucket(env.MessageBurst, _openedAt);
    }

    public string Id { get; }

    public string Session { get; }

    /// <summary>The client's address, for logs: formatted when a log needs it, not kept for each connection.</summary>
    public string RemoteAddress => _http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    public int SessionSlot { get; set; } = -1;

    /// <summary>Runs the connection to its end. Never throws.</summary>
    public async Task RunAsync()
    {
        SocketSendBuffer.Bound(_http, _env.SocketSendBufferBytes);
        _env.Registry.Add(this);
        _env.Metrics.ConnectionOpened(GatewayMetrics.WebSocket);
        Log.Connected(_env.Logger, Id, Session, RemoteAddress);
        Task sendLoop = Task.CompletedTask;
        try
        {
            if (_principal is not null)
            {
                await JoinAsync();
            }

            // Without a principal yet, the client authenticates with its first message; it gets
            // nothing, not even its welcome, until then.
            sendLoop = SendAsync();
            await ReceiveLoopAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.Failed(_env.Logger, Id, Session, e);
            TryBeginClose(CloseCodes.InternalError, "internal error", discardPending: true);
        }
        finally
        {
            _membership?.Leave();
            if (Interlocked.CompareExchange(ref _state, StateClosed, StateOpen) == StateOpen)
            {
                // The peer vanished without a close handshake (1006): nothing more can be sent.
                _queue.Complete(null, discardPending: true);
                Abort();
            }

            await sendLoop;
            _frames.Reset();
            await _input.CompleteAsync();
            Volatile.Write(ref _state, StateClosed);
            _env.Registry.Remove(this);
            _env.Metrics.ConnectionClosed(GatewayMetrics.WebSocket, _closeCode);
            Log.Disconnected(_env.Logger, Id, Session, RemoteAddress, _closeCode,
                (long)_env.Time.GetElapsedTime(_openedAt).TotalMilliseconds, _messagesIn, _queue.Dequeued);
        }
    }

    private async ValueTask JoinAsync()
    {
        try
        {
            _membership = await _env.Backplane.JoinAsync(Session, this, _since, _http.RequestAborted);
        }
        catch (BackplaneUnavailableException e)
        {
            // Redis went away between the upgrade's check and the join: the client reconnects,
            // to this node once it is back or to another.
            Log.JoinFailed(_env.Logger, Id, Session, e.Message);
            TryBeginClose(CloseCodes.InternalError, "backplane unavailable", discardPending: true);
            return;
        }

        if (_env.Lifecycle.IsDraining)
        {
            // Shutdown began while this connection was being set up, after the drain closed the others.
            CloseForShutdown();
        }
    }

    /// <summary>
    /// Called under the session's lock when this connection joins: the welcome, then the replay it
    /// asked for with <c>since=</c>, go out before any live event. A complete session is closed
    /// with 1000 right after.
    /// </summary>
    public void OnJoined(JoinState state)
    {
        Send(new WelcomeMessage(Session, Id, state.Seq, state.Epoch,
            (long)_env.HeartbeatInterval.TotalMilliseconds, (long)_env.HeartbeatTimeout.TotalMilliseconds, state.SessionComplete));
        if (state.Replay is { } replay)
        {
            SendReplay(replay, id: null);
        }

        if (state.SessionComplete)
        {
            TryBeginClose(CloseCodes.Normal, "session complete", discardPending: false);
        }
    }

    public EnqueueResult Deliver(SessionEvent sessionEvent)
    {
        if (!_filter.Accepts(sessionEvent.Name))
        {
            return EnqueueResult.Enqueued;
        }

        EnqueueResult result = _queue.TryEnqueue(new OutboundFrame(sessionEvent.Frame, sessionEvent), out bool idle);
        if (result == EnqueueResult.Full)
        {
            // Under the session's lock: the session drops us from its members itself.
            CloseAsSlowConsumer(LagVerdict.TooManyBytes, leaveSession: false);
        }

        return idle ? EnqueueResult.EnqueuedIdle : result;
    }

    public void Wake() => _queue.Wake();

    public void OnSessionClosed(ushort code, string reason) => TryBeginClose(code, reason, discardPending: false);

    /// <summary>
    /// Queues a replay and its <c>resumed</c>. Replayed frames do not count toward the lag (history
    /// bounds them); the filter applies as it does to live events.
    /// </summary>
    private void SendReplay(Replay replay, JsonScalar? id)
    {
        int replayed = 0;
        foreach (SessionEvent e in replay.Events)
        {
            if (_filter.Accepts(e.Name) && _queue.TryEnqueue(new OutboundFrame(e.Frame, e, Replayed: true)) == EnqueueResult.Enqueued)
            {
                replayed++;
            }
        }

        Send(new ResumedMessage(id, replay.Since, replayed, replay.Complete, replay.Epoch));
    }

    private async Task SendAsync()
    {
        if (!await SendLoop.RunAsync(_queue, _transport, _env.Metrics, _env.Time))
        {
            // The socket is gone; make sure the receive loop learns it too.
            Abort();
        }
    }

    /// <summary>Shutdown: every client gets 1001 after what is already queued.</summary>
    public void CloseForShutdown() => TryBeginClose(CloseCodes.GoingAway, "going away", discardPending: false);

    /// <summary>
    /// The heartbeat scanner's visit: evicts a connection silent past the timeout, one whose token
    /// expired, or one that did not authenticate in time; closes one whose oldest unsent frame has
    /// waited past <c>Limits:MaxLagTime</c> (even when nothing more is published); pings one due
    /// for a ping; aborts one whose close handshake ran past its deadline.
    /// </summary>
    public void OnHeartbeatTick(long now)
    {
        switch (Volatile.Read(ref _state))
        {
            case StateOpen when _principal is null && _env.Time.GetElapsedTime(_openedAt, now) >= _env.FirstMessageTimeout:
                Evict(CloseCodes.PolicyViolation, "authentication timeout", "auth_timeout");
                break;

            case StateOpen when _principal?.ExpiresAt is { } expires && expires <= _env.Time.GetUtcNow():
                Evict(CloseCodes.PolicyViolation, "token expired", "token_expired");
                break;

            case StateOpen when _queue.CheckLag(now, out _, out _) is not LagVerdict.Within and var verdict:
                CloseAsSlowConsumer(verdict, leaveSession: true);
                break;

            case StateOpen:
                if (_env.Time.GetElapsedTime(Volatile.Read(ref _lastInbound), now) >= _env.HeartbeatTimeout)
                {
                    Evict(CloseCodes.HeartbeatTimeout, "heartbeat timeout", "heartbeat_timeout");
                }
                else if (_env.Time.GetElapsedTime(_lastPing, now) >= _env.HeartbeatInterval)
                {
                    _lastPing = now;
                    Send(PingFrame);
                }

                break;

            case StateClosing when now >= Volatile.Read(ref _closeDeadline):
                if (Interlocked.Exchange(ref _aborted, 1) == 0)
                {
                    _env.Metrics.ConnectionEvicted("close_timeout");
                    Log.CloseTimedOut(_env.Logger, Id, Session, _closeCode);
                }

                Abort();
                break;
        }
    }

    /// <summary>
    /// Closes for a reason of policy, counted and logged as an eviction. What is queued goes out
    /// first (an error that explains the close), except for a connection that stopped answering.
    /// </summary>
    private void Evict(ushort code, string reason, string metricReason)
    {
        if (TryBeginClose(code, reason, discardPending: code == CloseCodes.HeartbeatTimeout))
        {
            _env.Metrics.ConnectionEvicted(metricReason);
            Log.Evicted(_env.Logger, Id, Session, RemoteAddress, metricReason);
        }
    }

    /// <summary>
    /// Starts the close handshake: the queue ends with a close frame, the connection leaves its
    /// session, and the scanner aborts the socket if the handshake is not done by the deadline.
    /// False when a close had already begun.
    /// </summary>
    private bool TryBeginClose(ushort code, string reason, bool discardPending, bool leaveSession = true)
    {
        if (Interlocked.CompareExchange(ref _state, StateClosing, StateOpen) != StateOpen)
        {
            return false;
        }

        _closeCode = code;
        Volatile.Write(ref _closeDeadline, _env.CloseDeadlineFromNow());
        _queue.Complete(WebSocketFrameWriter.CreateCloseFrame(code, reason), discardPending);
        if (leaveSession)
        {
            _membership?.Leave();
        }

        return true;
    }

    /// <summary>
    /// Closes with 4001, dropping what is queued: the close frame gets <c>Limits:CloseTimeout</c>
    /// to go out behind what the socket already holds, then the scanner aborts the socket.
    /// </summary>
    private void CloseAsSlowConsumer(LagVerdict verdict, bool leaveSession)
    {
        // How far behind, read before the close discards the queue.
        _queue.CheckLag(_env.Time.GetTimestamp(), out long unsentBytes, out long oldestAge);
        if (TryBeginClose(CloseCodes.SlowConsumer, SlowConsumer.Reason(verdict, _env), discardPending: true, leaveSession))
        {
            SlowConsumer.Closed(_env, GatewayMetrics.WebSocket, Id, Session, RemoteAddress, verdict, unsentBytes, oldestAge);
        }
    }

    /// <summary>Queues a reply or control frame; one that would put the client too far behind makes it a slow consumer.</summary>
    private void Send(byte[] frame)
    {
        if (_queue.TryEnqueue(new OutboundFrame(frame)) == EnqueueResult.Full)
        {
            CloseAsSlowConsumer(LagVerdict.TooManyBytes, leaveSession: true);
        }
    }

    private void Send<T>(in T message) where T : IServerMessage => Send(ServerFrames.CreateTextFrame(message));

    /// <summary>Drops the socket without a handshake. Idempotent, any thread.</summary>
    public void Abort() => ConnectionEnvironment.Abort(_http);
}
