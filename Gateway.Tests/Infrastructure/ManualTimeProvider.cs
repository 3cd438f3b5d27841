namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A clock that moves only when a test advances it. Timers created from it (the gateway's
/// scanners, delays) fire during <see cref="Advance"/>, in due order.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now;
    private long _elapsedTicks;
    private TaskCompletionSource _oneShotScheduled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _periodicScheduled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A clock that starts at <paramref name="start"/> (tokens minted now are valid on it), or at 2026-01-01.</summary>
    public ManualTimeProvider(DateTimeOffset? start = null) => _now = start ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override long GetTimestamp()
    {
        lock (_gate)
        {
            return _elapsedTicks;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>
    /// Completes once a one-shot timer (a delay or a timeout, as opposed to the gateway's periodic
    /// scanners) is scheduled: a test can then move the clock knowing the deadline exists.
    /// </summary>
    public Task WhenOneShotTimerScheduledAsync()
    {
        lock (_gate)
        {
            return _timers.Any(t => t.Period == 0) ? Task.CompletedTask : _oneShotScheduled.Task;
        }
    }

    /// <summary>
    /// Completes once a periodic timer (a scanner's) exists: a hosted service starts its loop on
    /// the thread pool, so a test that moves the clock before that would move it past a timer that
    /// is not there yet.
    /// </summary>
    public Task WhenPeriodicTimerScheduledAsync() => _periodicScheduled.Task;

    /// <summary>Moves the clock forward, firing every timer that falls due on the way.</summary>
    public void Advance(TimeSpan by)
    {
        long target;
        lock (_gate)
        {
            target = _elapsedTicks + by.Ticks;
        }

        while (true)
        {
            ManualTimer? due;
            lock (_gate)
            {
                due = _timers.Where(t => t.DueAt <= target).MinBy(t => t.DueAt);
                long moveTo = due?.DueAt ?? target;
                if (moveTo > _elapsedTicks)
                {
                    _now += TimeSpan.FromTicks(moveTo - _elapsedTicks);
                    _elapsedTicks = moveTo;
                }

                if (due is null)
                {
                    return;
                }

                if (due.Period > 0)
                {
                    due.DueAt += due.Period;
                }
                else
                {
                    _timers.Remove(due);
                }
            }

            due.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public long DueAt { get; set; }

        public long Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    return true;
                }

                DueAt = owner._elapsedTicks + dueTime.Ticks;
                Period = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
                owner._timers.Add(this);
                if (Period == 0)
                {
                    owner._oneShotScheduled.TrySetResult();
                    owner._oneShotScheduled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                else
                {
                    owner._periodicScheduled.TrySetResult();
                }

                return true;
            }
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._gate)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
