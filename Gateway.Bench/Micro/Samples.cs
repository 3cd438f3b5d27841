using System.Buffers;
using System.Text;

namespace Gateway.Bench.Micro;

/// <summary>The inputs the benchmarks share.</summary>
internal static class Samples
{
    /// <summary>
    /// A 128-byte JSON object, the typical progress-event payload:
    /// <c>{"step":"compile","progress":42,"message":"xxx..."}</c>.
    /// </summary>
    public static readonly byte[] Data128 = JsonObject(128);

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A JSON object of exactly <paramref name="size"/> bytes.</summary>
    public static byte[] JsonObject(int size)
    {
        const string Head = "{\"step\":\"compile\",\"progress\":42,\"message\":\"";
        const string Tail = "\"}";
        byte[] json = Utf8(Head + new string('x', size - Head.Length - Tail.Length) + Tail);
        return json.Length == size ? json : throw new InvalidOperationException($"built {json.Length} bytes, wanted {size}");
    }

    /// <summary>
    /// <paramref name="bytes"/> as a sequence of segments cut at <paramref name="cuts"/>, as a pipe
    /// hands over a message that straddles its buffers.
    /// </summary>
    public static ReadOnlySequence<byte> Segmented(byte[] bytes, params int[] cuts)
    {
        var first = new Segment(bytes.AsMemory(0, cuts[0]), 0);
        Segment last = first;
        for (int i = 0; i < cuts.Length; i++)
        {
            int end = i + 1 < cuts.Length ? cuts[i + 1] : bytes.Length;
            last = last.Append(bytes.AsMemory(cuts[i], end - cuts[i]));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
