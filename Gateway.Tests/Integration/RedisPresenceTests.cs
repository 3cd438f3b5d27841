using System.Diagnostics;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Presence with the Redis backplane (spec section 17): it covers every node, joins and leaves
/// reach watchers on any node, and a node that dies leaves presence within Heartbeat:Timeout.
/// </summary>
/// <remarks>Each runs on one redis-server and on a Redis Cluster (shared by the class) but the outage, which is one server's.</remarks>
[TestFixture(false)]
[TestFixture(true)]
[CancelAfter(60_000)]
public sealed class RedisPresenceTests(bool onCluster) : OptionalRedisCluster(onCluster)
{
    [Test]
    public async Task Presence_covers_every_node_and_joins_and_leaves_reach_a_watcher_on_another_node()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(on: Cluster);
        (TestClient watcher, string watcherId) = await PresenceTests.JoinAsync(cluster[2], "across", "presence=true&user=watcher");
        await using (watcher)
        {
            (TestClient ada, string adaId) = await PresenceTests.JoinAsync(cluster[0], "across", $"user=ada&info={Uri.EscapeDataString("""{"seat":1}""")}");
            JsonElement adaJoin = await watcher.ReceiveAsync("join");
            Assert.That((adaJoin.GetProperty("connection").GetString(), adaJoin.GetProperty("user").GetString(), adaJoin.GetProperty("info").GetRawText()),
                Is.EqualTo((adaId, "ada", """{"seat":1}""")));

            (TestClient bob, string bobId) = await PresenceTests.JoinAsync(cluster[1], "across", "user=bob");
            Assert.That((await watcher.ReceiveAsync("join")).GetProperty("connection").GetString(), Is.EqualTo(bobId));

            // Any node lists every node's members: each join was in Redis before the watcher heard it.
            foreach (GatewayServer node in cluster.Nodes)
            {
                JsonElement presence = await RedisBackplaneTests.GetJsonAsync(node, "/api/sessions/across/presence");
                Assert.That((presence.GetProperty("clients").GetInt32(), presence.GetProperty("users").GetInt32()), Is.EqualTo((3, 3)));
                Assert.That(presence.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("connection").GetString()),
                    Is.EquivalentTo(new[] { watcherId, adaId, bobId }));
                JsonElement listedAda = presence.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("connection").GetString() == adaId);
                Assert.That(listedAda.GetProperty("info").GetRawText(), Is.EqualTo("""{"seat":1}"""));
            }

            await ada.SendAsync("""{"type":"presence","id":"from-0"}""");
            JsonElement reply = await ada.ReceiveAsync("presence");
            Assert.That((reply.GetProperty("id").GetString(), reply.GetProperty("clients").GetInt32()), Is.EqualTo(("from-0", 3)));

            await bob.DisposeAsync();
            JsonElement leave = await watcher.ReceiveAsync("leave");
            Assert.That((leave.GetProperty("connection").GetString(), leave.GetProperty("user").GetString()), Is.EqualTo((bobId, "bob")));
            JsonElement after = await RedisBackplaneTests.GetJsonAsync(cluster[1], "/api/sessions/across/presence");
            Assert.That(after.GetProperty("clients").GetInt32(), Is.EqualTo(2));
            await ada.DisposeAsync();
            Assert.That((await watcher.ReceiveAsync("leave")).GetProperty("connection").GetString(), Is.EqualTo(adaId));

            // Nothing of it is an event: the session has no seq yet.
            await cluster[0].PublishAsync("across", "first");
            Assert.That((await watcher.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(1));
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task After_a_Redis_outage_a_member_that_left_meanwhile_is_told_gone_and_the_others_are_listed_still()
    {
        Assume.That(OnCluster, Is.False, "one redis-server stopped and started; a shard's outage is RedisClusterTests'");

        // With its data kept: a Redis that lost it resets the session, and every client reconnects anew.
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, appendOnly: true);
        (TestClient watcher, _) = await PresenceTests.JoinAsync(cluster[1], "restart", "presence=true");
        await using (watcher)
        {
            (TestClient ada, string adaId) = await PresenceTests.JoinAsync(cluster[0], "restart", "user=ada");
            (TestClient gone, string goneId) = await PresenceTests.JoinAsync(cluster[0], "restart", "user=gone");
            await using (ada)
            {
                var seen = new Dictionary<string, bool>();
                await ReadChangesUntilAsync(watcher, seen, () => seen.GetValueOrDefault(adaId) && seen.GetValueOrDefault(goneId));

                await cluster.Redis.StopAsync();
                foreach (GatewayServer node in cluster.Nodes)
                {
                    await node.Get<Gateway.Log.Redis.RedisLog>().WhenUnavailableAsync(TestClient.Deadline);
                }

                // It leaves while no node can reach Redis: its leave cannot be written then, nor heard.
                await gone.DisposeAsync();
                await cluster.Redis.StartAgainAsync();

                // The watcher hears that it left, and ends with ada present (it may hear ada leave and
                // join again, when its node reads the list before ada's node has stated it again).
                seen.Remove(goneId);
                await ReadChangesUntilAsync(watcher, seen, () => seen.TryGetValue(goneId, out bool present) && !present && seen.GetValueOrDefault(adaId));
                JsonElement presence = await RedisBackplaneTests.GetJsonAsync(cluster[0], "/api/sessions/restart/presence");
                string?[] listed = [.. presence.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("connection").GetString())];
                Assert.That(listed, Does.Contain(adaId).And.Not.Contain(goneId));
            }
        }
    }

    /// <summary>Applies the watcher's join, leave and presence_diff messages to <paramref name="seen"/> (connection: present) until <paramref name="done"/>.</summary>
    private static async Task ReadChangesUntilAsync(TestClient watcher, Dictionary<string, bool> seen, Func<bool> done)
    {
        while (!done())
        {
            JsonElement message = await watcher.ReceiveAsync();
            switch (message.GetProperty("type").GetString())
            {
                case "join":
                    seen[message.GetProperty("connection").GetString()!] = true;
                    break;
                case "leave":
                    seen[message.GetProperty("connection").GetString()!] = false;
                    break;
                case "presence_diff":
                    foreach (JsonElement member in message.GetProperty("joined").EnumerateArray())
                    {
                        seen[member.GetProperty("connection").GetString()!] = true;
                    }

                    foreach (JsonElement member in message.GetProperty("left").EnumerateArray())
                    {
                        seen[member.GetProperty("connection").GetString()!] = false;
                    }

                    break;
            }
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_node_killed_with_SIGKILL_leaves_presence_within_the_heartbeat_timeout()
    {
        TimeSpan timeout = TimeSpan.FromSeconds(6);
        var heartbeat = new Dictionary<string, string?>
        {
            ["Gateway:Heartbeat:Interval"] = "00:00:02",
            ["Gateway:Heartbeat:Timeout"] = "00:00:06",
        };
        await using RedisNodes survivors = await RedisNodes.StartAsync(nodes: 1, settings: heartbeat, on: Cluster);
        GatewayServer survivor = survivors[0];
        var victimSettings = new Dictionary<string, string?>(heartbeat) { ["Gateway:Backplane:KeyPrefix"] = survivors.KeyPrefix };
        GatewayProcess victim = await GatewayProcess.StartAsync(RedisNodes.Settings(survivors.Cluster?.ConnectionString ?? survivors.Redis.ConnectionString, victimSettings));
        await using (victim)
        {
            await victim.WhenLoggedAsync("Backplane connected to Redis");
            (TestClient watcher, string watcherId) = await PresenceTests.JoinAsync(survivor, "doomed", "presence=true");
            await using (watcher)
            {
                (TestClient onVictim, JsonElement welcome) = await TestClient.JoinAsync(victim.WebSocketUri("doomed", "user=doomed"));
                string doomedId = welcome.GetProperty("connection").GetString()!;
                await using (onVictim)
                {
                    Assert.That((await watcher.ReceiveAsync("join")).GetProperty("connection").GetString(), Is.EqualTo(doomedId));

                    var sinceKill = Stopwatch.StartNew();
                    await victim.KillAsync();
                    JsonElement leave = await watcher.ReceiveAsync("leave");
                    TimeSpan took = sinceKill.Elapsed;
                    Assert.That((leave.GetProperty("connection").GetString(), leave.GetProperty("user").GetString()), Is.EqualTo((doomedId, "doomed")));
                    Assert.That(took, Is.LessThan(timeout), "the spec's bound: a dead node leaves presence within Heartbeat:Timeout");
                }

                JsonElement presence = await RedisBackplaneTests.GetJsonAsync(survivor, "/api/sessions/doomed/presence");
                Assert.That(presence.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("connection").GetString()), Is.EqualTo(new[] { watcherId }));
            }
        }
    }
}
