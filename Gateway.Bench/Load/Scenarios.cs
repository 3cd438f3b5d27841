using System.Diagnostics;
using System.Globalization;
using Gateway.Bench.Servers;

namespace Gateway.Bench.Load;

/// <summary>A server under test, as the scenarios see it.</summary>
internal interface IServerUnderTest
{
    string Name { get; }

    /// <summary>
    /// Where clients and publishers go: one address for most servers; for gateway-redis, each
    /// node's, and clients and publishes spread over them.
    /// </summary>
    IReadOnlyList<Uri> Nodes { get; }

    /// <summary>Every process whose CPU and memory count as the server's: for gateway-redis, its redis-server too.</summary>
    IReadOnlyList<ServerProcess> Processes { get; }

    bool IsSignalR { get; }

    string WebSocketPath(string session);

    /// <summary>The server's managed heap in bytes, of all its nodes (after a full collection where the server can do one), or null.</summary>
    Task<long?> HeapBytesAsync();
}

/// <summary>How long and how big each scenario runs: the full suite, or a quick pass of every step.</summary>
internal sealed record SuiteSize(
    bool Quick,
    int IdleSessions, int IdleClientsPerSession, TimeSpan IdleFor,
    int[] FanOutClients, TimeSpan StepFor, int MaxSteps,
    int ManySessions, double[] ManyRates, TimeSpan ManyFor, TimeSpan ManyWarmFor,
    TimeSpan SteadyFor, TimeSpan SteadyWarmFor, int BurstClients, int Bursts,
    int SlowClients, int SlowStopped, TimeSpan SlowFor, TimeSpan SlowStopAt)
{
    /// <summary>What S5 publishes: <c>bench</c> events, or progress (spec section 12), conflatable or not.</summary>
    public SlowStream SlowStream { get; init; } = SlowStream.Bench;

    /// <summary>S2's event data in bytes (<c>--s2-payload</c>): 128 by default; larger ones are progress-like JSON rows.</summary>
    public int FanOutPayloadBytes { get; init; } = 128;

    /// <summary>Whether S2's clients offer permessage-deflate (<c>--s2-deflate</c>), as browsers do.</summary>
    public bool FanOutDeflate { get; init; }

    public static readonly SuiteSize Full = new(
        Quick: false,
        IdleSessions: 160, IdleClientsPerSession: 100, IdleFor: TimeSpan.FromSeconds(30),
        FanOutClients: [1000, 10_000], StepFor: TimeSpan.FromSeconds(10), MaxSteps: 10,
        ManySessions: 2000, ManyRates: [2000, 5000, 10_000, 20_000], ManyFor: TimeSpan.FromSeconds(10), ManyWarmFor: TimeSpan.FromSeconds(20),
        SteadyFor: TimeSpan.FromSeconds(60), SteadyWarmFor: TimeSpan.FromSeconds(30), BurstClients: 10_000, Bursts: 100,
        SlowClients: 500, SlowStopped: 25, SlowFor: TimeSpan.FromSeconds(70), SlowStopAt: TimeSpan.FromSeconds(10));

    public static readonly SuiteSize Small = new(
        Quick: true,
        IdleSessions: 20, IdleClientsPerSession: 100, IdleFor: TimeSpan.FromSeconds(2),
        FanOutClients: [1000], StepFor: TimeSpan.FromSeconds(1.2), MaxSteps: 6,
        ManySessions: 400, ManyRates: [2000, 5000], ManyFor: TimeSpan.FromSeconds(2), ManyWarmFor: TimeSpan.FromSeconds(2),
        SteadyFor: TimeSpan.FromSeconds(3), SteadyWarmFor: TimeSpan.FromSeconds(1), BurstClients: 2000, Bursts: 10,
        SlowClients: 200, SlowStopped: 10, SlowFor: TimeSpan.FromSeconds(4), SlowStopAt: TimeSpan.FromSeconds(1.5));
}

