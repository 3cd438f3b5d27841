using System.Threading.Tasks.Sources;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// One frame waiting to be sent: its bytes, and the event it carries when it is one.
/// <see cref="Replayed"/> frames were asked for by the client (a replay) and do not count toward
/// its lag: history bounds them, and they are shared, not copied. <see cref="Conflated"/> counts the
/// older events of its name and key it replaced while it waited (spec section 12): its bytes are
/// then still the shared frame, and the send loop writes <see cref="OutboundQueue.BytesToSend"/>.
/// </summary>
internal readonly record struct OutboundFrame(byte[] Bytes, SessionEvent? Event = null, bool Replayed = false, int Conflated = 0)
{
    /// <summary>The bytes of the place a replaced frame held: nothing to write.</summary>
    internal static readonly byte[] Skipped = [];

    /// <summary>True for the place of a frame that a newer one replaced.</summary>
    public bool IsSkipped => ReferenceEquals(Bytes, Skipped);
}

/// <summary>
/// A connection's send queue: many producers (publishers, the receive loop, the heartbeat scanner)
/// enqueue without ever waiting; exactly one consumer, the send loop, drains it. It is bounded by
/// the connection's lag (<see cref="LagLimits"/>), not by a number of frames.
/// </summary>
/// <remarks>
/// <para>
/// The ring grows on demand and is released when the queue empties after a burst, or when the
/// heartbeat scan finds it empty with nothing queued since its previous look, so that an idle
/// connection holds no queue memory. What it holds are references to frames shared with every other
/// recipient and with history, so a client that falls behind costs a reference per frame, never a
/// copy. Completing the queue hands the send loop a last frame (a close frame); with
/// <c>discardPending</c> what was still queued is dropped first (slow consumers).
/// </para>
/// <para>
/// Conflation (spec section 12): a live event that its <see cref="ConflationPolicy"/> calls
/// conflatable, queued while an older one of the same name and key still waits here, replaces it:
/// the older one's place is left empty (the send loop passes it, writing nothing) and the newer,
/// at its own later place, carries the count of all it replaced. Only a queue that is behind pays
/// for this; a frame queued into an empty queue is not even looked at. Replays are never
/// conflated (the client asked for exactly those events), nor anything that is not an event, nor
/// a frame the send loop has already taken out.
/// </para>
/// </remarks>
/// <param name="limits">The lag bounds.</param>
/// <param name="conflation">Which events may be conflated; null for none (replies and control frames only, or tests).</param>
/// <param name="form">How the transport writes an event that replaced others; needed with <paramref name="conflation"/>.</param>
/// <param name="metrics">Where the events conflation replaced are counted; null for none (tests).</param>
internal sealed class OutboundQueue(LagLimits limits, ConflationPolicy? conflation = null, IConflatedForm? form = null, GatewayMetrics? metrics = null) : IValueTaskSource<bool>
{
    private const int RetainedCapacity = 64;

    private OutboundFrame[] _ring = [];
    private int _head;
    private int _count;
    private long _dequeued;

    // Ring places ever taken out (frames and skipped places): the position of the first waiting.
    private long _taken;
    private LagMeter _lag;
    private ConflationIndex _index;
    private bool _completed;
    private byte[]? _finalFrame;
    private bool _waiting;

