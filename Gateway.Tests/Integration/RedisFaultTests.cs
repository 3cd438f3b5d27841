using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Log.Redis;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// The Redis backplane under faults: Redis going away and coming back, a node killed outright,
/// and clients roaming between nodes while events are published to any of them.
/// </summary>
public sealed class RedisFaultTests
{
    /// <remarks>
    /// Also with the channels on the commands' connection (the client library's
    /// <c>sharedSubscriptionConnection</c>, docs/scaling.md): one connection per node instead of two,
    /// and the same proof of every channel after the outage.
    /// </remarks>
    [TestCase(false)]
    [TestCase(true)]
    [CancelAfter(120_000)]
    public async Task Redis_stopped_and_restarted_mid_stream_loses_no_acknowledged_event(bool sharedConnection)
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(appendOnly: true, settings: new Dictionary<string, string?>
        {
            ["Gateway:Security:AllowClientPublish"] = "true",
        }, redisOptions: sharedConnection ? ",sharedSubscriptionConnection=true" : "");
        int connectionsPerNode = sharedConnection ? 1 : 2;
        Assert.That(await ConnectionsOfAsync(cluster), Is.All.EqualTo(connectionsPerNode), "each node's connections to Redis");
        var clients = new List<TestClient>();
        foreach (GatewayServer node in cluster.Nodes)
        {
            clients.Add((await TestClient.JoinAsync(node.WebSocketUri("outage"))).Client);
        }

        // A client of another, quiet session: the next thing it reads is the answer to its publish.
        (TestClient bystander, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("outage-quiet"));
        clients.Add(bystander);

