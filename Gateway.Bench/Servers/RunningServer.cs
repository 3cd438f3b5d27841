using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Gateway.Bench.Servers;

/// <summary>
/// One process of a server under test, started by <see cref="ServerCatalog"/>: where to reach it,
/// what it costs, and how to stop it (SIGTERM, then a kill past its deadline). Most servers are one
/// such process; gateway-redis is three, gateway-redis-1 two (see <see cref="ServerGroup"/>).
/// </summary>
internal sealed class RunningServer : IAsyncDisposable
{
    /// <summary>How long a server has to be ready after its start: the gateway JITs on one core.</summary>
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan ReadyPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Lines of the server's console kept for errors.</summary>
    private const int KeptOutputLines = 200;

    // One client for every server: readiness polls and statistics. A peer's /stats runs a full
    // collection of a heap that may hold thousands of connections, hence the long timeout; idle
    // connections go early because Node closes its idle keep-alive connections after 5 s.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2) })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    private static readonly Lazy<double> ClockTicksPerSecond = new(ReadClockTicks);

    /// <summary>How long a full collection of the gateway's heap may take to show in its /metrics.</summary>
    private static readonly TimeSpan FullCollectionDeadline = TimeSpan.FromSeconds(30);

    private readonly Launch _launch;
    private readonly Process _process;
    private readonly OutputTail _output;
    private readonly Lock _stopLock = new();
    private Task<bool>? _stop;

    private RunningServer(Launch launch, Process process, OutputTail output)
    {
        _launch = launch;
        _process = process;
        _output = output;
        Pid = process.Id;
    }

    /// <summary>The catalog's name of the server (with the process's role, for a server of several processes).</summary>
    public string Name => _launch.Name;

    /// <summary>The server's process (taskset runs it in its own process: the id is the server's).</summary>
    public int Pid { get; }

    /// <summary><c>http://127.0.0.1:port/</c> (<c>redis://127.0.0.1:port/</c> for a redis-server).</summary>
    public Uri BaseUri => _launch.BaseUri;

    /// <summary>True for the SignalR peer: clients send the JSON handshake first and events arrive as invocation records.</summary>
    public bool IsSignalR => _launch.IsSignalR;

    /// <summary>How the server was started, as a person would type it.</summary>
    public string CommandLine => Toolchain.CommandLine(_launch.Program, _launch.Arguments);

    /// <summary>The last lines the server wrote to its console.</summary>
    public string RecentOutput => _output.ToString();

    /// <summary>The WebSocket path and query for a session: <c>/ws/{session}</c>, or <c>/hub?session={session}</c> for SignalR.</summary>
    public string WebSocketPath(string session) =>
        IsSignalR ? "/hub?session=" + Uri.EscapeDataString(session) : "/ws/" + Uri.EscapeDataString(session);

