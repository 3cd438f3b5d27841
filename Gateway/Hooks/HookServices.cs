using Gateway.Configuration;
using Gateway.Diagnostics;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Gateway.Hooks;

/// <summary>
/// Registers the backend hooks (spec section 13): the outbox, its sender and the named
/// <see cref="HttpClient"/> with its resilience pipeline, and the authorize call.
/// </summary>
internal static partial class HookServices
{
    /// <summary>
    /// The breaker opens when at least half of the POSTs of the last 30 s failed, once there were
    /// 5: a backend that fails now and then is retried, one that is down is left alone for
    /// <c>Hooks:NotifyBreakDuration</c>. The sender sends one POST at a time, so 5 is a few seconds
    /// of failures, not a burst.
    /// </summary>
    private const double BreakerFailureRatio = 0.5;
    private const int BreakerMinimumThroughput = 5;
    private static readonly TimeSpan BreakerSamplingDuration = TimeSpan.FromSeconds(30);

    public static IServiceCollection AddGatewayHooks(this IServiceCollection services)
    {
        services.AddSingleton<HookOutbox>();
        services.AddSingleton<HookAuthorizer>();

        // After the shutdown drain, so that it stops after the connections are closed.
        services.AddHostedService<HookSender>();

        // The pipeline's per-attempt timeout is the one that counts; the client's own would cut
        // a backoff short.
        services.AddHttpClient(HookSender.ClientName, static client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers()
            .AddResilienceHandler("gateway-hooks", static (pipeline, context) =>
            {
                HooksOptions options = context.ServiceProvider.GetRequiredService<IOptions<HooksOptions>>().Value;
                HookOutbox outbox = context.ServiceProvider.GetRequiredService<HookOutbox>();
                GatewayMetrics metrics = context.ServiceProvider.GetRequiredService<GatewayMetrics>();
                ILogger logger = context.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HookSender).FullName!);
                ConfigureNotify(pipeline, options, outbox, metrics, logger);
            });

        // Polly logs every failed attempt and every breaker change as a warning or an error: under
        // an outage, a line per try. The gateway's own lines (605, 606) and metrics say what matters.
        services.Configure<LoggerFilterOptions>(static filters => filters.AddFilter("Polly", LogLevel.None));

        services.AddHttpClient(HookAuthorizer.ClientName, static client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        return services;
    }

    /// <summary>
    /// Retries (outermost: each try goes through the breaker), the circuit breaker, and the
    /// per-attempt timeout (innermost: it bounds one POST). A batch is retried without end: the
    /// backend's outage costs time, not notifications; only a full outbox drops any.
    /// </summary>
    private static void ConfigureNotify(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, HooksOptions options, HookOutbox outbox, GatewayMetrics metrics, ILogger logger)
    {
        pipeline.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
        {
            ShouldHandle = static args => ValueTask.FromResult(Failed(args.Outcome, args.Context)),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.NotifyRetryDelay,

            // While the breaker is open a try fails at once; waiting at most one break between
            // tries reaches the half-open probe without hammering the backend after it.
            MaxDelay = options.NotifyBreakDuration,
            OnRetry = args =>
            {
                metrics.HookNotifications(GatewayMetrics.HookRetried, args.Context.Properties.GetValue(HookSender.BatchSize, 0));
                return default;
            },
        });
        pipeline.AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
        {
            ShouldHandle = static args => ValueTask.FromResult(Failed(args.Outcome, args.Context)),
            FailureRatio = BreakerFailureRatio,
            MinimumThroughput = BreakerMinimumThroughput,
            SamplingDuration = BreakerSamplingDuration,
            BreakDuration = options.NotifyBreakDuration,
            OnOpened = args =>
            {
                outbox.BreakerState = HookBreakerState.Open;
                Log.BreakerOpened(logger, args.BreakDuration, outbox.Reader.Count);
                return default;
            },
            OnHalfOpened = _ =>
            {
                outbox.BreakerState = HookBreakerState.HalfOpen;
                return default;
            },
            OnClosed = _ =>
            {
                outbox.BreakerState = HookBreakerState.Closed;
                Log.BreakerClosed(logger);
                return default;
            },
        });
        pipeline.AddTimeout(options.NotifyTimeout);
    }

    /// <summary>
    /// Anything but a 2xx is a failure: an error status, no answer, a timeout, the open breaker.
    /// A cancellation is shutdown giving up, not a failure to retry.
    /// </summary>
    private static bool Failed(Outcome<HttpResponseMessage> outcome, ResilienceContext context) => outcome switch
    {
        { Exception: OperationCanceledException } when context.CancellationToken.IsCancellationRequested => false,
        { Exception: not null } => true,
        { Result: { IsSuccessStatusCode: false } } => true,
        _ => false,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 605, Level = LogLevel.Warning, Message = "Hook notifications: the backend keeps failing; the circuit breaker is open for {BreakDuration}, {Queued} notifications wait")]
        public static partial void BreakerOpened(ILogger logger, TimeSpan breakDuration, int queued);

        [LoggerMessage(EventId = 606, Level = LogLevel.Information, Message = "Hook notifications: the backend answers again; the circuit breaker is closed")]
        public static partial void BreakerClosed(ILogger logger);
    }
}
