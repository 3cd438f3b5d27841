using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Diagnostics;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Three gateway nodes on one real redis-server, or on a real Redis Cluster of three shards, act
/// as one gateway (spec section 7): the guarantees of section 4 hold whichever node a client or a
/// publisher talks to.
/// </summary>
[TestFixture(false, "session")]
[TestFixture(true, "session")]
[TestFixture(false, "slot")]
[TestFixture(true, "slot")]
[CancelAfter(60_000)]
public sealed class RedisBackplaneTests(bool onCluster, string channels) : OptionalRedisCluster(onCluster)
{
    [Test]
    public async Task A_node_listens_on_a_sessions_channel_only_while_it_has_members_of_it()
    {
        await using RedisNodes nodes = await RedisNodes.StartAsync(nodes: 2, on: Cluster, channels: channels);
        var keys = new Gateway.Log.Redis.RedisKeys(nodes.KeyPrefix, perSlot: channels == "slot");

        // Two sessions of one hash slot (one channel between them with per-slot channels), and one of another slot.
        const string first = "listen-0";
        int slot = Gateway.Log.Redis.RedisSlots.Of(first);
        string second = Enumerable.Range(1, int.MaxValue).Select(i => "listen-" + i).First(s => Gateway.Log.Redis.RedisSlots.Of(s) == slot);
        const string other = "elsewhere";
        Assert.That(Gateway.Log.Redis.RedisSlots.Of(other), Is.Not.EqualTo(slot));
        Assert.That(keys.Channel(second) == keys.Channel(first), Is.EqualTo(channels == "slot"));

        async Task<int> SubscribersAsync(string session)
        {
            string channel = keys.Channel(session);
            RedisServer server = await nodes.ServerOfAsync(channel[nodes.KeyPrefix.Length..]);
            string reply = await server.CommandAsync("PUBSUB", "SHARDNUMSUB", channel);
            return int.Parse(reply.Split('\n')[1], System.Globalization.CultureInfo.InvariantCulture);
        }

        async Task WhenUnsubscribedAsync(string session)
        {
            while (await SubscribersAsync(session) > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), TestClient.Deadline);
            }
        }

        Assert.That(await SubscribersAsync(first), Is.Zero, "nobody listens before a member comes");
        (TestClient firstClient, _) = await TestClient.JoinAsync(nodes[0].WebSocketUri(first));
        (TestClient secondClient, _) = await TestClient.JoinAsync(nodes[0].WebSocketUri(second));
        (TestClient otherClient, _) = await TestClient.JoinAsync(nodes[0].WebSocketUri(other));
        await using (secondClient)
        {
            // Subscribed before the welcome, once per channel: node 1 has no members and does not listen.
            Assert.That(new[] { await SubscribersAsync(first), await SubscribersAsync(second), await SubscribersAsync(other) }, Is.EqualTo(new[] { 1, 1, 1 }));

            // The first session's member leaves, then the other's: the visit that lets the other's
            // channel go saw the first session gone too.
            await firstClient.DisposeAsync();
            await otherClient.DisposeAsync();
            await WhenUnsubscribedAsync(other);
            if (channels == "slot")
            {
                Assert.That(await SubscribersAsync(second), Is.EqualTo(1), "the slot's channel is held while a session of the slot has members");
            }
            else
            {
                await WhenUnsubscribedAsync(first);
                Assert.That(await SubscribersAsync(second), Is.EqualTo(1));
            }

            // And it carries the second session's events from the other node.
            Assert.That(await nodes[1].PublishAsync(second, "still"), Is.EqualTo(1));
            Assert.That(await ResumeTests.SeqsAsync(secondClient, 1), Is.EqualTo(new long[] { 1 }));
        }

        await WhenUnsubscribedAsync(second);
    }

    [Test]
    public async Task An_event_published_on_one_node_reaches_every_node_with_the_seq_the_others_report()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(on: Cluster, channels: channels);
        var clients = new List<TestClient>();
        foreach (GatewayServer node in cluster.Nodes)
        {
            (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(node.WebSocketUri("across"));
            Assert.That(welcome.GetProperty("seq").GetInt64(), Is.Zero);
            clients.Add(client);
        }

        try
        {
            for (int i = 1; i <= 5; i++)
            {
                Assert.That(await cluster[1].PublishAsync("across", "step", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), Is.EqualTo(i));
            }

            foreach (TestClient client in clients)
            {
                var events = new List<JsonElement>();
                for (int i = 0; i < 5; i++)
                {
                    events.Add(await client.ReceiveAsync("event"));
                }

                Assert.That(events.Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(new long[] { 1, 2, 3, 4, 5 }));
                Assert.That(events.Select(e => e.GetProperty("data").GetInt32()), Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
            }

            // Node C reports what node B published, and the clients of all three nodes.
            JsonElement session = await GetJsonAsync(cluster[2], "/api/sessions/across");
            Assert.That(session.GetProperty("seq").GetInt64(), Is.EqualTo(5));
            Assert.That(session.GetProperty("clients").GetInt32(), Is.EqualTo(3));
            Assert.That(session.GetProperty("state").GetProperty("step").GetProperty("seq").GetInt64(), Is.EqualTo(5));

            await clients[0].SendAsync("""{"type":"status","id":"s"}""");
            JsonElement status = await clients[0].ReceiveAsync("status");
            Assert.That((status.GetProperty("seq").GetInt64(), status.GetProperty("clients").GetInt32()), Is.EqualTo((5L, 3)));

            JsonElement list = await GetJsonAsync(cluster[0], "/api/sessions");
            JsonElement row = list.EnumerateArray().Single(s => s.GetProperty("session").GetString() == "across");
            Assert.That((row.GetProperty("seq").GetInt64(), row.GetProperty("clients").GetInt32()), Is.EqualTo((5L, 3)));
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Test]
    public async Task A_client_that_drops_on_one_node_resumes_on_another_with_exactly_what_it_missed()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(on: Cluster, channels: channels);
        (TestClient first, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("roam"));
        for (int i = 0; i < 3; i++)
        {
            await cluster[1].PublishAsync("roam", "step");
        }

        Assert.That(await ResumeTests.SeqsAsync(first, 3), Is.EqualTo(new long[] { 1, 2, 3 }));
        first.Socket.Abort();
        first.Socket.Dispose();

        for (int i = 0; i < 5; i++)
        {
            await cluster[(i % 2) + 1].PublishAsync("roam", "step");
        }

        (TestClient again, JsonElement welcome) = await TestClient.JoinAsync(cluster[2].WebSocketUri("roam", "since=3"));
        await using (again)
        {
            Assert.That(welcome.GetProperty("seq").GetInt64(), Is.EqualTo(8));
            Assert.That(await ResumeTests.SeqsAsync(again, 5), Is.EqualTo(new long[] { 4, 5, 6, 7, 8 }));
            JsonElement resumed = await again.ReceiveAsync("resumed");
            Assert.That((resumed.GetProperty("replayed").GetInt32(), resumed.GetProperty("complete").GetBoolean()), Is.EqualTo((5, true)));

            // Then live, from a node it never talked to; and a resume message replays from Redis.
            await cluster[0].PublishAsync("roam", "step");
            Assert.That(await ResumeTests.SeqsAsync(again, 1), Is.EqualTo(new long[] { 9 }));
            await again.SendAsync("""{"type":"resume","id":"r","since":7}""");
            Assert.That(await ResumeTests.SeqsAsync(again, 2), Is.EqualTo(new long[] { 8, 9 }));
            Assert.That((await again.ReceiveAsync("resumed")).GetProperty("replayed").GetInt32(), Is.EqualTo(2));
        }
    }

    [Test]
    public async Task An_id_used_on_one_node_is_a_duplicate_on_another_and_is_delivered_once()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(on: Cluster, channels: channels);
        (TestClient client, _) = await TestClient.JoinAsync(cluster[2].WebSocketUri("idem"));
        await using (client)
        {
            JsonElement first = await PostAsync(cluster[0], "idem", """{"event":"charge","data":1,"id":"order-7"}""");
            JsonElement retry = await PostAsync(cluster[1], "idem", """{"event":"charge","data":1,"id":"order-7"}""");
            Assert.That(first.GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That((retry.GetProperty("seq").GetInt64(), retry.GetProperty("duplicate").GetBoolean()), Is.EqualTo((1L, true)));

            // A number id and a string id with the same text are different ids, as in memory; a
            // batch that repeats an id publishes it once.
            JsonElement batch = await PostAsync(cluster[1], "idem", """[{"event":"charge","id":7},{"event":"charge","id":"order-7"},{"event":"charge","id":7}]""");
            Assert.That(batch.GetProperty("seqs").EnumerateArray().Select(s => s.GetInt64()), Is.EqualTo(new long[] { 2, 1, 2 }));
            Assert.That(batch.GetProperty("duplicates").EnumerateArray().Select(s => s.GetInt32()), Is.EqualTo(new[] { 1, 2 }));

            Assert.That(await ResumeTests.SeqsAsync(client, 2), Is.EqualTo(new long[] { 1, 2 }));
            await client.SendAsync("""{"type":"ping","id":"after"}""");
            Assert.That((await client.ReceiveAsync()).GetProperty("type").GetString(), Is.EqualTo("pong"), "no event was delivered twice");
        }
    }

    [Test]
    public async Task History_keeps_its_bound_in_Redis_and_an_id_leaves_with_its_event()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, settings: new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "5" }, on: Cluster, channels: channels);
        for (int i = 1; i <= 8; i++)
        {
            await PostAsync(cluster[i % 2], "bounded", $$"""{"event":"e{{i % 3}}","data":{{i}},"id":"k{{i}}"}""");
        }

        Assert.That(await cluster.CommandAsync("LLEN", "{bounded}:events"), Is.EqualTo("5"));
        (TestClient client, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("bounded", "since=0"));
        await using (client)
        {
            Assert.That(await ResumeTests.SeqsAsync(client, 5), Is.EqualTo(new long[] { 4, 5, 6, 7, 8 }));
            Assert.That((await client.ReceiveAsync("resumed")).GetProperty("complete").GetBoolean(), Is.False, "events 1 to 3 are gone");
        }

        // k1 left with event 1: publishing it again is new. k8 is still held: a duplicate.
        Assert.That((await PostAsync(cluster[0], "bounded", """{"event":"e1","id":"k1"}""")).GetProperty("seq").GetInt64(), Is.EqualTo(9));
        Assert.That((await PostAsync(cluster[0], "bounded", """{"event":"e1","id":"k8"}""")).GetProperty("duplicate").GetBoolean(), Is.True);

        // The state keeps the latest of each name, whatever history let go.
        JsonElement state = (await GetJsonAsync(cluster[1], "/api/sessions/bounded")).GetProperty("state");
        Assert.That(state.EnumerateObject().Select(p => (p.Name, p.Value.GetProperty("seq").GetInt64())),
            Is.EquivalentTo(new[] { ("e0", 6L), ("e2", 8L), ("e1", 9L) }));
    }

    [Test]
    public async Task A_long_poll_and_an_event_stream_on_other_nodes_wake_on_a_publish()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(on: Cluster, channels: channels);
        await cluster[0].PublishAsync("fallback", "first");
        await using SseReader stream = await SseReader.OpenAsync(cluster[2], "/api/sessions/fallback/stream?since=0&named=true");
        await stream.ReadCommentAsync();
        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:1$"));
        Assert.That((await stream.ReadAsync()).Event, Is.EqualTo("@resumed"));

        Task<HttpResponseMessage> poll = cluster[1].Http.GetAsync("/api/sessions/fallback/events?since=1&wait=30", TestClient.Deadline);
        await cluster[0].PublishAsync("fallback", "second", "\"woke\"");

        using HttpResponseMessage answer = await poll;
        JsonElement page = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement;
        Assert.That(page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(new long[] { 2 }));
        Assert.That(page.GetProperty("events")[0].GetProperty("data").GetString(), Is.EqualTo("woke"));
        SseMessage live = await stream.ReadAsync();
        Assert.That((live.Id, live.Event), Is.EqualTo(($"{page.GetProperty("epoch").GetString()}:2", "second")), "the same epoch on every node");
    }

    [Test]
    public async Task A_final_event_completes_the_session_on_every_node()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(on: Cluster, channels: channels);
        (TestClient a, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("job"));
        (TestClient b, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("job"));
        await using (a)
        await using (b)
        {
            await PostAsync(cluster[2], "job", """[{"event":"progress","data":50},{"event":"done","data":"ok","final":true}]""");
            foreach (TestClient client in new[] { a, b })
            {
                (int? code, _, List<string> before) = await client.ReceiveCloseAsync();
                Assert.That(code, Is.EqualTo(1000));
                Assert.That(before.Select(m => JsonDocument.Parse(m).RootElement.GetProperty("seq").GetInt64()), Is.EqualTo(new long[] { 1, 2 }));
            }
        }

        // A late joiner on any node gets the whole job, then the close.
        (TestClient late, JsonElement welcome) = await TestClient.JoinAsync(cluster[1].WebSocketUri("job", "since=0"));
        await using (late)
        {
            Assert.That(welcome.GetProperty("complete").GetBoolean(), Is.True);
            (int? code, _, List<string> before) = await late.ReceiveCloseAsync();
            Assert.That((code, before.Count), Is.EqualTo((1000, 3)), "two events and resumed");
        }

        using HttpResponseMessage refused = await cluster[0].Http.PostAsync("/api/sessions/job/events", new StringContent("""{"event":"more"}"""));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }

    [Test]
    public async Task Deleting_a_session_on_one_node_closes_its_clients_on_every_node()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(on: Cluster, channels: channels);
        (TestClient a, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("doomed"));
        (TestClient b, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("doomed"));
        await using (a)
        await using (b)
        {
            await cluster[0].PublishAsync("doomed", "x");
            using HttpResponseMessage deleted = await cluster[2].Http.DeleteAsync("/api/sessions/doomed");
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
            foreach (TestClient client in new[] { a, b })
            {
                (int? code, string? reason, _) = await client.ReceiveCloseAsync();
                Assert.That((code, reason), Is.EqualTo((1001, "session closed")));
            }
        }

        foreach (GatewayServer node in cluster.Nodes)
        {
            using HttpResponseMessage gone = await node.Http.GetAsync("/api/sessions/doomed");
            Assert.That(gone.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        }

        using HttpResponseMessage again = await cluster[2].Http.DeleteAsync("/api/sessions/doomed");
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));

        // The name begins again at seq 1, and a new client there hears it.
        (TestClient fresh, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("doomed"));
        await using (fresh)
        {
            Assert.That(await cluster[1].PublishAsync("doomed", "x"), Is.EqualTo(1));
            Assert.That(await ResumeTests.SeqsAsync(fresh, 1), Is.EqualTo(new long[] { 1 }));
        }
    }

    [Test]
    public async Task Client_counts_follow_clients_leaving_on_any_node()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, on: Cluster, channels: channels);
        using var metrics = new MetricRecorder(cluster[0].Get<GatewayMetrics>());
        (TestClient a1, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("counted"));
        (TestClient a2, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("counted"));
        (TestClient b1, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("counted"));
        await using (a2)
        await using (b1)
        {
            Assert.That(await ClientsAsync(cluster[1], "counted"), Is.EqualTo(3));
            await a1.DisposeAsync();

            // Once node A has closed the connection, its next Redis command follows the count's update.
            await metrics.WhenSumReachesAsync("gateway.connections.closed", 1);
            Assert.That(await ClientsAsync(cluster[0], "counted"), Is.EqualTo(2));
        }
    }

    [Test]
    public async Task An_idle_session_expires_by_its_keys_time_to_live_while_one_with_a_client_stays()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 1, settings: new Dictionary<string, string?> { ["Gateway:Sessions:IdleTimeout"] = "00:00:01" }, on: Cluster, channels: channels);
        (TestClient client, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("watched"));
        await using (client)
        {
            await cluster[0].PublishAsync("watched", "x");
            Task idleExpired = await (await cluster.ServerOfAsync("{idle}:meta")).WatchExpiryAsync(cluster.KeyPrefix + "{idle}:meta");
            await cluster[0].PublishAsync("idle", "x");
            long ttl = long.Parse(await cluster.CommandAsync("PTTL", "{idle}:meta"), System.Globalization.CultureInfo.InvariantCulture);
            Assert.That(ttl, Is.InRange(1, 1000), "an idle session's keys live for Sessions:IdleTimeout");

            // Redis expires the idle session; the watched one, a second old too, is still there:
            // its node renews it while it has a client.
            await idleExpired.WaitAsync(TestClient.Deadline);
            using HttpResponseMessage idle = await cluster[0].Http.GetAsync("/api/sessions/idle");
            Assert.That(idle.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
            Assert.That((await GetJsonAsync(cluster[0], "/api/sessions/watched")).GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That((await GetJsonAsync(cluster[0], "/api/sessions")).EnumerateArray().Select(s => s.GetProperty("session").GetString()), Is.EqualTo(new[] { "watched" }));
        }
    }

    [Test]
    public async Task Redis_unreachable_at_start_leaves_the_node_unready_until_it_connects()
    {
        Assume.That(OnCluster, Is.False, "one redis-server started late; the cluster's faults are RedisClusterFaultTests'");
        int port = Tools.FreePort();
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Backplane:Mode"] = "redis",
            ["Gateway:Backplane:Redis"] = $"127.0.0.1:{port}",
            ["Gateway:Backplane:Channels"] = channels,
        };
        await using GatewayServer node = await GatewayServer.StartAsync(settings);

        using (HttpResponseMessage ready = await node.Http.GetAsync("/readyz"))
        {
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(await ready.Content.ReadAsStringAsync(), Does.Contain("backplane_unavailable"));
        }

        using (HttpResponseMessage publish = await node.Http.PostAsync("/api/sessions/early/events", new StringContent("""{"event":"x"}""")))
        {
            Assert.That(publish.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(publish.Headers.RetryAfter, Is.Not.Null);
            Assert.That(await publish.Content.ReadAsStringAsync(), Does.Contain("Redis"));
        }

        (int status, string body) = await RefusalTests.UpgradeAsync(node, "/ws/early");
        Assert.That(status, Is.EqualTo(503));
        Assert.That(body, Does.Contain("Redis"));
        using (HttpResponseMessage list = await node.Http.GetAsync("/api/sessions"))
        {
            Assert.That(list.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        }

        // Redis comes up on that port: the node's retries find it.
        await using RedisServer redis = await RedisServer.StartAsync(port: port);
        await node.Get<Gateway.Log.Redis.RedisLog>().WhenAvailableAsync(TestClient.Deadline);
        using (HttpResponseMessage ready = await node.Http.GetAsync("/readyz"))
        {
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        Assert.That(await node.PublishAsync("early", "x"), Is.EqualTo(1));
    }

    internal static async Task<JsonElement> PostAsync(GatewayServer node, string session, string body)
    {
        using HttpResponseMessage response = await node.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    internal static async Task<JsonElement> GetJsonAsync(GatewayServer node, string path)
    {
        using HttpResponseMessage response = await node.Http.GetAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<int> ClientsAsync(GatewayServer node, string session) =>
        (await GetJsonAsync(node, $"/api/sessions/{session}")).GetProperty("clients").GetInt32();
}
