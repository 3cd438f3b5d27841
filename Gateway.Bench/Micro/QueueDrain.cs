using Gateway.Connections;

namespace Gateway.Bench.Micro;

/// <summary>What a send loop does to its queue, without a socket: take everything out, and say it was written.</summary>
internal static class QueueDrain
{
    /// <summary>Empties <paramref name="queue"/> through <paramref name="frames"/>, each batch reported written so that its lag returns to zero.</summary>
    public static void DrainAll(OutboundQueue queue, OutboundFrame[] frames)
    {
        int count;
        while ((count = queue.Dequeue(frames, now: 0)) > 0)
        {
            long bytes = 0;
            for (int i = 0; i < count; i++)
            {
                bytes += frames[i].Bytes.Length;
            }

            queue.Written(count, bytes);
        }
    }
}
