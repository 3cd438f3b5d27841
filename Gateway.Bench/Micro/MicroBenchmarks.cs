using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Gateway.Bench.Micro;

/// <summary>
/// The BenchmarkDotNet micro-benchmarks: the codec (every client message type, the event frame,
/// the HTTP publish body) and the fan-out core (one event into thousands of send queues), and compress once (permessage-deflate).
/// </summary>
/// <remarks>
/// The benchmark classes are public and unsealed because BenchmarkDotNet's generated runner
/// derives from them; everything they touch stays internal.
/// </remarks>
public static class MicroBenchmarks
{
    private static readonly Type[] Benchmarks =
    [
        typeof(DecodeBenchmarks),
        typeof(EncodeBenchmarks),
        typeof(PublishBodyBenchmarks),
        typeof(FanOutBenchmarks),
        typeof(ParkedFanOutBenchmarks),
        typeof(CompressionBenchmarks),
        typeof(AdmissionBenchmarks),
    ];

    /// <summary>
    /// Runs the benchmarks that <paramref name="args"/> select, with BenchmarkDotNet's own options
    /// (<c>--filter '*'</c>, <c>--list flat</c>, ...). Returns 0, or 1 when a benchmark failed or
    /// did not pass validation.
    /// </summary>
    public static int Run(string[] args)
    {
        IEnumerable<Summary> summaries = BenchmarkSwitcher.FromTypes(Benchmarks).Run(args);
        return summaries.Any(static s => s.HasCriticalValidationErrors || s.Reports.Any(static r => !r.Success)) ? 1 : 0;
    }
}
