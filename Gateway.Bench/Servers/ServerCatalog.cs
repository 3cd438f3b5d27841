using System.Globalization;
using System.Runtime.InteropServices;
using Gateway.Configuration;

namespace Gateway.Bench.Servers;

/// <summary>
/// The servers under test, by name: the gateway, the gateway precompiled, the gateway as two nodes sharing a Redis
/// backplane or as one node over Redis, and its peers (<c>Gateway.Bench/peers</c>, see <c>peers/CONTRACT.md</c>). Builds each
/// once per catalog and starts any of them, every process pinned to the given CPUs, on free ports
/// of 127.0.0.1.
/// </summary>
internal sealed class ServerCatalog
{
    /// <summary>Every server the catalog knows, in the order a comparison shows them.</summary>
    public static readonly IReadOnlyList<string> Names = ["gateway", "gateway-precompiled", "gateway-redis", "gateway-redis-1", "gateway-cluster", "kestrel-naive", "signalr", "node-ws", "go-gorilla", "floor", "floor-batched"];

    /// <summary>
    /// The gateway's settings for the bench, each overridable by <see cref="StartAsync(string, string[], IDictionary{string, string}?)"/>:
    /// room for the bench's connections under the process's 20,000 open files, no per-client message
    /// rate limit (the bench's clients only listen), and warnings only on the console.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> DefaultGatewaySettings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["Gateway:Limits:MaxConnections"] = "19000",
        ["Gateway:Limits:MessagesPerSecond"] = "0",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <summary>The .NET projects' output folder under their <c>bin/Release</c>: the target framework of Directory.Build.props.</summary>
    private const string TargetFramework = "net10.0";

    /// <summary>Where Debian's golang-github-gorilla-websocket-dev puts the source; go-gorilla/go.mod points here.</summary>
    private const string GorillaSource = "/usr/share/gocode/src/github.com/gorilla/websocket";

    /// <summary>
    /// The gateway nodes of gateway-redis: two, the fewest for which an event published to one node
    /// has to cross Redis to reach the clients of the other.
    /// </summary>
    private const int RedisNodes = 2;

    /// <summary>Where gateway-precompiled is published, under the plain build's output folder.</summary>
    private const string PrecompiledFolder = "precompiled";

    /// <summary>The primaries of gateway-cluster's Redis Cluster (no replicas: the bench measures fan-out, not failover).</summary>
    private const int ClusterShards = 3;

    private static readonly Definition[] Definitions =
    [
        new("gateway", Kind.Gateway, "Gateway", "Gateway.csproj", "Gateway.dll"),

        // The same code published with ReadyToRun for this machine's platform: a fresh process
        // starts from precompiled code instead of the JIT's first tier (docs/benchmarks.md, "S1's connects").
        new("gateway-precompiled", Kind.Gateway, "Gateway", "Gateway.csproj", Path.Combine(PrecompiledFolder, "Gateway.dll")) { Precompiled = true },
        new("gateway-redis", Kind.GatewayRedis, "Gateway", "Gateway.csproj", "Gateway.dll"),
        new("gateway-redis-1", Kind.GatewayRedis, "Gateway", "Gateway.csproj", "Gateway.dll") { Nodes = 1, RedisApart = true },
        new("gateway-cluster", Kind.GatewayCluster, "Gateway", "Gateway.csproj", "Gateway.dll"),
        new("kestrel-naive", Kind.DotNet, "Gateway.Bench/peers/kestrel-naive", "KestrelNaive.csproj", "KestrelNaive.dll"),
        new("signalr", Kind.DotNet, "Gateway.Bench/peers/signalr", "SignalRPeer.csproj", "SignalRPeer.dll"),
        new("node-ws", Kind.Node, "Gateway.Bench/peers/node-ws", "package.json", "server.js"),
        new("go-gorilla", Kind.Go, "Gateway.Bench/peers/go-gorilla", "go.mod", "bin/go-gorilla"),
        new("floor", Kind.DotNet, "Gateway.Bench/peers/floor", "Floor.csproj", "Floor.dll"),
        new("floor-batched", Kind.DotNet, "Gateway.Bench/peers/floor", "Floor.csproj", "Floor.dll", ["--batch"]),
    ];