/// <summary>
/// S5's stream. <see cref="Progress"/>: 200 progress events a second marked <c>"conflate": true</c>, a
/// stall shorter than the gateway's lag in time, and a lag in bytes (256 KiB) that the stall passes
/// many times over: stalled readers should stay connected and, once they read again, be current.
/// <see cref="ProgressPlain"/>: the same, not marked: the control, where they are closed with 4001.
/// </summary>
internal enum SlowStream
{
    Bench,
    Progress,
    ProgressPlain,
}

/// <summary>Where the server and the generators run: different cores, so that neither hides the other's cost.</summary>
internal sealed record Placement(string ServerCpus, string GeneratorCpus);

internal sealed record IdleResult(int Connections, int Failed, double ConnectsPerSecond, double RssBytesPerConnection, double? HeapBytesPerConnection, double ServerRssMiB);

/// <summary>One rate of S2; the server's CPU seconds are those of all its processes, and each one's by its role (<see cref="ServerProcess.Role"/>).</summary>
internal sealed record StepResult(double Rate, long Expected, long Received, LatencySummary Delivery, double ServerCpuSeconds, bool Passed, Dictionary<string, double> ServerCpuByProcess);

internal sealed record FanOutResult(int Clients, double MaxRate, double DeliveriesPerSecond, double CpuSecondsPerMillion, LatencySummary AtMax, List<StepResult> Steps,
    Dictionary<string, double> CpuSecondsPerMillionByProcess);

/// <summary>
/// One rate of S3. Its CPU is the server's (all its processes, and by process) from the first
/// publish until the clients had every event, per million deliveries due.
/// </summary>
internal sealed record ManyResult(double Rate, long Published, long Expected, long Received, LatencySummary Publish, LatencySummary Delivery, long PublishErrors,
    double CpuSecondsPerMillion, Dictionary<string, double> CpuSecondsPerMillionByProcess);

internal sealed record SteadyResult(double Rate, int Clients, long Expected, long Received, LatencySummary Delivery, int BurstClients, LatencySummary TimeToLast);

internal sealed record SlowResult(int Clients, int Stopped, LatencySummary HealthyBefore, LatencySummary HealthyAfter, long HealthyExpected, long HealthyReceived,
    double[] SlowClosedAfterSeconds, Dictionary<string, int> CloseCodes, double[] ServerRssMiB, SlowProgressResult? Progress = null);

/// <summary>
/// S5 over a progress stream, from the stall on: events published (the stall and a second after the
/// stalled clients read again) times clients is what was due; each client's events received plus
/// their <c>conflated</c> counts add up to it when nothing was lost. The stalled clients' events
/// received after they read again, and their p99 latency then.
/// </summary>
internal sealed record SlowProgressResult(bool Conflating, double Rate, double StallSeconds, long Due, long Received, long Conflated, int StalledClosed, LatencySummary AfterResume);

/// <summary>The five scenarios of the comparison, each against one running server.</summary>
internal sealed class Scenarios(IServerUnderTest server, SuiteSize size, Placement placement, Progress progress, QuietMachine quiet)
{
    private const int PayloadBytes = 128;

    // S5's clients read 80 KB a second; a 64 KB window holds most of a second of it, and a
    // client that stops reading fills it, and the server's side, within seconds.
    private const int SlowReceiveBuffer = 64 * 1024;

    /// <summary>
    /// S5's stall over a progress stream: at most 20 s, below the gateway's 30 s lag in time, which
    /// closes a reader that stops for longer whatever it is sent (what its socket holds ages).
    /// </summary>
    private static readonly TimeSpan ProgressStall = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The gateway's bounds for S5 over a progress stream: 256 KiB of lag, which 200 events of 2 KB a
    /// second pass within a couple of seconds of a stall (the publish limit follows: at most half).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> ProgressBounds = new Dictionary<string, string>
    {
        ["Gateway:Limits:MaxLagBytes"] = "262144",
        ["Gateway:Limits:MaxPublishBytes"] = "131072",
    };

