using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gateway.Bench.Servers;

namespace Gateway.Bench.Load;

/// <summary>
/// Runs the chosen scenarios against each chosen server in turn, each scenario on a freshly started
/// server pinned to its own core (every process of it, for gateway-redis and gateway-cluster), with the generators
/// pinned to the other; prints and saves the results.
/// </summary>
internal static class BenchRunner
{
    /// <summary>
    /// The servers a run compares unless told otherwise. gateway-redis is not among them: it needs
    /// a redis-server installed, and it answers another question (what the backplane costs), so it
    /// runs when named.
    /// </summary>
    public static readonly string[] AllServers = ["gateway", "kestrel-naive", "signalr", "node-ws", "go-gorilla", "floor", "floor-batched"];

    public static readonly string[] AllScenarios = ["S1", "S2", "S3", "S4", "S5"];

    /// <summary>How the simple console logger marks warnings, errors and critical errors: <c>2026-01-01T00:00:00.000Z warn: Category[id] message</c>.</summary>
    private static readonly string[] LogLevels = ["warn: ", "fail: ", "crit: "];

    /// <summary>Runs <paramref name="scenarios"/> on each of <paramref name="servers"/>, then writes the report.</summary>
    /// <param name="servers">Names from <see cref="ServerCatalog.Names"/>.</param>
    /// <param name="scenarios">From <see cref="AllScenarios"/>.</param>
    /// <param name="quick">The quick suite rather than the full one.</param>
    /// <param name="steadyRate">S4's rate for every server; 0 for half of each server's own S2 maximum.</param>
    /// <param name="slow">S5's clients and how many of them stall; 0 for the suite's own.</param>
    /// <param name="outputDirectory">Where the Markdown and JSON go.</param>
    /// <param name="command">The command line, as the report quotes it.</param>
    /// <param name="slowStream">What S5 publishes: <c>bench</c> events, or progress (<c>--s5-progress</c>).</param>
    /// <param name="fanOut">S2's event data in bytes and whether its clients offer permessage-deflate (<c>--s2-payload</c>, <c>--s2-deflate</c>).</param>
    /// <param name="gatewaySettings">Configuration keys for every gateway process, on top of the bench's own (<c>--gateway-setting</c>).</param>
    /// <param name="gatewayEnvironment">Environment variables for every gateway process and no other (<c>--gateway-env</c>).</param>
    /// <param name="maxStealPercent">The most CPU the hypervisor may take from a measurement before it is taken again (<c>--max-steal</c>); 0: never taken again.</param>
    /// <param name="redisOptions">Client options after the address in every gateway node's Redis connection string (<c>--redis-options</c>).</param>
    public static async Task<int> RunAsync(string[] servers, string[] scenarios, bool quick, double steadyRate, (int Clients, int Stalled) slow, string outputDirectory, string command, SlowStream slowStream = SlowStream.Bench,
        (int PayloadBytes, bool Deflate) fanOut = default, IReadOnlyDictionary<string, string>? gatewaySettings = null, IReadOnlyDictionary<string, string>? gatewayEnvironment = null,
        double maxStealPercent = 0, string redisOptions = "")
    {
        var placement = new Placement(ServerCpus: "0", GeneratorCpus: "1");
        PinSelf(placement.GeneratorCpus);
        ThreadPools.Prepare();
        SuiteSize size = quick ? SuiteSize.Small : SuiteSize.Full;
        size = size with
        {
            SlowClients = slow.Clients > 0 ? slow.Clients : size.SlowClients,
            SlowStopped = slow.Stalled > 0 ? slow.Stalled : size.SlowStopped,
            SlowStream = slowStream,
            FanOutPayloadBytes = fanOut.PayloadBytes > 0 ? fanOut.PayloadBytes : 128,
            FanOutDeflate = fanOut.Deflate,
        };
        if (size.SlowStopped >= size.SlowClients)
        {
            Console.Error.WriteLine($"--s5-stalled ({size.SlowStopped}) must be fewer than S5's clients ({size.SlowClients}): some must stay healthy");
            return 2;
        }

        var progress = new Progress();
        var quiet = new QuietMachine(maxStealPercent, progress);
        var results = new SuiteResults
        {
            Machine = Machine(), Command = command, Started = DateTimeOffset.UtcNow, Quick = quick, SteadyRate = steadyRate > 0 ? steadyRate : null,
            MaxStealPercent = maxStealPercent,
        };
        var catalog = new ServerCatalog { GatewayEnvironment = gatewayEnvironment ?? new Dictionary<string, string>(), RedisOptions = redisOptions };
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
                    await quiet.WaitForQuietAsync($"{name} {scenario}");
                    if (scenario is "S1" or "S5")
                    {
                        // Measured whole on a fresh server, so taken again whole.
                        await RunWholeAsync(quiet, catalog, name, scenario, size, placement, progress, results, gatewaySettings);
                    }
                    else
                    {
                        await RunScenarioAsync(catalog, name, scenario, size, placement, progress, results, gatewaySettings, quiet);
                    }
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or TimeoutException or System.Net.Sockets.SocketException)
                {
                    string note = $"{name} {scenario} did not complete: {e.Message}";
                    results.Notes.Add(note);
                    progress.Line("  " + note);
                }
            }

            results.GeneratorCpuSeconds[name] = ProcStats.CpuSecondsWithChildren(Environment.ProcessId) - generatorBefore - results.ServerCpuSeconds.GetValueOrDefault(name);
        }

        foreach ((string what, double steal) in quiet.Kept)
        {
            results.StealPercent[what] = Math.Round(steal, 2);
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

    /// <summary>S1 or S5, whose one measurement is the scenario: taken again on a fresh server when too much was stolen from it, keeping the quieter one.</summary>
    private static async Task RunWholeAsync(QuietMachine quiet, ServerCatalog catalog, string name, string scenario, SuiteSize size, Placement placement, Progress progress, SuiteResults results,
        IReadOnlyDictionary<string, string>? gatewaySettings)
    {
        // Each attempt's own measure of quiet is kept by the outer one: the inner machine never retries.
        var inner = new QuietMachine(0, progress);
        object? kept = await quiet.MeasureAsync($"{name} {scenario}", async () =>
        {
            await RunScenarioAsync(catalog, name, scenario, size, placement, progress, results, gatewaySettings, inner);
            return scenario == "S1" ? results.Idle.GetValueOrDefault(name) : (object?)results.Slow.GetValueOrDefault(name);
        });
        switch (kept)
        {
            case IdleResult idle:
                results.Idle[name] = idle;
                break;
            case SlowResult slow:
                results.Slow[name] = slow;
                break;
        }
    }

    private static async Task RunScenarioAsync(ServerCatalog catalog, string name, string scenario, SuiteSize size, Placement placement, Progress progress, SuiteResults results,
        IReadOnlyDictionary<string, string>? gatewaySettings, QuietMachine quiet)
    {
        progress.Phase($"{name} {scenario}: starting the server");
        // S5 over a progress stream runs the gateway with tight lag bounds; the peers know none.
        // What the command line set goes on top.
        Dictionary<string, string>? settings = scenario == "S5" && size.SlowStream != SlowStream.Bench
            ? new Dictionary<string, string>(Scenarios.ProgressBounds, StringComparer.OrdinalIgnoreCase)
            : null;
        if (gatewaySettings is { Count: > 0 })
        {
            settings ??= new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach ((string key, string value) in gatewaySettings)
            {
                settings[key] = value;
            }
        }

        await using ServerGroup running = await catalog.StartAsync(name, placement.ServerCpus, settings);
        try
        {
            await MeasureAsync(new Scenarios(new ServerUnderTest(running), size, placement, progress, quiet), name, scenario, size, progress, results);
        }
        finally
        {
            // The servers are this process's children: once reaped, their CPU would count as the
            // generator's. Kept apart here, just before they stop (their drain is not counted).
            results.ServerCpuSeconds[name] = results.ServerCpuSeconds.GetValueOrDefault(name) + ProcStats.CpuSeconds(running.Processes).Values.Sum();

            // Stopped first, so that what the server logs as it drains counts too.
            await running.StopAsync();
            NoteLoggedProblems(running, scenario, progress, results);
        }
    }

    /// <summary>Runs one scenario on a started server and keeps what it measured.</summary>
    private static async Task MeasureAsync(Scenarios scenarios, string name, string scenario, SuiteSize size, Progress progress, SuiteResults results)
    {
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
                double rate = results.SteadyRate ?? 0;
                if (rate <= 0)
                {
                    rate = (results.FanOut.GetValueOrDefault(name)?.FirstOrDefault()?.MaxRate ?? 0) / 2;
                    if (rate <= 0)
                    {
                        results.Notes.Add($"{name} S4 ran at 1/s: S2 found no passing rate (run S2 before S4, or give --s4-rate)");
                        rate = 1;
                    }
                }

                SteadyResult steady = await scenarios.LatencyAsync(rate);
                results.Steady[name] = steady;
                progress.Line($"  {name} S4: p99 {LatencySummary.Milliseconds(steady.Delivery.P99)} ms at {steady.Rate:0.#}/s; bursts: last client at p99 {LatencySummary.Milliseconds(steady.TimeToLast.P99)} ms");
                break;
            case "S5":
                SlowResult slow = await scenarios.SlowConsumersAsync();
                results.Slow[name] = slow;
                progress.Line($"  {name} S5: healthy p99 {LatencySummary.Milliseconds(slow.HealthyBefore.P99)} → {LatencySummary.Milliseconds(slow.HealthyAfter.P99)} ms, {slow.SlowClosedAfterSeconds.Length} stalled closed");
                if (slow.Progress is { } p)
                {
                    progress.Line($"  {name} S5 progress ({(p.Conflating ? "conflated" : "not conflated")}): received {p.Received:#,0} + conflated {p.Conflated:#,0} of {p.Due:#,0} due; {p.StalledClosed} stalled closed");
                }

                break;
        }
    }

    /// <summary>The coordinator publishes: it belongs on the generators' core.</summary>
    internal static void PinSelf(string cpus)
    {
        if (File.Exists("/usr/bin/taskset"))
        {
            using Process pin = Process.Start("/usr/bin/taskset", ["-cp", cpus, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)])!;
            pin.WaitForExit();
        }
    }

    /// <summary>
    /// The gateway logs warnings and errors only (see <see cref="ServerCatalog.DefaultGatewaySettings"/>),
    /// one line each: any a process logged during the scenario go into the notes, counted, with the
    /// first one, so that a loss or a stall in the tables comes with what the server said about it.
    /// </summary>
    private static void NoteLoggedProblems(ServerGroup server, string scenario, Progress progress, SuiteResults results)
    {
        foreach (ServerProcess process in server.Processes)
        {
            string[] problems = [.. process.Server.RecentOutput.Split('\n').Where(line => LogLevels.Any(level => line.Contains(level, StringComparison.Ordinal)))];
            if (problems.Length > 0)
            {
                string note = $"{server.Name} {scenario}: {process.Role} logged {problems.Length} warnings or errors (in the last lines kept of its console); the first: {problems[0].Trim()}";
                results.Notes.Add(note);
                progress.Line("  " + note);
            }
        }
    }

    internal static string Machine()
    {
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "unknown CPU";
        long memory = long.Parse(File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024 / 1024;
        return $"{Environment.ProcessorCount} vCPU {cpu}, {memory} GiB, Linux {Environment.OSVersion.Version}, .NET {Environment.Version}";
    }

    /// <summary>Adapts a running server, of one process or several, to what the scenarios need.</summary>
    private sealed class ServerUnderTest(ServerGroup server) : IServerUnderTest
    {
        public string Name => server.Name;

        public IReadOnlyList<Uri> Nodes { get; } = [.. server.Nodes.Select(n => n.BaseUri)];

        public IReadOnlyList<ServerProcess> Processes => server.Processes;

        public bool IsSignalR => server.IsSignalR;

        public string WebSocketPath(string session) => server.Nodes[0].WebSocketPath(session);

        /// <summary>The nodes' heaps together; null when any node's is unknown.</summary>
        public async Task<long?> HeapBytesAsync()
        {
            long total = 0;
            foreach (RunningServer node in server.Nodes)
            {
                if ((await node.ReadStatsAsync()).HeapBytes is not { } heap)
                {
                    return null;
                }

                total += heap;
            }

            return total;
        }
    }
}
