using System.Text.Json;
using Gateway.Log.Redis;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>The epoch with the Redis backplane: stored with the session's keys, the same on every node, new when Redis lost the session.</summary>
public sealed class RedisEpochTests
{
    [Test]
    [CancelAfter(60_000)]
    public async Task Every_node_reports_the_same_epoch_and_resumes_across_nodes_with_it()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2);
        await ResumeTests.PublishBatchesAsync(cluster[0], "shared-life", batches: 1, size: 5);
        string epoch = (await EpochTests.GetJsonAsync(cluster[0], "/api/sessions/shared-life")).GetProperty("epoch").GetString()!;
        Assert.That((await EpochTests.GetJsonAsync(cluster[1], "/api/sessions/shared-life")).GetProperty("epoch").GetString(), Is.EqualTo(epoch));

        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(cluster[1].WebSocketUri("shared-life", $"since=3&epoch={epoch}"));
        await using (client)
        {
            Assert.That(welcome.GetProperty("epoch").GetString(), Is.EqualTo(epoch));
            Assert.That(await ResumeTests.SeqsAsync(client, 2), Is.EqualTo(new long[] { 4, 5 }));
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That((resumed.GetProperty("complete").GetBoolean(), resumed.GetProperty("epoch").GetString()), Is.EqualTo((true, epoch)));
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Redis_losing_its_data_gives_a_new_epoch_and_a_resume_with_the_old_one_gets_the_new_life_from_its_start()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 1);
        GatewayServer node = cluster[0];
        await ResumeTests.PublishBatchesAsync(node, "lost-life", batches: 1, size: 5);
        string oldEpoch = (await EpochTests.GetJsonAsync(node, "/api/sessions/lost-life")).GetProperty("epoch").GetString()!;

        // redis-server without persistence, shut down and started again: every session is gone.
        await cluster.Redis.StopAsync();
        await node.Get<RedisLog>().WhenUnavailableAsync(TestClient.Deadline);
        await cluster.Redis.StartAgainAsync();
        await node.Get<RedisLog>().WhenAvailableAsync(TestClient.Deadline);
        await ResumeTests.PublishBatchesAsync(node, "lost-life", batches: 1, size: 4);

        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(node.WebSocketUri("lost-life", $"since=3&epoch={oldEpoch}"));
        await using (client)
        {
            string newEpoch = welcome.GetProperty("epoch").GetString()!;
            Assert.That(newEpoch, Is.Not.EqualTo(oldEpoch));
            Assert.That(await ResumeTests.SeqsAsync(client, 4), Is.EqualTo(new long[] { 1, 2, 3, 4 }), "the new life from its start, 1..3 included");
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That((resumed.GetProperty("since").GetInt64(), resumed.GetProperty("replayed").GetInt32()), Is.EqualTo((3, 4)));
            Assert.That((resumed.GetProperty("complete").GetBoolean(), resumed.GetProperty("epoch").GetString()), Is.EqualTo((false, newEpoch)));

            await node.PublishAsync("lost-life", "live");
            Assert.That(await ResumeTests.SeqsAsync(client, 1), Is.EqualTo(new long[] { 5 }));
        }

        JsonElement page = await EpochTests.GetJsonAsync(node, $"/api/sessions/lost-life/events?since=3&epoch={oldEpoch}");
        Assert.That(page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(ResumeTests.Range(1, 5)));
        Assert.That(page.GetProperty("complete").GetBoolean(), Is.False);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_flush_under_connected_nodes_resets_their_clients_instead_of_passing_off_the_new_life_as_the_old()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2);
        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(cluster[1].WebSocketUri("flushed"));
        string oldEpoch = welcome.GetProperty("epoch").GetString()!;
        await using (client)
        {
            await ResumeTests.PublishBatchesAsync(cluster[0], "flushed", batches: 1, size: 3);
            Assert.That(await ResumeTests.SeqsAsync(client, 3), Is.EqualTo(new long[] { 1, 2, 3 }));

            // Redis loses everything while both nodes stay connected; the session begins again.
            Assert.That(await cluster.Redis.CommandAsync("FLUSHALL"), Is.EqualTo("OK"));
            await ResumeTests.PublishBatchesAsync(cluster[0], "flushed", batches: 1, size: 5);

            // Seqs 4 and 5 of the new life are not the client's 4 and 5: it is told to start over.
            (int? code, string? reason, List<string> before) = await client.ReceiveCloseAsync();
            Assert.That((code, reason, before.Count), Is.EqualTo((1001, "session reset; reconnect", 0)), string.Join("\n", before));
        }

        (TestClient again, JsonElement rejoined) = await TestClient.JoinAsync(cluster[1].WebSocketUri("flushed", $"since=3&epoch={oldEpoch}"));
        await using (again)
        {
            Assert.That(rejoined.GetProperty("epoch").GetString(), Is.Not.EqualTo(oldEpoch));
            Assert.That(await ResumeTests.SeqsAsync(again, 5), Is.EqualTo(ResumeTests.Range(1, 5)));
            JsonElement resumed = await again.ReceiveAsync("resumed");
            Assert.That(resumed.GetProperty("complete").GetBoolean(), Is.False);
        }
    }
}
