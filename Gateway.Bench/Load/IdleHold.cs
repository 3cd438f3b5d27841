using System.Diagnostics;
using System.Globalization;

namespace Gateway.Bench.Load;

/// <summary>
/// S1's idle clients against a server started separately, held open for a while: long enough to
/// take a heap dump of the server (<c>dotnet-gcdump</c>) or read its memory while they are connected.
/// The clients are spread over sessions as S1 spreads them.
/// </summary>
internal static class IdleHold
{
    /// <summary>What to hold.</summary>
    /// <param name="Server">The server's base address.</param>
    /// <param name="Connections">How many idle WebSocket clients.</param>
    /// <param name="Sessions">Over how many sessions, dealt in turn.</param>
    /// <param name="HoldSeconds">How long to keep them connected once they all are.</param>
    /// <param name="Cpus">The generator processes' CPUs (taskset's list), empty for any.</param>
    public sealed record Plan(Uri Server, int Connections, int Sessions, double HoldSeconds, string Cpus);

    public static async Task<int> RunAsync(Plan plan)
    {
        var paths = new List<string>(plan.Connections);
        for (int i = 0; i < plan.Connections; i++)
        {
            paths.Add("/ws/idle-" + (i % Math.Max(1, plan.Sessions)).ToString(CultureInfo.InvariantCulture));
        }

        await using WorkerPool pool = WorkerPool.Start(paths.Count, plan.Cpus.Length == 0 ? $"0-{Environment.ProcessorCount - 1}" : plan.Cpus);
        ConnectResult connected = await pool.ConnectAsync([plan.Server], paths, signalR: false, inFlight: 256);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"connected {connected.Connected}, failed {connected.Failed}, in {connected.Seconds:0.0} s ({connected.Connected / connected.Seconds:#,0}/s){(connected.FirstError is { } e ? "; first error: " + e : "")}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"holding for {plan.HoldSeconds:0} s"));
        var held = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(plan.HoldSeconds));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"released after {held.Elapsed.TotalSeconds:0} s"));
        return connected.Failed == 0 ? 0 : 1;
    }
}
