using System.Threading.Tasks.Sources;
using Gateway.Hub;
using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// One frame waiting to be sent: its bytes, and the event it carries when it is one.
/// <see cref="Replayed"/> frames were asked for by the client (a replay) and do not count toward
/// its lag: history bounds them, and they are shared, not copied.
/// </summary>
internal readonly record struct OutboundFrame(byte[] Bytes, SessionEvent? Event = null, bool Replayed = false);

/// <summary>
/// A connection's send queue: many producers (publishers, the receive loop, the heartbeat scanner)
/// enqueue without ever waiting; exactly one consumer, the send loop, drains it. It is bounded by
/// the connection's lag (<see cref="LagLimits"/>), not by a number of frames.
/// </summary>
/// <remarks>
/// The ring grows on demand and is released when the queue empties after a burst, so that an idle
/// connection holds no queue memory. What it holds are references to frames shared with every other
/// recipient and with history, so a client that falls behind costs a reference per frame, never a
/// copy. Completing the queue hands the send loop a last frame (a close frame); with
/// <c>discardPending</c> what was still queued is dropped first (slow consumers).
/// </remarks>
internal sealed class OutboundQueue(LagLimits limits) : IValueTaskSource<bool>
{
    private const int RetainedCapacity = 64;

    private readonly Lock _gate = new();
    private OutboundFrame[] _ring = [];
    private int _head;
    private int _count;
    private long _dequeued;
    private LagMeter _lag;
    private bool _completed;
    private byte[]? _finalFrame;
    private bool _waiting;
    // Continuations run where Wake is called: inline for a fan-out that wakes its idle readers after
    // its lock, on the thread pool for everyone else (WakeLater).
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = false };

    /// <summary>The bounds this queue holds its connection to.</summary>
    public LagLimits Limits { get; } = limits;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Bytes of live frames (not replays) queued or being written: the connection's lag in bytes.</summary>
    public long UnsentBytes
    {
        get
        {
            lock (_gate)
            {
                return _lag.UnsentBytes;
            }
        }
    }

    /// <summary>How many frames the send loop has taken out so far.</summary>
    public long Dequeued => Interlocked.Read(ref _dequeued);

    /// <summary>Queues a frame; an idle send loop is woken on the thread pool. Safe under any lock.</summary>
    public EnqueueResult TryEnqueue(in OutboundFrame frame)
    {
        EnqueueResult result = TryEnqueue(frame, out bool wake);
        if (wake)
        {
            WakeLater();
        }

        return result;
    }

    /// <summary>
    /// Queues a frame without waking the send loop: when <paramref name="wake"/> comes back true,
    /// the loop was idle and the caller must call <see cref="Wake"/> (or <see cref="WakeLater"/>)
    /// once it holds no lock, because <see cref="Wake"/> runs the loop on the caller's thread.
    /// <see cref="EnqueueResult.Full"/> means the frame would have put the connection more than
    /// <see cref="LagLimits.MaxBytes"/> behind; it was not queued.
    /// </summary>
    public EnqueueResult TryEnqueue(in OutboundFrame frame, out bool wake)
    {
        wake = false;
        lock (_gate)
        {
            if (_completed)
            {
                return EnqueueResult.Closed;
            }

            if (!frame.Replayed && _lag.WouldExceed(frame.Bytes.Length, Limits.MaxBytes))
            {
                return EnqueueResult.Full;
            }

            if (_count == _ring.Length)
            {
                Grow();
            }

            _ring[(_head + _count) % _ring.Length] = frame;
            _count++;
            if (!frame.Replayed)
            {
                _lag.Queued(frame.Bytes.Length);
            }

            wake = _waiting;
            _waiting = false;
            return EnqueueResult.Enqueued;
        }
    }

    /// <summary>Runs the waiting send loop on this thread, until it next waits. Call only when an enqueue said so.</summary>
    public void Wake() => _signal.SetResult(true);

    /// <summary>Wakes the waiting send loop on the thread pool.</summary>
    public void WakeLater() => ThreadPool.UnsafeQueueUserWorkItem(static queue => queue.Wake(), this, preferLocal: false);

    /// <summary>
    /// Ends the queue: nothing more is accepted, and the send loop gets <paramref name="finalFrame"/>
    /// after what is queued (or instead of it, with <paramref name="discardPending"/>). False when
    /// the queue was already complete.
    /// </summary>
    public bool Complete(byte[]? finalFrame, bool discardPending)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return false;
            }

            _completed = true;
            _finalFrame = finalFrame;
            if (discardPending)
            {
                DiscardQueued();
            }

            if (!_waiting)
            {
                return true;
            }

            _waiting = false;
        }

        // Completion can come from under a session's lock (a slow consumer): never run the loop inline.
        WakeLater();
        return true;
    }

    /// <summary>Waits until a frame is queued or the queue is complete. Single consumer.</summary>
    public ValueTask<bool> WaitAsync()
    {
        lock (_gate)
        {
            if (_count > 0 || _completed)
            {
                return ValueTask.FromResult(true);
            }

            _signal.Reset();
            _waiting = true;
            return new ValueTask<bool>(this, _signal.Version);
        }
    }

    /// <summary>
    /// Moves up to <c>destination.Length</c> queued frames out; returns how many. They still count
    /// toward the lag until <see cref="Written"/> says so; <paramref name="now"/> marks when they
    /// were queued by at the latest, so that a write that never completes ages them.
    /// </summary>
    public int Dequeue(Span<OutboundFrame> destination, long now)
    {
        lock (_gate)
        {
            _lag.Mark(now, Limits.Granularity);
            int taken = Math.Min(destination.Length, _count);
            for (int i = 0; i < taken; i++)
            {
                int index = (_head + i) % _ring.Length;
                destination[i] = _ring[index];
                _ring[index] = default;
            }

            _head = taken == _count ? 0 : (_head + taken) % _ring.Length;
            _count -= taken;
            _dequeued += taken;
            if (_count == 0 && _ring.Length > RetainedCapacity)
            {
                _ring = [];
            }

            return taken;
        }
    }

    /// <summary>
    /// The send loop's word that the writes carrying the oldest <paramref name="frames"/> live frames
    /// it dequeued (<paramref name="bytes"/> in all; replays left out) have completed.
    /// </summary>
    public void Written(int frames, long bytes)
    {
        if (frames == 0)
        {
            return;
        }

        lock (_gate)
        {
            _lag.Sent(frames, bytes);
        }
    }

    /// <summary>
    /// The heartbeat scan's look at the lag: marks what is queued by <paramref name="now"/>, then
    /// judges. A queue that is complete is past judging (its connection is closing).
    /// </summary>
    public LagVerdict CheckLag(long now, out long unsentBytes, out long oldestAge)
    {
        lock (_gate)
        {
            unsentBytes = _lag.UnsentBytes;
            oldestAge = _lag.OldestUnsentAge(now);
            if (_completed)
            {
                return LagVerdict.Within;
            }

            _lag.Mark(now, Limits.Granularity);
            return _lag.Judge(now, Limits);
        }
    }

    /// <summary>After completion, once drained: the last frame to send (or null), handed out once.</summary>
    public bool TryTakeFinalFrame(out byte[]? frame)
    {
        lock (_gate)
        {
            frame = null;
            if (!_completed || _count > 0)
            {
                return false;
            }

            frame = _finalFrame;
            _finalFrame = null;
            return true;
        }
    }

    /// <summary>Drops what is queued; its live frames leave the lag as if sent, so that the send loop's later word on its own batch still adds up.</summary>
    private void DiscardQueued()
    {
        int frames = 0;
        long bytes = 0;
        for (int i = 0; i < _count; i++)
        {
            OutboundFrame frame = _ring[(_head + i) % _ring.Length];
            frames += frame.Replayed ? 0 : 1;
            bytes += frame.Replayed ? 0 : frame.Bytes.Length;
        }

        _lag.Sent(frames, bytes);
        _ring = [];
        _head = _count = 0;
    }

    private void Grow()
    {
        var larger = new OutboundFrame[Math.Max(8, _ring.Length * 2)];
        for (int i = 0; i < _count; i++)
        {
            larger[i] = _ring[(_head + i) % _ring.Length];
        }

        _ring = larger;
        _head = 0;
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}