    // Whether a frame was queued since the heartbeat scan's last look: one that finds the queue
    // empty and untouched since gives the ring back.
    private bool _queuedSinceScan;
    // Continuations run where Wake is called: inline for a fan-out that wakes its idle readers after
    // its lock, on the thread pool for everyone else (WakeLater).
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = false };

    /// <summary>The bounds this queue holds its connection to.</summary>
    public LagLimits Limits { get; } = limits;

    public int Count
    {
        get
        {
            lock (Gate)
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
            lock (Gate)
            {
                return _lag.UnsentBytes;
            }
        }
    }

    /// <summary>How many frames the ring holds room for (0 when it holds none), for tests.</summary>
    internal int Capacity
    {
        get
        {
            lock (Gate)
            {
                return _ring.Length;
            }
        }
    }

    /// <summary>How many frames the send loop has taken out so far.</summary>
    public long Dequeued => Interlocked.Read(ref _dequeued);

    // The queue is its own monitor: a separate lock object would cost every connection 48 bytes
    // (the object and the field), for thousands of idle ones, and an uncontended monitor lives in
    // the object's header. Nothing outside locks on a queue.
    private object Gate => this;

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
        lock (Gate)
        {
            if (_completed)
            {
                return EnqueueResult.Closed;
            }

            // Behind, and a live event: it may replace an older one, whose bytes then leave the lag.
            long replaced = -1;
            int freed = 0;
            bool conflatable = _count > 0 && frame is { Replayed: false, Event: { } e } && conflation is not null && conflation.IsConflatable(e);
            if (conflatable)
            {
                if (!_index.IsStarted || _index.IsStale(_count))
                {
                    StartIndex();
                }

                if (_index.TryFind(frame.Event!, _taken, out replaced))
                {
                    freed = At(replaced).Bytes.Length;
                }
            }

            if (!frame.Replayed && _lag.WouldExceed(frame.Bytes.Length - freed, Limits.MaxBytes))
            {
                return EnqueueResult.Full;
            }

            if (_count == _ring.Length)
            {
                Grow();
            }

            OutboundFrame queued = frame;
            if (replaced >= 0)
            {
                ref OutboundFrame older = ref At(replaced);
                queued = frame with { Conflated = frame.Conflated + older.Conflated + 1 };
                older = new OutboundFrame(OutboundFrame.Skipped);
                _lag.Skipped(freed);
            }

            if (conflatable)
            {
                _index.Note(frame.Event!, _taken + _count);
            }

            _ring[(_head + _count) % _ring.Length] = queued;
            _count++;
            _queuedSinceScan = true;
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
        lock (Gate)
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
        lock (Gate)
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
    /// were queued by at the latest, so that a write that never completes ages them. The places of
    /// replaced frames come out too (<see cref="OutboundFrame.IsSkipped"/>, no bytes): the send loop
    /// writes nothing for them and counts them written with the rest, which keeps the lag's frame
    /// count in queue order.
    /// </summary>
    public int Dequeue(Span<OutboundFrame> destination, long now)
    {
        lock (Gate)
        {
            _lag.Mark(now, Limits.Granularity);
            int taken = Math.Min(destination.Length, _count);
            int frames = taken;
            for (int i = 0; i < taken; i++)
            {
                int index = (_head + i) % _ring.Length;
                destination[i] = _ring[index];
                _ring[index] = default;
                if (destination[i].IsSkipped)
                {
                    frames--;
                }
            }

            _head = taken == _count ? 0 : (_head + taken) % _ring.Length;
            _count -= taken;
            _taken += taken;
            _dequeued += frames;
            if (_count == 0)
            {
                _index.Stop();
                if (_ring.Length > RetainedCapacity)
                {
                    _ring = [];
                }
            }

            return taken;
        }
    }

    /// <summary>
    /// What the send loop writes for <paramref name="frame"/>: its shared bytes, or for one that
    /// replaced older events, its own bytes saying how many (built here, outside the queue's lock).
    /// </summary>
    public byte[] BytesToSend(in OutboundFrame frame)
    {
        if (frame is { Conflated: > 0, Event: { } e } && form is not null)
        {
            // Counted here rather than at each replacement: once per frame, outside the lock, and
            // exactly the count the client is told (a frame discarded unsent told no one).
            metrics?.EventsConflated(frame.Conflated);
            return form.ConflatedForm(e, frame.Conflated);
        }

        return frame.Bytes;
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

        lock (Gate)
        {
            _lag.Sent(frames, bytes);
        }
    }

    /// <summary>
    /// The heartbeat scan's look at the lag: marks what is queued by <paramref name="now"/>, then
    /// judges. A queue that is complete is past judging (its connection is closing). A queue found
    /// empty with nothing queued since the last look gives its ring back (<see cref="Capacity"/> 0).
    /// </summary>
    public LagVerdict CheckLag(long now, out long unsentBytes, out long oldestAge)
    {
        lock (Gate)
        {
            unsentBytes = _lag.UnsentBytes;
            oldestAge = _lag.OldestUnsentAge(now);

            // Most connections are idle most of the time, each holding the ring its welcome grew
            // (216 bytes for 8 frames); one that is sent events keeps its ring rather than making
            // one for each event.
            if (_count == 0 && !_queuedSinceScan)
            {
                _ring = [];
            }

            _queuedSinceScan = false;
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
        lock (Gate)
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
        _index.Stop();
        _taken += _count;
        _ring = [];
        _head = _count = 0;
    }

    /// <summary>The place in the ring of the waiting frame at <paramref name="position"/>.</summary>
    private ref OutboundFrame At(long position) => ref _ring[(int)((_head + (position - _taken)) % _ring.Length)];

    /// <summary>(Re)starts the conflation index from the conflatable live events that wait.</summary>
    private void StartIndex()
    {
        _index.Stop();
        _index.Start();
        for (int i = 0; i < _count; i++)
        {
            OutboundFrame waiting = _ring[(_head + i) % _ring.Length];
            if (waiting is { Replayed: false, Event: { } e } && conflation!.IsConflatable(e))
            {
                _index.Note(e, _taken + i);
            }
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
