using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Peers.Floor;

/// <summary>
/// One accepted socket: HTTP/1.1 requests with keep-alive until it asks for a WebSocket, then a
/// loop that reads what the client sends, answers pings and close, and drops everything else.
/// </summary>
internal static class HttpConnection
{
    private const int HeadLimit = 8 * 1024;
    private const int BodyLimit = 1024 * 1024;

    /// <summary>Client frames worth keeping whole are control frames: 2 + 4 + 125 bytes at most.</summary>
    private const int ClientFrameBuffer = 256;

    public static async Task ServeAsync(Socket socket, SessionRegistry sessions, BatchSender? sender)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(HeadLimit);
        int count = 0;
        bool upgraded = false;
        try
        {
            while (true)
            {
                int headEnd;
                while ((headEnd = buffer.AsSpan(0, count).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (count == buffer.Length)
                    {
                        return;
                    }

                    int read = await socket.ReceiveAsync(buffer.AsMemory(count), SocketFlags.None);
                    if (read == 0)
                    {
                        return;
                    }

                    count += read;
                }

                var head = new RequestHead(buffer.AsSpan(0, headEnd));
                int bodyStart = headEnd + 4;
                if (head.Method == "GET" && head.Path.StartsWith("/ws/", StringComparison.Ordinal) && head.UpgradeKey is { } key)
                {
                    upgraded = true;
                    var client = new Client(socket, sender);
                    byte[] leftover = buffer.AsSpan(bodyStart, count - bodyStart).ToArray();
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = [];
                    await RunWebSocketAsync(client, head.Path["/ws/".Length..], key, leftover, sessions);
                    return;
                }

                if (head.ContentLength is < 0 or > BodyLimit)
                {
                    await ReplyAsync(socket, "413 Content Too Large", """{"error":"bad Content-Length"}""");
                    return;
                }

                int end = bodyStart + head.ContentLength;
                if (end > buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent(end);
                    buffer.AsSpan(0, count).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                while (count < end)
                {
                    int read = await socket.ReceiveAsync(buffer.AsMemory(count), SocketFlags.None);
                    if (read == 0)
                    {
                        return;
                    }

                    count += read;
                }

                await HandleAsync(socket, head, buffer.AsSpan(bodyStart, head.ContentLength).ToArray(), sessions);
                if (head.Close)
                {
                    return;
                }

                // Pipelined bytes of the next request move to the front.
                buffer.AsSpan(end, count - end).CopyTo(buffer);
                count -= end;
            }
        }
        catch (SocketException)
        {
            // The peer went away.
        }
        finally
        {
            if (!upgraded)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                socket.Dispose();
            }
        }
    }

    private static Task HandleAsync(Socket socket, RequestHead head, byte[] body, SessionRegistry sessions)
    {
        const string Prefix = "/api/sessions/";
        const string Suffix = "/events";
        if (head.Method == "POST" && head.Path.StartsWith(Prefix, StringComparison.Ordinal) && head.Path.EndsWith(Suffix, StringComparison.Ordinal)
            && head.Path.Length > Prefix.Length + Suffix.Length)
        {
            if (!TryFindData(body, out Range data))
            {
                return ReplyAsync(socket, "400 Bad Request", """{"error":"the body must be {\"event\":\"...\",\"data\":...}"}""");
            }

            // Framed once; the same bytes go to every client.
            byte[] frame = WebSocketFrames.Frame(0x1, body.AsSpan(data));
            int sent = sessions.Publish(head.Path[Prefix.Length..^Suffix.Length], frame);
            return ReplyAsync(socket, "202 Accepted", $$"""{"sent":{{sent}}}""");
        }

        if (head.Method == "GET" && head.Path == "/stats")
        {
            long heap = GC.GetTotalMemory(forceFullCollection: true);
            return ReplyAsync(socket, "200 OK", $$"""{"heapBytes":{{heap}},"connections":{{sessions.Connections}}}""");
        }

        return ReplyAsync(socket, "404 Not Found", """{"error":"not found"}""");
    }

