using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Clients that drop at random moments while a stream is published still end with every event
/// exactly once: on one gateway, and on three nodes over a Redis Cluster, where each reconnection
/// goes to another node and each batch is published through the next.
/// </summary>
[TestFixture(false)]
[TestFixture(true)]
public sealed class ChaosTests(bool onCluster)
{
    private const int Clients = 50;
    private const int Events = 20_000;
    private const int BatchSize = 100;

    [Test]
    [CancelAfter(300_000)]
    public async Task Fifty_clients_aborting_and_resuming_at_random_each_get_every_event_exactly_once()
    {
        var settings = new Dictionary<string, string?>
        {
            // History holds the whole run, so that every resume can be complete.
            ["Gateway:History:MaxEvents"] = Events.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        await using RedisCluster? cluster = onCluster ? await RedisCluster.StartAsync() : null;
        await using RedisNodes? nodes = cluster is null ? null : await RedisNodes.StartAsync(settings: settings, on: cluster);
        await using GatewayServer? single = cluster is null ? await GatewayServer.StartAsync(settings) : null;
        GatewayServer[] servers = nodes?.Nodes ?? [single!];
        int turns = 0;
        GatewayServer Next() => servers[Interlocked.Increment(ref turns) % servers.Length];

        // Half read with ClientWebSocket and drop by hand; half are Websocket.Client, which
        // reconnects by itself after its socket is aborted under it.
        Task<ClientRun>[] clients = Enumerable.Range(0, Clients)
            .Select(i => Task.Run(() => i % 2 == 0
                ? RunClientAsync(Next, seed: 1000 + i)
                : RunResumingClientAsync(since => Next().WebSocketUri("chaos", $"since={since}"), Events, seed: 1000 + i)))
            .ToArray();
        for (int batch = 0; batch < Events / BatchSize; batch++)
        {
            string body = "[" + string.Join(",", Enumerable.Range(0, BatchSize).Select(n => $$$"""{"event":"tick","data":{"n":{{{(batch * BatchSize) + n}}}}}""")) + "]";
            using HttpResponseMessage response = await Next().Http.PostAsync("/api/sessions/chaos/events", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.That((int)response.StatusCode, Is.EqualTo(202));
        }

        ClientRun[] runs = await Task.WhenAll(clients);
        long[] expected = ResumeTests.Range(1, Events);
        foreach (ClientRun run in runs)
        {
            Assert.That(run.Seqs, Is.EqualTo(expected), $"client {run.Seed}");
        }

        TestContext.Out.WriteLine($"reconnects per client: min {runs.Min(r => r.Connections) - 1}, max {runs.Max(r => r.Connections) - 1}");
        Assert.That(runs.All(r => r.Connections > 1), Is.True, "every client dropped at least once");
    }

    internal sealed record ClientRun(int Seed, List<long> Seqs, int Connections);

    /// <summary>
    /// Takes one message a chaos client read: an event must be the one after the last (no
    /// duplicate, no gap) and is added to <paramref name="seqs"/>; every resume must be complete.
    /// Returns the last seq seen.
    /// </summary>
    internal static long TakeInOrder(JsonElement message, List<long> seqs, int seed)
    {
        long last = seqs.Count == 0 ? 0 : seqs[^1];
        switch (message.GetProperty("type").GetString())
        {
            case "event":
                long seq = message.GetProperty("seq").GetInt64();
                Assert.That(seq, Is.EqualTo(last + 1), $"client {seed}: after {last}");
                seqs.Add(seq);
                return seq;
            case "resumed":
                Assert.That(message.GetProperty("complete").GetBoolean(), Is.True, $"client {seed}");
                break;
        }

        return last;
    }

    /// <summary>
    /// A <see cref="ResumingClient"/> (Websocket.Client) whose socket is aborted under it after
    /// one event read in about 400; it reconnects by itself, to <paramref name="address"/> of the
    /// last seq it saw (which puts it in <c>since</c>). Any duplicate or gap fails at once.
    /// </summary>
    internal static async Task<ClientRun> RunResumingClientAsync(Func<long, Uri> address, int events, int seed)
    {
        var random = new Random(seed);
        // Breaks come at random, some of them while the client is still reconnecting from the last:
        // the silence watchdog brings it back from those.
        await using var client = new ResumingClient(address, silence: TimeSpan.FromSeconds(2));
        await client.StartAsync();
        var seqs = new List<long>(events);
        long last = 0;
        while (last < events)
        {
            JsonElement message = await client.ReceiveAsync();
            long seen = TakeInOrder(message, seqs, seed);
            if (seen != last && random.Next(400) == 0)
            {
                client.BreakConnection();
            }

            last = seen;
        }

        return new ClientRun(seed, seqs, client.Connects);
    }

    /// <summary>
    /// Reads the session, aborting its socket at random moments and reconnecting with the last seq
    /// it saw. Any duplicate or gap fails at once: each event must be the one after the last.
    /// </summary>
    private static async Task<ClientRun> RunClientAsync(Func<GatewayServer> server, int seed)
    {
        var random = new Random(seed);
        var seqs = new List<long>(Events);
        long last = 0;
        int connections = 0;
        while (last < Events)
        {
            connections++;
            TestClient client = await TestClient.ConnectAsync(server().WebSocketUri("chaos", $"since={last}"));
            try
            {
                while (await client.ReceiveTextAsync() is { } text)
                {
                    last = TakeInOrder(JsonDocument.Parse(text).RootElement, seqs, seed);
                    if (last == Events || random.Next(400) == 0)
                    {
                        break;
                    }
                }
            }
            finally
            {
                // Drop the connection the hard way: no close handshake.
                client.Socket.Abort();
                client.Socket.Dispose();
            }
        }

        return new ClientRun(seed, seqs, connections);
    }
}