    private readonly TextWriter? _log;
    private readonly Dictionary<string, Task> _builds = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <param name="repositoryRoot">The folder holding gateway.sln; found above the running program when null.</param>
    /// <param name="log">Where to say which build command runs; silent when null.</param>
    public ServerCatalog(string? repositoryRoot = null, TextWriter? log = null)
    {
        RepositoryRoot = repositoryRoot ?? FindRepositoryRoot();
        _log = log;
    }

    /// <summary>Environment variables given to every gateway process started, on top of the bench's own environment; peers get none of them.</summary>
    public IReadOnlyDictionary<string, string> GatewayEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Client options after the address in every gateway node's Redis connection string, such as <c>,sharedSubscriptionConnection=true</c>.</summary>
    public string RedisOptions { get; init; } = "";

    /// <summary>The folder holding gateway.sln.</summary>
    public string RepositoryRoot { get; }

    /// <summary>
    /// Builds the server, once per catalog (floor and floor-batched share one build, and so do the
    /// gateway and gateway-redis); a failed build is tried again on the next call. A missing
    /// toolchain, or a missing redis-server for gateway-redis, fails with the package to install.
    /// </summary>
    public Task BuildAsync(string name)
    {
        Definition server = Find(name);
        if (server.Kind is Kind.GatewayRedis or Kind.GatewayCluster)
        {
            _ = RedisServerProgram(name);
        }

        lock (_lock)
        {
            string key = server.Precompiled ? $"{server.Directory} ({PrecompiledFolder})" : server.Directory;
            if (!_builds.TryGetValue(key, out Task? build) || build.IsFaulted || build.IsCanceled)
            {
                build = BuildCoreAsync(server);
                _builds[key] = build;
            }

            return build;
        }
    }

    /// <summary>
    /// Builds the server if needed and starts it on free ports of 127.0.0.1, every process pinned
    /// with <c>taskset -c</c> to <paramref name="cpuList"/> (not pinned when empty, or when taskset
    /// is missing); returns once every process is ready: HTTP answers, and for gateway-redis, a
    /// redis-server answers PING and each node's <c>/readyz</c> says its Redis link is up.
    /// gateway-redis-1's redis-server is pinned to the machine's other CPUs instead (see
    /// <see cref="RedisCpus"/>), so that its node has <paramref name="cpuList"/> to itself.
    /// <paramref name="gatewaySettings"/> (configuration keys such as
    /// <c>Gateway:Limits:MaxLagBytes</c>) go to the gateway's nodes on top of
    /// <see cref="DefaultGatewaySettings"/>; peers ignore them.
    /// </summary>
    public async Task<ServerGroup> StartAsync(string name, string[] cpuList, IDictionary<string, string>? gatewaySettings = null)
    {
        Definition server = Find(name);
        await BuildAsync(name);
        if (server.Kind == Kind.GatewayRedis)
        {
            return await StartRedisPairAsync(server, cpuList, gatewaySettings);
        }

        if (server.Kind == Kind.GatewayCluster)
        {
            return await StartClusterAsync(server, cpuList, gatewaySettings);
        }

        var group = new ServerGroup(name);
        group.AddNode(name, await StartProcessAsync(server, name, FreePort(), cpuList, gatewaySettings));
        return group;
    }

