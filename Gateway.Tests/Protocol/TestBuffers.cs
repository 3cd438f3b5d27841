using System.Buffers;
using System.Text;

namespace Gateway.Tests.Protocol;

/// <summary>The shapes in which the wire tests hand the same bytes to a parser.</summary>
public enum BufferShape
{
    /// <summary>One contiguous span (the span overload).</summary>
    Span,

    /// <summary>A <see cref="ReadOnlySequence{T}"/> of one segment (the fast path).</summary>
    SingleSegment,

    /// <summary>A sequence with every byte in its own segment.</summary>
    OneByteSegments,

    /// <summary>A sequence cut into segments of random sizes (seeded, so repeatable).</summary>
    RandomSegments,
}

/// <summary>One segment of a test <see cref="ReadOnlySequence{T}"/>, as a pipe would chain them.</summary>
internal sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    public BufferSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public BufferSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new BufferSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }
}

/// <summary>Builders for test buffers.</summary>
internal static class TestBuffers
{
    public static readonly BufferShape[] AllShapes = Enum.GetValues<BufferShape>();

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>
    /// <paramref name="text"/> as raw DEFLATE that ends in a final block (BFINAL), as a deflater's
    /// end writes it: a compressed message's payload that RFC 7692 section 7.2.3.3 allows.
    /// </summary>
    public static byte[] DeflateToFinalBlock(string text)
    {
        var output = new MemoryStream();
        using (var deflate = new System.IO.Compression.DeflateStream(output, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(Utf8(text));
        }

        return output.ToArray();
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A sequence whose segments are copies of <paramref name="chunks"/>, in order.</summary>
    public static ReadOnlySequence<byte> FromChunks(IEnumerable<byte[]> chunks)
    {
        BufferSegment? first = null;
        BufferSegment? last = null;
        foreach (byte[] chunk in chunks)
        {
            // A copy per segment: no segment may happen to be contiguous with the next.
            ReadOnlyMemory<byte> memory = chunk.ToArray();
            if (last is null)
            {
                first = last = new BufferSegment(memory, 0);
            }
            else
            {
                last = last.Append(memory);
            }
        }

        return first is null || last is null
            ? ReadOnlySequence<byte>.Empty
            : new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Cuts <paramref name="bytes"/> into chunks of <paramref name="size"/> bytes (the last may be shorter).</summary>
    public static IEnumerable<byte[]> SplitEvery(byte[] bytes, int size)
    {
        for (int i = 0; i < bytes.Length; i += size)
        {
            yield return bytes[i..Math.Min(bytes.Length, i + size)];
        }
    }

    /// <summary>Cuts <paramref name="bytes"/> into chunks of 1 to <paramref name="maxChunk"/> bytes chosen by <paramref name="random"/>.</summary>
    public static IEnumerable<byte[]> SplitRandom(byte[] bytes, Random random, int maxChunk)
    {
        int i = 0;
        while (i < bytes.Length)
        {
            int size = Math.Min(bytes.Length - i, random.Next(1, maxChunk + 1));
            yield return bytes[i..(i + size)];
            i += size;
        }
    }

    /// <summary>The same bytes as a sequence of the given shape (<see cref="BufferShape.Span"/> gives one segment).</summary>
    public static ReadOnlySequence<byte> ToSequence(byte[] bytes, BufferShape shape, int seed = 1) => shape switch
    {
        BufferShape.Span or BufferShape.SingleSegment => new ReadOnlySequence<byte>(bytes.ToArray()),
        BufferShape.OneByteSegments => FromChunks(SplitEvery(bytes, 1)),
        BufferShape.RandomSegments => FromChunks(SplitRandom(bytes, new Random(seed), 9)),
        _ => throw new ArgumentOutOfRangeException(nameof(shape)),
    };

    /// <summary>Hex text of <paramref name="bytes"/>, for readable byte comparisons.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    /// <summary>Bytes from hex text with optional spaces.</summary>
    public static byte[] FromHex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
}
