using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Log;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;
using Gateway.Transport;

namespace Gateway.Connections;

/// <summary>
/// One client watching a session over Server-Sent Events (<c>GET /api/sessions/{session}/stream</c>),
/// for where WebSockets are blocked. It is a session member like a WebSocket connection, with the
/// same queue bounded by its lag in bytes and time, and a single send loop; each event goes out as
/// <c>id</c> and <c>data</c> lines (with an <c>event</c> line between them when <see cref="Named"/>),
/// the data being the event object exactly as a WebSocket client gets it.
/// </summary>
internal sealed class ServerSentEventStream : ClientConnection
{
    /// <summary>The SSE event name of the notice after a replay, on a <see cref="Named"/> stream; no published event can have it.</summary>
    public const string ResumedEventName = "@resumed";

    /// <summary>The SSE event name of the last message before the gateway ends a <see cref="Named"/> stream.</summary>
    public const string ClosedEventName = "@closed";

    private static readonly byte[] HeartbeatComment = ": heartbeat\n\n"u8.ToArray();

    private readonly EventFilter _filter;
    private readonly ResumePoint? _since;
    private readonly GatewayPrincipal _principal;

    // The stream is the request's response: unlike a WebSocket, it needs the request to its end.
    private readonly HttpContext _http;
    private string _epoch = "";
    private long _lastHeartbeat;

    public ServerSentEventStream(ConnectionEnvironment env, HttpContext http, string session, EventFilter filter, ResumePoint? since, GatewayPrincipal principal, ClientIdentity identity)
        : base(env, new HttpConnectionLink(http), session, identity)
    {
        _http = http;
        _principal = principal;
        _filter = filter;
        _since = since;
        _lastHeartbeat = OpenedAt;
    }

    /// <summary>
    /// True when the client asked for <c>named=true</c>: every SSE event then has an <c>event</c> line
    /// (the event's name, or the notice's) for pages that use <c>addEventListener(name)</c>. Without
    /// it there is none, so that a page's <c>onmessage</c> gets everything (spec section 5).
    /// </summary>
    public bool Named { get; init; }

    protected override string TransportName => GatewayMetrics.ServerSentEvents;

    protected override GatewayPrincipal? Principal => _principal;

    /// <summary>
    /// Streams until the session ends, the gateway stops, or the client goes away. The stream
    /// joins its session before it counts as opened: a store that does not answer then throws
    /// <see cref="BackplaneUnavailableException"/> before anything is sent, and the request
    /// pipeline answers and counts it as the refusal it is, as it does every outage.
    /// </summary>
    public async Task RunAsync()
    {
        HttpResponse response = _http.Response;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";

        // Proxies such as nginx buffer responses unless told not to; a buffered stream is not live.
        response.Headers["X-Accel-Buffering"] = "no";

        try
        {
            // What the join queues (the opening comment, the replay) waits for the send loop.
            Membership = await Env.Hub.JoinAsync(Session, this, _since, _http.RequestAborted);
        }
        catch (OperationCanceledException) when (_http.RequestAborted.IsCancellationRequested)
        {
            // The client left before the stream began: no connection to count.
            return;
        }

        Opened();
        await using CancellationTokenRegistration gone = _http.RequestAborted.UnsafeRegister(
            static state => ((ServerSentEventStream)state!).TryEndAsGone(), this);
        try
        {
            if (Env.Lifecycle.IsDraining)
            {
                CloseForShutdown();
            }

            await SendLoop.RunAsync(Queue, response.Body, this, Env.Metrics, Env.Time);
        }
        finally
        {
            Membership?.Leave();
            TryEndAsGone();
            Finished();
        }
    }

    public override void OnJoined(JoinState state)
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
                if (_filter.Accepts(e.Name) && Queue.TryEnqueue(new OutboundFrame(e.ServerSentEvent(_epoch, Named), e, Replayed: true)) == EnqueueResult.Enqueued)
                {
                    replayed++;
                }
            }

            Enqueue(ControlEvent(Named ? ResumedEventName : null, new ResumedMessage(null, replay.Since, replayed, replay.Complete, replay.Epoch)));
        }

        if (state.SessionComplete)
        {
            TryBeginClose(CloseCodes.Normal, "session complete", discardPending: false);
        }
    }

    public override EnqueueResult Deliver(SessionEvent sessionEvent) =>
        _filter.Accepts(sessionEvent.Name) ? Deliver(sessionEvent.ServerSentEvent(_epoch, Named), sessionEvent) : EnqueueResult.Enqueued;

    /// <summary>The event's SSE lines with <c>conflated</c> in its data: this stream's own bytes.</summary>
    public override byte[] ConflatedForm(SessionEvent e, int conflated) => ConflatedFrames.ServerSentEvent(e, _epoch, Named, conflated);

    /// <summary>
    /// The heartbeat scanner's visit: what every transport shares (<see cref="ClientConnection.ScanClose"/>:
    /// the close deadline, token expiry, lag), then a comment line when one is due. An SSE client
    /// sends nothing, so no silence evicts it; a dead one is found when a write fails.
    /// </summary>
    public override void OnHeartbeatTick(long now)
    {
        if (ScanClose(now) && Env.Time.GetElapsedTime(_lastHeartbeat, now) >= Env.HeartbeatInterval)
        {
            _lastHeartbeat = now;
            Enqueue(HeartbeatComment);
        }
    }

    /// <summary>The <c>@closed</c> event that ends a stream, saying why with the WebSocket close code and reason.</summary>
    protected override byte[] CreateCloseMessage(ushort code, string reason) => ControlEvent(Named ? ClosedEventName : null, new CloseNotice(code, reason));

    /// <summary>A presence message without an <c>id</c> line; named <c>join</c>, <c>leave</c> or <c>presence_diff</c> when <see cref="Named"/>.</summary>
    protected override byte[] PresenceForm(PresenceNotice notice) => notice.ServerSentEvent(Named);

    /// <summary>An SSE event without an <c>id</c> line, so that it does not move the client's Last-Event-ID; <paramref name="name"/> null for no <c>event</c> line.</summary>
    private static byte[] ControlEvent<T>(string? name, in T message) where T : IServerMessage
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        ReadOnlySpan<byte> head = name is null ? "data: "u8 : Encoding.ASCII.GetBytes($"event: {name}\ndata: ");
        buffer.Write(head);
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

}
