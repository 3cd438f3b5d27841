using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Connections;

/// <summary>
/// The one timer that watches every connection: it pings those due for a ping, evicts those
/// silent past the heartbeat timeout, and aborts those whose close handshake ran past its deadline.
/// No connection has a timer of its own.
/// </summary>
/// <remarks>
/// Each connection is visited once per <see cref="ScanPeriod"/>, but not all at once: every tick
/// visits the registry's parts that the time since the last tick stands for (a
/// <see cref="ScanSchedule"/>). Thousands of clients that connected in the same second are then
/// pinged over a second, a few dozen at a time, instead of in one burst that queues every
/// delivery behind it (docs/benchmarks.md, "Pings in bursts").
/// </remarks>
internal sealed partial class HeartbeatScanner(
    ConnectionRegistry registry, IOptions<HeartbeatOptions> heartbeat, TimeProvider time, ILogger<HeartbeatScanner> logger) : BackgroundService
{
    /// <summary>The shortest tick: with a very short interval, a tick visits several parts.</summary>
    private static readonly TimeSpan MinimumTick = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How often each connection is visited: every second, or every fifth of the ping interval
    /// when that is shorter. Pings go out within a fifth of an interval of being due, deadlines
    /// are enforced within a second.
    /// </summary>
    public static TimeSpan ScanPeriod(TimeSpan interval) =>
        TimeSpan.FromTicks(Math.Clamp(interval.Ticks / 5, TimeSpan.TicksPerMillisecond * 5, TimeSpan.TicksPerSecond));

    /// <summary>How often the timer ticks: a scan period's share of one part, or <see cref="MinimumTick"/>.</summary>
    public static TimeSpan TickPeriod(TimeSpan interval) =>
        TimeSpan.FromTicks(Math.Max(ScanPeriod(interval).Ticks / ConnectionRegistry.Shards, MinimumTick.Ticks));

    /// <summary>The schedule of the parts' visits, in <paramref name="time"/>'s timestamps, from <paramref name="start"/>.</summary>
    private static ScanSchedule Schedule(TimeSpan interval, TimeProvider time, long start)
    {
        long scan = (long)(ScanPeriod(interval).TotalSeconds * time.TimestampFrequency);
        return new ScanSchedule(Math.Max(1, scan / ConnectionRegistry.Shards), ConnectionRegistry.Shards, start);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TimeSpan interval = heartbeat.Value.Interval;
        ScanSchedule schedule = Schedule(interval, time, time.GetTimestamp());
        using var timer = new PeriodicTimer(TickPeriod(interval), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                long now = time.GetTimestamp();
                (int first, int count) = schedule.Tick(now);
                for (int i = 0; i < count; i++)
                {
                    Scan((first + i) % ConnectionRegistry.Shards, now);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Visits every connection of one part; one that fails is logged and dropped, and the scan goes on.</summary>
    public void Scan(int shard, long now)
    {
        foreach (IClientConnection connection in registry.Shard(shard))
        {
            try
            {
                connection.OnHeartbeatTick(now);
            }
            catch (Exception e)
            {
                // A bug in one connection must not end the scan: an exception out of this loop would
                // stop the timer for every connection, and by the host's default the whole process.
                // The connection whose check failed can no longer be watched, so it is dropped rather
                // than left open unwatched (and failing again every scan).
                Log.TickFailed(logger, connection.Id, e);
                AbortQuietly(connection);
            }
        }
    }

    private void AbortQuietly(IClientConnection connection)
    {
        try
        {
            connection.Abort();
        }
        catch (Exception e)
        {
            Log.AbortFailed(logger, connection.Id, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 109, Level = LogLevel.Error, Message = "The heartbeat check of connection {ConnectionId} failed; the connection was dropped")]
        public static partial void TickFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(EventId = 110, Level = LogLevel.Error, Message = "Dropping connection {ConnectionId}, whose heartbeat check had failed, failed too")]
        public static partial void AbortFailed(ILogger logger, string connectionId, Exception exception);
    }
}
