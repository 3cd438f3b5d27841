using System.Globalization;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Gateway.Diagnostics;

/// <summary>
/// A pull exporter for the OpenTelemetry SDK: a scrape of <c>/metrics</c> asks the SDK to collect,
/// the SDK hands this exporter every metric, and it renders them as Prometheus text. (The official
/// Prometheus exporter package is not one this project can use.)
/// </summary>
internal sealed class PrometheusExporter : BaseExporter<Metric>
{
    private readonly Lock _gate = new();
    private string _latest = string.Empty;
    private long _scrapes;

    public PrometheusExporter()
    {
        // Prometheus wants running totals: cumulative temporality, collected only when scraped.
        Reader = new BaseExportingMetricReader(this) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
    }

    /// <summary>The reader to add to the MeterProvider.</summary>
    public MetricReader Reader { get; }

    /// <summary>Raised after each scrape has been rendered, with how many there have been.</summary>
    public event Action<long>? Scraped;

    /// <summary>Collects and renders every metric now. Scrapes are serialized: one collection at a time.</summary>
    public string Scrape()
    {
        string text;
        long count;
        lock (_gate)
        {
            text = Reader.Collect(timeoutMilliseconds: 5000) ? _latest : string.Empty;
            count = ++_scrapes;
        }

        Scraped?.Invoke(count);
        return text;
    }

    public override ExportResult Export(in Batch<Metric> batch)
    {
        var families = new List<PrometheusFamily>();
        foreach (Metric metric in batch)
        {
            if (Convert(metric) is { } family)
            {
                families.Add(family);
            }
        }

        _latest = PrometheusText.Render(families);
        return ExportResult.Success;
    }

    /// <summary>One SDK metric as a Prometheus family; null for kinds Prometheus text cannot carry (exponential histograms).</summary>
    internal static PrometheusFamily? Convert(Metric metric)
    {
        PrometheusType? type = metric.MetricType switch
        {
            MetricType.LongSum or MetricType.DoubleSum => PrometheusType.Counter,
            MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic or MetricType.LongGauge or MetricType.DoubleGauge => PrometheusType.Gauge,
            MetricType.Histogram => PrometheusType.Histogram,
            _ => null,
        };
        if (type is not { } kind)
        {
            return null;
        }

        var samples = new List<PrometheusSample>();
        foreach (ref readonly MetricPoint point in metric.GetMetricPoints())
        {
            List<KeyValuePair<string, string>> labels = Labels(point);
            switch (metric.MetricType)
            {
                case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                    samples.Add(new(string.Empty, labels, point.GetSumLong()));
                    break;
                case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                    samples.Add(new(string.Empty, labels, point.GetSumDouble()));
                    break;
                case MetricType.LongGauge:
                    samples.Add(new(string.Empty, labels, point.GetGaugeLastValueLong()));
                    break;
                case MetricType.DoubleGauge:
                    samples.Add(new(string.Empty, labels, point.GetGaugeLastValueDouble()));
                    break;
                default:
                    AddHistogram(samples, labels, point);
                    break;
            }
        }

        return new PrometheusFamily(PrometheusText.MetricName(metric.Name, metric.Unit, kind), metric.Description, kind, samples);
    }

    /// <summary>Buckets become cumulative, each with its upper bound in <c>le</c>; then the sum and the count.</summary>
    private static void AddHistogram(List<PrometheusSample> samples, List<KeyValuePair<string, string>> labels, in MetricPoint point)
    {
        long cumulative = 0;
        foreach (HistogramBucket bucket in point.GetHistogramBuckets())
        {
            cumulative += bucket.BucketCount;
            List<KeyValuePair<string, string>> withBound = [.. labels, new("le", PrometheusText.FormatValue(bucket.ExplicitBound))];
            samples.Add(new("_bucket", withBound, cumulative));
        }

        samples.Add(new("_sum", labels, point.GetHistogramSum()));
        samples.Add(new("_count", labels, point.GetHistogramCount()));
    }

    private static List<KeyValuePair<string, string>> Labels(in MetricPoint point)
    {
        var labels = new List<KeyValuePair<string, string>>();
        foreach (KeyValuePair<string, object?> tag in point.Tags)
        {
            string value = tag.Value switch
            {
                null => string.Empty,
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                object o => o.ToString() ?? string.Empty,
            };
            labels.Add(new(PrometheusText.LabelName(tag.Key), value));
        }

        return labels;
    }
}