    /// <summary>S1: connect many idle clients with 256 handshakes in flight; then, after a quiet spell, memory per connection.</summary>
    public async Task<IdleResult> IdleDensityAsync()
    {
        var paths = new List<string>();
        for (int c = 0; c < size.IdleClientsPerSession; c++)
        {
            for (int s = 0; s < size.IdleSessions; s++)
            {
                paths.Add(server.WebSocketPath($"idle-{s}"));
            }
        }

        long rssBefore = ProcStats.ResidentBytes(server.Processes);
        long? heapBefore = await server.HeapBytesAsync();
        await using WorkerPool pool = WorkerPool.Start(paths.Count, placement.GeneratorCpus);
        progress.Phase($"{server.Name} S1: connecting {paths.Count}");
        ConnectResult connected = await pool.ConnectAsync(server.Nodes, paths, server.IsSignalR, inFlight: 256);
        await progress.CountdownAsync($"{server.Name} S1: {connected.Connected} connected, idle", size.IdleFor);
        long rssAfter = ProcStats.ResidentBytes(server.Processes);
        long? heapAfter = await server.HeapBytesAsync();
        int n = Math.Max(1, connected.Connected);
        return new IdleResult(connected.Connected, connected.Failed, connected.Connected / connected.Seconds,
            (rssAfter - rssBefore) / (double)n,
            heapBefore is { } hb && heapAfter is { } ha ? (ha - hb) / (double)n : null,
            rssAfter / 1048576.0);
    }

    /// <summary>
    /// S2: one session of <paramref name="clients"/>; the publish rate doubles until an event is lost
    /// or p99 passes <paramref name="p99Limit"/>, then bisects once between the last pass and the fail.
    /// </summary>
    public async Task<FanOutResult> FanOutAsync(int clients, TimeSpan p99Limit)
    {
        await using WorkerPool pool = WorkerPool.Start(clients, placement.GeneratorCpus);
        await using HttpPublisher publisher = await HttpPublisher.ConnectAsync(server.Nodes, 4);
        progress.Phase($"{server.Name} S2 N={clients}: connecting");
        await ConnectAllAsync(pool, Enumerable.Repeat(server.WebSocketPath("fanout"), clients).ToList(), deflate: size.FanOutDeflate);
        await WarmUpAsync(pool, publisher, ["fanout"], clients);

        var steps = new List<StepResult>();
        StepResult? best = null;
        double rate = 40_000.0 / clients;
        double? failedAt = null;
        int bisections = 0;
        for (int step = 0; step < size.MaxSteps; step++)
        {
            // A step failed while the hypervisor took the CPU says little of the server: taken again.
            StepResult result = await quiet.MeasureAsync($"{server.Name} S2 N={clients} at {rate:0.#}/s",
                () => StepAsync(pool, publisher, rate, clients, _ => "fanout", p99Limit), r => !r.Passed);
            steps.Add(result);
            if (result.Passed)
            {
                best = result;
            }
            else
            {
                failedAt = rate;
            }

            if (failedAt is null)
            {
                rate *= 2;
                continue;
            }

            // Past the first failure, bisect twice between the best pass and the lowest failure.
            if (best is null || bisections == 2 || failedAt.Value / best.Rate < 1.15)
            {
                break;
            }

            rate = (best.Rate + failedAt.Value) / 2;
            bisections++;
        }

        best ??= steps[0];
        double deliveries = best.Rate * clients;
        return new FanOutResult(clients, best.Passed ? best.Rate : 0, best.Passed ? deliveries : 0, CpuByProcess.PerMillion(best.ServerCpuSeconds, best.Expected), best.Delivery, steps,
            CpuByProcess.PerMillion(best.ServerCpuByProcess, best.Expected));
    }

