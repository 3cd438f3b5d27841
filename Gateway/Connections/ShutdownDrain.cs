using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Connections;

/// <summary>Whether the gateway is draining: readiness and new upgrades answer 503 from then on.</summary>
internal sealed class GatewayLifecycle
{
    private readonly CancellationTokenSource _drain = new();
    private volatile bool _draining;

    public bool IsDraining => _draining;

    /// <summary>
    /// Cancelled when the drain begins: what waits on behalf of a client (a long poll) stops
    /// waiting and answers with what it has (spec section 8).
    /// </summary>
    public CancellationToken Draining => _drain.Token;

    public void BeginDrain()
    {
        _draining = true;

        // The waiters' continuations write their answers; run them on the pool, not on the thread
        // that is stopping the host.
        _ = _drain.CancelAsync();
    }
}

/// <summary>
/// Spec section 8: on shutdown, before the server stops, turn not-ready, close every client with
/// 1001, and wait up to <see cref="ShutdownOptions.DrainTimeout"/> for the close handshakes; then
/// abort what is left, so that the process exits promptly with 0.
/// </summary>
internal sealed partial class ShutdownDrain(
    GatewayLifecycle lifecycle,
    ConnectionRegistry registry,
    IOptions<ShutdownOptions> options,
    TimeProvider time,
    ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        lifecycle.BeginDrain();
        int open = registry.Count;
        Log.Draining(logger, open, options.Value.DrainTimeout);
        foreach (IClientConnection connection in registry.Connections)
        {
            try
            {
                connection.CloseForShutdown();
            }
            catch (Exception e)
            {
                // One connection's bug must not leave the others open, nor end the drain early: it is
                // dropped at once instead of closed, and the rest are closed as usual.
                Log.CloseFailed(logger, connection.Id, e);
                AbortQuietly(connection);
            }
        }

        try
        {
            await registry.WhenEmptyAsync().WaitAsync(options.Value.DrainTimeout, time, cancellationToken);
            Log.Drained(logger, open);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            int left = registry.Count;
            foreach (IClientConnection connection in registry.Connections)
            {
                AbortQuietly(connection);
            }

            Log.DrainTimedOut(logger, left);
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

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Shutting down: closing {Connections} connections with 1001, waiting up to {DrainTimeout}")]
        public static partial void Draining(ILogger logger, int connections, TimeSpan drainTimeout);

        [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "All {Connections} connections closed")]
        public static partial void Drained(ILogger logger, int connections);

        [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Drain timed out; aborted {Connections} connections that did not close")]
        public static partial void DrainTimedOut(ILogger logger, int connections);

        [LoggerMessage(EventId = 404, Level = LogLevel.Error, Message = "Closing connection {ConnectionId} for shutdown failed; it was dropped instead")]
        public static partial void CloseFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(EventId = 405, Level = LogLevel.Error, Message = "Dropping connection {ConnectionId} at shutdown failed")]
        public static partial void AbortFailed(ILogger logger, string connectionId, Exception exception);
    }
}