    private static async Task RunWebSocketAsync(Client client, string session, string key, byte[] leftover, SessionRegistry sessions)
    {
        Socket socket = client.Socket;

        // Inline sends block the publisher; a client that takes nothing for this long is dropped.
        socket.SendTimeout = 10_000;
        client.Open(WebSocketFrames.SwitchingProtocols(key), sessions, session);
        byte[] buffer = new byte[ClientFrameBuffer];
        int count = Math.Min(leftover.Length, buffer.Length);
        leftover.AsSpan(0, count).CopyTo(buffer);
        long skip = 0;
        try
        {
            while (true)
            {
                int offset = 0;
                while (true)
                {
                    if (skip > 0)
                    {
                        int skipped = (int)Math.Min(skip, count - offset);
                        skip -= skipped;
                        offset += skipped;
                        if (skip > 0)
                        {
                            break;
                        }
                    }

                    if (!TryReadFrameHeader(buffer.AsSpan(offset, count - offset), out byte opcode, out long length, out int headerLength, out bool masked))
                    {
                        break;
                    }

                    if (opcode < 0x8)
                    {
                        // Data from a client that should only listen: skip it, however long.
                        offset += headerLength;
                        skip = length;
                        continue;
                    }

                    if (length > 125)
                    {
                        return;
                    }

                    if (count - offset < headerLength + length)
                    {
                        break;
                    }

                    Span<byte> payload = buffer.AsSpan(offset + headerLength, (int)length);
                    if (masked)
                    {
                        ReadOnlySpan<byte> mask = buffer.AsSpan(offset + headerLength - 4, 4);
                        for (int i = 0; i < payload.Length; i++)
                        {
                            payload[i] ^= mask[i & 3];
                        }
                    }

                    offset += headerLength + (int)length;
                    if (opcode == 0x9)
                    {
                        client.Send(WebSocketFrames.Frame(0xA, payload));
                    }
                    else if (opcode == 0x8)
                    {
                        // Echo the close (its status code) and stop reading; the socket closes once the echo is out.
                        sessions.Leave(session, client);
                        client.SendLast(WebSocketFrames.Frame(0x8, payload));
                        return;
                    }
                }

                buffer.AsSpan(offset, count - offset).CopyTo(buffer);
                count -= offset;
                int read = await socket.ReceiveAsync(buffer.AsMemory(count), SocketFlags.None);
                if (read == 0)
                {
                    break;
                }

                count += read;
            }

            client.Abort();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            client.Abort();
        }
        finally
        {
            sessions.Leave(session, client);
        }
    }

    private static bool TryReadFrameHeader(ReadOnlySpan<byte> bytes, out byte opcode, out long length, out int headerLength, out bool masked)
    {
        opcode = 0;
        length = 0;
        headerLength = 2;
        masked = false;
        if (bytes.Length < 2)
        {
            return false;
        }

        opcode = (byte)(bytes[0] & 0x0F);
        masked = (bytes[1] & 0x80) != 0;
        length = bytes[1] & 0x7F;
        if (length == 126)
        {
            headerLength = 4;
        }
        else if (length == 127)
        {
            headerLength = 10;
        }

        if (masked)
        {
            headerLength += 4;
        }

        if (bytes.Length < headerLength)
        {
            return false;
        }

        if (length == 126)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        }
        else if (length == 127)
        {
            length = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]), long.MaxValue);
        }

        return true;
    }

    /// <summary>Finds the raw bytes of the top-level <c>data</c> value of <c>{"event":...,"data":...}</c>.</summary>
    private static bool TryFindData(byte[] body, out Range data)
    {
        data = default;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isData = reader.ValueTextEquals("data"u8);
                reader.Read();
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (isData)
                {
                    data = start..(int)reader.BytesConsumed;
                    return true;
                }
            }

            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static async Task ReplyAsync(Socket socket, string status, string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        byte[] head = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
        await socket.SendAsync(new ArraySegment<byte>[] { head, body }, SocketFlags.None);
    }

    /// <summary>The parts of an HTTP/1.1 request head this server looks at.</summary>
    private readonly struct RequestHead
    {
        public RequestHead(ReadOnlySpan<byte> head)
        {
            string text = Encoding.Latin1.GetString(head);
            string[] lines = text.Split("\r\n");
            string[] requestLine = lines[0].Split(' ');
            Method = requestLine[0];
            string target = requestLine.Length > 1 ? requestLine[1] : "";
            int query = target.IndexOf('?', StringComparison.Ordinal);
            Path = query >= 0 ? target[..query] : target;
            Close = requestLine.Length > 2 && requestLine[2] == "HTTP/1.0";
            bool upgrade = false;
            foreach (string line in lines.AsSpan(1))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    continue;
                }

                string name = line[..colon];
                string value = line[(colon + 1)..].Trim();
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    ContentLength = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int length) ? length : -1;
                }
                else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                {
                    Close = value.Equals("close", StringComparison.OrdinalIgnoreCase);
                }
                else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
                {
                    upgrade = value.Equals("websocket", StringComparison.OrdinalIgnoreCase);
                }
                else if (name.Equals("Sec-WebSocket-Key", StringComparison.OrdinalIgnoreCase))
                {
                    UpgradeKey = value;
                }
            }

            if (!upgrade)
            {
                UpgradeKey = null;
            }
        }

        public string Method { get; }

        public string Path { get; }

        public int ContentLength { get; }

        public bool Close { get; }

        /// <summary>The Sec-WebSocket-Key of a WebSocket upgrade; null for any other request.</summary>
        public string? UpgradeKey { get; }
    }
}
