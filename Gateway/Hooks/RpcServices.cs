using System.Net;
using Gateway.Configuration;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;

namespace Gateway.Hooks;

/// <summary>
/// Registers <see cref="RpcClient"/> and its HTTP client: a circuit breaker around a timeout
/// (<c>Hooks:RpcTimeout</c>), and no retries, because an rpc is not idempotent.
/// </summary>
internal static class RpcServices
{
    /// <summary>The name of the rpc's client in <see cref="IHttpClientFactory"/>.</summary>
    public const string ClientName = "gateway-rpc";

    /// <summary>
    /// The breaker opens when at least half of the calls of the last 30 s failed (a 5xx, no answer,
    /// no connection), once there were at least 10 of them: a backend that fails now and then
    /// keeps its calls, one that is down stops being waited on by every client.
    /// </summary>
    public const double BreakerFailureRatio = 0.5;

    /// <summary>See <see cref="BreakerFailureRatio"/>.</summary>
    public const int BreakerMinimumCalls = 10;

    /// <summary>See <see cref="BreakerFailureRatio"/>.</summary>
    public static readonly TimeSpan BreakerSamplingDuration = TimeSpan.FromSeconds(30);

    /// <summary>How long an open breaker answers <c>unavailable</c> at once before it lets one call through to try the backend again.</summary>
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(5);

    public static IServiceCollection AddRpcClient(this IServiceCollection services)
    {
        services.AddSingleton<RpcClient>();
        services.AddHttpClient(ClientName, client =>
            {
                // The pipeline's timeout is the one that counts; HttpClient's own (100 s) must not cut in.
                client.Timeout = Timeout.InfiniteTimeSpan;
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // A redirect would turn the POST into a GET, or repeat a call that is not idempotent.
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.None,
            })

            // One log line per call is too many for a chat; failures are logged by RpcClient.
            .RemoveAllLoggers()
            .AddResilienceHandler("rpc", (pipeline, context) =>
            {
                HooksOptions hooks = context.ServiceProvider.GetRequiredService<IOptions<HooksOptions>>().Value;
                pipeline
                    .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                    {
                        FailureRatio = BreakerFailureRatio,
                        MinimumThroughput = BreakerMinimumCalls,
                        SamplingDuration = BreakerSamplingDuration,
                        BreakDuration = BreakDuration,

                        // A 4xx is the backend's answer (a refusal), not its failure.
                        ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                        {
                            { Exception: HttpRequestException or TimeoutRejectedException } => true,
                            { Result: { } response } => (int)response.StatusCode >= 500,
                            _ => false,
                        }),
                    })
                    .AddTimeout(new HttpTimeoutStrategyOptions { Timeout = hooks.RpcTimeout });
            });
        return services;
    }
}
