using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;

namespace Gateway.Bench.Micro;

/// <summary>
/// A short job for the noisy 2-core machines the gateway is measured on: one process, three
/// warmup and five measured iterations (BenchmarkDotNet's ShortRun has three), so that the whole
/// suite runs in minutes. Good enough to compare allocations exactly and times to about 10%.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Assembly)]
public sealed class MicroJobAttribute() : JobConfigBaseAttribute(
    Job.Default.WithId("Micro").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5));
