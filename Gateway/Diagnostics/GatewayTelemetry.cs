using System.Diagnostics.Metrics;
using Gateway.Configuration;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace Gateway.Diagnostics;

/// <summary>
/// The OpenTelemetry SDK's MeterProvider for this gateway: the gateway's own meter, the runtime's,
/// and Kestrel's and ASP.NET hosting's, read by the Prometheus exporter behind <c>/metrics</c> and,
/// when <c>Telemetry:OtlpEndpoint</c> is set, pushed over OTLP.
/// </summary>
internal sealed class GatewayTelemetry : IHostedService, IDisposable
{
    /// <summary>The meters collected besides the gateway's own.</summary>
    public static readonly string[] PlatformMeters = ["System.Runtime", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    private readonly MeterProvider _provider;

    public GatewayTelemetry(IMeterFactory meterFactory, GatewayMetrics metrics, PrometheusExporter prometheus, IOptions<TelemetryOptions> options)
    {
        TelemetryOptions telemetry = options.Value;
        MeterProviderBuilder builder = Sdk.CreateMeterProviderBuilder()
            .AddMeter(GatewayMetrics.MeterName)
            .AddMeter(PlatformMeters)

            // Meters made by a host's IMeterFactory belong to that host. Another gateway in the same
            // process (tests run many) has meters of the same names: leave its instruments out.
            .AddView(instrument => instrument.Meter.Scope is { } scope && !ReferenceEquals(scope, meterFactory) ? MetricStreamConfiguration.Drop : null)
            .AddReader(prometheus.Reader);

        if (!string.IsNullOrEmpty(telemetry.OtlpEndpoint))
        {
            bool http = telemetry.OtlpProtocol == "http/protobuf";
            var endpoint = new Uri(telemetry.OtlpEndpoint);
            if (http && endpoint.AbsolutePath == "/")
            {
                // Set in code, the HTTP endpoint is used as given: add the metrics path a collector serves.
                endpoint = new Uri(endpoint, "/v1/metrics");
            }

            builder.AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = endpoint;
                exporter.Protocol = http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)telemetry.OtlpExportInterval.TotalMilliseconds;
            });
        }

        _provider = builder.Build();
        metrics.StartSeries();
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _provider.Dispose();
}
