namespace Gateway.Tests.Infrastructure;

/// <summary>A scrape of <c>/metrics</c>, parsed: each series (name and sorted labels) to its value.</summary>
public sealed class Exposition
{
    private readonly Dictionary<string, double> _series = new(StringComparer.Ordinal);

    public Exposition(string text)
    {
        Text = text;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
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

        // Label values in these tests hold no commas or braces, so a plain split is enough.
        string[] labels = series[(brace + 1)..^1].Split(',', StringSplitOptions.RemoveEmptyEntries);
        Array.Sort(labels, StringComparer.Ordinal);
        return series[..brace] + "{" + string.Join(",", labels) + "}";
    }
}
