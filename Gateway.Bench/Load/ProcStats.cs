using System.Globalization;

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
