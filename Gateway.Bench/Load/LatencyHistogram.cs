using System.Text.Json.Serialization;

namespace Gateway.Bench.Load;

/// <summary>
/// Latencies in microseconds, log-linear: exact below 2 ms, then 1024 steps per power of two
/// (0.1% precision) up to days. Recording is one interlocked increment, safe from any thread;
/// histograms from several processes merge by adding counts.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Linear = 2048;
    private const int SubBits = 10;
    private const int Exponents = 40;

    private readonly long[] _counts = new long[Linear + ((Exponents - 11) << SubBits)];

    public long Count => _counts.Sum();

    public void Record(long microseconds)
    {
        if (microseconds < 0)
        {
            microseconds = 0;
        }

        Interlocked.Increment(ref _counts[Index(microseconds)]);
    }

    public void Reset() => Array.Clear(_counts);

    public void Add(IEnumerable<long[]> sparse)
    {
        foreach (long[] pair in sparse)
        {
            _counts[pair[0]] += pair[1];
        }
    }

    /// <summary>The non-empty buckets as [index, count] pairs, for sending to the coordinator.</summary>
    public List<long[]> ToSparse()
    {
        var sparse = new List<long[]>();
        for (int i = 0; i < _counts.Length; i++)
        {
            long count = Interlocked.Read(ref _counts[i]);
            if (count > 0)
            {
                sparse.Add([i, count]);
            }
        }

        return sparse;
    }

    /// <summary>The latency at <paramref name="quantile"/> (0 to 1), in microseconds: the upper edge of its bucket.</summary>
    public long Percentile(double quantile)
    {
        long total = Count;
        if (total == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return UpperEdge(i);
            }
        }

        return UpperEdge(_counts.Length - 1);
    }

    public long Max
    {
        get
        {
            for (int i = _counts.Length - 1; i >= 0; i--)
            {
                if (_counts[i] > 0)
                {
                    return UpperEdge(i);
                }
            }

            return 0;
        }
    }

    public LatencySummary Summarize() => new(Count, Percentile(0.5), Percentile(0.99), Percentile(0.999), Max);

    private static int Index(long value)
    {
        if (value < Linear)
        {
            return (int)value;
        }

        int exponent = 63 - (int)long.LeadingZeroCount(value);
        if (exponent >= Exponents)
        {
            return Linear + ((Exponents - 11) << SubBits) - 1;
        }

        int sub = (int)((value >> (exponent - SubBits)) & ((1 << SubBits) - 1));
        return Linear + ((exponent - 11) << SubBits) + sub;
    }

    private static long UpperEdge(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        int exponent = ((index - Linear) >> SubBits) + 11;
        long sub = (index - Linear) & ((1 << SubBits) - 1);
        return ((1L << SubBits) + sub + 1) << (exponent - SubBits);
    }
}

/// <summary>A latency distribution in microseconds.</summary>
internal sealed record LatencySummary(
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("p50")] long P50,
    [property: JsonPropertyName("p99")] long P99,
    [property: JsonPropertyName("p999")] long P999,
    [property: JsonPropertyName("max")] long Max)
{
    public static string Milliseconds(long microseconds) => (microseconds / 1000.0).ToString(microseconds < 10_000 ? "0.00" : "0", System.Globalization.CultureInfo.InvariantCulture);
}
