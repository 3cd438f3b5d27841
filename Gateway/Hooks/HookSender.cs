using System.Net.Http.Headers;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Microsoft.Extensions.Options;
using Polly;

namespace Gateway.Hooks;

/// <summary>
/// Sends the outbox to <c>Hooks:Url</c>, at least once: up to <c>Hooks:MaxBatch</c> pending
/// notifications per POST, one POST at a time, each batch tried until the backend accepts it
/// (2xx). The trying is the named client's resilience pipeline (<see cref="HookServices"/>):
/// retries with backoff and jitter, a circuit breaker, a per-attempt timeout. At shutdown,
/// once the connections are closed (their disconnects queued), what is queued is flushed
/// within what is left of <c>Shutdown:DrainTimeout</c>, and whatever is still unsent then is
/// given up, so that nothing holds the process past it (spec section 8).
/// </summary>
internal sealed partial class HookSender(
    HookOutbox outbox,
    IHttpClientFactory clients,
    IOptions<HooksOptions> hooks,
    IOptions<ShutdownOptions> shutdown,
    TimeProvider time,
    GatewayMetrics metrics,
    IHostApplicationLifetime lifetime,
    ILogger<HookSender> logger) : IHostedLifecycleService
{
    /// <summary>The named <see cref="HttpClient"/> that carries the notifications, with its resilience pipeline.</summary>
    public const string ClientName = "Gateway.Hooks.Notify";

    /// <summary>How many notifications the POST under way carries, for the retry's count.</summary>
    public static readonly ResiliencePropertyKey<int> BatchSize = new("Gateway.Hooks.BatchSize");

    private static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };

    private readonly CancellationTokenSource _stop = new();
    private readonly Uri? _url = string.IsNullOrEmpty(hooks.Value.Url) ? null : new Uri(hooks.Value.Url);
    private readonly int _maxBatch = hooks.Value.MaxBatch;
    private Task _running = Task.CompletedTask;
    private long _stoppingAt;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (outbox.Enabled)
        {
            _running = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        }

        // The drain's deadline starts when shutdown does, before any service's stopping step.
        lifetime.ApplicationStopping.Register(ShutdownBegins);
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        ShutdownBegins();
        return Task.CompletedTask;
    }

    private void ShutdownBegins() => Interlocked.CompareExchange(ref _stoppingAt, time.GetTimestamp(), 0);

    /// <summary>
    /// Every service has had its stopping step (the connections are closed): flushes what is
    /// queued, for what is left of the drain timeout, then gives up on the rest.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        outbox.Complete();
        ShutdownBegins();
        TimeSpan left = shutdown.Value.DrainTimeout - time.GetElapsedTime(Interlocked.Read(ref _stoppingAt));
        try
        {
            await _running.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, time, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            await _stop.CancelAsync();
            await _running;
            Log.Abandoned(logger, outbox.Reader.Count);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task RunAsync(CancellationToken stopping)
    {
        HttpClient client = clients.CreateClient(ClientName);
        var batch = new List<HookNotification>(_maxBatch);
        try
        {
            while (await outbox.Reader.WaitToReadAsync(stopping))
            {
                batch.Clear();
                while (batch.Count < _maxBatch && outbox.Reader.TryRead(out HookNotification notification))
                {
                    batch.Add(notification);
                }

                await SendAsync(client, batch, stopping);
                metrics.HookNotifications(GatewayMetrics.HookSent, batch.Count);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown gave up on what was left; StopAsync says how much.
        }
        catch (Exception e)
        {
            Log.Failed(logger, e);
        }
    }

    /// <summary>Returns once the backend has accepted the batch; throws only when shutdown gives up.</summary>
    private async Task SendAsync(HttpClient client, List<HookNotification> batch, CancellationToken stopping)
    {
        // One body for every try: the same ids each time, for the backend to drop repeats.
        byte[] body = HookJson.Serialize(batch);
        ResilienceContext context = ResilienceContextPool.Shared.Get(stopping);
        context.Properties.Set(BatchSize, batch.Count);
        try
        {
            // The pipeline retries every failure without end, so a pass of this loop returns with
            // a 2xx. The loop is only the guard that a batch is never dropped, should a pipeline
            // ever give an unaccepted answer back.
            while (true)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = Json;
                request.SetResilienceContext(context);
                using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stopping);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                Log.NotAccepted(logger, batch.Count, (int)response.StatusCode);
            }
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 602, Level = LogLevel.Warning, Message = "Shutdown: {Count} hook notifications still queued were not sent within Gateway:Shutdown:DrainTimeout")]
        public static partial void Abandoned(ILogger logger, int count);

        [LoggerMessage(EventId = 603, Level = LogLevel.Error, Message = "The hook sender failed on a bug; notifications are no longer sent")]
        public static partial void Failed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 604, Level = LogLevel.Warning, Message = "The backend did not accept {Count} hook notifications ({Status}); they are sent again")]
        public static partial void NotAccepted(ILogger logger, int count, int status);
    }
}
