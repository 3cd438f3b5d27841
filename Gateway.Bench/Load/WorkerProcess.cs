using System.Diagnostics;
using System.Text.Json;

namespace Gateway.Bench.Load;

/// <summary>The coordinator's handle on one generator process.</summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    /// <summary>At most this many clients per process: each holds a socket, and a process may hold 20,000 files.</summary>
    public const int MaxClients = 9000;

    private readonly Process _process;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private WorkerProcess(Process process) => _process = process;

    public int Pid => _process.Id;

    /// <summary>Starts this program as a worker, pinned to <paramref name="cpus"/> when taskset is there.</summary>
    public static WorkerProcess Start(string cpus)
    {
        string self = Environment.ProcessPath!;
        string assembly = typeof(WorkerProcess).Assembly.Location;
        bool isDotnetHost = Path.GetFileNameWithoutExtension(self) == "dotnet";
        var arguments = new List<string>();
        string program = self;
        if (File.Exists("/usr/bin/taskset"))
        {
            program = "/usr/bin/taskset";
            arguments.AddRange(["-c", cpus, self]);
        }

        if (isDotnetHost)
        {
            arguments.Add(assembly);
        }

        arguments.Add("worker");
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        arguments.ForEach(start.ArgumentList.Add);
        start.Environment["DOTNET_gcServer"] = "0";

        // Fully optimized code from the first event: a generator warming up its JIT would add
        // its own latency to the first measurements.
        start.Environment["DOTNET_TieredCompilation"] = "0";
        return new WorkerProcess(Process.Start(start)!);
    }

    public async Task<WorkerReport> SendAsync(WorkerCommand command, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await _process.StandardInput.WriteLineAsync(WorkerJson.Write(command).AsMemory(), cancellationToken);
            await _process.StandardInput.FlushAsync(cancellationToken);
            string? line = await _process.StandardOutput.ReadLineAsync(cancellationToken)
                ?? throw new InvalidOperationException($"worker {Pid} exited");
            return JsonSerializer.Deserialize(line, WorkerJson.Default.WorkerReport)!;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await SendAsync(new WorkerCommand("quit")).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
        {
        }

        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

/// <summary>Several workers driven as one: clients spread over them, reports merged.</summary>
internal sealed class WorkerPool : IAsyncDisposable
{
    private readonly List<WorkerProcess> _workers;

    private WorkerPool(List<WorkerProcess> workers) => _workers = workers;

    public IReadOnlyList<WorkerProcess> Workers => _workers;

    /// <summary>Starts enough workers for <paramref name="clients"/> clients.</summary>
    public static WorkerPool Start(int clients, string cpus)
    {
        int count = Math.Max(1, (clients + WorkerProcess.MaxClients - 1) / WorkerProcess.MaxClients);
        return new WorkerPool(Enumerable.Range(0, count).Select(_ => WorkerProcess.Start(cpus)).ToList());
    }

    /// <summary>
    /// Connects one client per path, the paths dealt round-robin to the workers, each client to
    /// one of <paramref name="nodes"/> (the addresses of one server's nodes, on one host) as
    /// <see cref="SpreadOverNodes"/> decides.
    /// </summary>
    public async Task<ConnectResult> ConnectAsync(IReadOnlyList<Uri> nodes, IReadOnlyList<string> paths, bool signalR, int inFlight, int receiveBuffer = 0, bool deflate = false)
    {
        if (nodes.Any(n => n.Host != nodes[0].Host))
        {
            throw new ArgumentException($"the nodes must share one host: {string.Join(", ", nodes)}", nameof(nodes));
        }

        int[] spread = SpreadOverNodes(paths, nodes.Count);
        var shares = _workers.Select(_ => new List<int>()).ToList();
        for (int i = 0; i < paths.Count; i++)
        {
            shares[i % shares.Count].Add(i);
        }

        var stopwatch = Stopwatch.StartNew();
        WorkerReport[] reports = await Task.WhenAll(_workers.Select((w, i) => w.SendAsync(new WorkerCommand(
            "connect", nodes[0].Host, nodes[0].Port, [.. shares[i].Select(p => paths[p])], signalR, Math.Max(1, inFlight / _workers.Count), ReceiveBuffer: receiveBuffer,
            Ports: nodes.Count > 1 ? [.. shares[i].Select(p => nodes[spread[p]].Port)] : null, Deflate: deflate))));
        return new ConnectResult(reports.Sum(r => r.Connected), reports.Sum(r => r.Failed), stopwatch.Elapsed.TotalSeconds,
            reports.Select(r => r.FirstError).FirstOrDefault(e => e is not null));
    }

    /// <summary>
    /// The node of each path's client: the clients of a session take the nodes in turn, the first
    /// on the node after the previous session's first, so that every session of two clients or
    /// more has clients on every node (each of its events must cross the backplane, the case a
    /// backplane exists for) and the nodes hold as many clients as each other, give or take one a session.
    /// </summary>
    internal static int[] SpreadOverNodes(IReadOnlyList<string> paths, int nodes)
    {
        var next = new Dictionary<string, int>(StringComparer.Ordinal);
        int[] spread = new int[paths.Count];
        for (int i = 0; i < paths.Count; i++)
        {
            if (!next.TryGetValue(paths[i], out int node))
            {
                node = next.Count % nodes;
            }

            spread[i] = node;
            next[paths[i]] = (node + 1) % nodes;
        }

        return spread;
    }

    public Task ResetAsync() => Task.WhenAll(_workers.Select(w => w.SendAsync(new WorkerCommand("reset"))));

    public async Task PauseAsync(int clients)
    {
        // The last clients of the first worker stop reading.
        await _workers[0].SendAsync(new WorkerCommand("pause", Count: clients));
    }

    /// <summary>The paused clients read again: what was buffered for them, then how the server closed them, if it did.</summary>
    public Task ResumeAsync() => _workers[0].SendAsync(new WorkerCommand("resume"));

    public async Task<PoolReport> ReportAsync()
    {
        WorkerReport[] reports = await Task.WhenAll(_workers.Select(w => w.SendAsync(new WorkerCommand("report"))));
        var histogram = new LatencyHistogram();
        var codes = new Dictionary<string, int>();
        foreach (WorkerReport report in reports)
        {
            histogram.Add(report.Histogram ?? []);
            foreach ((string code, int count) in report.CloseCodes ?? [])
            {
                codes[code] = codes.GetValueOrDefault(code) + count;
            }
        }

        return new PoolReport(reports.Sum(r => r.Received), reports.Sum(r => r.Closed), codes,
            reports.SelectMany(r => r.ClosedAfter ?? []).ToArray(), histogram, reports.Sum(r => r.CpuSeconds), reports.Sum(r => r.Conflated), reports.Sum(r => r.Bytes));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (WorkerProcess worker in _workers)
        {
            await worker.DisposeAsync();
        }
    }
}

internal sealed record ConnectResult(int Connected, int Failed, double Seconds, string? FirstError);

/// <summary>What the pool's clients saw; <see cref="Conflated"/> sums the <c>conflated</c> counts of the events they received.</summary>
internal sealed record PoolReport(long Received, int Closed, Dictionary<string, int> CloseCodes, double[] ClosedAfter, LatencyHistogram Latency, double CpuSeconds, long Conflated = 0, long Bytes = 0);
