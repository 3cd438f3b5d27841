namespace Gateway.Connections;

/// <summary>Where a connection stands against its lag bounds.</summary>
internal enum LagVerdict
{
    /// <summary>Within both bounds.</summary>
    Within,

    /// <summary>More than <see cref="LagLimits.MaxBytes"/> of frames not sent yet.</summary>
    TooManyBytes,

    /// <summary>Its oldest unsent frame has waited longer than <see cref="LagLimits.MaxAge"/>.</summary>
    TooOld,
}

/// <summary>
/// A connection's lag bounds, in <see cref="TimeProvider"/> timestamps so that the send path never
/// converts: <c>Limits:MaxLagBytes</c> and <c>Limits:MaxLagTime</c>. One instance is shared by every
/// connection.
/// </summary>
/// <param name="MaxBytes">The most bytes of frames a connection may have unsent.</param>
/// <param name="MaxAge">How long its oldest unsent frame may wait, in timestamp ticks.</param>
/// <param name="Granularity">
/// How far apart in time the meter keeps its marks, in timestamp ticks: an age is known to within
/// this (plus a scan), which lets the meter hold a bounded handful of marks however many frames wait.
/// </param>
internal sealed record LagLimits(long MaxBytes, long MaxAge, long Granularity)
{
    /// <summary>Marks per <see cref="MaxAge"/>: an age is measured to a sixteenth of the bound.</summary>
    public const int MarksPerMaxAge = 16;

    /// <summary>The bounds for a clock that ticks <paramref name="timestampFrequency"/> times a second.</summary>
    public static LagLimits From(long maxBytes, TimeSpan maxAge, long timestampFrequency)
    {
        long ticks = (long)(maxAge.TotalSeconds * timestampFrequency);
        return new LagLimits(maxBytes, ticks, Math.Max(1, ticks / MarksPerMaxAge));
    }

    /// <summary>The defaults (16 MiB, 30 s) on <see cref="TimeProvider.System"/>'s clock.</summary>
    public static LagLimits Default { get; } = From(
        Configuration.LimitsOptions.DefaultMaxLagBytes, Configuration.LimitsOptions.DefaultMaxLagTime, TimeProvider.System.TimestampFrequency);
}

/// <summary>
/// The lag of one connection: the bytes of the frames it has not been sent yet, and how long the
/// oldest of them has waited. Pure accounting, no lock and no clock: its <see cref="OutboundQueue"/>
/// calls it under its own lock, with the timestamps it is given.
/// </summary>
/// <remarks>
/// <para>
/// A frame counts from the moment it is queued until the write that carries it has completed, so
/// that a batch the send loop holds while a stalled socket does not take it still counts. Replayed
/// frames do not count at all: a replay was asked for, history bounds it, and its frames are
/// history's own.
/// </para>
/// <para>
/// Ages come without reading a clock per frame (a fan-out to ten thousand queues must not read it
/// ten thousand times): counted frames are numbered in queue order, and now and then (the send
/// loop's each batch, the heartbeat scan) the meter is told the time and marks "every frame numbered
/// below N was queued by t". The oldest unsent frame has waited at least as long as the first mark
/// above its number is old. Marks are merged while they lie within <see cref="LagLimits.Granularity"/>
/// of each other, so an age is never overstated and is understated by less than the granularity
/// plus the time between marks; the marks of sent frames are dropped.
/// </para>
/// </remarks>
internal struct LagMeter
{
    /// <summary>More marks than this only happen when nobody judges the age; the newest is merged instead.</summary>
    private const int MaxMarks = 4 * LagLimits.MarksPerMaxAge;

    private const int InitialMarks = 4;

    private long _queued;
    private long _sent;
    private long _unsentBytes;

    // The oldest mark, held inline because most connections never need a second (an idle one
    // would otherwise carry an array for its welcome): frames numbered below Frames were queued by
    // At. Meaningful while _markCount > 0.
    private Stamp _oldest;

    // The marks after it, oldest first, in a ring: only a write that stays blocked for longer than
    // a granularity needs them.
    private Stamp[]? _later;
    private int _firstLater;

    // How many marks, _oldest included.
    private int _markCount;

    // When the newest mark was made: it may take in later frames until it is a granularity old.
    private long _newestOpenedAt;

    /// <summary>Bytes of counted frames queued or being written, not yet written.</summary>
    public readonly long UnsentBytes => _unsentBytes;

    /// <summary>Counted frames queued or being written, not yet written.</summary>
    public readonly long UnsentFrames => _queued - _sent;

