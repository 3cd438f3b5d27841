using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Connections;

/// <summary>
/// The one timer that watches every connection: it pings those due for a ping, evicts those
/// silent past the heartbeat timeout, and aborts those whose close handshake ran past its deadline.
/// No connection has a timer of its own.
/// </summary>
internal sealed class HeartbeatScanner(ConnectionRegistry registry, IOptions<HeartbeatOptions> heartbeat, TimeProvider time) : BackgroundService
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

    public void Scan()
    {
        long now = time.GetTimestamp();
        foreach (IClientConnection connection in registry.Connections)
        {
            connection.OnHeartbeatTick(now);
        }
    }
}
