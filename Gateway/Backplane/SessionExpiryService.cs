using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Backplane;

/// <summary>Sweeps the memory backplane for sessions idle, or complete, past their time.</summary>
internal sealed class SessionExpiryService(MemoryBackplane backplane, IOptions<SessionsOptions> options, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A tenth of the shorter timeout keeps a session at most 10% past it, between 1 s and 1 min.
        long shorter = Math.Min(options.Value.IdleTimeout.Ticks, options.Value.CompletedRetention.Ticks);
        TimeSpan period = TimeSpan.FromTicks(Math.Clamp(shorter / 10, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                backplane.ExpireSessions();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
