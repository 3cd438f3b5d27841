using Gateway.Sessions;
namespace Gateway.Log;

/// <summary>
/// The last N events of a session in a ring. The array grows as events arrive, so that a session
/// that holds a handful of events does not pay for the whole capacity up front. With a byte bound,
/// fewer: the oldest events leave while the held ones' names and data pass it (the newest stays).
/// </summary>
internal sealed class EventHistory(int capacity, long maxBytes = 0)
{
    private const int InitialSize = 16;

    private SessionEvent[] _ring = [];
    private int _start;
    private int _count;

    // The held events' names and data, against maxBytes.
    private long _bytes;

    public int Count => _count;

    /// <summary>What an event weighs against a byte bound: its name and its data, the same measure the Redis log uses.</summary>
    public static long Size(SessionEvent e) => e.Name.Length + e.Data.Length;

    public int Capacity { get; } = capacity;

    /// <summary>The seq of the oldest event held; above every seq when empty.</summary>
    public long OldestSeq => _count == 0 ? long.MaxValue : _ring[_start].Seq;

    /// <summary>Every event held, oldest first.</summary>
    public IEnumerable<SessionEvent> Events
    {
        get
        {
            for (int i = 0; i < _count; i++)
            {
                yield return _ring[(_start + i) % _ring.Length];
            }
        }
    }

    /// <summary>Adds the newest event; returns the oldest when it had to make room, else null.</summary>
    public SessionEvent? Add(SessionEvent sessionEvent)
    {
        _bytes += Size(sessionEvent);
        if (_count < Capacity)
        {
            if (_count == _ring.Length)
            {
                Grow();
            }

            _ring[(_start + _count) % _ring.Length] = sessionEvent;
            _count++;
            return null;
        }

        SessionEvent evicted = _ring[_start];
        _ring[_start] = sessionEvent;
        _start = (_start + 1) % _ring.Length;
        _bytes -= Size(evicted);
        return evicted;
    }

    /// <summary>
    /// Removes the oldest event while the held ones weigh more than the byte bound, one per call;
    /// null when within it (or no bound, or only the newest is left).
    /// </summary>
    public SessionEvent? TrimOldest()
    {
        if (maxBytes <= 0 || _bytes <= maxBytes || _count <= 1)
        {
            return null;
        }

        SessionEvent evicted = _ring[_start];
        _ring[_start] = null!;
        _start = (_start + 1) % _ring.Length;
        _count--;
        _bytes -= Size(evicted);
        return evicted;
    }

    /// <summary>
    /// The held events with a seq above <paramref name="since"/>, oldest first, at most
    /// <paramref name="limit"/>; <paramref name="complete"/> is false when the event right after
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
        for (long seq = first; seq <= latestSeq && result.Count < limit; seq++)
        {
            result.Add(_ring[(_start + (int)(seq - oldest)) % _ring.Length]);
        }

        return result;
    }

    private void Grow()
    {
        var larger = new SessionEvent[Math.Min(Capacity, Math.Max(InitialSize, _ring.Length * 2))];
        for (int i = 0; i < _count; i++)
        {
            larger[i] = _ring[(_start + i) % _ring.Length];
        }

        _ring = larger;
        _start = 0;
    }
}
