using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>"A client that drops gets exactly what it missed": since, resume, and the seam between replay and live.</summary>
[CancelAfter(60_000)]
public sealed class ResumeTests
{
    [Test]
    public async Task Since_at_connect_replays_the_missed_events_then_resumed_then_live_ones()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        for (int i = 1; i <= 5; i++)
        {
            await server.PublishAsync("since", "step", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("since", "since=2"));
        await using (client)
        {
            Assert.That(welcome.GetProperty("seq").GetInt64(), Is.EqualTo(5));
            Assert.That(await SeqsAsync(client, 3), Is.EqualTo(new long[] { 3, 4, 5 }));
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That(resumed.TryGetProperty("id", out _), Is.False);
            Assert.That(resumed.GetProperty("since").GetInt64(), Is.EqualTo(2));
            Assert.That(resumed.GetProperty("replayed").GetInt32(), Is.EqualTo(3));
            Assert.That(resumed.GetProperty("complete").GetBoolean(), Is.True);

            await server.PublishAsync("since", "step", "6");
            Assert.That(await SeqsAsync(client, 1), Is.EqualTo(new long[] { 6 }));
        }
    }

    [Test]
    public async Task A_resume_message_replays_between_two_live_events()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("resume"));
        await using (client)
        {
            for (int i = 0; i < 3; i++)
            {
                await server.PublishAsync("resume", "step");
            }

            Assert.That(await SeqsAsync(client, 3), Is.EqualTo(new long[] { 1, 2, 3 }));
            await client.SendAsync("""{"type":"resume","id":"r1","since":1}""");
            Assert.That(await SeqsAsync(client, 2), Is.EqualTo(new long[] { 2, 3 }));
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That(resumed.GetProperty("id").GetString(), Is.EqualTo("r1"));
            Assert.That(resumed.GetProperty("replayed").GetInt32(), Is.EqualTo(2));

            await server.PublishAsync("resume", "step");
            Assert.That(await SeqsAsync(client, 1), Is.EqualTo(new long[] { 4 }));
        }
    }

    [Test]
    public async Task Events_published_during_the_replay_follow_it_with_no_gap_and_no_duplicate()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "5000" });
        await PublishBatchesAsync(server, "seam", batches: 10, size: 100);

        // A publisher keeps going while the client connects and its replay is queued.
        Task publishing = PublishBatchesAsync(server, "seam", batches: 20, size: 50);
        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("seam", "since=0"));
        await using (client)
        {
            long joinedAt = welcome.GetProperty("seq").GetInt64();
            Assert.That(await SeqsAsync(client, (int)joinedAt), Is.EqualTo(Range(1, joinedAt)), "the replay");
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That(resumed.GetProperty("replayed").GetInt64(), Is.EqualTo(joinedAt));
            await publishing;
            Assert.That(await SeqsAsync(client, (int)(2000 - joinedAt)), Is.EqualTo(Range(joinedAt + 1, 2000)), "the live events after it");
        }
    }

    [Test]
    public async Task When_history_has_moved_on_the_replay_is_what_it_holds_and_says_incomplete()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "10" });
        await PublishBatchesAsync(server, "overflow", batches: 1, size: 25);

        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("overflow", "since=5"));
        await using (client)
        {
            Assert.That(await SeqsAsync(client, 10), Is.EqualTo(Range(16, 25)));
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That(resumed.GetProperty("replayed").GetInt32(), Is.EqualTo(10));
            Assert.That(resumed.GetProperty("complete").GetBoolean(), Is.False);

            await client.SendAsync("""{"type":"resume","since":20}""");
            Assert.That(await SeqsAsync(client, 5), Is.EqualTo(Range(21, 25)));
            Assert.That((await client.ReceiveAsync("resumed")).GetProperty("complete").GetBoolean(), Is.True);

            // Ahead of the session (it began again after a delete): nothing to replay, and not complete.
            await client.SendAsync("""{"type":"resume","since":99}""");
            JsonElement ahead = await client.ReceiveAsync("resumed");
            Assert.That(ahead.GetProperty("replayed").GetInt32(), Is.Zero);
            Assert.That(ahead.GetProperty("complete").GetBoolean(), Is.False);
        }
    }

    [Test]
    public async Task The_filter_applies_to_the_replay()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("replay-filter", "a");
        await server.PublishAsync("replay-filter", "b");
        await server.PublishAsync("replay-filter", "a");

        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("replay-filter", "since=0&events=a"));
        await using (client)
        {
            Assert.That(await SeqsAsync(client, 2), Is.EqualTo(new long[] { 1, 3 }));
            Assert.That((await client.ReceiveAsync("resumed")).GetProperty("replayed").GetInt32(), Is.EqualTo(2));
        }
    }

    [Test]
    public async Task A_bad_since_is_refused_before_the_upgrade()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (int status, string body) = await RefusalTests.UpgradeAsync(server, "/ws/x?since=-1");
        Assert.That(status, Is.EqualTo(400));
        Assert.That(body, Does.Contain("since"));
    }

    [Test]
    public async Task A_slow_consumer_closed_with_4001_reconnects_with_since_and_loses_nothing()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxLagBytes"] = "131072",
            ["Gateway:Limits:MaxPublishBytes"] = "65536",
            ["Gateway:Limits:CloseTimeout"] = "00:00:30",
            ["Gateway:History:MaxEvents"] = "100000",
        });
        await using RawWebSocket slow = await RawWebSocket.ConnectAsync(server.WebSocketUri("slow-resume"), receiveBufferSize: 4096);
        await slow.ReceiveAsync();

        string data = JsonSerializer.Serialize(new string('d', 32 * 1024));
        long seq = 0;
        while (await ClientsAsync(server, "slow-resume") == 1)
        {
            seq = await server.PublishAsync("slow-resume", "chunk", data);
            Assert.That(seq, Is.LessThan(5000), "the slow client was never dropped");
        }

        // It reads what reached it, then the close; everything after its last seq comes on reconnect.
        (ServerFrame? close, List<string> before) = await slow.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(4001));
        long[] first = before.Select(t => JsonDocument.Parse(t).RootElement.GetProperty("seq").GetInt64()).ToArray();
        Assert.That(first, Is.EqualTo(Range(1, first.Length)));

        (TestClient again, _) = await TestClient.JoinAsync(server.WebSocketUri("slow-resume", $"since={first.Length}"));
        await using (again)
        {
            Assert.That(await SeqsAsync(again, (int)(seq - first.Length)), Is.EqualTo(Range(first.Length + 1, seq)));
            Assert.That((await again.ReceiveAsync("resumed")).GetProperty("complete").GetBoolean(), Is.True);
        }
    }

    internal static async Task<long[]> SeqsAsync(TestClient client, int count)
    {
        var seqs = new long[count];
        for (int i = 0; i < count; i++)
        {
            seqs[i] = (await client.ReceiveAsync("event")).GetProperty("seq").GetInt64();
        }

        return seqs;
    }

    internal static long[] Range(long first, long last) =>
        Enumerable.Range(0, (int)(last - first + 1)).Select(i => first + i).ToArray();

    internal static async Task PublishBatchesAsync(GatewayServer server, string session, int batches, int size)
    {
        for (int b = 0; b < batches; b++)
        {
            string body = "[" + string.Join(",", Enumerable.Repeat("""{"event":"tick","data":{"v":1}}""", size)) + "]";
            using HttpResponseMessage response = await server.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body));
            Assert.That((int)response.StatusCode, Is.EqualTo(202), await response.Content.ReadAsStringAsync());
        }
    }

    private static async Task<int> ClientsAsync(GatewayServer server, string session)
    {
        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/{session}");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("clients").GetInt32();
    }
}
