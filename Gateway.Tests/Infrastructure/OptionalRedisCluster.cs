namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A test class whose fixtures run over one redis-server or over a Redis Cluster: with
/// <paramref name="onCluster"/>, one cluster serves all the class's tests (each test's nodes take a
/// key prefix of their own on it, <see cref="RedisNodes"/>); without, each test starts its own server.
/// </summary>
public abstract class OptionalRedisCluster(bool onCluster)
{
    /// <summary>Whether this fixture runs over the cluster.</summary>
    protected bool OnCluster { get; } = onCluster;

    /// <summary>The class's cluster, for <see cref="RedisNodes.StartAsync"/>'s <c>on</c>; null over one server.</summary>
    protected RedisCluster? Cluster { get; private set; }

    [OneTimeSetUp]
    public async Task StartClusterAsync() => Cluster = OnCluster ? await RedisCluster.StartAsync() : null;

    [OneTimeTearDown]
    public async Task StopClusterAsync()
    {
        if (Cluster is { } cluster)
        {
            await cluster.DisposeAsync();
        }
    }
}
