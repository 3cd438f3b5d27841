using System.Diagnostics;
using System.Globalization;

namespace Gateway.Bench.Load;

/// <summary>
/// The machine's CPU counters from the <c>cpu</c> line of <c>/proc/stat</c>: time busy (user,
/// nice, system, irq, softirq) and stolen (what the hypervisor gave to other guests while this
/// one had work to run). Steal is counted only while a CPU wants to run, so it
/// is read as a share of the time the machine was busy or stolen, not of all time.
/// </summary>
internal readonly record struct CpuCounters(long Busy, long Stolen)
{
    public static CpuCounters Read() => Parse(File.ReadLines("/proc/stat").First(l => l.StartsWith("cpu ", StringComparison.Ordinal)));

    /// <summary>The <c>cpu</c> line: user nice system idle iowait irq softirq steal (guest time is inside user).</summary>
    public static CpuCounters Parse(string line)
    {
        long[] f = [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(v => long.Parse(v, CultureInfo.InvariantCulture))];
        if (f.Length < 8)
        {
            throw new FormatException($"/proc/stat's cpu line has {f.Length} counters, 8 expected (user nice system idle iowait irq softirq steal): {line}");
        }

        return new CpuCounters(Busy: f[0] + f[1] + f[2] + f[5] + f[6], Stolen: f[7]);
    }

    /// <summary>Of the time the machine wanted to run since <paramref name="earlier"/>, the percentage the hypervisor took.</summary>
    public double StealPercentSince(CpuCounters earlier)
    {
        long stolen = Stolen - earlier.Stolen;
        long wanted = Busy - earlier.Busy + stolen;
        return wanted > 0 ? 100.0 * stolen / wanted : 0;
    }
}

/// <summary>
/// A virtual machine whose host is shared loses CPU to other guests by turns (steal). A
/// measurement taken while that happens measures the neighbours. With a limit set
/// (<c>--max-steal</c>), each scenario waits first until a probe finds the machine quiet (for at
/// most <see cref="MaxWait"/>), and a measurement taken while more was stolen than the limit is
/// taken again once after the same wait, keeping the attempt with less steal. Every kept
/// measurement's steal is recorded, so the report says how quiet each one was. The limit 0 turns
/// waiting and retrying off; steal is still recorded.
/// </summary>
internal sealed class QuietMachine(double maxStealPercent, Progress progress)
{
    /// <summary>How long a measurement waits for a quiet machine before it runs anyway (and says so).</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(3);

    // Steal shows only while the CPUs have work, so the probe gives them some: a spin on every CPU.
    private static readonly TimeSpan Probe = TimeSpan.FromSeconds(1);

    private readonly List<(string What, double StealPercent)> _kept = [];

    /// <summary>What each kept measurement lost to steal, in the order taken.</summary>
    public IReadOnlyList<(string What, double StealPercent)> Kept => _kept;

    /// <summary>
    /// Runs <paramref name="measure"/> once, or twice when the first attempt ran above the limit
    /// and <paramref name="retry"/> says its result is worth taking again; keeps the attempt with
    /// less steal and records it.
    /// </summary>
    public async Task<T> MeasureAsync<T>(string what, Func<Task<T>> measure, Func<T, bool>? retry = null)
    {
        (T Result, double Steal)? kept = null;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (attempt > 0)
            {
                await WaitForQuietAsync(what);
            }

            CpuCounters before = CpuCounters.Read();
            T result = await measure();
            double steal = CpuCounters.Read().StealPercentSince(before);
            if (kept is null || steal < kept.Value.Steal)
            {
                kept = (result, steal);
            }

            if (maxStealPercent <= 0 || steal <= maxStealPercent || !(retry?.Invoke(result) ?? true) || attempt == 1)
            {
                break;
            }

            progress.Line(string.Create(CultureInfo.InvariantCulture, $"  {what}: {steal:0.0}% of the CPU was stolen during it, above {maxStealPercent:0.#}%: measuring it again"));
        }

        _kept.Add((what, kept!.Value.Steal));
        return kept.Value.Result;
    }

    /// <summary>Records the steal over a measurement that is not taken again (a part of a scenario that cannot be repeated alone).</summary>
    public void Record(string what, CpuCounters since) => _kept.Add((what, CpuCounters.Read().StealPercentSince(since)));

    /// <summary>Waits until a probe finds at most the limit stolen, or <see cref="MaxWait"/> has passed.</summary>
    public async Task WaitForQuietAsync(string what)
    {
        if (maxStealPercent <= 0)
        {
            return;
        }

        var waited = Stopwatch.StartNew();
        while (true)
        {
            double steal = await ProbeAsync();
            if (steal <= maxStealPercent)
            {
                return;
            }

            if (waited.Elapsed >= MaxWait)
            {
                progress.Line(string.Create(CultureInfo.InvariantCulture, $"  {what}: {steal:0.0}% of the CPU still stolen after {MaxWait.TotalMinutes:0} min of waiting; measuring anyway"));
                return;
            }

            progress.Phase(string.Create(CultureInfo.InvariantCulture, $"{what}: waiting for a quiet machine ({steal:0.0}% stolen, {waited.Elapsed.TotalSeconds:0} s)"));
            await Task.Delay(TimeSpan.FromSeconds(3));
        }
    }

    /// <summary>Spins every CPU for <see cref="Probe"/> and returns the share of it stolen.</summary>
    private static async Task<double> ProbeAsync()
    {
        CpuCounters before = CpuCounters.Read();
        var spinners = new Thread[Environment.ProcessorCount];
        for (int i = 0; i < spinners.Length; i++)
        {
            int cpu = i;
            spinners[i] = new Thread(() =>
            {
                // This process is pinned to the generators' CPU; each spinner takes one CPU of its own.
                ulong mask = 1UL << cpu;
                _ = SchedSetAffinity(0, sizeof(ulong), ref mask);
                long end = Stopwatch.GetTimestamp() + (long)(Probe.TotalSeconds * Stopwatch.Frequency);
                while (Stopwatch.GetTimestamp() < end)
                {
                    Thread.SpinWait(1000);
                }
            })
            { IsBackground = true };
            spinners[i].Start();
        }

        await Task.Run(() =>
        {
            foreach (Thread spinner in spinners)
            {
                spinner.Join();
            }
        });
        return CpuCounters.Read().StealPercentSince(before);
    }

    /// <summary>sched_setaffinity(2); pid 0 is the calling thread.</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nint size, ref ulong mask);
}
