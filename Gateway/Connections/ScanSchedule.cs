namespace Gateway.Connections;

/// <summary>
/// Which parts of the connection registry a heartbeat tick visits: as many as the time since the
/// last tick stands for, in turn, so that a whole scan period visits every part once however
/// the ticks fall. A tick that comes late visits the parts it missed; one that finds a whole scan
/// period or more gone by visits every part once and starts afresh, without a backlog.
/// </summary>
/// <param name="shardSpan">The time one part stands for: the scan period over the number of parts, in timestamps.</param>
/// <param name="shards">How many parts there are.</param>
/// <param name="start">When the schedule starts, in timestamps.</param>
internal struct ScanSchedule(long shardSpan, int shards, long start)
{
    private long _last = start;
    private long _owed;
    private int _next;

    /// <summary>The parts due at <paramref name="now"/>: <c>Count</c> of them from <c>First</c>, wrapping past the last.</summary>
    /// <remarks>A clock that goes back adds nothing; the time is counted again from there.</remarks>
    public (int First, int Count) Tick(long now)
    {
        _owed += Math.Max(0, now - _last);
        _last = now;
        long due = _owed / shardSpan;
        int count;
        if (due >= shards)
        {
            count = shards;
            _owed = 0;
        }
        else
        {
            count = (int)due;
            _owed -= due * shardSpan;
        }

        int first = _next;
        _next = (_next + count) % shards;
        return (first, count);
    }
}
