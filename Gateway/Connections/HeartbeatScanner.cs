using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Connections;

/// <summary>
/// The one timer that watches every connection: it pings those due for a ping, evicts those
/// silent past the heartbeat timeout, and aborts those whose close handshake ran past its deadline.
/// No connection has a timer of its own.
/// </summary>
internal sealed partial class HeartbeatScanner(
    ConnectionRegistry registry, IOptions<HeartbeatOptions> heartbeat, TimeProvider time, ILogger<HeartbeatScanner> logger) : BackgroundService
{
    /// <summary>
    /// A scan every second, or every fifth of the ping interval when that is shorter: pings go out
    /// within a fifth of an interval of being due, deadlines are enforced within a second.
    /// </summary>
    public static TimeSpan ScanPeriod(TimeSpan interval) =>
        TimeSpan.FromTicks(Math.Clamp(interval.Ticks / 5, TimeSpan.TicksPerMillisecond * 5, TimeSpan.TicksPerSecond));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ScanPeriod(heartbeat.Value.Interval), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Scan();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Visits every connection; one that fails is logged and dropped, and the scan goes on.</summary>
    public void Scan()
    {
        long now = time.GetTimestamp();
        foreach (IClientConnection connection in registry.Connections)
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
