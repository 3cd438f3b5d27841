using Gateway.Sessions;

namespace Gateway.Log;

/// <summary>Sweeps the memory log for sessions idle, or complete, past their time.</summary>
internal sealed partial class SessionExpiryService(
    MemoryLog log, SessionProfiles profiles, TimeProvider time, ILogger<SessionExpiryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A tenth of the shortest timeout of any profile keeps a session at most 10% past it,
        // between 1 s and 1 min.
        long shorter = Math.Min(profiles.ShortestIdleTimeout.Ticks, profiles.ShortestCompletedRetention.Ticks);
        TimeSpan period = TimeSpan.FromTicks(Math.Clamp(shorter / 10, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Sweep();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>One sweep; a failure is logged and the next sweep runs as usual.</summary>
    public void Sweep()
    {
        try
        {
            log.ExpireSessions();
        }
        catch (Exception e)
        {
            // An exception out of the loop would end every later sweep (sessions would pile up until
            // memory ran out) and, by the host's default, stop the process: one failed sweep is not
            // worth either. The sessions it did not reach are swept next time.
            Log.SweepFailed(logger, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 204, Level = LogLevel.Error, Message = "Sweeping expired sessions failed; the next sweep runs as usual")]
        public static partial void SweepFailed(ILogger logger, Exception exception);
    }
}
