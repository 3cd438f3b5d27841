using System.Buffers;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// The one writer of a connection: drains its <see cref="OutboundQueue"/> into the output stream
/// until the queue completes, then writes the final frame.
/// </summary>
/// <remarks>
/// Frames are copied into one buffer and written together: one write, one flush, one syscall for
/// many small frames under load (see docs/benchmarks.md for why that is the lever). Buffers are
/// rented only while there is work, so an idle connection holds none. The queue learns when each
/// batch's writes have completed: until then the batch counts toward the connection's lag.
/// </remarks>
internal static class SendLoop
{
    private const int BatchFrames = 64;
    private const int BatchBytes = 16 * 1024;

    /// <summary>
    /// Runs until the queue's final frame is written, or until the transport fails, which aborts
    /// <paramref name="owner"/> (so that its reader learns it too).
    /// </summary>
    /// <remarks>
    /// The connection awaits this task itself, with no frame of its own around it: an idle
    /// connection holds one suspended frame fewer (docs/benchmarks.md, S1).
    /// </remarks>
    /// <param name="queue">What to send.</param>
    /// <param name="output">Where to write it.</param>
    /// <param name="owner">The connection, aborted when the transport fails.</param>
    /// <param name="metrics">Bytes and events sent.</param>
    /// <param name="time">The clock of the lag and the latency.</param>
    /// <param name="deflateUpTo">
    /// For a WebSocket connection that negotiated permessage-deflate, the longest event payload it
    /// may get compressed (<see cref="PerMessageDeflateAgreement.MaxCompressedPayload"/>); 0 for none.
    /// </param>
    public static async Task RunAsync(OutboundQueue queue, Stream output, IClientConnection owner, GatewayMetrics metrics, TimeProvider time, int deflateUpTo = 0)
    {
        try
        {
            while (await queue.WaitAsync())
            {
                await DrainAsync(queue, output, metrics, time, deflateUpTo);
                if (queue.TryTakeFinalFrame(out byte[]? finalFrame))
                {
                    if (finalFrame is not null)
                    {
                        await output.WriteAsync(finalFrame);
                        metrics.BytesSent(finalFrame.Length);
                    }

                    return;
                }
            }
        }
        catch (Exception e) when (IsTransportFailure(e))
        {
            owner.Abort();
        }
    }

    /// <summary>
    /// Failures that mean the socket is gone, not bugs: Kestrel's connection reset is an
    /// <see cref="IOException"/>, its abort an <see cref="OperationCanceledException"/>.
    /// </summary>
    public static bool IsTransportFailure(Exception e) =>
        e is IOException or OperationCanceledException or ObjectDisposedException;

    /// <summary>Publish-to-write latency of the live events just written (a replay's events are old by design).</summary>
    private static void RecordLatency(ReadOnlySpan<OutboundFrame> written, GatewayMetrics metrics, TimeProvider time)
    {
        long now = time.GetTimestamp();
        double frequency = time.TimestampFrequency;
        foreach (OutboundFrame frame in written)
        {
            if (frame is { Event: { } e, Replayed: false })
            {
                metrics.DeliveryLatency((now - e.PublishedAt) / frequency);
            }
        }
    }

    /// <summary>
    /// The compressed form of an event for a connection that negotiated permessage-deflate: the
    /// event's one shared compressed frame, or for an event that replaced others, its own bytes
    /// compressed here. <paramref name="plain"/> when the event stays plain (short, incompressible,
    /// or longer than the client's window allows).
    /// </summary>
    private static byte[] Deflated(in OutboundFrame queued, byte[] plain, SessionEvent e, int deflateUpTo, GatewayMetrics metrics)
    {
        bool compressed = false;
        byte[] frame;
        if (queued.Conflated > 0)
        {
            ReadOnlySpan<byte> payload = WebSocketFrameWriter.GetPayload(plain).Span;
            frame = payload.Length <= deflateUpTo ? PerMessageDeflate.TryCreateTextFrame(payload) ?? plain : plain;
            compressed = !ReferenceEquals(frame, plain);
        }
        else
        {
            frame = e.Json.Length <= deflateUpTo ? e.DeflatedFrame(out compressed) : plain;
        }

        if (compressed)
        {
            metrics.MessageCompressed();
        }

        return frame;
    }

    private static async ValueTask DrainAsync(OutboundQueue queue, Stream output, GatewayMetrics metrics, TimeProvider time, int deflateUpTo)
    {
        OutboundFrame[] frames = ArrayPool<OutboundFrame>.Shared.Rent(BatchFrames);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BatchBytes);
        try
        {
            int count;
            while ((count = queue.Dequeue(frames.AsSpan(0, BatchFrames), time.GetTimestamp())) > 0)
            {
                int used = 0;
                int events = 0;
                long bytes = 0;
                int liveFrames = 0;
                long liveBytes = 0;
                int compressedFrames = 0;
                for (int i = 0; i < count; i++)
                {
                    // The lag counted the shared bytes; a frame that replaced others is written
                    // with its own, a few bytes longer.
                    byte[] frame = queue.BytesToSend(frames[i]);
                    if (deflateUpTo > 0 && frames[i].Event is { } deflatable)
                    {
                        // Chosen here, outside the session's lock, rather than when queued: the lag
                        // keeps counting the plain bytes (what the queue holds), and an event is
                        // compressed only once a compressing connection is about to send it.
                        byte[] plain = frame;
                        frame = Deflated(frames[i], plain, deflatable, deflateUpTo, metrics);
                        compressedFrames += ReferenceEquals(frame, plain) ? 0 : 1;
                    }

                    events += frames[i].Event is null ? 0 : 1;
                    bytes += frame.Length;
                    if (!frames[i].Replayed)
                    {
                        liveFrames++;
                        liveBytes += frames[i].Bytes.Length;
                    }

                    if (frame.Length > buffer.Length - used)
                    {
                        if (used > 0)
                        {
                            await output.WriteAsync(buffer.AsMemory(0, used));
                            used = 0;
                        }

                        if (frame.Length > buffer.Length)
                        {
                            await output.WriteAsync(frame);
                            continue;
                        }
                    }

                    frame.CopyTo(buffer.AsSpan(used));
                    used += frame.Length;
                }

                if (used > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, used));
                }

                // Only now has the batch left the connection's lag: a write that the peer never
                // lets complete keeps it counted, and aging.
                queue.Written(liveFrames, liveBytes);
                RecordLatency(frames.AsSpan(0, count), metrics, time);
                Array.Clear(frames, 0, count);
                metrics.BytesSent(bytes);
                if (compressedFrames > 0)
                {
                    metrics.CompressedFramesSent(compressedFrames);
                }

                if (events > 0)
                {
                    metrics.MessagesDelivered(events);
                }
            }
        }
        finally
        {
            ArrayPool<OutboundFrame>.Shared.Return(frames, clearArray: true);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
