using System.Buffers;

namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    // Frames are copied into one buffer and written together: one write, one flush, one syscall
    // for many small frames under load (see docs/benchmarks.md for why that is the lever).
    private const int BatchFrames = 64;
    private const int BatchBytes = 16 * 1024;

    /// <summary>The only writer to the socket: drains the queue, writes what it took, then the final (close) frame.</summary>
    private async Task SendLoopAsync()
    {
        try
        {
            while (await _queue.WaitAsync())
            {
                await DrainAsync();
                if (_queue.TryTakeFinalFrame(out byte[]? finalFrame, out _))
                {
                    if (finalFrame is not null)
                    {
                        await WriteAsync(finalFrame);
                    }

                    return;
                }
            }
        }
        catch (Exception e) when (IsTransportFailure(e))
        {
            // The socket is gone; make sure the receive loop learns it too.
            Abort();
        }
    }

    /// <summary>Writes everything queued, in batches; buffers are rented only while there is work.</summary>
    private async ValueTask DrainAsync()
    {
        OutboundFrame[] frames = ArrayPool<OutboundFrame>.Shared.Rent(BatchFrames);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BatchBytes);
        try
        {
            int count;
            while ((count = _queue.Dequeue(frames.AsSpan(0, BatchFrames))) > 0)
            {
                int used = 0;
                int events = 0;
                for (int i = 0; i < count; i++)
                {
                    byte[] bytes = frames[i].Bytes;
                    events += frames[i].Event is null ? 0 : 1;
                    if (bytes.Length > buffer.Length - used)
                    {
                        if (used > 0)
                        {
                            await WriteAsync(buffer.AsMemory(0, used));
                            used = 0;
                        }

                        if (bytes.Length > buffer.Length)
                        {
                            await WriteAsync(bytes);
                            continue;
                        }
                    }

                    bytes.CopyTo(buffer.AsSpan(used));
                    used += bytes.Length;
                }

                if (used > 0)
                {
                    await WriteAsync(buffer.AsMemory(0, used));
                }

                Array.Clear(frames, 0, count);
                _messagesOut += count;
                if (events > 0)
                {
                    _env.Metrics.MessagesDelivered(events);
                }
            }
        }
        finally
        {
            ArrayPool<OutboundFrame>.Shared.Return(frames, clearArray: true);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        await _transport.WriteAsync(bytes);
        _env.Metrics.BytesSent(bytes.Length);
    }
}
