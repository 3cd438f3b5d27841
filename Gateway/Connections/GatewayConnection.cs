using System.Buffers;
using System.IO.Pipelines;
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
/// One client's WebSocket connection to one session, from the upgrade to the end of the close
/// handshake. Two loops run: the receive loop reads and answers the client's frames; the send
/// loop is the only writer to the socket and drains the <see cref="OutboundQueue"/> that
/// everything else (publishers, replies, heartbeat pings) fills without waiting, bounded by the
/// connection's lag in bytes and time.
/// </summary>
internal sealed partial class GatewayConnection : ClientConnection
{
    private static readonly byte[] PingFrame = WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Ping, []);

    private readonly Stream _output;
    private readonly PipeReader _input;
    private readonly WebSocketMessageReader _frames;

    private volatile EventFilter _filter;

    // Null until a first-message client has authenticated.
    private volatile GatewayPrincipal? _principal;
    private TokenBucket _messageRate;
    private long _lastInbound;
    private long _lastPing;
    private long _messagesIn;
    private readonly ResumePoint? _since;

    // With permessage-deflate (what the upgrade agreed, RFC 7692), the longest event payload
    // sent compressed; 0 without.
    private readonly int _deflateUpTo;

    /// <summary>
    /// A connection over <paramref name="link"/> that reads frames from <paramref name="input"/> (which
    /// it completes at its end) and writes them to <paramref name="output"/>.
    /// </summary>
    public GatewayConnection(ConnectionEnvironment env, IConnectionLink link, PipeReader input, Stream output, string session, EventFilter filter, ResumePoint? since, GatewayPrincipal? principal, ClientIdentity identity, PerMessageDeflateAgreement? deflate = null)
        : base(env, link, session, identity)
    {
        _principal = principal;
        _input = input;
        _output = output;
        _filter = filter;
        _since = since;
        _deflateUpTo = deflate?.MaxCompressedPayload ?? 0;
        _frames = new WebSocketMessageReader(env.MaxMessageBytes, inflater: deflate is not null ? new MessageInflater() : null);
        _lastInbound = _lastPing = OpenedAt;
        _messageRate = new TokenBucket(env.MessageBurst, OpenedAt);
    }

    protected override string TransportName => GatewayMetrics.WebSocket;

    /// <summary>
    /// A reader over a stream that Kestrel upgraded. Zero-byte reads: an idle connection holds no
    /// read buffer until bytes arrive (the listener's own pipe, on the direct path, reads the same way).
    /// </summary>
    public static PipeReader ReaderFor(Stream upgraded) =>
        PipeReader.Create(upgraded, new StreamPipeReaderOptions(bufferSize: 4096, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));

    protected override GatewayPrincipal? Principal => _principal;

    protected override long MessagesIn => _messagesIn;

    /// <summary>
    /// Runs the connection to its end. Never throws. It is also the connection's reader: it reads
    /// frames until the close handshake ends or the transport does. Bad input never ends it: only
    /// the closes of spec section 3 do. After a close begins, data frames are skipped while the
    /// peer's close frame is awaited, except after a protocol error, an oversized message or
    /// invalid UTF-8: those fail the connection, and nothing more is read.
    /// </summary>
    /// <remarks>
    /// One frame reads and runs, rather than one awaiting another: an idle connection holds one
    /// suspended frame fewer (docs/benchmarks.md, S1).
    /// </remarks>
    public async Task RunAsync()
    {
        Opened();
        Task sendLoop = Task.CompletedTask;
        try
        {
            if (_principal is not null)
            {
                ValueTask joining = JoinAsync();
                if (!joining.IsCompleted)
                {
                    // A join that waits (on Redis) must not hold back the 101.
                    await FlushHeadAsync();
                }

                await joining;
            }

            // A direct upgrade leaves its 101 unflushed in the output, to go out in one write with
            // the welcome (docs/architecture.md). With nothing to send yet, it goes now, on its own:
            // without a principal the client authenticates with its first message, and gets
            // nothing, not even its welcome, until then.
            if (Queue.Count == 0)
            {
                await FlushHeadAsync();
            }

            sendLoop = SendLoop.RunAsync(Queue, _output, this, Env.Metrics, Env.Time, _deflateUpTo);
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await _input.ReadAsync();
                }
                catch (Exception e) when (SendLoop.IsTransportFailure(e))
                {
                    return;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                long received = buffer.Length;
                if (received > 0)
                {
                    Volatile.Write(ref _lastInbound, Env.Time.GetTimestamp());
                }

                bool done = false;
                bool more = true;
                while (more && !done)
                {
                    WebSocketReadStatus status = _frames.TryRead(ref buffer);
                    switch (status)
                    {
                        case WebSocketReadStatus.NeedMore:
                            more = false;
                            break;
                        case WebSocketReadStatus.Text:
                            if (IsOpen)
                            {
                                _messagesIn++;
                                await HandleMessageAsync(_frames.Payload);
                            }

                            break;
                        case WebSocketReadStatus.Ping:
                            if (IsOpen)
                            {
                                Enqueue(WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Pong, _frames.Payload.FirstSpan));
                            }

                            break;
                        case WebSocketReadStatus.Pong:
                            break;
                        case WebSocketReadStatus.Close:
                            OnPeerClose(_frames.CloseCode);
                            done = true;
                            break;
                        case WebSocketReadStatus.Binary:
                            CloseForBadInput(CloseCodes.UnsupportedData, "binary frames are not accepted; send JSON text frames");
                            break;
                        case WebSocketReadStatus.TooLarge:
                            // The header alone may promise gigabytes: reading on to find the peer's
                            // close frame behind them would only spend the close timeout.
                            CloseForBadInput(CloseCodes.MessageTooBig, $"message larger than {Env.MaxMessageBytes} bytes");
                            done = true;
                            break;
                        case WebSocketReadStatus.InvalidUtf8:
                            // RFC 6455 section 8.1: invalid UTF-8 fails the connection.
                            CloseForBadInput(CloseCodes.InvalidPayload, "text frame is not valid UTF-8");
                            done = true;
                            break;
                        case WebSocketReadStatus.ProtocolError:
                            // Frame boundaries are lost, so the peer's close frame could never be
                            // found: RFC 6455 sections 5.5.1 and 7.1.7 say send ours and close TCP.
                            CloseForBadInput(CloseCodes.ProtocolError, _frames.Problem);
                            done = true;
                            break;
                    }
                }

                Env.Metrics.BytesReceived(received - buffer.Length);
                _input.AdvanceTo(buffer.Start, buffer.End);
                if (done || result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.Failed(Env.Logger, Id, Session, e);
            TryBeginClose(CloseCodes.InternalError, "internal error", discardPending: true);
        }
        finally
        {
            Membership?.Leave();
            if (TryEndAsGone())
            {
                // The peer vanished without a close handshake (1006): nothing more can be sent.
                Abort();
            }

            await sendLoop;
            _frames.Reset();
            await _input.CompleteAsync();
            Finished();
        }
    }

    /// <summary>Sends what the output holds unflushed (a direct upgrade's 101); a client already gone is found by the read that follows.</summary>
    private async ValueTask FlushHeadAsync()
    {
        try
        {
            await _output.FlushAsync();
        }
        catch (Exception e) when (SendLoop.IsTransportFailure(e))
        {
            // Gone before its 101: the reader sees the transport end and the connection closes as 1006.
        }
    }

    private async ValueTask JoinAsync()
    {
        try
        {
            Membership = await Env.Hub.JoinAsync(Session, this, _since, Link.Aborted);
        }
        catch (BackplaneUnavailableException e)
        {
            // Redis went away between the upgrade's check and the join: the client reconnects,
            // to this node once it is back or to another.
            Log.JoinFailed(Env.Logger, Id, Session, e.Message);
            TryBeginClose(CloseCodes.InternalError, "backplane unavailable", discardPending: true);
            return;
        }

        if (Env.Lifecycle.IsDraining)
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
    public override void OnJoined(JoinState state)
    {
        Send(new WelcomeMessage(Session, Id, state.Seq, state.Epoch,
            (long)Env.HeartbeatInterval.TotalMilliseconds, (long)Env.HeartbeatTimeout.TotalMilliseconds, state.SessionComplete));
        if (state.Replay is { } replay)
        {
            SendReplay(replay, id: null);
        }

        if (state.SessionComplete)
        {
            TryBeginClose(CloseCodes.Normal, "session complete", discardPending: false);
        }
    }

    public override EnqueueResult Deliver(SessionEvent sessionEvent) =>
        _filter.Accepts(sessionEvent.Name) ? Deliver(sessionEvent.Frame, sessionEvent) : EnqueueResult.Enqueued;

    /// <summary>The event's frame with <c>conflated</c>: this client's own bytes.</summary>
    public override byte[] ConflatedForm(SessionEvent e, int conflated) => ConflatedFrames.WebSocket(e, conflated);

    /// <summary>
    /// Queues a replay and its <c>resumed</c>. Replayed frames do not count toward the lag (history
    /// bounds them); the filter applies as it does to live events.
    /// </summary>
    private void SendReplay(Replay replay, JsonScalar? id)
    {
        int replayed = 0;
        foreach (SessionEvent e in replay.Events)
        {
            if (_filter.Accepts(e.Name) && Queue.TryEnqueue(new OutboundFrame(e.Frame, e, Replayed: true)) == EnqueueResult.Enqueued)
            {
                replayed++;
            }
        }

        Send(new ResumedMessage(id, replay.Since, replayed, replay.Complete, replay.Epoch));
    }

    /// <summary>
    /// The heartbeat scanner's visit: evicts a connection that did not authenticate in time; then
    /// what every transport shares (<see cref="ClientConnection.ScanClose"/>: the close deadline,
    /// token expiry, lag); then evicts one silent past the timeout, or pings one due for a ping.
    /// </summary>
    public override void OnHeartbeatTick(long now)
    {
        if (IsOpen && _principal is null && Env.Time.GetElapsedTime(OpenedAt, now) >= Env.FirstMessageTimeout)
        {
            Evict(CloseCodes.PolicyViolation, "authentication timeout", "auth_timeout");
        }
        else if (ScanClose(now))
        {
            if (Env.Time.GetElapsedTime(Volatile.Read(ref _lastInbound), now) >= Env.HeartbeatTimeout)
            {
                Evict(CloseCodes.HeartbeatTimeout, "heartbeat timeout", "heartbeat_timeout");
            }
            else if (Env.Time.GetElapsedTime(_lastPing, now) >= Env.HeartbeatInterval)
            {
                _lastPing = now;
                Enqueue(PingFrame);
            }
        }
    }

    protected override byte[] CreateCloseMessage(ushort code, string reason) => WebSocketFrameWriter.CreateCloseFrame(code, reason);

    protected override byte[] PresenceForm(PresenceNotice notice) => notice.Frame;

    private void Send<T>(in T message) where T : IServerMessage => Enqueue(ServerFrames.CreateTextFrame(message));
}
