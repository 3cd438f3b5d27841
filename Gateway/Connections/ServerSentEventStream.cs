using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Backplane;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// One client watching a session over Server-Sent Events (<c>GET /api/sessions/{session}/stream</c>),
/// for where WebSockets are blocked. It is a session member like a WebSocket connection, with the
/// same queue bounded by its lag in bytes and time, and a single send loop; each event goes out as
/// <c>id</c>, <c>event</c> and <c>data</c> lines, the data being the event object exactly as a
/// WebSocket client gets it.
/// </summary>
internal sealed partial class ServerSentEventStream : ISessionMember, IClientConnection
{
    /// <summary>The SSE event name of the notice after a replay; no published event can have it.</summary>
    public const string ResumedEventName = "@resumed";

    /// <summary>The SSE event name of the last message before the gateway ends a stream.</summary>
    public const string ClosedEventName = "@closed";

    private const int StateOpen = 0;
    private const int StateClosing = 1;

    private static readonly byte[] HeartbeatComment = ": heartbeat\n\n"u8.ToArray();

    private readonly ConnectionEnvironment _env;
    private readonly HttpContext _http;
    private readonly EventFilter _filter;
    private readonly ResumePoint? _since;
    private string _epoch = "";
    private readonly OutboundQueue _queue;
    private volatile SessionMembership? _membership;
    private long _lastHeartbeat;
    private long _closeDeadline;
    private int _state;

    // The close code the stream ended with (its @closed notice), 1006 when the client left first.
    private int _closeCode = 1006;

    private readonly GatewayPrincipal _principal;

    public ServerSentEventStream(ConnectionEnvironment env, HttpContext http, string session, EventFilter filter, ResumePoint? since, GatewayPrincipal principal)
    {
        _principal = principal;
        _env = env;
        _http = http;
        _filter = filter;
        _since = since;
        Session = session;
        Id = ConnectionIds.Next();
        _queue = new OutboundQueue(env.Lag);
        _lastHeartbeat = env.Time.GetTimestamp();
    }

    public string Id { get; }

    public string Session { get; }

    public int SessionSlot { get; set; } = -1;

    /// <summary>Streams until the session ends, the gateway stops, or the client goes away. Never throws.</summary>
    public async Task RunAsync()
    {
        HttpResponse response = _http.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";

        // Proxies such as nginx buffer responses unless told not to; a buffered stream is not live.
        response.Headers["X-Accel-Buffering"] = "no";

        SocketSendBuffer.Bound(_http, _env.SocketSendBufferBytes);
        _env.Registry.Add(this);
        _env.Metrics.ConnectionOpened(GatewayMetrics.ServerSentEvents);
        Log.Opened(_env.Logger, Id, Session, _since?.Seq ?? -1);
        await using CancellationTokenRegistration gone = _http.RequestAborted.UnsafeRegister(
            static state => ((ServerSentEventStream)state!).TryClose(null, discardPending: true), this);
        try
        {
            _membership = await _env.Backplane.JoinAsync(Session, this, _since, _http.RequestAborted);
            if (_env.Lifecycle.IsDraining)
            {
                CloseForShutdown();
            }

            if (!await SendLoop.RunAsync(_queue, response.Body, _env.Metrics, _env.Time))
            {
                Abort();
            }
        }
        catch (OperationCanceledException) when (_http.RequestAborted.IsCancellationRequested)
        {
            // The client left while the stream was being set up.
        }
        catch (BackplaneUnavailableException e) when (!response.HasStarted)
        {
            // Redis went away between the checks and the join: nothing was sent yet, so say so plainly.
            _closeCode = CloseCodes.InternalError;
            response.Clear();
            response.Headers.RetryAfter = "1";
            await Http.Problems.Result(StatusCodes.Status503ServiceUnavailable, $"the session store did not answer ({e.Message}); retry").ExecuteAsync(_http);
        }
        finally
        {
            _membership?.Leave();
            _env.Registry.Remove(this);
            _env.Metrics.ConnectionClosed(GatewayMetrics.ServerSentEvents, _closeCode);
            Log.Closed(_env.Logger, Id, Session, _closeCode, _queue.Dequeued);
        }
    }

    public void OnJoined(JoinState state)
    {
        // Under the session's lock, before any event: every event id carries the life it belongs to.
        _epoch = state.Epoch;

        // A comment first, so that the headers go out at once and EventSource reports "open".
        Enqueue(Encoding.UTF8.GetBytes($": session {Session} at seq {state.Seq}\n\n"));
        if (state.Replay is { } replay)
        {
            int replayed = 0;
            foreach (SessionEvent e in replay.Events)
            {
                if (_filter.Accepts(e.Name) && _queue.TryEnqueue(new OutboundFrame(e.ServerSentEvent(_epoch), e, Replayed: true)) == EnqueueResult.Enqueued)
                {
                    replayed++;
                }
            }

            Enqueue(ControlEvent(ResumedEventName, new ResumedMessage(null, replay.Since, replayed, replay.Complete, replay.Epoch)));
        }

        if (state.SessionComplete)
        {
            TryClose(new CloseNotice(CloseCodes.Normal, "session complete"), discardPending: false);
        }
    }

