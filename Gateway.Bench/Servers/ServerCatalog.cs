using System.Globalization;

namespace Gateway.Bench.Servers;

/// <summary>
/// The servers under test, by name: the gateway and its peers (<c>Gateway.Bench/peers</c>, see
/// <c>peers/CONTRACT.md</c>). Builds each once per catalog and starts any of them, pinned to the
/// given CPUs, on <c>127.0.0.1:port</c>.
/// </summary>
internal sealed class ServerCatalog
{
    /// <summary>Every server the catalog knows, in the order a comparison shows them.</summary>
    public static readonly IReadOnlyList<string> Names = ["gateway", "kestrel-naive", "signalr", "node-ws", "go-gorilla", "floor", "floor-batched"];

    /// <summary>
    /// The gateway's settings for the bench, each overridable by <see cref="StartAsync(string, int, string[], IDictionary{string, string}?)"/>:
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

    private static readonly Definition[] Definitions =
    [
        new("gateway", Kind.Gateway, "Gateway", "Gateway.csproj", "Gateway.dll"),
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

    /// <summary>The folder holding gateway.sln.</summary>
    public string RepositoryRoot { get; }

    /// <summary>
    /// Builds the server, once per catalog (floor and floor-batched share one build); a failed build
    /// is tried again on the next call. A missing toolchain fails with the package to install.
    /// </summary>
    public Task BuildAsync(string name)
    {
        Definition server = Find(name);
        lock (_lock)
        {
            if (!_builds.TryGetValue(server.Directory, out Task? build) || build.IsFaulted || build.IsCanceled)
            {
                build = BuildCoreAsync(server);
                _builds[server.Directory] = build;
            }

            return build;
        }
    }

    /// <summary>
    /// Builds the server if needed and starts it on <c>127.0.0.1:<paramref name="port"/></c>, pinned
    /// with <c>taskset -c</c> to <paramref name="cpuList"/> (not pinned when empty, or when taskset is
    /// missing); returns once it answers HTTP. <paramref name="gatewaySettings"/> (configuration keys
    /// such as <c>Gateway:Limits:SendQueueMessages</c>) go to the gateway on top of
    /// <see cref="DefaultGatewaySettings"/>; peers ignore them.
    /// </summary>
    public async Task<RunningServer> StartAsync(string name, int port, string[] cpuList, IDictionary<string, string>? gatewaySettings = null)
    {
        Definition server = Find(name);
        await BuildAsync(name);

        string directory = Path.Combine(RepositoryRoot, server.Directory);
        string portText = port.ToString(CultureInfo.InvariantCulture);
        string program;
        List<string> arguments;
        switch (server.Kind)
        {
            case Kind.Gateway:
                program = Dotnet(name);
                arguments = [Output(server), $"--Urls=http://127.0.0.1:{portText}"];
                var settings = new Dictionary<string, string>(DefaultGatewaySettings, StringComparer.OrdinalIgnoreCase);
                foreach ((string key, string value) in gatewaySettings ?? new Dictionary<string, string>())
                {
                    settings[key] = value;
                }

                arguments.AddRange(settings.Select(s => $"--{s.Key}={s.Value}"));
                break;
            case Kind.DotNet:
                program = Dotnet(name);
                arguments = [Output(server), "--port", portText, .. server.ExtraArguments];
                break;
            case Kind.Node:
                program = Toolchain.Require("node", name, "install Node.js (apt-get install nodejs)");
                arguments = ["--expose-gc", server.Artifact, "--port", portText];
                break;
            case Kind.Go:
                program = Path.Combine(directory, server.Artifact);
                arguments = ["--port", portText];
                break;
            default:
                throw new InvalidOperationException($"unknown kind of server: {server.Kind}");
        }

        if (cpuList.Length > 0)
        {
            if (Toolchain.Find("taskset") is { } taskset)
            {
                arguments = ["-c", string.Join(',', cpuList), program, .. arguments];
                program = taskset;
            }
            else
            {
                _log?.WriteLine($"{name}: taskset was not found (apt-get install util-linux); the server is not pinned");
            }
        }

        return await RunningServer.StartAsync(new RunningServer.Launch(
            name,
            program,
            arguments,
            directory,
            new Uri($"http://127.0.0.1:{portText}/"),
            server.Kind == Kind.Gateway ? "/healthz" : "/stats",
            server.Kind == Kind.Gateway,
            name == "signalr",
            // The gateway drains for up to Gateway:Shutdown:DrainTimeout (10 s) plus a close timeout (5 s).
            server.Kind == Kind.Gateway ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(10)));
    }

    /// <summary>The same, with the CPUs as taskset writes them: <c>"0"</c>, <c>"0,1"</c> or <c>"0-1"</c>.</summary>
    public Task<RunningServer> StartAsync(string name, int port, string cpus, IDictionary<string, string>? gatewaySettings = null) =>
        StartAsync(name, port, cpus.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), gatewaySettings);

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
            case Kind.Gateway or Kind.DotNet:
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
        string artifact = server.Kind is Kind.Gateway or Kind.DotNet ? Output(server) : Path.Combine(directory, server.Artifact);
        if (!File.Exists(artifact))
        {
            throw new InvalidOperationException($"building {server.Name} succeeded but left no {artifact}");
        }
    }

    private enum Kind
    {
        /// <summary>Gateway/Gateway.csproj, configured with --Key=Value, health at /healthz, statistics in /metrics.</summary>
        Gateway,

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
    }
}
