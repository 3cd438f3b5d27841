using Gateway.Log.Redis;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// Several real gateway nodes on their own ports, all sharing one store: a real redis-server of
/// their own, or a <see cref="RedisCluster"/> that a test class shares between its tests (each
/// test's nodes then take a key prefix of their own, so that tests never see each other's keys).
/// </summary>
public sealed class RedisNodes : IAsyncDisposable
{
    private static int _prefixes;
    private readonly RedisServer? _redis;

    private RedisNodes(RedisServer? redis, RedisCluster? cluster, string keyPrefix, GatewayServer[] nodes)
    {
        _redis = redis;
        Cluster = cluster;
        KeyPrefix = keyPrefix;
        Nodes = nodes;
    }

    /// <summary>The one redis-server (not for nodes on a cluster).</summary>
    public RedisServer Redis => _redis ?? throw new InvalidOperationException("these nodes share a Redis Cluster, not one redis-server");

    /// <summary>The Redis Cluster the nodes share, or null for one redis-server.</summary>
    public RedisCluster? Cluster { get; }

    /// <summary>What every Redis key of these nodes starts with (<c>Gateway:Backplane:KeyPrefix</c>).</summary>
    public string KeyPrefix { get; }

    public GatewayServer[] Nodes { get; }

    /// <summary>The nodes' <c>Gateway:Backplane:Channels</c>, when the test chose it.</summary>
    public string? Channels { get; private init; }

    /// <summary>What the nodes' Redis connection string has after the server's address (such as <c>,sharedSubscriptionConnection=true</c>).</summary>
    public string RedisOptions { get; private init; } = "";

    public GatewayServer this[int node] => Nodes[node];

    /// <summary>
    /// Starts <paramref name="nodes"/> gateways with <paramref name="settings"/>: on a Redis of
    /// their own, or on <paramref name="on"/>, a cluster the caller owns; with
    /// <paramref name="channels"/>, their <c>Gateway:Backplane:Channels</c>; with
    /// <paramref name="redisOptions"/>, client options after the address in their connection string.
    /// </summary>
    public static async Task<RedisNodes> StartAsync(int nodes = 3, bool appendOnly = false, IDictionary<string, string?>? settings = null, RedisCluster? on = null, string? channels = null, string redisOptions = "")
    {
        RedisServer? redis = on is null ? await RedisServer.StartAsync(appendOnly) : null;
        string prefix = on is null ? "gateway:" : $"t{Interlocked.Increment(ref _prefixes)}:";
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        all.TryAdd("Gateway:Backplane:KeyPrefix", prefix);
        if (channels is not null)
        {
            all.TryAdd("Gateway:Backplane:Channels", channels);
        }

        var started = new GatewayServer[nodes];
        for (int i = 0; i < nodes; i++)
        {
            started[i] = await StartNodeAsync((redis?.ConnectionString ?? on!.ConnectionString) + redisOptions, all);
        }

        return new RedisNodes(redis, on, prefix, started) { Channels = channels, RedisOptions = redisOptions };
    }

    /// <summary>One more gateway node on <paramref name="redis"/>, once its link is up.</summary>
    public static Task<GatewayServer> StartNodeAsync(RedisServer redis, IDictionary<string, string?>? settings = null) =>
        StartNodeAsync(redis.ConnectionString, settings);

    /// <summary>One more gateway node on the Redis at <paramref name="connectionString"/>, once its link is up.</summary>
    public static async Task<GatewayServer> StartNodeAsync(string connectionString, IDictionary<string, string?>? settings = null)
    {
        GatewayServer node = await GatewayServer.StartAsync(Settings(connectionString, settings));
        await node.Get<RedisLog>().WhenAvailableAsync(TestClient.Deadline);
        return node;
    }

    /// <summary>One more gateway node like these, once its link is up (the caller disposes it).</summary>
    public Task<GatewayServer> StartNodeAsync(IDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        all.TryAdd("Gateway:Backplane:KeyPrefix", KeyPrefix);
        if (Channels is not null)
        {
            all.TryAdd("Gateway:Backplane:Channels", Channels);
        }

        return StartNodeAsync((_redis?.ConnectionString ?? Cluster!.ConnectionString) + RedisOptions, all);
    }

    /// <summary>The settings of a node of <paramref name="redis"/>, with <paramref name="extra"/> on top.</summary>
    public static Dictionary<string, string?> Settings(RedisServer redis, IDictionary<string, string?>? extra = null) =>
        Settings(redis.ConnectionString, extra);

    /// <summary>The settings of a node of the Redis at <paramref name="connectionString"/>, with <paramref name="extra"/> on top.</summary>
    public static Dictionary<string, string?> Settings(string connectionString, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Backplane:Mode"] = "redis",
            ["Gateway:Backplane:Redis"] = connectionString,
        };
        foreach (KeyValuePair<string, string?> setting in extra ?? new Dictionary<string, string?>())
        {
            settings[setting.Key] = setting.Value;
        }

        return settings;
    }

    /// <summary>The redis-server that holds <paramref name="key"/> (with <see cref="KeyPrefix"/> before it): the one, or its shard's primary.</summary>
    public async Task<RedisServer> ServerOfAsync(string key) => Cluster is { } cluster ? await cluster.PrimaryOfAsync(KeyPrefix + key) : Redis;

    /// <summary>Sends a command about <paramref name="key"/> (with <see cref="KeyPrefix"/> before it) to the redis-server that holds it.</summary>
    public async Task<string> CommandAsync(string command, string key, params string[] arguments) =>
        await (await ServerOfAsync(key)).CommandAsync([command, KeyPrefix + key, .. arguments]);

    public async ValueTask DisposeAsync()
    {
        foreach (GatewayServer node in Nodes)
        {
            await node.DisposeAsync();
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
