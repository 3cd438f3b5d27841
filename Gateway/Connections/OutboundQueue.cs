using System.Threading.Tasks.Sources;
using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// One frame waiting to be sent: its bytes, and the event it carries when it is one.
/// <see cref="Replayed"/> frames were asked for by the client (a replay) and do not count against
/// the queue's limit: history bounds them, and they are shared, not copied.
/// </summary>
internal readonly record struct OutboundFrame(byte[] Bytes, SessionEvent? Event = null, bool Replayed = false);

/// <summary>
/// A connection's bounded send queue: many producers (publishers, the receive loop, the heartbeat
/// scanner) enqueue without ever waiting; exactly one consumer, the send loop, drains it.
/// </summary>
/// <remarks>
/// The ring grows on demand and is released when the queue empties after a burst, so that an idle
/// connection holds no queue memory. Completing the queue hands the send loop a last frame (a close
/// frame); with <c>discardPending</c> what was still queued is dropped first (slow consumers).
/// The limit counts live frames only: a replay of a thousand held events must not, by itself,
/// make a client a slow consumer.
/// </remarks>
internal sealed class OutboundQueue(int limit) : IValueTaskSource<bool>
{
    private const int RetainedCapacity = 64;

    private readonly Lock _gate = new();
    private OutboundFrame[] _ring = [];
    private int _head;
    private int _count;
    private int _replayed;
    private long _dequeued;
    private bool _completed;
    private byte[]? _finalFrame;
    private bool _waiting;
    // Continuations run where Wake is called: inline for a fan-out that wakes its idle readers after
    // its lock, on the thread pool for everyone else (WakeLater).
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = false };

    public int Limit { get; } = limit;

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

            if (!frame.Replayed && _count - _replayed >= Limit)
            {
                return EnqueueResult.Full;
            }

            if (_count == _ring.Length)
            {
                Grow();
            }

            _ring[(_head + _count) % _ring.Length] = frame;
            _count++;
            _replayed += frame.Replayed ? 1 : 0;
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
                Array.Clear(_ring);
                _ring = [];
                _head = _count = _replayed = 0;
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

    /// <summary>Moves up to <c>destination.Length</c> queued frames out; returns how many.</summary>
    public int Dequeue(Span<OutboundFrame> destination)
    {
        lock (_gate)
        {
            int taken = Math.Min(destination.Length, _count);
            for (int i = 0; i < taken; i++)
            {
                int index = (_head + i) % _ring.Length;
                destination[i] = _ring[index];
                _replayed -= _ring[index].Replayed ? 1 : 0;
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
