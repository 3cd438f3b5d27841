using System.Buffers.Binary;
using System.Text;

namespace Gateway.Protocol.Framing;

/// <summary>
/// Writes WebSocket frames (RFC 6455 section 5.2). Server frames are never masked, so one frame's
/// bytes can go to every recipient unchanged.
/// </summary>
public static class WebSocketFrameWriter
{
    /// <summary>The longest close reason, in UTF-8 bytes: a control frame carries 125 bytes, 2 of them the code.</summary>
    public const int MaxCloseReasonBytes = 123;

    /// <summary>The length of an unmasked frame header for a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static int GetHeaderLength(long payloadLength) => payloadLength switch
    {
        <= 125 => 2,
        <= ushort.MaxValue => 4,
        _ => 10,
    };

    /// <summary>Writes an unmasked frame header; returns its length.</summary>
    public static int WriteHeader(Span<byte> destination, WebSocketOpcode opcode, long payloadLength, bool fin = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        destination[0] = (byte)((fin ? 0x80 : 0) | (byte)opcode);
        switch (payloadLength)
        {
            case <= 125:
                destination[1] = (byte)payloadLength;
                return 2;
            case <= ushort.MaxValue:
                destination[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
                return 4;
            default:
                destination[1] = 127;
                BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
                return 10;
        }
    }

    /// <summary>Creates a complete unmasked frame holding <paramref name="payload"/>.</summary>
    public static byte[] CreateFrame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[GetHeaderLength(payload.Length) + payload.Length];
        int header = WriteHeader(frame, opcode, payload.Length);
        payload.CopyTo(frame.AsSpan(header));
        return frame;
    }

    /// <summary>The payload of a complete unmasked frame made by this class.</summary>
    public static ReadOnlyMemory<byte> GetPayload(byte[] frame)
    {
        int header = (frame[1] & 0x7F) switch { 126 => 4, 127 => 10, _ => 2 };
        return frame.AsMemory(header);
    }

    /// <summary>
    /// Creates a close frame with <paramref name="code"/> and <paramref name="reason"/>, the reason
    /// cut at a character boundary to fit in a control frame.
    /// </summary>
    public static byte[] CreateCloseFrame(ushort code, string reason)
    {
        Span<byte> payload = stackalloc byte[2 + MaxCloseReasonBytes];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        int length = 2 + EncodeTruncated(reason, payload[2..]);
        return CreateFrame(WebSocketOpcode.Close, payload[..length]);
    }

    /// <summary>Creates a masked frame, as a client sends it.</summary>
    public static byte[] CreateMaskedFrame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload, uint maskKey, bool fin = true)
    {
        int header = GetHeaderLength(payload.Length);
        var frame = new byte[header + 4 + payload.Length];
        WriteHeader(frame, opcode, payload.Length, fin);
        frame[1] |= 0x80;
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(header), maskKey);
        WebSocketMask.Apply(payload, frame.AsSpan(header + 4), maskKey, 0);
        return frame;
    }

    private static int EncodeTruncated(string text, Span<byte> destination)
    {
        int written = 0;
        foreach (Rune rune in text.EnumerateRunes())
        {
            if (!rune.TryEncodeToUtf8(destination[written..], out int bytes))
            {
                break;
            }

            written += bytes;
        }

        return written;
    }
}
