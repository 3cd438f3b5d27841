using Gateway.Log.Redis;

namespace Gateway.Tests.Infrastructure;

/// <summary>A real redis-server and several real gateway nodes on their own ports, all sharing it (one Redis, not a Redis Cluster).</summary>
public sealed class RedisNodes : IAsyncDisposable
{
    private RedisNodes(RedisServer redis, GatewayServer[] nodes)
    {
        Redis = redis;
        Nodes = nodes;
    }

    public RedisServer Redis { get; }

    public GatewayServer[] Nodes { get; }

    public GatewayServer this[int node] => Nodes[node];

    /// <summary>Starts Redis, then <paramref name="nodes"/> gateways with <paramref name="settings"/>, each connected to it.</summary>
    public static async Task<RedisNodes> StartAsync(int nodes = 3, bool appendOnly = false, IDictionary<string, string?>? settings = null)
    {
        RedisServer redis = await RedisServer.StartAsync(appendOnly);
        var started = new GatewayServer[nodes];
        for (int i = 0; i < nodes; i++)
        {
            started[i] = await StartNodeAsync(redis, settings);
        }

        return new RedisNodes(redis, started);
    }

    /// <summary>One more gateway node on <paramref name="redis"/>, once its link is up.</summary>
    public static async Task<GatewayServer> StartNodeAsync(RedisServer redis, IDictionary<string, string?>? settings = null)
    {
        GatewayServer node = await GatewayServer.StartAsync(Settings(redis, settings));
        await node.Get<RedisLog>().WhenAvailableAsync(TestClient.Deadline);
        return node;
    }

    /// <summary>The settings of a node of <paramref name="redis"/>, with <paramref name="extra"/> on top.</summary>
    public static Dictionary<string, string?> Settings(RedisServer redis, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Backplane:Mode"] = "redis",
            ["Gateway:Backplane:Redis"] = redis.ConnectionString,
        };
        foreach (KeyValuePair<string, string?> setting in extra ?? new Dictionary<string, string?>())
        {
            settings[setting.Key] = setting.Value;
        }

        return settings;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (GatewayServer node in Nodes)
        {
            await node.DisposeAsync();
        }

        await Redis.DisposeAsync();
    }
}