    /// <summary>The same, with the CPUs as taskset writes them: <c>"0"</c>, <c>"0,1"</c> or <c>"0-1"</c>.</summary>
    public Task<ServerGroup> StartAsync(string name, string cpus, IDictionary<string, string>? gatewaySettings = null) =>
        StartAsync(name, cpus.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), gatewaySettings);

    /// <summary>A port of 127.0.0.1 that nothing listens on at the moment.</summary>
    internal static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// A redis-server in a folder of its own, then the gateway nodes, each pointed at it; on a
    /// failure, stops whatever had started.
    /// </summary>
    private async Task<ServerGroup> StartRedisPairAsync(Definition server, string[] cpuList, IDictionary<string, string>? gatewaySettings)
    {
        string scratch = Directory.CreateTempSubdirectory("gateway-bench-redis-").FullName;
        var group = new ServerGroup(server.Name, scratch);
        try
        {
            RunningServer redis = await StartRedisAsync(server.Name, scratch, server.RedisApart ? RedisCpus(cpuList) : cpuList);
            group.AddSupport("redis-server", redis);
            await StartNodesAsync(group, server, cpuList, redis.BaseUri.Authority, gatewaySettings);
            return group;
        }
        catch
        {
            await group.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The gateway nodes of <paramref name="group"/>, each on the Redis (or cluster seeds) at
    /// <paramref name="redis"/>. One after the other: each JITs on the same core, and the second
    /// need not slow the first.
    /// </summary>
    private async Task StartNodesAsync(ServerGroup group, Definition server, string[] cpuList, string redis, IDictionary<string, string>? gatewaySettings)
    {
        Dictionary<string, string> settings = Overlay(new Dictionary<string, string>
        {
            [$"{BackplaneOptions.Section}:{nameof(BackplaneOptions.Mode)}"] = BackplaneOptions.RedisMode,
            [$"{BackplaneOptions.Section}:{nameof(BackplaneOptions.Redis)}"] = redis + RedisOptions,
        }, gatewaySettings);
        for (int node = 1; node <= server.Nodes; node++)
        {
            string role = "node-" + node.ToString(CultureInfo.InvariantCulture);
            group.AddNode(role, await StartProcessAsync(server, $"{server.Name} {role}", FreePort(), cpuList, settings));
        }
    }

    /// <summary>
    /// Three redis-servers made one Redis Cluster (three primaries, no replicas), then the gateway
    /// nodes, each given every server as a seed; on a failure, stops whatever had started.
    /// </summary>
    private async Task<ServerGroup> StartClusterAsync(Definition server, string[] cpuList, IDictionary<string, string>? gatewaySettings)
    {
        string scratch = Directory.CreateTempSubdirectory("gateway-bench-cluster-").FullName;
        var group = new ServerGroup(server.Name, scratch);
        try
        {
            var shards = new List<RunningServer>();
            for (int shard = 1; shard <= ClusterShards; shard++)
            {
                string directory = Path.Combine(scratch, "shard-" + shard.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(directory);
                RunningServer redis = await StartRedisAsync(server.Name, directory, cpuList,
                    ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", FreePort().ToString(CultureInfo.InvariantCulture)]);
                group.AddSupport("shard-" + shard.ToString(CultureInfo.InvariantCulture), redis);
                shards.Add(redis);
            }

            string[] endpoints = [.. shards.Select(s => s.BaseUri.Authority)];
            await CreateClusterAsync(server.Name, endpoints);
            await StartNodesAsync(group, server, cpuList, string.Join(",", endpoints), gatewaySettings);
            return group;
        }
        catch
        {
            await group.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>redis-cli --cluster create</c> over <paramref name="endpoints"/>, then waits until every one says <c>cluster_state:ok</c>.</summary>
    private static async Task CreateClusterAsync(string name, string[] endpoints)
    {
        string cli = Toolchain.Require("redis-cli", name, "install Redis (apt-get install redis-server, which brings redis-cli)");
        var start = new System.Diagnostics.ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in (string[])["--cluster", "create", .. endpoints, "--cluster-replicas", "0", "--cluster-yes"])
        {
            start.ArgumentList.Add(argument);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using System.Diagnostics.Process create = System.Diagnostics.Process.Start(start)!;
        Task<string> output = create.StandardOutput.ReadToEndAsync(timeout.Token);
        string errors = await create.StandardError.ReadToEndAsync(timeout.Token);
        await create.WaitForExitAsync(timeout.Token);
        if (create.ExitCode != 0)
        {
            throw new InvalidOperationException($"{name}: redis-cli --cluster create failed: {await output} {errors}");
        }

        // Redis tells nobody when its cluster settles: ask each node until it says so.
        foreach (string endpoint in endpoints)
        {
            int port = int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
            while (!(await ClusterInfoAsync(port, timeout.Token)).Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                await Task.Delay(50, timeout.Token);
            }
        }
    }

    /// <summary>The text of <c>CLUSTER INFO</c> from the server on <paramref name="port"/>.</summary>
    private static async Task<string> ClusterInfoAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, port, cancellationToken);
        System.Net.Sockets.NetworkStream stream = client.GetStream();
        await stream.WriteAsync("CLUSTER INFO\r\n"u8.ToArray(), cancellationToken);
        var reply = new System.Text.StringBuilder();
        byte[] buffer = new byte[4096];
        while (!reply.ToString().Contains("cluster_stats_messages_received", StringComparison.Ordinal) && !reply.ToString().StartsWith('-'))
        {
            int read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                break;
            }

            reply.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, read));
        }

        return reply.ToString();
    }

    /// <summary>
    /// redis-server on 127.0.0.1 with nothing persisted (<c>--save "" --appendonly no</c>: the bench
    /// measures the backplane, not disks), its log on stdout for errors.
    /// </summary>
    private async Task<RunningServer> StartRedisAsync(string name, string directory, string[] cpuList, string[]? extra = null)
    {
        int port = FreePort();
        string portText = port.ToString(CultureInfo.InvariantCulture);
        (string program, List<string> arguments) = Pin(name, RedisServerProgram(name),
        [
            "--port", portText, "--bind", "127.0.0.1", "--dir", directory,
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
            .. extra ?? [],
        ], cpuList);
        return await RunningServer.StartAsync(new RunningServer.Launch(
            $"{name} redis-server",
            program,
            arguments,
            directory,
            new Uri($"redis://127.0.0.1:{portText}/"),
            RunningServer.ReadyCheck.RedisPing(port),
            RunningServer.StatsSource.None,
            IsSignalR: false,
            TimeSpan.FromSeconds(10)));
    }

    /// <summary>Starts one process of <paramref name="server"/> on <paramref name="port"/>, named <paramref name="processName"/> in errors.</summary>
    private async Task<RunningServer> StartProcessAsync(Definition server, string processName, int port, string[] cpuList, IDictionary<string, string>? gatewaySettings)
    {
        string directory = Path.Combine(RepositoryRoot, server.Directory);
        string portText = port.ToString(CultureInfo.InvariantCulture);
        string program;
        List<string> arguments;
        switch (server.Kind)
        {
            case Kind.Gateway or Kind.GatewayRedis or Kind.GatewayCluster:
                program = Dotnet(server.Name);
                arguments = [Output(server), $"--Urls=http://127.0.0.1:{portText}"];
                arguments.AddRange(Overlay(DefaultGatewaySettings, gatewaySettings).Select(s => $"--{s.Key}={s.Value}"));
                break;
            case Kind.DotNet:
                program = Dotnet(server.Name);
                arguments = [Output(server), "--port", portText, .. server.ExtraArguments];
                break;
            case Kind.Node:
                program = Toolchain.Require("node", server.Name, "install Node.js (apt-get install nodejs)");
                arguments = ["--expose-gc", server.Artifact, "--port", portText];
                break;
            case Kind.Go:
                program = Path.Combine(directory, server.Artifact);
                arguments = ["--port", portText];
                break;
            default:
                throw new InvalidOperationException($"unknown kind of server: {server.Kind}");
        }

        (program, arguments) = Pin(processName, program, arguments, cpuList);
        var baseUri = new Uri($"http://127.0.0.1:{portText}/");
        bool isGateway = server.Kind is Kind.Gateway or Kind.GatewayRedis or Kind.GatewayCluster;
        return await RunningServer.StartAsync(new RunningServer.Launch(
            processName,
            program,
            arguments,
            directory,
            baseUri,

            // A node of gateway-redis is ready once its Redis link is up, which /healthz does not wait for.
            RunningServer.ReadyCheck.Http(new Uri(baseUri, server.Kind switch { Kind.Gateway => "/healthz", Kind.GatewayRedis or Kind.GatewayCluster => "/readyz", _ => "/stats" })),
            isGateway ? RunningServer.StatsSource.Metrics : RunningServer.StatsSource.StatsEndpoint,
            server.Name == "signalr",

            // The gateway drains for up to Gateway:Shutdown:DrainTimeout (10 s) plus a close timeout (5 s).
            isGateway ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(10),
            isGateway ? GatewayEnvironment : null));
    }

    /// <summary>Configuration keys (case-insensitive, as .NET's configuration reads them): <paramref name="over"/> wins.</summary>
    private static Dictionary<string, string> Overlay(IEnumerable<KeyValuePair<string, string>> under, IEnumerable<KeyValuePair<string, string>>? over)
    {
        var settings = new Dictionary<string, string>(under, StringComparer.OrdinalIgnoreCase);
        foreach ((string key, string value) in over ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary><c>taskset -c CPUS program arguments</c>; the command unchanged when there are no CPUs or no taskset.</summary>
    private (string Program, List<string> Arguments) Pin(string name, string program, List<string> arguments, string[] cpuList)
    {
        if (cpuList.Length == 0)
        {
            return (program, arguments);
        }

        if (Toolchain.Find("taskset") is not { } taskset)
        {
            _log?.WriteLine($"{name}: taskset was not found (apt-get install util-linux); the server is not pinned");
            return (program, arguments);
        }

        List<string> pinned = ["-c", string.Join(',', cpuList), program, .. arguments];
        return (taskset, pinned);
    }

    /// <summary>
    /// Where gateway-redis-1 puts its redis-server: on the machine's online CPUs that are not
    /// <paramref name="cpuList"/> (the bench's generators' core), so that the node's core carries
    /// the node alone and Redis's cost is still its own process's. With no other CPU (a one-CPU
    /// machine, or an unpinned server), it shares <paramref name="cpuList"/>.
    /// </summary>
    internal static string[] RedisCpus(string[] cpuList)
    {
        if (cpuList.Length == 0)
        {
            return cpuList;
        }

        string[] others = [.. OnlineCpus().Select(c => c.ToString(CultureInfo.InvariantCulture)).Except(cpuList, StringComparer.Ordinal)];
        return others.Length > 0 ? others : cpuList;
    }

    /// <summary>
    /// The machine's online CPUs, from <c>/sys/devices/system/cpu/online</c> (<c>0-3,6</c>); not
    /// <see cref="Environment.ProcessorCount"/>, which counts only those the bench itself is pinned to.
    /// Empty when the file is missing or unreadable.
    /// </summary>
    private static IEnumerable<int> OnlineCpus()
    {
        string text;
        try
        {
            text = File.ReadAllText("/sys/devices/system/cpu/online").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        var cpus = new List<int>();
        foreach (string range in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] ends = range.Split('-');
            if (!int.TryParse(ends[0], CultureInfo.InvariantCulture, out int first) || !int.TryParse(ends[^1], CultureInfo.InvariantCulture, out int last))
            {
                return [];
            }

            for (int cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }

        return cpus;
    }

    private static Definition Find(string name) =>
        Definitions.FirstOrDefault(d => d.Name == name)
        ?? throw new ArgumentException($"unknown server '{name}'; the servers are {string.Join(", ", Names)}", nameof(name));

    private static string FindRepositoryRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (DirectoryInfo? directory = new(start); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "gateway.sln")))
                {
                    return directory.FullName;
                }
            }
        }

        throw new InvalidOperationException("gateway.sln was not found above the bench or the current directory; run the bench from the repository");
    }

    private static string RedisServerProgram(string name) =>
        Toolchain.Require("redis-server", name, "install Redis (apt-get install redis-server)");

    private static string Dotnet(string name) =>
        Toolchain.Require("dotnet", name, "install the .NET 10 SDK (Debian: the dotnet-sdk-10.0 package from Microsoft's package feed)");

    private string Output(Definition server) =>
        Path.Combine(RepositoryRoot, server.Directory, "bin", "Release", TargetFramework, server.Artifact);

    private async Task BuildCoreAsync(Definition server)
    {
        string directory = Path.Combine(RepositoryRoot, server.Directory);
        string program;
        string[] arguments;
        Dictionary<string, string> environment = [];
        switch (server.Kind)
        {
            case Kind.Gateway when server.Precompiled:
                program = Dotnet(server.Name);

                // Framework-dependent, for this platform only; every assembly of the app precompiled.
                arguments = ["publish", server.Project, "-c", "Release", "-r", RuntimeInformation.RuntimeIdentifier, "--self-contained", "false",
                    "-p:PublishReadyToRun=true", "-o", Path.GetDirectoryName(Output(server))!, "--nologo", "--disable-build-servers"];
                break;
            case Kind.Gateway or Kind.GatewayRedis or Kind.GatewayCluster or Kind.DotNet:
                program = Dotnet(server.Name);

                // No build servers: nothing of the build stays running beside the servers under test.
                arguments = ["build", server.Project, "-c", "Release", "--nologo", "--disable-build-servers"];
                break;
            case Kind.Node:
                Toolchain.Require("node", server.Name, "install Node.js (apt-get install nodejs)");
                program = Toolchain.Require("npm", server.Name, "install npm (apt-get install npm)");
                arguments = File.Exists(Path.Combine(directory, "package-lock.json"))
                    ? ["ci", "--no-audit", "--no-fund", "--prefer-offline"]
                    : ["install", "--no-audit", "--no-fund"];
                break;
            case Kind.Go:
                program = Toolchain.Require("go", server.Name, "install Go (apt-get install golang-go)");
                if (!Directory.Exists(GorillaSource))
                {
                    throw new InvalidOperationException(
                        $"{server.Name}: gorilla/websocket's source is not at {GorillaSource}; install it (apt-get install golang-github-gorilla-websocket-dev)");
                }

                // Offline, from Debian's packages only: go.mod replaces gorilla/websocket with its Debian source.
                environment["GOFLAGS"] = "-mod=mod";
                environment["GOPROXY"] = "off";
                environment["GOTOOLCHAIN"] = "local";
                if (Environment.GetEnvironmentVariable("HOME") is null && Environment.GetEnvironmentVariable("GOCACHE") is null)
                {
                    environment["GOCACHE"] = Path.Combine(directory, "obj", "go-build");
                }

                arguments = ["build", "-o", server.Artifact, "."];
                break;
            default:
                throw new InvalidOperationException($"unknown kind of server: {server.Kind}");
        }

        _log?.WriteLine($"building {server.Name}: {Toolchain.CommandLine(program, arguments, environment)}  (in {directory})");
        await Toolchain.RunAsync(program, arguments, directory, environment, $"building {server.Name}");
        string artifact = server.Kind is Kind.Gateway or Kind.GatewayRedis or Kind.GatewayCluster or Kind.DotNet ? Output(server) : Path.Combine(directory, server.Artifact);
        if (!File.Exists(artifact))
        {
            throw new InvalidOperationException($"building {server.Name} succeeded but left no {artifact}");
        }
    }

    private enum Kind
    {
        /// <summary>Gateway/Gateway.csproj, configured with --Key=Value, health at /healthz, statistics in /metrics.</summary>
        Gateway,

        /// <summary>
        /// The same build as <see cref="Gateway"/>, started as <see cref="Definition.Nodes"/> nodes with
        /// <c>Gateway:Backplane:Mode redis</c> beside a redis-server of their own; each node ready at /readyz.
        /// </summary>
        GatewayRedis,

        /// <summary>
        /// The same build, started as <see cref="RedisNodes"/> nodes over a Redis Cluster of
        /// <see cref="ClusterShards"/> primaries of their own; each node ready at /readyz.
        /// </summary>
        GatewayCluster,

        /// <summary>A peer's .NET project, started as <c>dotnet bin/Release/net10.0/X.dll --port P</c>.</summary>
        DotNet,

        /// <summary>A Node.js peer: <c>npm ci</c>, then <c>node --expose-gc server.js --port P</c>.</summary>
        Node,

        /// <summary>A Go peer: <c>go build -o bin/NAME .</c>, then <c>bin/NAME --port P</c>.</summary>
        Go,
    }

    /// <param name="Name">The name the bench knows it by.</param>
    /// <param name="Kind">How it is built and started.</param>
    /// <param name="Directory">Its folder, from the repository root; also the key of its build.</param>
    /// <param name="Project">The file that describes its build.</param>
    /// <param name="Artifact">What is started: an assembly in bin/Release, a script, or a binary, from <paramref name="Directory"/>.</param>
    /// <param name="ExtraArguments">Arguments after <c>--port P</c>.</param>
    private sealed record Definition(string Name, Kind Kind, string Directory, string Project, string Artifact, string[]? ExtraArguments = null)
    {
        public string[] ExtraArguments { get; } = ExtraArguments ?? [];

        /// <summary>The gateway nodes over Redis (gateway-redis, gateway-cluster): two unless told otherwise.</summary>
        public int Nodes { get; init; } = RedisNodes;

        /// <summary>The redis-server on the CPUs the nodes are not pinned to (<see cref="RedisCpus"/>), rather than beside them.</summary>
        public bool RedisApart { get; init; }

        /// <summary>Published with ReadyToRun into <see cref="PrecompiledFolder"/> rather than built (gateway-precompiled).</summary>
        public bool Precompiled { get; init; }
    }
}
