using System.Buffers;
using System.Buffers.Binary;

namespace Gateway.Protocol.Framing;

/// <summary>The header of one WebSocket frame (RFC 6455 section 5.2).</summary>
/// <param name="Fin">True on the last frame of a message.</param>
/// <param name="Reserved">The three RSV bits, which must be zero without an extension.</param>
/// <param name="Opcode">The frame's opcode, possibly one RFC 6455 reserves.</param>
/// <param name="Masked">True when a masking key follows (every client frame must be masked).</param>
/// <param name="MaskKey">The masking key as the four bytes read in order, little-endian.</param>
/// <param name="PayloadLength">The payload length as declared.</param>
/// <param name="HeaderLength">How many bytes the header took: 2 to 14.</param>
public readonly record struct WebSocketFrameHeader(bool Fin, byte Reserved, WebSocketOpcode Opcode, bool Masked, uint MaskKey, ulong PayloadLength, int HeaderLength)
{
    /// <summary>The longest header: 2 bytes, 8 of extended length, 4 of mask.</summary>
    public const int MaxLength = 14;

    /// <summary>True for close, ping and pong.</summary>
    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    /// <summary>
    /// Parses a frame header from the start of <paramref name="buffer"/>. Returns false when the
    /// buffer does not yet hold the whole header. Any header parses; its rules are checked by the caller.
    /// </summary>
    public static bool TryParse(in ReadOnlySequence<byte> buffer, out WebSocketFrameHeader header)
    {
        if (buffer.FirstSpan.Length >= MaxLength)
        {
            return TryParse(buffer.FirstSpan, out header);
        }

        // The header straddles segments or the buffer is short: copy what can be a header.
        Span<byte> bytes = stackalloc byte[MaxLength];
        int available = (int)Math.Min(buffer.Length, MaxLength);
        buffer.Slice(0, available).CopyTo(bytes);
        return TryParse(bytes[..available], out header);
    }

    /// <summary>Parses a frame header from the start of <paramref name="bytes"/>.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out WebSocketFrameHeader header)
    {
        header = default;
        if (bytes.Length < 2)
        {
            return false;
        }

        byte first = bytes[0];
        byte second = bytes[1];
        bool masked = (second & 0x80) != 0;
        int lengthCode = second & 0x7F;
        int lengthBytes = lengthCode switch { 126 => 2, 127 => 8, _ => 0 };
        int headerLength = 2 + lengthBytes + (masked ? 4 : 0);
        if (bytes.Length < headerLength)
        {
            return false;
        }

        ulong length = lengthCode switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]),
            127 => BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]),
            _ => (ulong)lengthCode,
        };
        uint mask = masked ? BinaryPrimitives.ReadUInt32LittleEndian(bytes[(2 + lengthBytes)..]) : 0;
        header = new WebSocketFrameHeader(
            Fin: (first & 0x80) != 0,
            Reserved: (byte)((first >> 4) & 0x7),
            Opcode: (WebSocketOpcode)(first & 0x0F),
            Masked: masked,
            MaskKey: mask,
            PayloadLength: length,
            HeaderLength: headerLength);
        return true;
    }
}