    /// <summary>
    /// Resident memory and CPU time from /proc, and the managed heap and open connections from the
    /// server: a peer's <c>/stats</c> or the gateway's <c>/metrics</c>, the heap after a full
    /// collection either way (the peers run one themselves; the gateway's is asked of its runtime,
    /// <see cref="FullCollection"/>). A collection costs the server a pause: read these between
    /// measurements, and resident memory before them. Heap and connections are null when the
    /// server does not answer, and for a redis-server.
    /// </summary>
    public async Task<ServerStats> ReadStatsAsync()
    {
        long rss = ResidentBytes(Pid);
        double cpu = CpuSeconds(Pid);
        (long? heap, int? connections) = (null, null);
        try
        {
            if (_launch.Stats == StatsSource.Metrics)
            {
                (string metrics, bool collected) = await ReadMetricsAfterFullCollectionAsync();
                (heap, connections) = ParseMetrics(metrics);
                heap = collected ? heap : null;
            }
            else if (_launch.Stats == StatsSource.StatsEndpoint)
            {
                using JsonDocument stats = JsonDocument.Parse(await Http.GetStringAsync(new Uri(BaseUri, "/stats")));
                heap = stats.RootElement.GetProperty("heapBytes").GetInt64();
                connections = stats.RootElement.GetProperty("connections").GetInt32();
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException)
        {
            // The process figures above still hold; the server's own view is missing.
        }

        return new ServerStats(rss, cpu, heap, connections);
    }

    /// <summary>
    /// Sends SIGTERM (<c>kill -TERM pid</c>) and waits for the exit; past the server's deadline,
    /// kills it. True when it exited by itself after the SIGTERM. Later calls return the first one's answer.
    /// </summary>
    public Task<bool> StopAsync()
    {
        lock (_stopLock)
        {
            return _stop ??= StopCoreAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    /// <summary>Starts the process and returns once <see cref="Launch.Ready"/> says it takes work.</summary>
    internal static async Task<RunningServer> StartAsync(Launch launch)
    {
        var start = new ProcessStartInfo(launch.Program, launch.Arguments)
        {
            WorkingDirectory = launch.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in launch.Environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var output = new OutputTail(KeptOutputLines);
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => output.Add(e.Data);
        process.ErrorDataReceived += (_, e) => output.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // Servers read nothing from stdin; an end of file there is all they should see.
        process.StandardInput.Close();

        var server = new RunningServer(launch, process, output);
        try
        {
            await server.WaitUntilReadyAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private async Task WaitUntilReadyAsync()
    {
        var waited = Stopwatch.StartNew();
        ReadyCheck ready = _launch.Ready;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"{Name} exited with code {_process.ExitCode} before it was ready ({ready.Description}): `{CommandLine}`{Environment.NewLine}{RecentOutput}");
            }

            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                if (await ready.ProbeAsync(attempt.Token))
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or SocketException or IOException)
            {
                // Not listening yet.
            }

            if (waited.Elapsed > ReadyTimeout)
            {
                throw new TimeoutException(
                    $"{Name} was not ready within {ReadyTimeout.TotalSeconds:0} s ({ready.Description}): `{CommandLine}`{Environment.NewLine}{RecentOutput}");
            }

            await Task.Delay(ReadyPollInterval);
        }
    }

    private async Task<bool> StopCoreAsync()
    {
        if (_process.HasExited)
        {
            return false;
        }

        string kill = Toolchain.Find("kill") ?? "/bin/kill";
        using (Process term = Process.Start(kill, ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        using var deadline = new CancellationTokenSource(_launch.StopTimeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            return false;
        }
    }

    /// <summary>
    /// The gateway's <c>/metrics</c> once its count of full (generation 2) collections has grown
    /// after a full collection was asked of its runtime; with false when it could not be asked or
    /// was not seen in time, and the text read last.
    /// </summary>
    private async Task<(string Metrics, bool Collected)> ReadMetricsAfterFullCollectionAsync()
    {
        var address = new Uri(BaseUri, "/metrics");
        string metrics = await Http.GetStringAsync(address);
        if (FullCollections(metrics) is not { } before)
        {
            return (metrics, false);
        }

        bool collected = await FullCollection.RunAsync(Pid, async () =>
        {
            metrics = await Http.GetStringAsync(address);
            return FullCollections(metrics) > before;
        }, FullCollectionDeadline);
        return (metrics, collected);
    }

    /// <summary>The count of generation 2 collections in <c>dotnet_gc_collections_total</c>, or null when absent.</summary>
    private static long? FullCollections(string metrics)
    {
        foreach ((string name, string labels, double value) in Samples(metrics))
        {
            if (name == "dotnet_gc_collections_total" && labels.Contains("gc_heap_generation=\"gen2\"", StringComparison.Ordinal))
            {
                return (long)value;
            }
        }

        return null;
    }

    /// <summary>Sums the generations of <c>dotnet_gc_last_collection_heap_size_bytes</c>; reads the WebSocket connections open.</summary>
    /// <remarks>
    /// Matched by name and by the one label that matters: the exporter adds labels of its own
    /// (<c>otel_scope_name</c>), in an order of its choosing.
    /// </remarks>
    internal static (long? Heap, int? Connections) ParseMetrics(string metrics)
    {
        const string HeapMetric = "dotnet_gc_last_collection_heap_size_bytes";
        const string ConnectionsMetric = "gateway_connections_open";
        double? heap = null;
        int? connections = null;
        foreach ((string name, string labels, double value) in Samples(metrics))
        {
            if (name == HeapMetric)
            {
                heap = (heap ?? 0) + value;
            }
            else if (name == ConnectionsMetric
                && (labels.Contains("{transport=\"websocket\"", StringComparison.Ordinal) || labels.Contains(",transport=\"websocket\"", StringComparison.Ordinal)))
            {
                connections = (int)value;
            }
        }

        return ((long?)heap, connections);
    }

    /// <summary>The samples of a Prometheus text exposition: name, the braces of labels (or empty), and value.</summary>
    private static IEnumerable<(string Name, string Labels, double Value)> Samples(string metrics)
    {
        foreach (string line in metrics.Split('\n'))
        {
            int space = line.LastIndexOf(' ');
            if (space < 0 || line.StartsWith('#')
                || !double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                continue;
            }

            int brace = line.IndexOf('{');
            int nameEnd = brace >= 0 && brace < space ? brace : space;
            yield return (line[..nameEnd].Trim(), line[nameEnd..space], value);
        }
    }

    private static long ResidentBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                // "VmRSS:     123456 kB"
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    private static double CpuSeconds(int pid)
    {
        // The command name is in parentheses and may hold spaces: count the fields after it. utime
        // and stime are fields 14 and 15 of proc(5), the 12th and 13th after the name.
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / ClockTicksPerSecond.Value;
    }

    /// <summary>The unit of utime and stime: <c>getconf CLK_TCK</c>, 100 on Linux.</summary>
    private static double ReadClockTicks()
    {
        try
        {
            using Process getconf = Process.Start(new ProcessStartInfo("getconf", ["CLK_TCK"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
            string text = getconf.StandardOutput.ReadToEnd();
            getconf.WaitForExit();
            return double.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out double ticks) && ticks > 0 ? ticks : 100;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 100;
        }
    }

    /// <summary>What <see cref="ServerCatalog"/> decided about a start.</summary>
    /// <param name="Name">The catalog's name of the server, with the process's role where it has several.</param>
    /// <param name="Program">What is executed: taskset, dotnet, node, redis-server, or the server's binary.</param>
    /// <param name="Arguments">Its arguments.</param>
    /// <param name="WorkingDirectory">The server's folder.</param>
    /// <param name="BaseUri"><c>http://127.0.0.1:port/</c>, or <c>redis://127.0.0.1:port/</c>.</param>
    /// <param name="Ready">How to tell that the process takes work.</param>
    /// <param name="Stats">Where the heap and the connections are read.</param>
    /// <param name="IsSignalR">The SignalR peer.</param>
    /// <param name="StopTimeout">How long the server has to exit after SIGTERM.</param>
    /// <param name="Environment">Variables set for this process on top of the bench's own environment; none when null.</param>
    internal sealed record Launch(
        string Name, string Program, IReadOnlyList<string> Arguments, string WorkingDirectory, Uri BaseUri,
        ReadyCheck Ready, StatsSource Stats, bool IsSignalR, TimeSpan StopTimeout, IReadOnlyDictionary<string, string>? Environment = null);

    /// <summary>
    /// One attempt at telling whether a started process takes work, and what it waits for, for
    /// errors. An exception of the kinds a process that is not listening yet causes counts as "not yet".
    /// </summary>
    /// <param name="Description">What is awaited, as errors say it.</param>
    /// <param name="ProbeAsync">One attempt; true once the process is ready.</param>
    internal sealed record ReadyCheck(string Description, Func<CancellationToken, Task<bool>> ProbeAsync)
    {
        /// <summary>A 2xx answer to a GET of <paramref name="address"/>.</summary>
        public static ReadyCheck Http(Uri address) => new($"a 2xx answer to GET {address}", async token =>
        {
            using HttpResponseMessage response = await RunningServer.Http.GetAsync(address, token);
            return response.IsSuccessStatusCode;
        });

        /// <summary>
        /// <c>+PONG</c> to a PING on 127.0.0.1:<paramref name="port"/>: redis-server answers once it
        /// accepts connections (it answers <c>-LOADING</c> while it reads a data file; it has none here).
        /// </summary>
        public static ReadyCheck RedisPing(int port) => new($"+PONG to PING on 127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", async token =>
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, token);
            NetworkStream stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), token);
            byte[] reply = new byte[64];
            int read = await stream.ReadAsync(reply, token);
            return reply.AsSpan(0, read).StartsWith("+PONG"u8);
        });
    }

    /// <summary>Where <see cref="ReadStatsAsync"/> reads the heap and the connections, beside /proc.</summary>
    internal enum StatsSource
    {
        /// <summary>The gateway's Prometheus <c>/metrics</c>.</summary>
        Metrics,

        /// <summary>A peer's <c>/stats</c> (peers/CONTRACT.md).</summary>
        StatsEndpoint,

        /// <summary>Nowhere: a process that is not a WebSocket server (redis-server); /proc only.</summary>
        None,
    }
}

/// <summary>What a running server costs at one moment.</summary>
/// <param name="RssBytes">Resident memory (VmRSS); kernel socket buffers are not in it.</param>
/// <param name="CpuSeconds">User plus system CPU time since the start.</param>
/// <param name="HeapBytes">The managed heap after a full collection; null when unreadable.</param>
/// <param name="Connections">Open WebSocket connections as the server counts them, or null.</param>
internal sealed record ServerStats(long RssBytes, double CpuSeconds, long? HeapBytes, int? Connections);
