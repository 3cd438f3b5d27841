namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A scrape of <c>/metrics</c>, parsed: each series (name and sorted labels, less the
/// <c>otel_scope_*</c> labels that name its meter) to its value, and each family to its type.
/// </summary>
public sealed class Exposition
{
    private readonly Dictionary<string, double> _series = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);

    public Exposition(string text)
    {
        Text = text;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] words = line.Split(' ');
                _types[words[2]] = words[3];
                continue;
            }

            if (line.StartsWith('#'))
            {
                continue;
            }

            int valueAt = line.LastIndexOf(' ');
            string series = line[..valueAt];
            string value = line[(valueAt + 1)..];
            _series[Key(series)] = value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(value, System.Globalization.CultureInfo.InvariantCulture),
            };
        }
    }

    public string Text { get; }

    /// <summary>Each family's name and its <c># TYPE</c> (counter, gauge, histogram, ...).</summary>
    public IReadOnlyDictionary<string, string> Types => _types;

    /// <summary>The value of <c>name{labels}</c> (labels in any order), or null when there is no such series.</summary>
    public double? this[string series] => _series.TryGetValue(Key(series), out double value) ? value : null;

    /// <summary>Whether any series of the family <paramref name="name"/> is present.</summary>
    public bool Has(string name) => _series.Keys.Any(k => k == name || k.StartsWith(name + "{", StringComparison.Ordinal));

    private static string Key(string series)
    {
        int brace = series.IndexOf('{');
        if (brace < 0)
        {
            return series;
        }

        // Label values in these tests hold no commas or braces, so a plain split is enough. Every
        // series carries its meter as otel_scope_* labels; a test names a series without them.
        string[] labels = series[(brace + 1)..^1].Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Where(label => !label.StartsWith("otel_scope_", StringComparison.Ordinal))
            .ToArray();
        if (labels.Length == 0)
        {
            return series[..brace];
        }

        Array.Sort(labels, StringComparer.Ordinal);
        return series[..brace] + "{" + string.Join(",", labels) + "}";
    }
}