    public EnqueueResult Deliver(SessionEvent sessionEvent)
    {
        if (!_filter.Accepts(sessionEvent.Name))
        {
            return EnqueueResult.Enqueued;
        }

        EnqueueResult result = _queue.TryEnqueue(new OutboundFrame(sessionEvent.ServerSentEvent(_epoch), sessionEvent), out bool idle);
        if (result == EnqueueResult.Full)
        {
            // Under the session's lock: the session drops us from its members itself.
            CloseAsSlowConsumer(LagVerdict.TooManyBytes, leaveSession: false);
        }

        return idle ? EnqueueResult.EnqueuedIdle : result;
    }

    public void Wake() => _queue.Wake();

    public void OnSessionClosed(ushort code, string reason) => TryClose(new CloseNotice(code, reason), discardPending: false);

    public void CloseForShutdown() => TryClose(new CloseNotice(CloseCodes.GoingAway, "going away"), discardPending: false);

    public void OnHeartbeatTick(long now)
    {
        if (Volatile.Read(ref _state) == StateOpen && _principal.ExpiresAt is { } expires && expires <= _env.Time.GetUtcNow())
        {
            TryClose(new CloseNotice(CloseCodes.PolicyViolation, "token expired"), discardPending: true);
        }
        else if (Volatile.Read(ref _state) == StateOpen && _queue.CheckLag(now, out _, out _) is not LagVerdict.Within and var verdict)
        {
            CloseAsSlowConsumer(verdict, leaveSession: true);
        }
        else if (Volatile.Read(ref _state) == StateOpen)
        {
            if (_env.Time.GetElapsedTime(_lastHeartbeat, now) >= _env.HeartbeatInterval)
            {
                _lastHeartbeat = now;
                Enqueue(HeartbeatComment);
            }
        }
        else if (now >= Volatile.Read(ref _closeDeadline))
        {
            Abort();
        }
    }

    public void Abort() => ConnectionEnvironment.Abort(_http);

    private void Enqueue(byte[] bytes)
    {
        if (_queue.TryEnqueue(new OutboundFrame(bytes)) == EnqueueResult.Full)
        {
            CloseAsSlowConsumer(LagVerdict.TooManyBytes, leaveSession: true);
        }
    }

    /// <summary>
    /// Ends the stream with a 4001 notice instead of what is queued, and leaves the session at once;
    /// the notice gets <c>Limits:CloseTimeout</c> to go out, then the scanner aborts the stream.
    /// </summary>
    private void CloseAsSlowConsumer(LagVerdict verdict, bool leaveSession)
    {
        // How far behind, read before the close discards the queue.
        _queue.CheckLag(_env.Time.GetTimestamp(), out long unsentBytes, out long oldestAge);
        if (TryClose(new CloseNotice(CloseCodes.SlowConsumer, SlowConsumer.Reason(verdict, _env)), discardPending: true))
        {
            if (leaveSession)
            {
                _membership?.Leave();
            }

            SlowConsumer.Closed(_env, GatewayMetrics.ServerSentEvents, Id, Session,
                _http.Connection.RemoteIpAddress?.ToString() ?? "unknown", verdict, unsentBytes, oldestAge);
        }
    }

    /// <summary>
    /// Ends the stream after what is queued (or instead of it), with an <c>@closed</c> event saying
    /// why; no notice when the client has already gone. False when the stream was already ending.
    /// </summary>
    private bool TryClose(CloseNotice? notice, bool discardPending)
    {
        if (Interlocked.CompareExchange(ref _state, StateClosing, StateOpen) != StateOpen)
        {
            return false;
        }

        Volatile.Write(ref _closeDeadline, _env.CloseDeadlineFromNow());
        _closeCode = notice?.Code ?? 1006;
        byte[]? last = notice is { } n ? ControlEvent(ClosedEventName, n) : null;
        _queue.Complete(last, discardPending);
        return true;
    }

    /// <summary>An SSE event without an <c>id</c> line, so that it does not move the client's Last-Event-ID.</summary>
    private static byte[] ControlEvent<T>(string name, in T message) where T : IServerMessage
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        buffer.Write(Encoding.ASCII.GetBytes($"event: {name}\ndata: "));
        ServerFrames.WriteJson(message, buffer);
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The data of an <c>@closed</c> event: the WebSocket close code and reason the stream ends with.</summary>
    private readonly record struct CloseNotice(ushort Code, string Reason) : IServerMessage
    {
        public void WriteTo(Utf8JsonWriter writer)
        {
            writer.WriteStartObject();
            writer.WriteString("type"u8, "closed"u8);
            writer.WriteNumber("code"u8, Code);
            writer.WriteString("reason"u8, Reason);
            writer.WriteEndObject();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "SSE stream {ConnectionId} opened to session {Session} (since {Since})")]
        public static partial void Opened(ILogger logger, string connectionId, string session, long since);

        [LoggerMessage(EventId = 112, Level = LogLevel.Information, Message = "SSE stream {ConnectionId} to session {Session} ended with {CloseCode} after {Messages} messages")]
        public static partial void Closed(ILogger logger, string connectionId, string session, int closeCode, long messages);
    }
}
