using Gateway.Diagnostics;

namespace Gateway.Http;

/// <summary><c>GET /metrics</c>: the Prometheus text exposition of every metric, collected at the scrape.</summary>
internal static class MetricsEndpoint
{
    public static void MapMetricsEndpoint(this IEndpointRouteBuilder app) =>
        app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Scrape(), PrometheusText.ContentType));
}
