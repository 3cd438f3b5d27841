using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gateway.Bench.Servers;

namespace Gateway.Bench.Load;

/// <summary>
/// Runs the chosen scenarios against each chosen server in turn, each scenario on a freshly started
/// server pinned to its own core, with the generators pinned to the other; prints and saves the results.
/// </summary>
internal static class BenchRunner
{
    public static readonly string[] AllServers = ["gateway", "kestrel-naive", "signalr", "node-ws", "go-gorilla", "floor", "floor-batched"];

    public static readonly string[] AllScenarios = ["S1", "S2", "S3", "S4", "S5"];

    public static async Task<int> RunAsync(string[] servers, string[] scenarios, bool quick, string outputDirectory, string command)
    {
        var placement = new Placement(ServerCpus: "0", GeneratorCpus: "1");
        PinSelf(placement.GeneratorCpus);
        ThreadPools.Prepare();
        SuiteSize size = quick ? SuiteSize.Small : SuiteSize.Full;
        var progress = new Progress();
        var results = new SuiteResults { Machine = Machine(), Command = command, Started = DateTimeOffset.UtcNow, Quick = quick };
        var catalog = new ServerCatalog();
        var overall = Stopwatch.StartNew();

        foreach (string name in servers)
        {
            progress.Phase($"building {name}");
            await catalog.BuildAsync(name);
        }

        foreach (string name in servers)
        {
            double generatorBefore = ProcStats.CpuSecondsWithChildren(Environment.ProcessId);
            foreach (string scenario in scenarios)
            {
                try
                {
                    await RunScenarioAsync(catalog, name, scenario, size, placement, progress, results);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException or System.Net.Sockets.SocketException)
                {
                    string note = $"{name} {scenario} did not complete: {e.Message}";
                    results.Notes.Add(note);
                    progress.Line("  " + note);
                }
            }

            results.GeneratorCpuSeconds[name] = ProcStats.CpuSecondsWithChildren(Environment.ProcessId) - generatorBefore;
        }

        progress.Line($"done in {overall.Elapsed.TotalMinutes:0.0} min");
        string markdown = Report.Markdown(results);
        Directory.CreateDirectory(outputDirectory);
        string stem = Path.Combine(outputDirectory, results.Started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + (quick ? "-quick" : "-full"));
        await File.WriteAllTextAsync(stem + ".md", markdown);
        await File.WriteAllTextAsync(stem + ".json", JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"saved {stem}.md and .json");
        return 0;
    }

    private static async Task RunScenarioAsync(ServerCatalog catalog, string name, string scenario, SuiteSize size, Placement placement, Progress progress, SuiteResults results)
    {
        progress.Phase($"{name} {scenario}: starting the server");
        await using RunningServer running = await catalog.StartAsync(name, FreePort(), placement.ServerCpus);
        var scenarios = new Scenarios(new ServerUnderTest(running), size, placement, progress);
        switch (scenario)
        {
            case "S1":
                IdleResult idle = await scenarios.IdleDensityAsync();
                results.Idle[name] = idle;
                progress.Line($"  {name} S1: {idle.Connections} connections at {idle.ConnectsPerSecond:#,0}/s; {idle.RssBytesPerConnection / 1024:0.0} KB RSS each");
                break;
            case "S2":
                var fanOuts = new List<FanOutResult>();
                foreach (int clients in size.FanOutClients)
                {
                    FanOutResult fanOut = await scenarios.FanOutAsync(clients, clients <= 1000 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromMilliseconds(250));
                    fanOuts.Add(fanOut);
                    progress.Line($"  {name} S2 N={clients}: {fanOut.DeliveriesPerSecond:#,0} deliveries/s, {fanOut.CpuSecondsPerMillion:0.00} CPU s per million");
                }

                results.FanOut[name] = fanOuts;
                break;
            case "S3":
                results.Many[name] = await scenarios.ManySessionsAsync();
                break;
            case "S4":
                double max = results.FanOut.GetValueOrDefault(name)?.FirstOrDefault()?.MaxRate ?? 0;
                if (max <= 0)
                {
                    results.Notes.Add($"{name} S4 ran at 1/s: S2 found no passing rate (run S2 before S4)");
                    max = 2;
                }

                SteadyResult steady = await scenarios.LatencyAsync(max / 2);
                results.Steady[name] = steady;
                progress.Line($"  {name} S4: p99 {LatencySummary.Milliseconds(steady.Delivery.P99)} ms at {steady.Rate:0.#}/s; bursts: last client at p99 {LatencySummary.Milliseconds(steady.TimeToLast.P99)} ms");
                break;
            case "S5":
                SlowResult slow = await scenarios.SlowConsumersAsync();
                results.Slow[name] = slow;
                progress.Line($"  {name} S5: healthy p99 {LatencySummary.Milliseconds(slow.HealthyBefore.P99)} → {LatencySummary.Milliseconds(slow.HealthyAfter.P99)} ms, {slow.SlowClosedAfterSeconds.Length} stalled closed");
                break;
        }
    }

    /// <summary>The coordinator publishes: it belongs on the generators' core.</summary>
    private static void PinSelf(string cpus)
    {
        if (File.Exists("/usr/bin/taskset"))
        {
            using Process pin = Process.Start("/usr/bin/taskset", ["-cp", cpus, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)])!;
            pin.WaitForExit();
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Machine()
    {
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "unknown CPU";
        long memory = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024 / 1024;
        return $"{Environment.ProcessorCount} vCPU {cpu}, {memory} GiB, Linux {Environment.OSVersion.Version}, .NET {Environment.Version}";
    }

    /// <summary>Adapts a running server to what the scenarios need.</summary>
    private sealed class ServerUnderTest(RunningServer server) : IServerUnderTest
    {
        public string Name => server.Name;

        public int Pid => server.Pid;

        public Uri BaseUri => server.BaseUri;

        public bool IsSignalR => server.IsSignalR;

        public string WebSocketPath(string session) => server.WebSocketPath(session);

        public async Task<long?> HeapBytesAsync() => (await server.ReadStatsAsync()).HeapBytes;
    }
}
