using Gateway.Configuration;
using Gateway.Connections;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Connections;

/// <summary>
/// The heartbeat scanner's timer on a clock the test moves: connections that opened together are
/// visited a part of the registry per tick, not all at once, and each once per scan period.
/// </summary>
[CancelAfter(30_000)]
public sealed class HeartbeatScannerTests
{
    private const int Connections = 640;

    [Test]
    public async Task Connections_opened_together_are_visited_a_part_per_tick_and_each_once_per_scan_period()
    {
        var clock = new ManualTimeProvider();
        var registry = new ConnectionRegistry();
        var visits = new SemaphoreSlim(0);
        CountingConnection[] connections = [.. Enumerable.Range(0, Connections).Select(_ => new CountingConnection(ConnectionIds.Next(), visits))];
        foreach (CountingConnection connection in connections)
        {
            registry.Add(connection);
        }

        using var scanner = new HeartbeatScanner(registry, Options.Create(new HeartbeatOptions()), clock, NullLogger<HeartbeatScanner>.Instance);
        await scanner.StartAsync(CancellationToken.None);
        try
        {
            await clock.WhenPeriodicTimerScheduledAsync().WaitAsync(TestClient.Deadline);
            TimeSpan tick = HeartbeatScanner.TickPeriod(HeartbeatOptions.DefaultInterval);
            Assert.That(tick, Is.EqualTo(TimeSpan.FromSeconds(1) / ConnectionRegistry.Shards), "a second's scan in 64 ticks");

            int largest = 0;
            for (int shard = 0; shard < ConnectionRegistry.Shards; shard++)
            {
                CountingConnection[] part = [.. connections.Where(c => ConnectionRegistry.ShardOf(c.Id) == shard)];
                clock.Advance(tick);
                await WaitForVisitsAsync(visits, part.Length);
                Assert.That(part.Select(c => c.Visits), Is.All.EqualTo(1), $"tick {shard} visits part {shard}");
                Assert.That(connections.Sum(c => c.Visits), Is.EqualTo(connections.Count(c => ConnectionRegistry.ShardOf(c.Id) <= shard)),
                    $"after tick {shard}, only the parts up to {shard} were visited");
                largest = Math.Max(largest, part.Length);
            }

            Assert.That(connections.Select(c => c.Visits), Is.All.EqualTo(1), "one scan period visited each connection once");
            Assert.That(largest, Is.LessThan(Connections / 8), "no tick visits more than a small share: the ids spread over the parts");

            // A second in one move: however the scanner's wake-ups fall among the timer's ticks, the
            // scan period's parts are visited once each.
            clock.Advance(TimeSpan.FromSeconds(1));
            await WaitForVisitsAsync(visits, Connections);
            Assert.That(connections.Select(c => c.Visits), Is.All.EqualTo(2));
        }
        finally
        {
            await scanner.StopAsync(CancellationToken.None);
        }
    }

    [Test]
    public void The_registry_counts_connections_across_its_parts_and_says_when_the_last_leaves()
    {
        var registry = new ConnectionRegistry();
        var visits = new SemaphoreSlim(0);
        CountingConnection[] connections = [.. Enumerable.Range(0, 200).Select(_ => new CountingConnection(ConnectionIds.Next(), visits))];
        foreach (CountingConnection connection in connections)
        {
            registry.Add(connection);
        }

        registry.Add(connections[0]);
        Assert.That(registry.Count, Is.EqualTo(200), "adding one again does not count it twice");
        Assert.That(registry.Connections, Is.EquivalentTo(connections));
        Task empty = registry.WhenEmptyAsync();

        foreach (CountingConnection connection in connections[..199])
        {
            registry.Remove(connection);
        }

        registry.Remove(connections[0]);
        Assert.That(registry.Count, Is.EqualTo(1), "removing one again does not count it twice");
        Assert.That(empty.IsCompleted, Is.False);
        registry.Remove(connections[199]);
        Assert.That(registry.Count, Is.EqualTo(0));
        Assert.That(empty.IsCompleted, Is.True);
        Assert.That(registry.WhenEmptyAsync().IsCompleted, Is.True, "asked when already empty");
    }

    private static async Task WaitForVisitsAsync(SemaphoreSlim visits, int count)
    {
        for (int i = 0; i < count; i++)
        {
            await visits.WaitAsync(TestClient.Deadline);
        }
    }

    /// <summary>A connection that only counts the scanner's visits.</summary>
    private sealed class CountingConnection(string id, SemaphoreSlim visits) : IClientConnection
    {
        private int _visits;

        public string Id => id;

        public int Visits => Volatile.Read(ref _visits);

        public void OnHeartbeatTick(long now)
        {
            Interlocked.Increment(ref _visits);
            visits.Release();
        }

        public void CloseForShutdown()
        {
        }

        public void Abort()
        {
        }
    }
}
