using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Gateway.Protocol.Framing;

namespace Gateway.Tests.Infrastructure;

/// <summary>One frame as the server sent it.</summary>
public readonly record struct ServerFrame(WebSocketReadStatus Kind, string Text, int CloseCode, string CloseReason);

/// <summary>One frame as it came on the wire: <paramref name="Compressed"/> is its RSV1 bit (permessage-deflate), <paramref name="Payload"/> its bytes as sent.</summary>
public readonly record struct WireFrame(bool Compressed, WebSocketOpcode Opcode, byte[] Payload);

/// <summary>
/// A WebSocket client over a plain TCP socket, for what <see cref="System.Net.WebSockets.ClientWebSocket"/>
/// will not do: stay silent, send binary, invalid UTF-8, unmasked or otherwise broken frames.
/// </summary>
public sealed class RawWebSocket : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly WebSocketMessageReader _reader = new(16 * 1024 * 1024, expectMasked: false);
    private byte[] _pending = [];

    private RawWebSocket(TcpClient tcp, string responseHead)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        ResponseHead = responseHead;
    }

    /// <summary>The status line and headers of the server's answer to the upgrade.</summary>
    public string ResponseHead { get; }

    public static CancellationToken Deadline => TestContext.CurrentContext.CancellationToken;

    /// <summary>Opens a TCP connection and performs the upgrade; fails the test unless the server answers 101.</summary>
    /// <param name="wsUri">The gateway's WebSocket address.</param>
    /// <param name="extraHeaders">Header lines to add, each ending in CRLF.</param>
    /// <param name="receiveBufferSize">A small value keeps the kernel from buffering much for a client that stops reading.</param>
    public static async Task<RawWebSocket> ConnectAsync(Uri wsUri, string? extraHeaders = null, int? receiveBufferSize = null)
    {
        var tcp = new TcpClient();
        if (receiveBufferSize is { } size)
        {
            tcp.ReceiveBufferSize = size;
        }

        await tcp.ConnectAsync(wsUri.Host, wsUri.Port, Deadline);
        string request =
            $"GET {wsUri.PathAndQuery} HTTP/1.1\r\nHost: {wsUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n";
        NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), Deadline);

        // Read the response head byte by byte so that no frame byte after it is swallowed.
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            int read = await stream.ReadAsync(one, Deadline);
            Assert.That(read, Is.EqualTo(1), "the server closed during the handshake: " + head);
            head.Append((char)one[0]);
        }

        Assert.That(head.ToString(), Does.StartWith("HTTP/1.1 101"), head.ToString());
        return new RawWebSocket(tcp, head.ToString());
    }

    public Task SendRawAsync(byte[] bytes) => _stream.WriteAsync(bytes, Deadline).AsTask();

    public Task SendFrameAsync(WebSocketOpcode opcode, byte[] payload, bool fin = true) =>
        SendRawAsync(WebSocketFrameWriter.CreateMaskedFrame(opcode, payload, 0x5A3C_9E17u, fin));

    public Task SendTextAsync(string text) => SendFrameAsync(WebSocketOpcode.Text, Encoding.UTF8.GetBytes(text));

    /// <summary>The next frame from the server: a text message, a ping, a pong or a close. Null when the server dropped the connection.</summary>
    public async Task<ServerFrame?> ReceiveAsync()
    {
        var buffer = new byte[8192];
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_pending);
            WebSocketReadStatus status = _reader.TryRead(ref sequence);
            _pending = sequence.ToArray();
            switch (status)
            {
                case WebSocketReadStatus.Text:
                    return new ServerFrame(status, Encoding.UTF8.GetString(_reader.Payload), 0, string.Empty);
                case WebSocketReadStatus.Ping or WebSocketReadStatus.Pong:
                    return new ServerFrame(status, Encoding.UTF8.GetString(_reader.Payload), 0, string.Empty);
                case WebSocketReadStatus.Close:
                    return new ServerFrame(status, string.Empty, _reader.CloseCode, _reader.CloseReason);
                case WebSocketReadStatus.NeedMore:
                    break;
                default:
                    Assert.Fail($"the server sent a frame the client cannot read: {status} {_reader.Problem}");
                    break;
            }

            int read;
            try
            {
                read = await _stream.ReadAsync(buffer, Deadline);
            }
            catch (IOException)
            {
                return null;
            }

            if (read == 0)
            {
                return null;
            }

            _pending = [.. _pending, .. buffer.AsSpan(0, read)];
        }
    }

    /// <summary>
    /// The next frame exactly as sent, its RSV1 bit included: a compressed frame is handed over
    /// compressed, where <see cref="ReceiveAsync"/> would refuse it. The server never fragments.
    /// </summary>
    public async Task<WireFrame> ReceiveFrameAsync()
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            if (WebSocketFrameHeader.TryParse(_pending, out WebSocketFrameHeader header) && _pending.Length >= header.HeaderLength + (long)header.PayloadLength)
            {
                Assert.That(header.Fin, Is.True);
                int end = header.HeaderLength + (int)header.PayloadLength;
                var frame = new WireFrame((header.Reserved & 4) != 0, header.Opcode, _pending[header.HeaderLength..end]);
                _pending = _pending[end..];
                return frame;
            }

            int read = await _stream.ReadAsync(buffer, Deadline);
            Assert.That(read, Is.GreaterThan(0), "the server closed the connection");
            _pending = [.. _pending, .. buffer.AsSpan(0, read)];
        }
    }

    /// <summary>Reads frames, answering nothing, until the close frame; returns it and the text messages before it.</summary>
    public async Task<(ServerFrame? Close, List<string> Before)> ReceiveCloseAsync()
    {
        var before = new List<string>();
        while (await ReceiveAsync() is { } frame)
        {
            if (frame.Kind == WebSocketReadStatus.Close)
            {
                return (frame, before);
            }

            if (frame.Kind == WebSocketReadStatus.Text)
            {
                before.Add(frame.Text);
            }
        }

        return (null, before);
    }

    /// <summary>True when the server has closed the TCP connection (a read returns end of stream).</summary>
    public async Task<bool> ServerClosedAsync()
    {
        var buffer = new byte[1024];
        try
        {
            while (true)
            {
                if (await _stream.ReadAsync(buffer, Deadline) == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>
    /// Reads, and drops, whatever still comes until the server ends the TCP connection: "FIN" for
    /// an orderly end of stream, "RST" for a reset. Null when neither came within <paramref name="within"/>.
    /// </summary>
    public async Task<string?> WaitForTcpCloseAsync(TimeSpan within)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Deadline);
        timeout.CancelAfter(within);
        var buffer = new byte[1024];
        try
        {
            while (await _stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }

            return "FIN";
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return "RST";
        }
        catch (OperationCanceledException) when (!Deadline.IsCancellationRequested)
        {
            return null;
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