    /// <summary>S3: many small sessions; publishes spread over them at each rate, over 16 connections.</summary>
    public async Task<List<ManyResult>> ManySessionsAsync()
    {
        const int ClientsPerSession = 5;
        var paths = new List<string>();
        for (int c = 0; c < ClientsPerSession; c++)
        {
            for (int s = 0; s < size.ManySessions; s++)
            {
                paths.Add(server.WebSocketPath($"many-{s}"));
            }
        }

        await using WorkerPool pool = WorkerPool.Start(paths.Count, placement.GeneratorCpus);
        progress.Phase($"{server.Name} S3: connecting {paths.Count}");
        await ConnectAllAsync(pool, paths);
        await using (HttpPublisher warming = await HttpPublisher.ConnectAsync(server.Nodes, 16))
        {
            await WarmUpAsync(pool, warming, [.. Enumerable.Range(0, size.ManySessions).Select(s => $"many-{s}")], ClientsPerSession);

            // Then the lowest rate for a while, unmeasured: a server that compiles as it runs (.NET's
            // tiered JIT, V8) is measured at work rather than still compiling its publish path,
            // which on this machine takes tens of seconds of load (docs/benchmarks.md).
            await WarmAtAsync(pool, warming, "S3", size.ManyRates[0], size.ManyWarmFor, k => $"many-{k % size.ManySessions}", ClientsPerSession);
        }
        var results = new List<ManyResult>();
        foreach (double rate in size.ManyRates)
        {
            results.Add(await quiet.MeasureAsync($"{server.Name} S3 at {rate:0}/s", () => ManyStepAsync(pool, rate, ClientsPerSession)));
        }

        return results;
    }

    /// <summary>
    /// Publishes at <paramref name="rate"/> for <paramref name="duration"/>, unmeasured, and waits
    /// until every event the server accepted has reached its <paramref name="clientsPerSession"/> clients.
    /// </summary>
    private async Task WarmAtAsync(WorkerPool pool, HttpPublisher publisher, string scenario, double rate, TimeSpan duration, Func<long, string> session, int clientsPerSession)
    {
        progress.Phase($"{server.Name} {scenario}: warming at {rate:0}/s for {duration.TotalSeconds:0} s");
        long warmFrom = (await pool.ReportAsync()).Received;
        long errorsBefore = publisher.Errors;
        long warmed = await RatePublisher.RunAsync(publisher, rate, duration, session, PayloadBytes);
        await DrainAsync(pool, warmFrom, (warmed - (publisher.Errors - errorsBefore)) * clientsPerSession);
    }

    /// <summary>
    /// S4: a steady rate (half the server's own S2 maximum) for a while; then single events to a
    /// large session, each timed until the last client has it.
    /// </summary>
    public async Task<SteadyResult> LatencyAsync(double steadyRate)
    {
        int clients = size.FanOutClients[0];
        LatencySummary steady;
        long expected;
        long received;
        await using (WorkerPool pool = WorkerPool.Start(clients, placement.GeneratorCpus))
        await using (HttpPublisher publisher = await HttpPublisher.ConnectAsync(server.Nodes, 4))
        {
            progress.Phase($"{server.Name} S4: connecting");
            await ConnectAllAsync(pool, Enumerable.Repeat(server.WebSocketPath("steady"), clients).ToList());
            await WarmUpAsync(pool, publisher, ["steady"], clients);

            // Then the measured rate for a while, unmeasured, as S3 warms: on one CPU .NET waits ten
            // times longer before it optimises hot code, and without this the gateway's JIT was seen
            // compiling for 1.6 s of its one core inside the measured minute (docs/benchmarks.md).
            if (steadyRate > 0)
            {
                await WarmAtAsync(pool, publisher, "S4", steadyRate, size.SteadyWarmFor, _ => "steady", clients);
            }

            (steady, expected, received) = await quiet.MeasureAsync($"{server.Name} S4 at {steadyRate:0.#}/s", async () =>
            {
                publisher.Latency.Reset();
                await pool.ResetAsync();
                long before = (await pool.ReportAsync()).Received;
                progress.Phase($"{server.Name} S4: {steadyRate:0}/s to {clients} for {size.SteadyFor.TotalSeconds:0} s");
                long published = steadyRate > 0 ? await RatePublisher.RunAsync(publisher, steadyRate, size.SteadyFor, _ => "steady", PayloadBytes) : 0;
                long due = (published - publisher.Errors) * clients;
                PoolReport report = await DrainAsync(pool, before, due);
                return (report.Latency.Summarize(), due, report.Received - before);
            });
        }

        var lasts = new LatencyHistogram();
        await using (WorkerPool pool = WorkerPool.Start(size.BurstClients, placement.GeneratorCpus))
        await using (HttpPublisher publisher = await HttpPublisher.ConnectAsync(server.Nodes, 1))
        {
            progress.Phase($"{server.Name} S4: connecting {size.BurstClients} for bursts");
            await ConnectAllAsync(pool, Enumerable.Repeat(server.WebSocketPath("burst"), size.BurstClients).ToList());
            await WarmUpAsync(pool, publisher, ["burst"], size.BurstClients);
            CpuCounters burstsFrom = CpuCounters.Read();
            for (int burst = 0; burst < size.Bursts; burst++)
            {
                await pool.ResetAsync();
                long before = (await pool.ReportAsync()).Received;
                long due = Stopwatch.GetTimestamp();
                await publisher.PublishAsync("burst", HttpPublisher.Body(due, PayloadBytes), due);
                PoolReport report = await DrainAsync(pool, before, size.BurstClients);
                if (report.Received - before >= size.BurstClients)
                {
                    lasts.Record(report.Latency.Max);
                }

                progress.Phase($"{server.Name} S4: burst {burst + 1}/{size.Bursts}");
            }

            quiet.Record($"{server.Name} S4 bursts", burstsFrom);
        }

        return new SteadyResult(steadyRate, clients, expected, received, steady, size.BurstClients, lasts.Summarize());
    }

