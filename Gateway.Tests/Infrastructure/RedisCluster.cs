using System.Globalization;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A real Redis Cluster on 127.0.0.1: six <c>redis-server</c> processes (three primaries, each
/// with a replica) made one cluster by <c>redis-cli --cluster create</c>, with the append-only
/// file and an fsync per write, so that nothing acknowledged is lost when a shard goes. Its
/// nodes time out after a second, so that a replica takes over a dead primary within a few.
/// </summary>
/// <remarks>
/// <c>cluster-require-full-coverage no</c>: the shards that are up keep serving their slots while
/// another shard is down, as a deployment that wants its other sessions to carry on sets it.
/// </remarks>
public sealed class RedisCluster : IAsyncDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    private readonly RedisServer[] _servers;

    private RedisCluster(RedisServer[] servers) => _servers = servers;

    /// <summary>Every server, primaries and replicas, in the order they were started.</summary>
    public IReadOnlyList<RedisServer> Servers => _servers;

    /// <summary>What <c>Gateway:Backplane:Redis</c> is set to: every node, as seeds.</summary>
    public string ConnectionString => string.Join(",", _servers.Select(s => s.ConnectionString));

    /// <summary>Starts six servers, makes them a cluster and completes once every node says it is ok.</summary>
    public static async Task<RedisCluster> StartAsync()
    {
        var servers = new RedisServer[6];
        try
        {
            for (int i = 0; i < servers.Length; i++)
            {
                servers[i] = await RedisServer.StartAsync(
                    appendOnly: true,
                    port: null,
                    () =>
                    [
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", "nodes.conf",
                        "--cluster-port", Tools.FreePort().ToString(CultureInfo.InvariantCulture),
                        "--cluster-node-timeout", "1000",
                        "--cluster-require-full-coverage", "no",
                        // DEBUG SLEEP, from the tests on this machine only: it holds a server still while a test lines up what it reads next.
                        "--enable-debug-command", "local",
                    ]);
            }

            using System.Diagnostics.Process create = Tools.Start(Tools.Require("redis-cli"),
                ["--cluster", "create", .. servers.Select(s => s.ConnectionString), "--cluster-replicas", "1", "--cluster-yes"]);
            Task<string> output = create.StandardOutput.ReadToEndAsync(TestClient.Deadline);
            string errors = await create.StandardError.ReadToEndAsync(TestClient.Deadline);
            await create.WaitForExitAsync(TestClient.Deadline);
            Assert.That(create.ExitCode, Is.Zero, $"redis-cli --cluster create failed: {await output} {errors}");
            var cluster = new RedisCluster(servers);
            await cluster.WhenHealthyAsync();
            return cluster;
        }
        catch
        {
            foreach (RedisServer? server in servers)
            {
                if (server is not null)
                {
                    await server.DisposeAsync();
                }
            }

            throw;
        }
    }

    /// <summary>
    /// Completes once every running node says <c>cluster_state:ok</c>, every slot has a primary
    /// that runs, and each of those has a replica that runs and has caught up with it.
    /// </summary>
    /// <remarks>
    /// Redis tells nobody when its cluster settles, so this asks every 50 ms, within the test's deadline.
    /// </remarks>
    public async Task WhenHealthyAsync()
    {
        while (true)
        {
            TestClient.Deadline.ThrowIfCancellationRequested();
            if (await IsHealthyAsync())
            {
                return;
            }

            await Task.Delay(Poll, TestClient.Deadline);
        }
    }

    /// <summary>The primary that holds <paramref name="key"/>'s slot now.</summary>
    public async Task<RedisServer> PrimaryOfAsync(string key)
    {
        int slot = await SlotOfAsync(key);
        foreach (Node node in await NodesAsync())
        {
            if (node.IsPrimary && node.Slots.Any(range => range.From <= slot && slot <= range.To))
            {
                return ServerOn(node.Port);
            }
        }

        throw new InvalidOperationException($"no primary holds slot {slot}");
    }

    /// <summary>The replica of <paramref name="primary"/>.</summary>
    public async Task<RedisServer> ReplicaOfAsync(RedisServer primary)
    {
        Node[] nodes = await NodesAsync();
        string id = nodes.Single(n => n.Port == primary.Port).Id;
        return ServerOn(nodes.First(n => n.PrimaryId == id).Port);
    }

    /// <summary>The hash slot of <paramref name="key"/>.</summary>
    public async Task<int> SlotOfAsync(string key) =>
        int.Parse(await AnyRunning().CommandAsync("CLUSTER", "KEYSLOT", key), CultureInfo.InvariantCulture);

    /// <summary>Sends one command to the primary that holds the slot of its key (its first argument after the command's name).</summary>
    public async Task<string> CommandAsync(params string[] command) => await (await PrimaryOfAsync(command[1])).CommandAsync(command);

    /// <summary>
    /// Kills <paramref name="key"/>'s primary with SIGKILL and completes once its replica has taken
    /// its slots over; the killed server is then started again, and rejoins as the new primary's replica.
    /// </summary>
    public async Task KillPrimaryAsync(string key)
    {
        RedisServer primary = await PrimaryOfAsync(key);
        RedisServer replica = await ReplicaOfAsync(primary);
        await primary.KillAsync();
        await WhenPrimaryAsync(key, replica);
        await primary.StartAgainAsync();
        await WhenHealthyAsync();
    }

    /// <summary>Has <paramref name="key"/>'s replica take over from its primary (<c>CLUSTER FAILOVER</c>), once done.</summary>
    public async Task FailOverAsync(string key)
    {
        RedisServer primary = await PrimaryOfAsync(key);
        RedisServer replica = await ReplicaOfAsync(primary);
        Assert.That(await replica.CommandAsync("CLUSTER", "FAILOVER"), Is.EqualTo("OK"));
        await WhenPrimaryAsync(key, replica);
        await WhenHealthyAsync();
    }

    /// <summary>
    /// Moves <paramref name="key"/>'s slot, with its keys, to another primary, the way
    /// <c>redis-cli --cluster reshard</c> does: importing and migrating, MIGRATE of each key, then
    /// the slot assigned. Returns the primary that holds it now.
    /// </summary>
    public async Task<RedisServer> MigrateSlotAsync(string key)
    {
        int slot = await SlotOfAsync(key);
        string slotText = slot.ToString(CultureInfo.InvariantCulture);
        RedisServer source = await PrimaryOfAsync(key);
        Node[] nodes = await NodesAsync();
        Node from = nodes.Single(n => n.Port == source.Port);
        Node to = nodes.First(n => n.IsPrimary && n.Port != source.Port);
        RedisServer target = ServerOn(to.Port);
        Assert.That(await target.CommandAsync("CLUSTER", "SETSLOT", slotText, "IMPORTING", from.Id), Is.EqualTo("OK"));
        Assert.That(await source.CommandAsync("CLUSTER", "SETSLOT", slotText, "MIGRATING", to.Id), Is.EqualTo("OK"));
        while (await source.CommandAsync("CLUSTER", "GETKEYSINSLOT", slotText, "100") is { Length: > 0 } keys)
        {
            string moved = await source.CommandAsync(["MIGRATE", "127.0.0.1", target.Port.ToString(CultureInfo.InvariantCulture), "", "0", "5000", "KEYS", .. keys.Split('\n')]);
            Assert.That(moved, Is.EqualTo("OK"));
        }

        foreach (Node primary in nodes.Where(n => n.IsPrimary))
        {
            Assert.That(await ServerOn(primary.Port).CommandAsync("CLUSTER", "SETSLOT", slotText, "NODE", to.Id), Is.EqualTo("OK"));
        }

        return target;
    }

    /// <summary>Shuts a whole shard down, its primary and its replica: <paramref name="key"/>'s slot has nobody to serve it.</summary>
    public async Task<RedisServer[]> StopShardAsync(string key)
    {
        RedisServer primary = await PrimaryOfAsync(key);
        RedisServer replica = await ReplicaOfAsync(primary);
        await replica.KillAsync();
        await primary.KillAsync();
        return [primary, replica];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (RedisServer server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Completes once <paramref name="expected"/> holds <paramref name="key"/>'s slot (a replica taking over).</summary>
    public async Task WhenPrimaryAsync(string key, RedisServer expected)
    {
        while ((await PrimaryOfAsync(key)).Port != expected.Port)
        {
            await Task.Delay(Poll, TestClient.Deadline);
        }
    }

    private async Task<bool> IsHealthyAsync()
    {
        foreach (RedisServer server in _servers.Where(s => s.IsRunning))
        {
            if (!(await server.CommandAsync("CLUSTER", "INFO")).Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                return false;
            }
        }

        Node[] nodes = await NodesAsync();
        int slots = 0;
        foreach (Node primary in nodes.Where(n => n.IsPrimary && n.Slots.Length > 0))
        {
            slots += primary.Slots.Sum(r => r.To - r.From + 1);
            if (primary.Failed || !nodes.Any(n => n.PrimaryId == primary.Id && !n.Failed))
            {
                return false;
            }

            foreach (Node replica in nodes.Where(n => n.PrimaryId == primary.Id && !n.Failed))
            {
                if (!(await ServerOn(replica.Port).CommandAsync("INFO", "replication")).Contains("master_link_status:up", StringComparison.Ordinal))
                {
                    return false;
                }
            }
        }

        return slots == 16384;
    }

    private RedisServer AnyRunning() => _servers.First(s => s.IsRunning);

    private RedisServer ServerOn(int port) => _servers.Single(s => s.Port == port);

    /// <summary>The cluster as a running node sees it (<c>CLUSTER NODES</c>).</summary>
    private async Task<Node[]> NodesAsync()
    {
        string text = await AnyRunning().CommandAsync("CLUSTER", "NODES");
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Node.Parse).ToArray();
    }

    /// <summary>A line of <c>CLUSTER NODES</c>: id, address, flags, its primary, then its slots.</summary>
    private sealed record Node(string Id, int Port, bool IsPrimary, bool Failed, string? PrimaryId, (int From, int To)[] Slots)
    {
        public static Node Parse(string line)
        {
            string[] parts = line.Split(' ');
            string address = parts[1][..parts[1].IndexOf('@', StringComparison.Ordinal)];
            int port = int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
            string[] flags = parts[2].Split(',');
            var slots = new List<(int, int)>();
            foreach (string range in parts.Skip(8))
            {
                // Slots being moved show as [slot->-id] or [slot-<-id]: not held yet.
                if (range.StartsWith('['))
                {
                    continue;
                }

                int dash = range.IndexOf('-', StringComparison.Ordinal);
                slots.Add(dash < 0
                    ? (int.Parse(range, CultureInfo.InvariantCulture), int.Parse(range, CultureInfo.InvariantCulture))
                    : (int.Parse(range[..dash], CultureInfo.InvariantCulture), int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture)));
            }

            return new Node(parts[0], port, flags.Contains("master"), flags.Contains("fail") || flags.Contains("fail?"), parts[3] == "-" ? null : parts[3], [.. slots]);
        }
    }
}
