using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Peers.Floor;

/// <summary>The few RFC 6455 pieces a server that only sends needs.</summary>
internal static class WebSocketFrames
{
    public static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(15);

    /// <summary>A ping with no payload: FIN + opcode 9, length 0.</summary>
    public static readonly byte[] Ping = [0x89, 0x00];

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static byte[] SwitchingProtocols(string key)
    {
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));
        return Encoding.ASCII.GetBytes(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
    }

    /// <summary>An unmasked, unfragmented frame: the same bytes suit every client.</summary>
    public static byte[] Frame(byte opcode, ReadOnlySpan<byte> payload)
    {
        int header = payload.Length < 126 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        byte[] frame = new byte[header + payload.Length];
        frame[0] = (byte)(0x80 | opcode);
        if (header == 2)
        {
            frame[1] = (byte)payload.Length;
        }
        else if (header == 4)
        {
            frame[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }
        else
        {
            frame[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        }

        payload.CopyTo(frame.AsSpan(header));
        return frame;
    }
}
