using Gateway.Sessions;
namespace Gateway.Log;

/// <summary>
/// The last N events of a session in a ring. The array grows as events arrive, so that a session
/// that holds a handful of events does not pay for the whole capacity up front.
/// </summary>
internal sealed class EventHistory(int capacity)
{
    private const int InitialSize = 16;

    private SessionEvent[] _ring = [];
    private int _start;
    private int _count;

    public int Count => _count;

    public int Capacity { get; } = capacity;

    /// <summary>The seq of the oldest event held; above every seq when empty.</summary>
    public long OldestSeq => _count == 0 ? long.MaxValue : _ring[_start].Seq;

    /// <summary>Adds the newest event; returns the oldest when it had to make room, else null.</summary>
    public SessionEvent? Add(SessionEvent sessionEvent)
    {
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