        try
        {
            var publisher = new RetryingPublisher(cluster.Nodes, "outage");
            for (int i = 0; i < 50; i++)
            {
                await publisher.PublishAsync();
            }

            await cluster.Redis.StopAsync();

            // While Redis is down: publishes fail cleanly, with 503 and Retry-After, on every node;
            // the nodes say they are not ready; a client's publish gets "unavailable"; nobody is closed.
            foreach (GatewayServer node in cluster.Nodes)
            {
                await WhenUnavailableAsync(node);
                using HttpResponseMessage ready = await node.Http.GetAsync("/readyz");
                Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
                using HttpResponseMessage refused = await node.Http.PostAsync("/api/sessions/outage/events", new StringContent("""{"event":"lost"}"""));
                Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
                Assert.That(refused.Headers.RetryAfter, Is.Not.Null);
            }

            await bystander.SendAsync("""{"type":"publish","id":"p","event":"from-client","data":1}""");
            JsonElement error = await bystander.ReceiveAsync("error");
            Assert.That((error.GetProperty("id").GetString(), error.GetProperty("code").GetString()), Is.EqualTo(("p", "unavailable")));

            // A publisher keeps retrying through the outage (its ids make retries safe).
            Task retrying = Task.WhenAll(Enumerable.Range(0, 25).Select(_ => publisher.PublishAsync()));
            await cluster.Redis.StartAgainAsync();
            await retrying;
            for (int i = 0; i < 25; i++)
            {
                await publisher.PublishAsync();
            }

            // Every acknowledged event is there, once, in seq order, on clients that never reconnected.
            long last = publisher.Acknowledged.Max();
            Assert.That(publisher.Acknowledged.Order(), Is.EqualTo(ResumeTests.Range(1, last)), "seqs are dense: nothing published twice or lost");
            Assert.That(last, Is.EqualTo(100));
            foreach (TestClient client in clients.Take(3))
            {
                Assert.That(await ResumeTests.SeqsAsync(client, (int)last), Is.EqualTo(ResumeTests.Range(1, last)));
            }

            foreach (GatewayServer node in cluster.Nodes)
            {
                using HttpResponseMessage ready = await node.Http.GetAsync("/readyz");
                Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            }

            Assert.That((await RedisBackplaneTests.GetJsonAsync(cluster[2], "/api/sessions/outage")).GetProperty("clients").GetInt32(), Is.EqualTo(3), "counts restated after the restart");
            Assert.That(await ConnectionsOfAsync(cluster), Is.All.EqualTo(connectionsPerNode), "each node's connections to Redis after the restart");
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>
    /// The trade-off of one connection for commands and channels (docs/scaling.md): Redis caps what
    /// a subscribed connection may have waiting to be sent, and an answer past the cap closes it.
    /// The read fails as unavailable, the node reconnects by itself, smaller answers pass, and
    /// nothing acknowledged is lost.
    /// </summary>
    [Test]
    [CancelAfter(60_000)]
    public async Task A_shared_connection_closed_by_redis_for_a_long_answer_costs_a_503_and_loses_nothing()
    {
        await using RedisNodes nodes = await RedisNodes.StartAsync(nodes: 1, redisOptions: ",sharedSubscriptionConnection=true");
        GatewayServer node = nodes[0];
        string data = JsonSerializer.Serialize(new string('x', 60_000));
        for (int i = 0; i < 24; i++)
        {
            using HttpResponseMessage accepted = await node.Http.PostAsync("/api/sessions/long/events",
                new StringContent($$"""{"event":"big","data":{{data}}}""", Encoding.UTF8, "application/json"), TestClient.Deadline);
            Assert.That(accepted.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        }

        // 24 events of 60 KB: a read of them all is 1.4 MB, past a cap of 1 MB.
        await nodes.Redis.CommandAsync("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 0 0");
        using (HttpResponseMessage whole = await node.Http.GetAsync("/api/sessions/long/events?since=0", TestClient.Deadline))
        {
            Assert.That(whole.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), await whole.Content.ReadAsStringAsync());
            Assert.That(whole.Headers.RetryAfter, Is.Not.Null);
        }

        var publisher = new RetryingPublisher(nodes.Nodes, "long");
        await publisher.PublishAsync();
        Assert.That(publisher.Acknowledged, Is.EqualTo(new long[] { 25 }));
        Assert.That(LongPollTests.Seqs(await PollAnsweredAsync(node, "/api/sessions/long/events?since=0&limit=3")), Is.EqualTo(new long[] { 1, 2, 3 }));

        // With Redis's own cap again, the whole history reads, every event once.
        await nodes.Redis.CommandAsync("CONFIG", "SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60");
        Assert.That(LongPollTests.Seqs(await PollAnsweredAsync(node, "/api/sessions/long/events?since=0")), Is.EqualTo(ResumeTests.Range(1, 25)));
    }

    /// <summary>A long poll's page, asked again while the node answers 503 (it is reconnecting), until it answers.</summary>
    private static async Task<JsonElement> PollAnsweredAsync(GatewayServer node, string path)
    {
        using HttpResponseMessage response = await UntilAvailableAsync(_ => node.Http.GetAsync(path, TestClient.Deadline));
        string body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>
    /// Sends a request (<paramref name="send"/> gets the attempt's number) again each time it is
    /// answered 503, the answer of a node whose Redis is away, and returns the first other answer.
    /// </summary>
    private static async Task<HttpResponseMessage> UntilAvailableAsync(Func<int, Task<HttpResponseMessage>> send)
    {
        for (int attempt = 0; ; attempt++)
        {
            HttpResponseMessage response = await send(attempt);
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
            {
                return response;
            }

            response.Dispose();
            using var pause = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
            await pause.WaitForNextTickAsync(TestClient.Deadline);
        }
    }

    /// <summary>How many connections each node holds to the one redis-server, by the name each gives its connections.</summary>
    private static async Task<int[]> ConnectionsOfAsync(RedisNodes cluster)
    {
        string[] clients = (await cluster.Redis.CommandAsync("CLIENT", "LIST")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return [.. cluster.Nodes.Select(node => clients.Count(line => line.Contains($" name=gateway-{node.Get<RedisLog>().NodeId} ", StringComparison.Ordinal)))];
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Redis_restarted_without_persistence_resets_its_sessions_and_tells_their_clients()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 1);
        (TestClient client, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("forgotten"));
        await using (client)
        {
            for (int i = 0; i < 3; i++)
            {
                await cluster[0].PublishAsync("forgotten", "e");
            }

            Assert.That(await ResumeTests.SeqsAsync(client, 3), Is.EqualTo(new long[] { 1, 2, 3 }));
            await cluster.Redis.StopAsync();
            await WhenUnavailableAsync(cluster[0]);
            await cluster.Redis.StartAgainAsync();

            // The session came back empty: the client's place in it means nothing now.
            (int? code, string? reason, List<string> before) = await client.ReceiveCloseAsync();
            Assert.That((code, reason, before.Count), Is.EqualTo((1001, "session reset; reconnect", 0)));
        }

        // Reconnecting from where it was: the session begins again, and says nothing is missing.
        (TestClient again, JsonElement welcome) = await TestClient.JoinAsync(cluster[0].WebSocketUri("forgotten", "since=3"));
        await using (again)
        {
            Assert.That(welcome.GetProperty("seq").GetInt64(), Is.Zero);
            Assert.That((await again.ReceiveAsync("resumed")).GetProperty("replayed").GetInt32(), Is.Zero);
            Assert.That(await cluster[0].PublishAsync("forgotten", "e"), Is.EqualTo(1));
            Assert.That(await ResumeTests.SeqsAsync(again, 1), Is.EqualTo(new long[] { 1 }));
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_node_killed_with_SIGKILL_loses_nothing_its_clients_reconnect_elsewhere()
    {
        await using RedisServer redis = await RedisServer.StartAsync();
        await using GatewayServer survivor = await RedisNodes.StartNodeAsync(redis);
        Dictionary<string, string?> settings = RedisNodes.Settings(redis);
        GatewayProcess victim = await GatewayProcess.StartAsync(settings);
        await using (victim)
        {
            await victim.WhenLoggedAsync("Backplane connected to Redis");
            (TestClient onVictim, _) = await TestClient.JoinAsync(victim.WebSocketUri("sigkill"));
            await using (onVictim)
            {
                // Events acknowledged by the victim itself, then one from the survivor.
                for (int i = 0; i < 10; i++)
                {
                    using HttpResponseMessage response = await victim.Http.PostAsync("/api/sessions/sigkill/events", new StringContent($$"""{"event":"e","data":{{i}}}"""));
                    Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
                }

                Assert.That(await ResumeTests.SeqsAsync(onVictim, 4), Is.EqualTo(new long[] { 1, 2, 3, 4 }));
                await victim.KillAsync();
                await DropsAsync(onVictim);
            }

            for (int i = 0; i < 5; i++)
            {
                await survivor.PublishAsync("sigkill", "e");
            }

            // The client reconnects to the survivor from the last seq it saw.
            (TestClient moved, _) = await TestClient.JoinAsync(survivor.WebSocketUri("sigkill", "since=4"));
            await using (moved)
            {
                Assert.That(await ResumeTests.SeqsAsync(moved, 11), Is.EqualTo(ResumeTests.Range(5, 15)));
                Assert.That((await moved.ReceiveAsync("resumed")).GetProperty("complete").GetBoolean(), Is.True);
            }
        }

        // The node restarts (a new process, as an orchestrator would) and serves the whole session.
        await using GatewayProcess restarted = await GatewayProcess.StartAsync(settings);
        await restarted.WhenLoggedAsync("Backplane connected to Redis");
        (TestClient late, _) = await TestClient.JoinAsync(restarted.WebSocketUri("sigkill", "since=0"));
        await using (late)
        {
            Assert.That(await ResumeTests.SeqsAsync(late, 15), Is.EqualTo(ResumeTests.Range(1, 15)));
        }

        // The killed node's clients no longer count once its liveness key lapses; until then they
        // may. The survivor's own count is exact: none left.
        JsonElement session = await RedisBackplaneTests.GetJsonAsync(survivor, "/api/sessions/sigkill");
        Assert.That(session.GetProperty("seq").GetInt64(), Is.EqualTo(15));
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task Thirty_clients_roaming_over_three_nodes_each_get_ten_thousand_events_from_any_node_exactly_once()
    {
        const int Events = 10_000;
        await using RedisNodes cluster = await RedisNodes.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Gateway:History:MaxEvents"] = Events.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        // One in three is Websocket.Client, which reconnects by itself, each time to a node picked at random.
        Task<(List<long> Seqs, int Connections)>[] clients = Enumerable.Range(0, 30)
            .Select(i => Task.Run(async () =>
            {
                if (i % 3 != 0)
                {
                    return await RoamAsync(cluster.Nodes, "roaming", Events, seed: 2000 + i);
                }

                var nodes = new Random(3000 + i);
                ChaosTests.ClientRun run = await ChaosTests.RunResumingClientAsync(
                    since => cluster[nodes.Next(3)].WebSocketUri("roaming", $"since={since}"), Events, seed: 2000 + i);
                return (run.Seqs, run.Connections);
            }))
            .ToArray();

        var random = new Random(7);
        for (int published = 0; published < Events;)
        {
            int size = Math.Min(Events - published, random.Next(1, 20));
            string body = "[" + string.Join(",", Enumerable.Range(published, size).Select(n => $$"""{"event":"tick","data":{{n}}}""")) + "]";
            await RedisBackplaneTests.PostAsync(cluster[random.Next(3)], "roaming", body);
            published += size;
        }

        (List<long> Seqs, int Connections)[] runs = await Task.WhenAll(clients);
        foreach ((List<long> seqs, int connections) in runs)
        {
            Assert.That(seqs, Is.EqualTo(ResumeTests.Range(1, Events)));
            Assert.That(connections, Is.GreaterThan(1));
        }

        TestContext.Out.WriteLine($"connections per client: min {runs.Min(r => r.Connections)}, max {runs.Max(r => r.Connections)}");
    }

    /// <summary>
    /// A client that drops at random moments and reconnects to a random node from the last seq it
    /// saw; any duplicate or gap fails at once.
    /// </summary>
    private static async Task<(List<long> Seqs, int Connections)> RoamAsync(GatewayServer[] nodes, string session, int events, int seed)
    {
        var random = new Random(seed);
        var seqs = new List<long>(events);
        long last = 0;
        int connections = 0;
        while (last < events)
        {
            connections++;
            TestClient client = await TestClient.ConnectAsync(nodes[random.Next(nodes.Length)].WebSocketUri(session, $"since={last}"));
            try
            {
                while (await client.ReceiveTextAsync() is { } text)
                {
                    last = ChaosTests.TakeInOrder(JsonDocument.Parse(text).RootElement, seqs, seed);
                    if (last == events || random.Next(300) == 0)
                    {
                        break;
                    }
                }
            }
            finally
            {
                client.Socket.Abort();
                client.Socket.Dispose();
            }
        }

        return (seqs, connections);
    }

    /// <summary>Completes once the socket fails or closes (a killed server sends nothing more).</summary>
    private static async Task DropsAsync(TestClient client)
    {
        try
        {
            while (await client.ReceiveTextAsync() is not null)
            {
            }
        }
        catch (System.Net.WebSockets.WebSocketException)
        {
        }
    }

    /// <summary>Completes once <paramref name="node"/> has noticed that Redis is gone.</summary>
    private static Task WhenUnavailableAsync(GatewayServer node) =>
        node.Get<RedisLog>().WhenUnavailableAsync(TestClient.Deadline);

    /// <summary>
    /// Publishes numbered events to the nodes in turn, each with an id; a 503 is retried (on the
    /// next node) until it is accepted, so that every event is acknowledged exactly once.
    /// </summary>
    internal sealed class RetryingPublisher(GatewayServer[] nodes, string session)
    {
        private int _next;

        public List<long> Acknowledged { get; } = [];

        public async Task PublishAsync()
        {
            int n = Interlocked.Increment(ref _next);
            using HttpResponseMessage response = await UntilAvailableAsync(attempt => nodes[(n + attempt) % nodes.Length].Http.PostAsync($"/api/sessions/{session}/events",
                new StringContent($$"""{"event":"n","data":{{n}},"id":"event-{{n}}"}""", Encoding.UTF8, "application/json"), TestClient.Deadline));
            string body = await response.Content.ReadAsStringAsync();
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), body);
            long seq = JsonDocument.Parse(body).RootElement.GetProperty("seq").GetInt64();
            lock (Acknowledged)
            {
                Acknowledged.Add(seq);
            }
        }
    }
}
