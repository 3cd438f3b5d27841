using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Gateway.Protocol.Framing;

/// <summary>The XOR masking of RFC 6455 section 5.3.</summary>
public static class WebSocketMask
{
    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/>, XOR-ed with the mask
    /// <paramref name="key"/> starting at byte <paramref name="offset"/> of the key (0-3).
    /// Returns the key offset for the next byte.
    /// </summary>
    public static int Apply(ReadOnlySpan<byte> source, Span<byte> destination, uint key, int offset)
    {
        if (source.Length > destination.Length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }

        // Rotate the key so that its first byte is the one due next, then XOR eight bytes at a time.
        uint rotated = BitOperations.RotateRight(key, offset * 8);
        ulong wide = ((ulong)rotated << 32) | rotated;
        int i = 0;
        int whole = source.Length & ~7;
        if (whole > 0)
        {
            ReadOnlySpan<ulong> from = MemoryMarshal.Cast<byte, ulong>(source[..whole]);
            Span<ulong> to = MemoryMarshal.Cast<byte, ulong>(destination[..whole]);
            ulong littleEndianMask = BitConverter.IsLittleEndian ? wide : BinaryPrimitives.ReverseEndianness(wide);
            for (int w = 0; w < from.Length; w++)
            {
                to[w] = from[w] ^ littleEndianMask;
            }

            i = whole;
        }

        for (; i < source.Length; i++)
        {
            destination[i] = (byte)(source[i] ^ (byte)(rotated >> (((i - whole) & 3) * 8)));
        }

        return (offset + source.Length) & 3;
    }
}
