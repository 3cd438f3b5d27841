using System.Globalization;
using System.Text;

namespace Gateway.Diagnostics;

/// <summary>The kinds of metric family the Prometheus text format knows.</summary>
internal enum PrometheusType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>One sample line: the family's name plus <see cref="Suffix"/> (<c>_bucket</c>, <c>_sum</c>, <c>_count</c> or none), its labels, its value.</summary>
internal readonly record struct PrometheusSample(string Suffix, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value);

/// <summary>A metric family: a name, its help and type, and every sample of it.</summary>
internal sealed record PrometheusFamily(string Name, string? Help, PrometheusType Type, List<PrometheusSample> Samples);

/// <summary>
/// The Prometheus text exposition format, version 0.0.4: names and labels made legal, OpenTelemetry
/// units turned into name suffixes, label values and help escaped, one block per family.
/// </summary>
internal static class PrometheusText
{
    /// <summary>The Content-Type of a scrape.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>
    /// The Prometheus name of an OpenTelemetry instrument: dots and other illegal characters
    /// become underscores, the unit becomes a suffix (<c>By</c> to <c>_bytes</c>, <c>s</c> to
    /// <c>_seconds</c>; annotations like <c>{connection}</c> add none), and counters end in <c>_total</c>.
    /// </summary>
    public static string MetricName(string name, string? unit, PrometheusType type)
    {
        var builder = new StringBuilder(Sanitize(name, allowColon: true));
        string suffix = UnitSuffix(unit, type);
        if (suffix.Length > 0 && !EndsWithWord(builder, suffix))
        {
            builder.Append('_').Append(suffix);
        }

        if (type == PrometheusType.Counter && !EndsWithWord(builder, "total"))
        {
            builder.Append("_total");
        }
        else if (type == PrometheusType.Gauge && (EndsWithWord(builder, "count") || EndsWithWord(builder, "sum") || EndsWithWord(builder, "bucket")))
        {
            // Those endings belong to histograms' series; a gauge such as dotnet.timer.count would
            // read as one to Prometheus tooling.
            builder.Append("_value");
        }

        return builder.ToString();
    }

    /// <summary>A legal label name: <c>http.request.method</c> becomes <c>http_request_method</c>.</summary>
    public static string LabelName(string key) => Sanitize(key, allowColon: false);

    /// <summary>Renders <paramref name="families"/>, each family once (later duplicates of a name are merged into the first).</summary>
    public static string Render(IEnumerable<PrometheusFamily> families)
    {
        var merged = new Dictionary<string, PrometheusFamily>(StringComparer.Ordinal);
        var order = new List<PrometheusFamily>();
        foreach (PrometheusFamily family in families)
        {
            if (merged.TryGetValue(family.Name, out PrometheusFamily? first))
            {
                if (first.Type == family.Type)
                {
                    first.Samples.AddRange(family.Samples);
                }

                continue;
            }

            var copy = family with { Samples = [.. family.Samples] };
            merged[family.Name] = copy;
            order.Add(copy);
        }

        var text = new StringBuilder(4096);
        foreach (PrometheusFamily family in order)
        {
            if (!string.IsNullOrEmpty(family.Help))
            {
                text.Append("# HELP ").Append(family.Name).Append(' ').Append(EscapeHelp(family.Help)).Append('\n');
            }

            text.Append("# TYPE ").Append(family.Name).Append(' ').Append(TypeName(family.Type)).Append('\n');
            foreach (PrometheusSample sample in family.Samples)
            {
                text.Append(family.Name).Append(sample.Suffix);
                AppendLabels(text, sample.Labels);
                text.Append(' ').Append(FormatValue(sample.Value)).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>A label value with backslash, double quote and line feed escaped, as the format requires.</summary>
    public static string EscapeLabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>A sample value: Go's float syntax, with <c>+Inf</c>, <c>-Inf</c> and <c>NaN</c>.</summary>
    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static void AppendLabels(StringBuilder text, IReadOnlyList<KeyValuePair<string, string>> labels)
    {
        if (labels.Count == 0)
        {
            return;
        }

        text.Append('{');
        for (int i = 0; i < labels.Count; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }

            text.Append(labels[i].Key).Append("=\"").Append(EscapeLabelValue(labels[i].Value)).Append('"');
        }

        text.Append('}');
    }

    private static string EscapeHelp(string help) =>
        help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string TypeName(PrometheusType type) => type switch
    {
        PrometheusType.Counter => "counter",
        PrometheusType.Gauge => "gauge",
        _ => "histogram",
    };

    private static string UnitSuffix(string? unit, PrometheusType type)
    {
        if (string.IsNullOrEmpty(unit) || unit.StartsWith('{'))
        {
            return string.Empty;
        }

        return unit switch
        {
            "By" => "bytes",
            "s" => "seconds",
            "ms" => "milliseconds",
            "us" => "microseconds",
            "ns" => "nanoseconds",
            "min" => "minutes",
            "h" => "hours",
            "%" => "percent",
            "1" => type == PrometheusType.Gauge ? "ratio" : string.Empty,
            _ => Sanitize(unit, allowColon: false).Trim('_'),
        };
    }

    private static bool EndsWithWord(StringBuilder name, string word) =>
        name.Length > word.Length && name[name.Length - word.Length - 1] == '_'
        && name.ToString(name.Length - word.Length, word.Length) == word;

    private static string Sanitize(string name, bool allowColon)
    {
        var builder = new StringBuilder(name.Length + 1);
        foreach (char c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        }

        if (builder.Length == 0 || char.IsAsciiDigit(builder[0]))
        {
            builder.Insert(0, '_');
        }

        return builder.ToString();
    }
}
