using System.Runtime.InteropServices;
using Gateway.Sessions;
namespace Gateway.Log;

/// <summary>
/// The last N events of a session in a ring. The array grows as events arrive, so that a session
/// that holds a handful of events does not pay for the whole capacity up front. With a byte bound,
/// fewer: the oldest events leave while the held ones' names and data pass it (the newest stays).
/// </summary>
/// <remarks>
/// The ring holds each event as a value (<see cref="HeldEvent"/>) and its frame's bytes in
/// buffers the session's events share, on the pinned object heap. History is what lives long in a
/// gateway: kept as an object and an array each, its events were most of what every young
/// collection traced and copied, and each collection of generation 1 paused the process for about
/// 100 ms under S3's load (docs/benchmarks.md). The pinned heap is collected with generation 2 only
/// and never moved, and an array of bytes holds nothing to trace. A buffer starts at 512 bytes and
/// doubles up to 4 KiB; an event of more than 1 KiB gets an ordinary array of its own. A buffer lives as long
/// as any event in it: what a session holds beyond its events' bytes is the unused end of its
/// newest buffer and the part of its oldest one whose events have left, at most two buffers.
/// </remarks>
internal sealed class EventHistory(string session, int capacity, long maxBytes = 0)
{
    private const int InitialSize = 16;
    private const int FirstStoreBytes = 512;
    private const int LargestStoreBytes = 4096;
    private const int SharedUpTo = LargestStoreBytes / 4;

    private HeldEvent[] _ring = [];
    private int _start;
    private int _count;

    // The buffer new events' bytes go into, how much of it is used, and the size of the next one.
    private byte[]? _store;
    private int _storeUsed;
    private int _nextStoreBytes = FirstStoreBytes;

    // The held events' names and data, against maxBytes.
    private long _bytes;

    // The events the latest read made, consecutive by seq, for the reads right after it to share
    // (and with them the forms their send loops build, a compressed frame above all) until
    // ForgetReads: a crowd replaying one history then compresses each event once, not once each.
    private SessionEvent[]? _lastRead;

    public int Count => _count;

    /// <summary>What an event weighs against a byte bound: its name and its data, the same measure the Redis log uses.</summary>
    public static long Size(in HeldEvent e) => e.Name.Length + e.Data.Length;

    public int Capacity { get; } = capacity;

    /// <summary>The seq of the oldest event held; above every seq when empty.</summary>
    public long OldestSeq => _count == 0 ? long.MaxValue : _ring[_start].Seq;

    /// <summary>
    /// Adds the newest event, its bytes copied into the session's store; returns it as held, and
    /// in <paramref name="evicted"/> the oldest when it had to make room.
    /// </summary>
    public HeldEvent Add(SessionEvent sessionEvent, out HeldEvent? evicted)
    {
        HeldEvent held = Store(sessionEvent);
        _bytes += Size(held);
        evicted = null;
        if (_count < Capacity)
        {
            if (_count == _ring.Length)
            {
                Grow();
            }

            _ring[(_start + _count) % _ring.Length] = held;
            _count++;
            return held;
        }

        HeldEvent oldest = _ring[_start];
        _ring[_start] = held;
        _start = (_start + 1) % _ring.Length;
        _bytes -= Size(oldest);
        evicted = oldest;
        return held;
    }

    /// <summary>
    /// Removes the oldest event while the held ones weigh more than the byte bound, one per call;
    /// null when within it (or no bound, or only the newest is left).
    /// </summary>
    public HeldEvent? TrimOldest()
    {
        if (maxBytes <= 0 || _bytes <= maxBytes || _count <= 1)
        {
            return null;
        }

        HeldEvent evicted = _ring[_start];
        _ring[_start] = default;
        _start = (_start + 1) % _ring.Length;
        _count--;
        _bytes -= Size(evicted);
        return evicted;
    }

    /// <summary>
    /// The held events with a seq above <paramref name="since"/>, oldest first, at most
    /// <paramref name="limit"/>, each made again from the held bytes unless the latest read made
    /// it already; <paramref name="complete"/> is false when the event right after
    /// <paramref name="since"/> is no longer held (or <paramref name="since"/> is beyond <paramref name="latestSeq"/>).
    /// </summary>
    public List<SessionEvent> After(long since, long latestSeq, int limit, out bool complete)
    {
        var result = new List<SessionEvent>();
        if (since >= latestSeq)
        {
            complete = since == latestSeq;
            return result;
        }

        // Seqs in the ring are consecutive, so the first wanted one sits at a computable index.
        long oldest = _count == 0 ? latestSeq + 1 : _ring[_start].Seq;
        complete = oldest <= since + 1;
        long first = Math.Max(since + 1, oldest);
        SessionEvent[]? made = _lastRead;
        long madeFirst = made is { Length: > 0 } ? made[0].Seq : 0;
        bool makes = false;
        for (long seq = first; seq <= latestSeq && result.Count < limit; seq++)
        {
            long at = seq - madeFirst;
            if (made is not null && at >= 0 && at < made.Length)
            {
                result.Add(made[at]);
            }
            else
            {
                result.Add(_ring[(_start + (int)(seq - oldest)) % _ring.Length].ToEvent(session));
                makes = true;
            }
        }

        if (makes)
        {
            _lastRead = [.. result];
        }

        return result;
    }

    /// <summary>Lets go of the events the latest read made: reads from now on make their own.</summary>
    public void ForgetReads() => _lastRead = null;

    /// <summary>Copies an event's frame, and its data unless that lies inside the frame, into the store.</summary>
    private HeldEvent Store(SessionEvent e)
    {
        byte[] frame = e.Frame;
        bool dataInFrame = e.DataInFrame;
        int bytes = frame.Length + (dataInFrame ? 0 : e.Data.Length);
        byte[] store;
        int at;
        if (bytes > SharedUpTo)
        {
            // Not pinned: the pinned heap is never compacted, and frames of every size leaving
            // it in turn would leave holes that fit nothing. Its shared buffers come in four sizes.
            store = GC.AllocateUninitializedArray<byte>(bytes);
            at = 0;
        }
        else
        {
            if (_store is null || _store.Length - _storeUsed < bytes)
            {
                _store = GC.AllocateUninitializedArray<byte>(Math.Max(_nextStoreBytes, bytes), pinned: true);
                _storeUsed = 0;
                _nextStoreBytes = Math.Min(LargestStoreBytes, _nextStoreBytes * 2);
            }

            store = _store;
            at = _storeUsed;
            _storeUsed += bytes;
        }

        frame.CopyTo(store, at);
        int dataStart;
        if (dataInFrame)
        {
            MemoryMarshal.TryGetArray(e.Data, out ArraySegment<byte> slice);
            dataStart = at + slice.Offset;
        }
        else
        {
            dataStart = at + frame.Length;
            e.Data.Span.CopyTo(store.AsSpan(dataStart));
        }

        return new HeldEvent(e, store, at, dataStart);
    }

    private void Grow()
    {
        var larger = new HeldEvent[Math.Min(Capacity, Math.Max(InitialSize, _ring.Length * 2))];
        for (int i = 0; i < _count; i++)
        {
            larger[i] = _ring[(_start + i) % _ring.Length];
        }

        _ring = larger;
        _start = 0;
    }
}
