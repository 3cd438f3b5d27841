using System.Diagnostics.Metrics;
using Gateway.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Gateway.Tests.Diagnostics;

/// <summary>The Prometheus text exposition on known inputs.</summary>
public sealed class PrometheusTextTests
{
    [TestCase("gateway.connections.open", "{connection}", PrometheusType.Gauge, "gateway_connections_open")]
    [TestCase("gateway.connections.accepted", "{connection}", PrometheusType.Counter, "gateway_connections_accepted_total")]
    [TestCase("gateway.network.io", "By", PrometheusType.Counter, "gateway_network_io_bytes_total")]
    [TestCase("gateway.history.bytes", "By", PrometheusType.Gauge, "gateway_history_bytes")]
    [TestCase("gateway.delivery.latency", "s", PrometheusType.Histogram, "gateway_delivery_latency_seconds")]
    [TestCase("http.server.request.duration", "s", PrometheusType.Histogram, "http_server_request_duration_seconds")]
    [TestCase("dotnet.gc.pause.time", "s", PrometheusType.Counter, "dotnet_gc_pause_time_seconds_total")]
    [TestCase("dotnet.timer.count", "{timer}", PrometheusType.Gauge, "dotnet_timer_count_value")]
    [TestCase("requests.total", "", PrometheusType.Counter, "requests_total")]
    [TestCase("cpu.utilization", "1", PrometheusType.Gauge, "cpu_utilization_ratio")]
    [TestCase("9lives-and:more", "KiBy", PrometheusType.Gauge, "_9lives_and:more_KiBy")]
    public void Instrument_names_become_prometheus_names(string name, string unit, object type, string expected) =>
        Assert.That(PrometheusText.MetricName(name, unit, (PrometheusType)type), Is.EqualTo(expected));

    [TestCase("http.request.method", "http_request_method")]
    [TestCase("a-b c", "a_b_c")]
    [TestCase("no:colon", "no_colon")]
    [TestCase("0start", "_0start")]
    public void Tag_keys_become_label_names(string key, string expected) =>
        Assert.That(PrometheusText.LabelName(key), Is.EqualTo(expected));

    [TestCase(1.0, "1")]
    [TestCase(0.25, "0.25")]
    [TestCase(1e21, "1E+21")]
    [TestCase(double.PositiveInfinity, "+Inf")]
    [TestCase(double.NegativeInfinity, "-Inf")]
    [TestCase(double.NaN, "NaN")]
    public void Values_use_go_float_syntax(double value, string expected) =>
        Assert.That(PrometheusText.FormatValue(value), Is.EqualTo(expected));

    [Test]
    public void Families_render_with_help_type_escaped_labels_and_merged_duplicates()
    {
        PrometheusFamily[] families =
        [
            new("requests_total", "Requests, by \"path\".\nSecond line \\ done", PrometheusType.Counter,
                [new(string.Empty, [new("path", "/a\"b\\c\nd")], 3), new(string.Empty, [], 1)]),
            new("temperature", null, PrometheusType.Gauge, [new(string.Empty, [new("room", "é")], -1.5)]),
            new("requests_total", "a duplicate name: merged into the first", PrometheusType.Counter, [new(string.Empty, [new("path", "/z")], 2)]),
        ];

        Assert.That(PrometheusText.Render(families), Is.EqualTo(
            "# HELP requests_total Requests, by \"path\".\\nSecond line \\\\ done\n" +
            "# TYPE requests_total counter\n" +
            "requests_total{path=\"/a\\\"b\\\\c\\nd\"} 3\n" +
            "requests_total 1\n" +
            "requests_total{path=\"/z\"} 2\n" +
            "# TYPE temperature gauge\n" +
            "temperature{room=\"é\"} -1.5\n"));
    }

    [Test]
    public void The_sdk_metrics_render_exactly_with_cumulative_histogram_buckets()
    {
        string meterName = "PrometheusTextTests." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        var exporter = new PrometheusExporter();
        using MeterProvider provider = Sdk.CreateMeterProviderBuilder().AddMeter(meterName).AddReader(exporter.Reader).Build();

        Counter<long> counter = meter.CreateCounter<long>("test.deliveries", "{message}", "Deliveries.");
        Histogram<double> histogram = meter.CreateHistogram("test.latency", "s", "Latency.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.1, 1] });
        UpDownCounter<long> open = meter.CreateUpDownCounter<long>("test.open", "{connection}", "Open.");
        counter.Add(5, new KeyValuePair<string, object?>("session.name", "a\"b"));
        counter.Add(2, new KeyValuePair<string, object?>("session.name", "a\"b"));
        foreach (double seconds in new[] { 0.005, 0.05, 0.05, 0.5, 5 })
        {
            histogram.Record(seconds);
        }

        open.Add(3);
        open.Add(-1);

        Assert.That(exporter.Scrape(), Is.EqualTo(
            "# HELP test_deliveries_total Deliveries.\n" +
            "# TYPE test_deliveries_total counter\n" +
            "test_deliveries_total{session_name=\"a\\\"b\"} 7\n" +
            "# HELP test_latency_seconds Latency.\n" +
            "# TYPE test_latency_seconds histogram\n" +
            "test_latency_seconds_bucket{le=\"0.01\"} 1\n" +
            "test_latency_seconds_bucket{le=\"0.1\"} 3\n" +
            "test_latency_seconds_bucket{le=\"1\"} 4\n" +
            "test_latency_seconds_bucket{le=\"+Inf\"} 5\n" +
            "test_latency_seconds_sum 5.605\n" +
            "test_latency_seconds_count 5\n" +
            "# HELP test_open Open.\n" +
            "# TYPE test_open gauge\n" +
            "test_open 2\n"));
    }
}
