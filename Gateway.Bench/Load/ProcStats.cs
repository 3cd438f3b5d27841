using System.Globalization;
using Gateway.Bench.Servers;

namespace Gateway.Bench.Load;

/// <summary>What /proc says about a process: CPU seconds used and resident memory.</summary>
internal static class ProcStats
{
    // USER_HZ: the unit of utime and stime in /proc/<pid>/stat; 100 on Linux.
    private const double ClockTicksPerSecond = 100;

    /// <summary>User plus system CPU seconds the process has used.</summary>
    public static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");

        // The command name is in parentheses and may hold spaces: count fields after its end.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        long stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (utime + stime) / ClockTicksPerSecond;
    }

    /// <summary>CPU seconds of this process and of its children that have exited (the generator's workers).</summary>
    public static double CpuSecondsWithChildren(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long total = 0;
        for (int field = 11; field <= 14; field++)
        {
            total += long.Parse(fields[field], CultureInfo.InvariantCulture);
        }

        return total / ClockTicksPerSecond;
    }

    /// <summary>CPU seconds each process of a server has used, by role, in the server's order.</summary>
    public static Dictionary<string, double> CpuSeconds(IReadOnlyList<ServerProcess> processes) =>
        processes.ToDictionary(p => p.Role, p => CpuSeconds(p.Pid));

    /// <summary>The resident memory of all the processes of a server together.</summary>
    public static long ResidentBytes(IReadOnlyList<ServerProcess> processes) => processes.Sum(p => ResidentBytes(p.Pid));

    /// <summary>Resident set size in bytes.</summary>
    public static long ResidentBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}

/// <summary>
/// CPU seconds of a server by process (role), as <see cref="ProcStats.CpuSeconds(IReadOnlyList{ServerProcess})"/>
/// reads them: what a measurement cost each process, and per million deliveries.
/// </summary>
internal static class CpuByProcess
{
    /// <summary>What each process used between two readings.</summary>
    public static Dictionary<string, double> Since(Dictionary<string, double> after, Dictionary<string, double> before) =>
        after.ToDictionary(p => p.Key, p => p.Value - before.GetValueOrDefault(p.Key));

    /// <summary>
    /// Seconds per million of <paramref name="deliveries"/>; 0 when nothing was due (every publish
    /// failed), which JSON can hold where an infinity could not.
    /// </summary>
    public static double PerMillion(double seconds, long deliveries) => deliveries > 0 ? seconds / (deliveries / 1_000_000.0) : 0;

    /// <summary>Each process's seconds per million of <paramref name="deliveries"/>.</summary>
    public static Dictionary<string, double> PerMillion(Dictionary<string, double> seconds, long deliveries) =>
        seconds.ToDictionary(p => p.Key, p => PerMillion(p.Value, deliveries));

    /// <summary><c>node-1 1.23 + node-2 1.20 + redis-server 0.40</c>; empty for a server of one process, whose total says it all.</summary>
    public static string Describe(Dictionary<string, double> seconds) =>
        seconds.Count < 2 ? "" : string.Join(" + ", seconds.Select(p => p.Key + " " + p.Value.ToString("0.00", CultureInfo.InvariantCulture)));
}
