using System.Diagnostics.Metrics;
using Gateway.Configuration;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Gateway.Diagnostics;

/// <summary>
/// The OpenTelemetry SDK's metrics for this gateway: the gateway's own meter, the runtime's, and
/// Kestrel's and ASP.NET hosting's, exposed to Prometheus at <c>/metrics</c> by the SDK's
/// Prometheus exporter and, when <c>Telemetry:OtlpEndpoint</c> is set, pushed over OTLP.
/// </summary>
internal static class GatewayTelemetry
{
    /// <summary>The path Prometheus scrapes.</summary>
    public const string ScrapePath = "/metrics";

    /// <summary>The meters collected besides the gateway's own.</summary>
    public static readonly string[] PlatformMeters = [RuntimeMeter, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    /// <summary>The <c>service.name</c> of the resource, <c>service_name</c> on Prometheus's <c>target_info</c>.</summary>
    public const string ServiceName = "gateway";

    /// <summary>
    /// Runtime instruments whose Prometheus form would mislead, and what becomes of them (null:
    /// dropped). The runtime declares the thread pool's thread count and queue length as
    /// counters although they are current values (GatewayMetrics exposes both as gauges instead);
    /// and a gauge named <c>*_count</c> reads to Prometheus tooling as a histogram's series
    /// (promtool's lint says so), so those are renamed to the plural.
    /// </summary>
    private static readonly Dictionary<string, string?> RuntimeCorrections = new(StringComparer.Ordinal)
    {
        ["dotnet.thread_pool.thread.count"] = null,
        ["dotnet.thread_pool.queue.length"] = null,
        ["dotnet.timer.count"] = "dotnet.timers",
        ["dotnet.assembly.count"] = "dotnet.assemblies",
        ["dotnet.process.cpu.count"] = "dotnet.process.cpus",
    };

    private const string RuntimeMeter = "System.Runtime";

    /// <summary>Registers the MeterProvider with its readers, and the series that must exist from the start.</summary>
    public static void AddGatewayTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        // Whether there is an OTLP reader at all is decided here, from the configuration; the
        // section is validated with the rest of the options at start.
        TelemetryOptions telemetry = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService(ServiceName)).WithMetrics(metrics =>
        {
            metrics.AddMeter(GatewayMetrics.MeterName)
                .AddMeter(PlatformMeters)
                .AddPrometheusExporter();
            metrics.AddView(static instrument =>
                instrument.Meter.Name == RuntimeMeter && RuntimeCorrections.TryGetValue(instrument.Name, out string? rename)
                    ? rename is null ? MetricStreamConfiguration.Drop : new MetricStreamConfiguration { Name = rename }
                    : null);

            if (!string.IsNullOrEmpty(telemetry.OtlpEndpoint))
            {
                AddOtlp(metrics, telemetry);
            }
        });

        // Meters made by a host's IMeterFactory belong to that host. Another gateway in the same
        // process (tests run many) has meters of the same names: leave its instruments out.
        services.ConfigureOpenTelemetryMeterProvider((provider, builder) =>
        {
            IMeterFactory own = provider.GetRequiredService<IMeterFactory>();
            builder.AddView(instrument => instrument.Meter.Scope is { } scope && !ReferenceEquals(scope, own) ? MetricStreamConfiguration.Drop : null);
        });
        services.AddHostedService<SeriesStarter>();
    }

    /// <summary>Serves the Prometheus exposition (text or OpenMetrics, as the scraper asks) at <see cref="ScrapePath"/>.</summary>
    public static void MapGatewayMetrics(this IEndpointRouteBuilder app) =>
        app.MapPrometheusScrapingEndpoint(ScrapePath, meterProvider: null, configureBranchedPipeline: scrape =>
        {
            ScrapeCounter counter = scrape.ApplicationServices.GetRequiredService<ScrapeCounter>();
            scrape.Use(async (context, next) =>
            {
                await next(context);
                counter.Completed();
            });
        }, optionsName: null);

    private static void AddOtlp(MeterProviderBuilder metrics, TelemetryOptions telemetry)
    {
        bool http = telemetry.OtlpProtocol == "http/protobuf";
        var endpoint = new Uri(telemetry.OtlpEndpoint!);
        if (http && endpoint.AbsolutePath == "/")
        {
            // Set in code, the HTTP endpoint is used as given: add the metrics path a collector serves.
            endpoint = new Uri(endpoint, "/v1/metrics");
        }

        metrics.AddOtlpExporter((exporter, reader) =>
        {
            exporter.Endpoint = endpoint;
            exporter.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
            reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)telemetry.OtlpExportInterval.TotalMilliseconds;
        });
    }

    /// <summary>
    /// Puts the gateway's alerting series at zero once the MeterProvider listens: a value added
    /// before it exists is seen by no one.
    /// </summary>
    private sealed class SeriesStarter(MeterProvider provider, GatewayMetrics metrics) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            // Resolving the provider built it; this reference keeps that dependency visible.
            GC.KeepAlive(provider);
            metrics.StartSeries();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>Counts the scrapes of <c>/metrics</c> answered so far, and says when one is.</summary>
internal sealed class ScrapeCounter
{
    private long _count;

    /// <summary>Raised after each scrape has been answered, with how many there have been.</summary>
    public event Action<long>? Scraped;

    /// <summary>Called once a scrape's response is written.</summary>
    public void Completed() => Scraped?.Invoke(Interlocked.Increment(ref _count));
}
