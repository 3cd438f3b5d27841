using System.Text;

namespace Gateway.Bench.Servers;

/// <summary>
/// What the bench runs as one server under test, started by <see cref="ServerCatalog"/>: one
/// process for most servers; for gateway-redis, two gateway nodes and the redis-server they share
/// (gateway-redis-1: one node and its redis-server).
/// Clients and publishers spread over <see cref="Nodes"/>, and the server's cost is that of all its
/// <see cref="Processes"/>: a backplane that moved work from the nodes into Redis must not look cheap.
/// </summary>
internal sealed class ServerGroup : IAsyncDisposable
{
    private readonly List<RunningServer> _nodes = [];
    private readonly List<ServerProcess> _nodeProcesses = [];
    private readonly List<ServerProcess> _support = [];
    private readonly string? _scratch;

    /// <param name="name">The catalog's name of the server.</param>
    /// <param name="scratch">A folder of the group's own (redis-server's), deleted once every process has stopped.</param>
    internal ServerGroup(string name, string? scratch = null)
    {
        Name = name;
        _scratch = scratch;
    }

    /// <summary>The catalog's name of the server.</summary>
    public string Name { get; }

    /// <summary>The processes that take clients and publishes, in the order clients are dealt to them.</summary>
    public IReadOnlyList<RunningServer> Nodes => _nodes;

    /// <summary>Every process of the server, each with the role the results name it by: the nodes first.</summary>
    public IReadOnlyList<ServerProcess> Processes => [.. _nodeProcesses, .. _support];

    /// <summary>True for the SignalR peer: see <see cref="RunningServer.IsSignalR"/>.</summary>
    public bool IsSignalR => _nodes[0].IsSignalR;

    /// <summary>The last lines each process wrote to its console, under its role.</summary>
    public string RecentOutput
    {
        get
        {
            var text = new StringBuilder();
            foreach (ServerProcess process in Processes)
            {
                text.Append("--- ").Append(process.Role).AppendLine(":").AppendLine(process.Server.RecentOutput);
            }

            return text.ToString();
        }
    }

    /// <summary>Adds a started process that takes clients.</summary>
    internal void AddNode(string role, RunningServer server)
    {
        _nodes.Add(server);
        _nodeProcesses.Add(new ServerProcess(role, server));
    }

    /// <summary>Adds a started process the nodes depend on (redis-server): it stops after them.</summary>
    internal void AddSupport(string role, RunningServer server)
    {
        _support.Add(new ServerProcess(role, server));
    }

    /// <summary>
    /// Stops the nodes, then what they depend on, so that no node spends its drain reconnecting to
    /// a Redis that is gone; true when every process exited by itself after its SIGTERM.
    /// </summary>
    public async Task<bool> StopAsync()
    {
        bool[] nodes = await Task.WhenAll(_nodes.Select(n => n.StopAsync()));
        bool[] support = await Task.WhenAll(_support.Select(s => s.Server.StopAsync()));
        return nodes.All(exited => exited) && support.All(exited => exited);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (ServerProcess process in Processes)
        {
            await process.Server.DisposeAsync();
        }

        if (_scratch is not null && Directory.Exists(_scratch))
        {
            Directory.Delete(_scratch, recursive: true);
        }
    }
}

/// <summary>One process of a server under test.</summary>
/// <param name="Role">What the results call it: the server's name when it is the only one; <c>node-1</c>, <c>node-2</c>, <c>redis-server</c> for gateway-redis (<c>node-1</c>, <c>redis-server</c> for gateway-redis-1).</param>
/// <param name="Server">The process.</param>
internal sealed record ServerProcess(string Role, RunningServer Server)
{
    /// <summary>The process id, for /proc.</summary>
    public int Pid => Server.Pid;
}