    /// <summary>How many marks are held (the meter's memory, for tests).</summary>
    public readonly int Marks => _markCount;

    /// <summary>Whether queuing <paramref name="bytes"/> more would put the connection more than <paramref name="maxBytes"/> behind.</summary>
    public readonly bool WouldExceed(int bytes, long maxBytes) => _unsentBytes + bytes > maxBytes;

    /// <summary>A counted frame of <paramref name="bytes"/> was queued.</summary>
    public void Queued(int bytes)
    {
        _queued++;
        _unsentBytes += bytes;
    }

    /// <summary>
    /// A counted frame of <paramref name="bytes"/> was replaced by a newer one (conflation) and will
    /// never be sent: its bytes leave the lag now. Its place still counts as a frame, of no bytes,
    /// until the send loop passes it, so that the frames stay numbered in queue order for the marks.
    /// That place can only be the oldest unsent while the send loop is not writing (a write in
    /// flight holds older frames), and then the loop passes it at once: the age is still that of
    /// the oldest frame waiting to be sent.
    /// </summary>
    public void Skipped(int bytes) => _unsentBytes -= bytes;

    /// <summary>
    /// Counted frames left: <paramref name="frames"/> of them, <paramref name="bytes"/> in all,
    /// written (the oldest unsent first), or dropped from the queue by a close that discards.
    /// </summary>
    public void Sent(int frames, long bytes)
    {
        _sent += frames;
        _unsentBytes -= bytes;
        while (_markCount > 0 && _oldest.Frames <= _sent)
        {
            _markCount--;
            if (_markCount > 0)
            {
                _oldest = _later![_firstLater];
                _firstLater = (_firstLater + 1) % _later.Length;
            }
        }

        if (_markCount <= 1)
        {
            // Give back what a long stall grew; the first few marks stay for the next one.
            _firstLater = 0;
            if (_later is { Length: > InitialMarks })
            {
                _later = null;
            }
        }
    }

    /// <summary>Notes that every frame counted so far was queued by <paramref name="now"/>.</summary>
    public void Mark(long now, long granularity)
    {
        if (_queued == _sent || (_markCount > 0 && Newest.Frames == _queued))
        {
            // Nothing unsent, or every unsent frame already has a mark, which is older and so better.
            return;
        }

        if (_markCount > 0 && (now - _newestOpenedAt < granularity || _markCount == MaxMarks))
        {
            // Moving the newest mark later understates its frames' ages, by less than a granularity.
            Newest = new Stamp(_queued, now);
            return;
        }

        if (_markCount == 0)
        {
            _oldest = new Stamp(_queued, now);
        }
        else
        {
            int later = _markCount - 1;
            _later ??= new Stamp[InitialMarks];
            if (later == _later.Length)
            {
                var larger = new Stamp[_later.Length * 2];
                for (int i = 0; i < later; i++)
                {
                    larger[i] = _later[(_firstLater + i) % _later.Length];
                }

                _later = larger;
                _firstLater = 0;
            }

            _later[(_firstLater + later) % _later.Length] = new Stamp(_queued, now);
        }

        _markCount++;
        _newestOpenedAt = now;
    }

    /// <summary>
    /// The timestamp by which the oldest unsent frame had been queued, as far as the marks tell;
    /// null when nothing is unsent or nothing unsent has been marked yet.
    /// </summary>
    public readonly long? OldestUnsentQueuedBy => _markCount > 0 ? _oldest.At : null;

    /// <summary>How long the oldest unsent frame has waited at least, at <paramref name="now"/> (0 when nothing is known to wait).</summary>
    public readonly long OldestUnsentAge(long now) => OldestUnsentQueuedBy is { } at ? Math.Max(0, now - at) : 0;

    /// <summary>The verdict at <paramref name="now"/>: too many bytes behind, an unsent frame too old, or within.</summary>
    public readonly LagVerdict Judge(long now, LagLimits limits) =>
        _unsentBytes > limits.MaxBytes ? LagVerdict.TooManyBytes
        : OldestUnsentAge(now) > limits.MaxAge ? LagVerdict.TooOld
        : LagVerdict.Within;

    private Stamp Newest
    {
        readonly get => _markCount == 1 ? _oldest : _later![(_firstLater + _markCount - 2) % _later.Length];
        set
        {
            if (_markCount == 1)
            {
                _oldest = value;
            }
            else
            {
                _later![(_firstLater + _markCount - 2) % _later.Length] = value;
            }
        }
    }

    private readonly record struct Stamp(long Frames, long At);
}
