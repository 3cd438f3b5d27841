namespace Gateway.Sessions;

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

    /// <summary>The seq of the oldest event held, or 0 when empty.</summary>
    public long OldestSeq => _count == 0 ? 0 : _ring[_start].Seq;

    public void Add(SessionEvent sessionEvent)
    {
        if (_count < Capacity)
        {
            if (_count == _ring.Length)
            {
                Grow();
            }

            _ring[(_start + _count) % _ring.Length] = sessionEvent;
            _count++;
            return;
        }

        // Full: the newest overwrites the oldest.
        _ring[_start] = sessionEvent;
        _start = (_start + 1) % _ring.Length;
    }

    /// <summary>Copies the held events with a seq above <paramref name="afterSeq"/>, oldest first.</summary>
    public List<SessionEvent> After(long afterSeq)
    {
        var result = new List<SessionEvent>();
        for (int i = 0; i < _count; i++)
        {
            SessionEvent e = _ring[(_start + i) % _ring.Length];
            if (e.Seq > afterSeq)
            {
                result.Add(e);
            }
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
