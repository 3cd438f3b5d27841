using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.Protocol.Framing;

namespace Gateway.Bench.Load;

/// <summary>
/// One generated client: a raw socket speaking just enough WebSocket (and SignalR's JSON framing)
/// to follow a session, cheap enough that one process holds thousands. Every text message is
/// scanned for <c>"t":&lt;timestamp&gt;</c>: each occurrence is one event, and its latency is now
/// minus that timestamp (both are <see cref="System.Diagnostics.Stopwatch"/> ticks, which on Linux
/// are the machine's monotonic clock in nanoseconds, shared by every process).
/// </summary>
internal sealed class BenchClient
{
    private static readonly byte[] SignalRHandshake = Encoding.ASCII.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] SignalRPing = Encoding.ASCII.GetBytes("{\"type\":6}\u001e");

    /// <summary>What precedes each event's timestamp unless told otherwise: the <c>t</c> of the event's data.</summary>
    private static readonly byte[] DataTimestamp = Encoding.ASCII.GetBytes("\"t\":");

    private readonly Socket _socket;
    private readonly WebSocketMessageReader _reader;
    private readonly LatencyHistogram _latency;
    private readonly bool _signalR;
    private readonly byte[] _marker;
    private readonly Lock _sendGate = new();
    private TaskCompletionSource? _paused;
    private long _received;
    private long _bytesReceived;
    private long _conflated;

    private BenchClient(Socket socket, LatencyHistogram latency, bool signalR, byte[] marker, bool deflate)
    {
        // With permessage-deflate agreed, the reader inflates the server's compressed frames, as a
        // browser does; the gateway compresses each message on its own (server_no_context_takeover),
        // so no window outlives a message.
        _reader = new WebSocketMessageReader(16 * 1024 * 1024, expectMasked: false, deflate ? new MessageInflater() : null);
        _socket = socket;
        _latency = latency;
        _signalR = signalR;
        _marker = marker;
    }

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Bytes read from the socket after the upgrade: what the server put on the wire for this client.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>The sum of the <c>conflated</c> counts of the events received: how many the gateway did not send because newer ones replaced them.</summary>
    public long Conflated => Interlocked.Read(ref _conflated);

    /// <summary>When the server closed the connection (a close frame or end of stream), as a Stopwatch timestamp; 0 while open.</summary>
    public long ClosedAt { get; private set; }

    /// <summary>
    /// The close code the server sent, 1006 when it sent none; 0 while the server is known to have
    /// closed the socket (<see cref="ServerClosed"/>) but the client, not reading, has not seen how.
    /// </summary>
    public int CloseCode { get; private set; }

    /// <summary>
    /// This client's address and port: with <see cref="ServerEndPoint"/>, how the server's end of
    /// the connection is found in the kernel's socket table. Both halves count: clients come from
    /// many loopback addresses (<see cref="LoopbackSource"/>), so two of them may share a port.
    /// </summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>The address and port of the server this client is connected to.</summary>
    public IPEndPoint ServerEndPoint => (IPEndPoint)_socket.RemoteEndPoint!;

    /// <summary>
    /// The server has closed its end (seen in the kernel's socket table, not on the wire): a client
    /// that does not read cannot see a close frame or the end of the stream, but the time the server
    /// gave up on it is what a slow-consumer test measures. The code follows once it reads again.
    /// </summary>
    public void ServerClosed() => Closed(0);

    /// <summary>Opens the socket and completes the WebSocket upgrade (and the SignalR handshake).</summary>
    /// <param name="server">Where the server listens.</param>
    /// <param name="path">The upgrade's request target.</param>
    /// <param name="signalR">Whether to speak SignalR's JSON framing on top.</param>
    /// <param name="latency">Where this client records each event's latency.</param>
    /// <param name="receiveBufferBytes">A receive buffer of this size (0: the kernel's own, which grows): small, so that a client that stops reading pushes back soon, as a phone on a bad network does.</param>
    /// <param name="cancellationToken">Ends the attempt.</param>
    /// <param name="deflate">Offer permessage-deflate (with <c>client_no_context_takeover</c>), as every browser offers it.</param>
    public static Task<BenchClient> ConnectAsync(IPEndPoint server, string path, bool signalR, LatencyHistogram latency, int receiveBufferBytes, CancellationToken cancellationToken, bool deflate = false) =>
        ConnectAsync(server, path, signalR, latency, receiveBufferBytes, DataTimestamp, cancellationToken, deflate);

    /// <summary>
    /// The same, for events whose timestamp follows <paramref name="marker"/> rather than <c>"t":</c>:
    /// a text line's timestamp is inside a JSON string, where no <c>"t":</c> can be.
    /// </summary>
    public static async Task<BenchClient> ConnectAsync(
        IPEndPoint server, string path, bool signalR, LatencyHistogram latency, int receiveBufferBytes, byte[] marker, CancellationToken cancellationToken, bool deflate = false)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferBytes > 0)
        {
            socket.ReceiveBufferSize = receiveBufferBytes;
        }

        try
        {
            LoopbackSource.Bind(socket, server);
            await socket.ConnectAsync(server, cancellationToken);
            string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            string request = $"GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{(deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n" : "")}\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), cancellationToken);
            var client = new BenchClient(socket, latency, signalR, marker, deflate);
            byte[] leftover = await client.ReadResponseHeadAsync(cancellationToken);
            if (signalR)
            {
                await socket.SendAsync(Mask(WebSocketOpcode.Text, SignalRHandshake), cancellationToken);
            }

            client._pending = leftover;
            return client;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private byte[] _pending = [];

    /// <summary>Reads until the server closes; never throws.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // One buffer per client, parsed in place: no allocation per read.
        byte[] buffer = new byte[Math.Max(16 * 1024, _pending.Length * 2)];
        _pending.CopyTo(buffer, 0);
        int start = 0;
        int end = _pending.Length;
        _pending = [];
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (Volatile.Read(ref _paused) is { } pause)
                {
                    await pause.Task.WaitAsync(cancellationToken);
                }

                var sequence = new ReadOnlySequence<byte>(buffer, start, end - start);
                bool open = Process(ref sequence);
                start = end - (int)sequence.Length;
                if (!open)
                {
                    return;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (end == buffer.Length)
                {
                    // Make room: move the unparsed tail to the front, or grow for a large frame.
                    byte[] target = start == 0 ? new byte[buffer.Length * 2] : buffer;
                    Buffer.BlockCopy(buffer, start, target, 0, end - start);
                    buffer = target;
                    end -= start;
                    start = 0;
                }

                int read = await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    Closed(1006);
                    return;
                }

                Interlocked.Add(ref _bytesReceived, read);
                end += read;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Closed(1006);
        }
    }

    /// <summary>Stops reading (the server sees a client that no longer takes its frames), or starts again.</summary>
    public void Pause(bool paused)
    {
        if (paused)
        {
            Interlocked.CompareExchange(ref _paused, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);
        }
        else
        {
            Interlocked.Exchange(ref _paused, null)?.TrySetResult();
        }
    }

    /// <summary>SignalR clients must show life, or the server drops them.</summary>
    public void SendKeepAlive()
    {
        if (_signalR && ClosedAt == 0)
        {
            Send(Mask(WebSocketOpcode.Text, SignalRPing));
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>Parses what has arrived, slicing off what it consumed; false once the server's close frame is seen.</summary>
    private bool Process(ref ReadOnlySequence<byte> sequence)
    {
        while (true)
        {
            WebSocketReadStatus status = _reader.TryRead(ref sequence);
            switch (status)
            {
                case WebSocketReadStatus.NeedMore:
                    return true;
                case WebSocketReadStatus.Text:
                    Count(_reader.Payload);
                    break;
                case WebSocketReadStatus.Ping:
                    Send(Mask(WebSocketOpcode.Pong, _reader.Payload.ToArray()));
                    break;
                case WebSocketReadStatus.Close:
                    Send(Mask(WebSocketOpcode.Close, [(byte)(_reader.CloseCode >> 8), (byte)_reader.CloseCode]));
                    Closed(_reader.CloseCode);
                    return false;
                case WebSocketReadStatus.Pong:
                    break;
                default:
                    Closed(1002);
                    return false;
            }
        }
    }

    /// <summary>Each marker followed by digits (<c>"t":&lt;digits&gt;</c> unless told otherwise) in a message is one event; records its latency.</summary>
    private void Count(in ReadOnlySequence<byte> payload)
    {
        ReadOnlySpan<byte> text = payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray();
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        CountConflated(text);
        int at;
        while ((at = text.IndexOf(_marker)) >= 0)
        {
            text = text[(at + _marker.Length)..];
            long sent = 0;
            int digits = 0;
            while (digits < text.Length && text[digits] is >= (byte)'0' and <= (byte)'9')
            {
                sent = (sent * 10) + (text[digits] - '0');
                digits++;
            }

            if (digits > 0)
            {
                _latency.Record((now - sent) / (System.Diagnostics.Stopwatch.Frequency / 1_000_000));
                Interlocked.Increment(ref _received);
            }
        }
    }

    /// <summary>Adds an event's <c>"conflated":n</c> (the gateway's, spec section 12) to <see cref="Conflated"/>; the bench's data never holds that text.</summary>
    private void CountConflated(ReadOnlySpan<byte> text)
    {
        int at = text.LastIndexOf("\"conflated\":"u8);
        if (at < 0)
        {
            return;
        }

        long n = 0;
        for (int i = at + 12; i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9'; i++)
        {
            n = (n * 10) + (text[i] - '0');
        }

        Interlocked.Add(ref _conflated, n);
    }

    private void Send(byte[] frame)
    {
        lock (_sendGate)
        {
            try
            {
                _socket.Send(frame, SocketFlags.None);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private void Closed(int code)
    {
        if (ClosedAt == 0)
        {
            CloseCode = code;
            ClosedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        }
        else if (CloseCode == 0)
        {
            // Closed by the server while this client was not reading: now it knows how.
            CloseCode = code;
        }
    }

    private async Task<byte[]> ReadResponseHeadAsync(CancellationToken cancellationToken)
    {
        var head = new List<byte>(256);
        var buffer = new byte[1024];
        while (true)
        {
            int read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("the server closed during the upgrade");
            }

            head.AddRange(buffer.AsSpan(0, read));
            int end = IndexOfHeadEnd(head);
            if (end < 0)
            {
                continue;
            }

            string status = Encoding.ASCII.GetString(head.GetRange(0, Math.Min(head.Count, 12)).ToArray());
            if (!status.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            {
                throw new IOException("upgrade refused: " + Encoding.ASCII.GetString(head.ToArray()).Split("\r\n")[0]);
            }

            return head.GetRange(end, head.Count - end).ToArray();
        }
    }

    private static int IndexOfHeadEnd(List<byte> bytes)
    {
        for (int i = 3; i < bytes.Count; i++)
        {
            if (bytes[i - 3] == '\r' && bytes[i - 2] == '\n' && bytes[i - 1] == '\r' && bytes[i] == '\n')
            {
                return i + 1;
            }
        }

        return -1;
    }

    private static byte[] Mask(WebSocketOpcode opcode, byte[] payload) =>
        WebSocketFrameWriter.CreateMaskedFrame(opcode, payload, (uint)Random.Shared.Next());
}