    /// <summary>
    /// S5: 2 KB events at 40 a second to one session; partway through, some clients stop reading.
    /// Do the others notice? Does the server's memory grow? When are the stalled ones closed? Over
    /// a progress stream (<see cref="SuiteSize.SlowStream"/>), also: do the stalled ones stay, and
    /// are they current once they read again?
    /// </summary>
    public async Task<SlowResult> SlowConsumersAsync()
    {
        bool progressStream = size.SlowStream != SlowStream.Bench;
        bool conflatable = size.SlowStream == SlowStream.Progress;
        double rate = progressStream ? 200 : 40;
        const int Bytes = 2048;
        TimeSpan stall = size.SlowFor - size.SlowStopAt;
        if (progressStream && stall > ProgressStall)
        {
            stall = ProgressStall;
        }

        int healthy = size.SlowClients - size.SlowStopped;
        await using WorkerPool pool = WorkerPool.Start(size.SlowClients, placement.GeneratorCpus);
        await using HttpPublisher publisher = await HttpPublisher.ConnectAsync(server.Nodes, 2);
        progress.Phase($"{server.Name} S5: connecting");
        await ConnectAllAsync(pool, Enumerable.Repeat(server.WebSocketPath("slow"), size.SlowClients).ToList(), receiveBuffer: SlowReceiveBuffer);
        await WarmUpAsync(pool, publisher, ["slow"], size.SlowClients);

        var rss = new List<double>();
        using var sampling = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (await timer.WaitForNextTickAsync(sampling.Token).AsTask().ContinueWith(t => !t.IsCanceled && t.Result, TaskScheduler.Default))
            {
                rss.Add(ProcStats.ResidentBytes(server.Processes) / 1048576.0);
            }
        });

        // Before: everyone reads.
        progress.Phase($"{server.Name} S5: {size.SlowClients} clients reading");
        long published = await RatePublisher.RunAsync(publisher, rate, size.SlowStopAt, _ => "slow", Bytes, conflatable: conflatable);
        PoolReport before = await DrainAsync(pool, 0, published * size.SlowClients);
        if (progressStream)
        {
            // Counted from a quiet point: everything published before the stall has arrived.
            before = await DrainAsync(pool, before.Received, 0, allowMore: true);
        }

        await pool.ResetAsync();

        // After: some stop.
        await pool.PauseAsync(size.SlowStopped);
        progress.Phase($"{server.Name} S5: {size.SlowStopped} clients stopped reading");
        long later = await RatePublisher.RunAsync(publisher, rate, stall, _ => "slow", Bytes, conflatable: conflatable);
        PoolReport after = await DrainAsync(pool, before.Received, later * healthy, allowMore: true);
        SlowProgressResult? progressResult = null;
        if (progressStream)
        {
            // The stalled read again, and a second more is published: are they still there, and current?
            await pool.ResumeAsync();
            await pool.ResetAsync();
            progress.Phase($"{server.Name} S5: stalled clients read again");
            long tail = await RatePublisher.RunAsync(publisher, rate, TimeSpan.FromSeconds(1), _ => "slow", Bytes, conflatable: conflatable);
            PoolReport end = await DrainAsync(pool, after.Received, 0, allowMore: true);
            progressResult = new SlowProgressResult(conflatable, rate, stall.TotalSeconds, (later + tail) * size.SlowClients,
                end.Received - before.Received, end.Conflated - before.Conflated, end.ClosedAfter.Length, end.Latency.Summarize());
        }

        await sampling.CancelAsync();
        await sampler;

        // The stalled clients read again, to learn how the server closed those it closed (code 0
        // until they get there): what it had buffered for them, then a close frame or the end.
        await pool.ResumeAsync();
        PoolReport closes = await pool.ReportAsync();
        var settling = Stopwatch.StartNew();
        while (closes.CloseCodes.ContainsKey("0") && settling.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(250);
            closes = await pool.ReportAsync();
        }

        // What the healthy clients got after the stop: all received since, minus what reached the stalled before they stalled.
        long healthyReceived = Math.Min(after.Received - before.Received, later * healthy);
        return new SlowResult(size.SlowClients, size.SlowStopped, before.Latency.Summarize(), after.Latency.Summarize(),
            later * healthy, healthyReceived, closes.ClosedAfter, closes.CloseCodes, [.. rss], progressResult);
    }

    /// <summary>One rate of S3, on fresh publishing connections.</summary>
    private async Task<ManyResult> ManyStepAsync(WorkerPool pool, double rate, int clientsPerSession)
    {
        await using HttpPublisher publisher = await HttpPublisher.ConnectAsync(server.Nodes, 16);
        await pool.ResetAsync();
        long before = (await pool.ReportAsync()).Received;
        progress.Phase($"{server.Name} S3: {rate:0}/s over {size.ManySessions} sessions");
        Dictionary<string, double> cpuBefore = ProcStats.CpuSeconds(server.Processes);
        long published = await RatePublisher.RunAsync(publisher, rate, size.ManyFor, k => $"many-{k % size.ManySessions}", PayloadBytes);
        long expected = (published - publisher.Errors) * clientsPerSession;
        PoolReport report = await DrainAsync(pool, before, expected);
        Dictionary<string, double> cpu = CpuByProcess.Since(ProcStats.CpuSeconds(server.Processes), cpuBefore);
        var result = new ManyResult(rate, published, expected, report.Received - before, publisher.Latency.Summarize(), report.Latency.Summarize(), publisher.Errors,
            CpuByProcess.PerMillion(cpu.Values.Sum(), expected), CpuByProcess.PerMillion(cpu, expected));
        string split = CpuByProcess.Describe(result.CpuSecondsPerMillionByProcess);
        progress.Line($"  {server.Name} S3 {rate:0}/s: received {result.Received}/{expected}{(result.PublishErrors > 0 ? $" ({result.PublishErrors} publish errors)" : "")}, publish p99 {LatencySummary.Milliseconds(result.Publish.P99)} ms, delivery p99 {LatencySummary.Milliseconds(result.Delivery.P99)} max {LatencySummary.Milliseconds(result.Delivery.Max)} ms, {result.CpuSecondsPerMillion:0.00} CPU s per million{(split.Length > 0 ? $" ({split})" : "")}");
        return result;
    }

    private async Task<StepResult> StepAsync(WorkerPool pool, HttpPublisher publisher, double rate, int clients, Func<long, string> session, TimeSpan p99Limit)
    {
        publisher.Latency.Reset();
        await pool.ResetAsync();
        PoolReport start = await pool.ReportAsync();
        long before = start.Received;
        long bytesBefore = start.Bytes;
        Dictionary<string, double> cpuBefore = ProcStats.CpuSeconds(server.Processes);
        progress.Phase($"{server.Name} S2 N={clients}: {rate:0.#} events/s = {rate * clients:0} deliveries/s");
        long published = await RatePublisher.RunAsync(publisher, rate, size.StepFor, session, size.FanOutPayloadBytes, rows: size.FanOutPayloadBytes > PayloadBytes);
        long expected = (published - publisher.Errors) * clients;
        PoolReport report = await DrainAsync(pool, before, expected);
        Dictionary<string, double> cpu = CpuByProcess.Since(ProcStats.CpuSeconds(server.Processes), cpuBefore);
        double totalCpu = cpu.Values.Sum();
        string split = CpuByProcess.Describe(cpu);
        LatencySummary latency = report.Latency.Summarize();
        long received = report.Received - before;
        bool passed = received == expected && publisher.Errors == 0 && latency.P99 <= p99Limit.TotalMicroseconds;
        string wire = received > 0 ? $", {(report.Bytes - bytesBefore) / (double)received:0} B on the wire a delivery" : "";
        progress.Line($"  {server.Name} S2 N={clients} rate {rate:0.#}/s: received {received}/{expected}{wire}{(publisher.Errors > 0 ? $" ({publisher.Errors} publish errors)" : "")}, p50 {LatencySummary.Milliseconds(latency.P50)} p99 {LatencySummary.Milliseconds(latency.P99)} max {LatencySummary.Milliseconds(latency.Max)} ms (publish p99 {LatencySummary.Milliseconds(publisher.Latency.Percentile(0.99))} ms), server CPU {totalCpu:0.00} s{(split.Length > 0 ? $" ({split})" : "")}: {(passed ? "pass" : "fail")}");
        return new StepResult(rate, expected, received, latency, totalCpu, passed, cpu);
    }

    /// <summary>
    /// A few events through every session first, so that what is measured is the server at work,
    /// not its first-call costs (JIT, pools, connection set-up); then the histograms start afresh.
    /// </summary>
    private async Task WarmUpAsync(WorkerPool pool, HttpPublisher publisher, string[] sessions, int clientsPerSession)
    {
        // Light load for a while (five seconds, 1.5 in the quick suite), so that a tiered JIT has
        // optimized most of the hot path: on one busy core, .NET's background compiler was seen
        // still working 20 s into a run.
        progress.Phase($"{server.Name}: warming up");
        long before = (await pool.ReportAsync()).Received;
        int rounds = size.Quick ? 15 : 50;
        for (int round = 0; round < rounds; round++)
        {
            await Task.WhenAll(sessions.Select(session =>
            {
                long due = Stopwatch.GetTimestamp();
                return publisher.PublishAsync(session, HttpPublisher.Body(due, PayloadBytes), due);
            }));
            await Task.Delay(100);
        }

        await DrainAsync(pool, before, (long)rounds * sessions.Length * clientsPerSession);
        publisher.Latency.Reset();
        await pool.ResetAsync();
    }

    private async Task ConnectAllAsync(WorkerPool pool, List<string> paths, int receiveBuffer = 0, bool deflate = false)
    {
        ConnectResult result = await pool.ConnectAsync(server.Nodes, paths, server.IsSignalR, inFlight: 256, receiveBuffer, deflate);
        if (result.Failed > 0)
        {
            progress.Line($"  {server.Name}: {result.Failed} of {paths.Count} connections failed: {result.FirstError}");
        }
    }

    /// <summary>
    /// Waits until the clients have what they are due, or nothing more arrives for a second (or,
    /// with <paramref name="allowMore"/>, until it stops arriving); returns the report then.
    /// </summary>
    private async Task<PoolReport> DrainAsync(WorkerPool pool, long before, long expected, bool allowMore = false)
    {
        PoolReport report = await pool.ReportAsync();
        long last = report.Received;
        var quiet = Stopwatch.StartNew();
        var overall = Stopwatch.StartNew();
        while ((allowMore || report.Received - before < expected) && quiet.Elapsed < TimeSpan.FromSeconds(1) && overall.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
            report = await pool.ReportAsync();
            if (report.Received != last)
            {
                last = report.Received;
                quiet.Restart();
            }
        }

        return report;
    }

    public static string Format(double value) => value.ToString("#,0", CultureInfo.InvariantCulture);
}
