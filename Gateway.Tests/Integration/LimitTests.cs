using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Log;
using Gateway.Diagnostics;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>The limits of spec section 6: connections, message and publish rates, sessions and history memory.</summary>
[CancelAfter(60_000)]
public sealed class LimitTests
{
    [TestCase("Gateway:Limits:MaxConnections", "max_connections")]
    [TestCase("Gateway:Limits:MaxConnectionsPerIp", "max_connections_per_ip")]
    public async Task Past_a_connection_limit_an_upgrade_is_refused_with_503_and_retry_after(string limit, string reason)
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { [limit] = "3" });
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        var held = new List<TestClient>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri($"limit-{i}"));
                held.Add(client);
            }

            (int status, string body) = await RefusalTests.UpgradeAsync(server, "/ws/limit-9");
            Assert.That(status, Is.EqualTo(503));
            Assert.That(body, Does.Contain(reason));
            await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/limit-9/stream");
            Assert.That(stream.Head.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "SSE streams count too");
            Assert.That(stream.Head.Headers.RetryAfter, Is.Not.Null);
            Assert.That(metrics.Sum("gateway.connections.refused", $"reason={reason}"), Is.EqualTo(2));
        }
        finally
        {
            await Task.WhenAll(held.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Test]
    public async Task Past_the_per_session_limit_that_session_refuses_while_others_accept()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Limits:MaxConnectionsPerSession"] = "2" });
        (TestClient a, _) = await TestClient.JoinAsync(server.WebSocketUri("crowded"));
        (TestClient b, _) = await TestClient.JoinAsync(server.WebSocketUri("crowded"));
        await using (a)
        await using (b)
        {
            Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/crowded")).Status, Is.EqualTo(503));
            Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/quiet")).Status, Is.EqualTo(101));
        }
    }

    [Test]
    public async Task A_connection_over_its_message_rate_gets_rate_limited_and_past_the_burst_1008()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Gateway:Limits:MessagesPerSecond"] = "1", ["Gateway:Limits:MessageBurst"] = "5" },
            s => s.AddSingleton<TimeProvider>(clock));
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("chatty"));
        await using (client)
        {
            for (int i = 0; i < 6; i++)
            {
                await client.SendAsync($$"""{"type":"ping","id":{{i}}}""");
            }

            for (int i = 0; i < 5; i++)
            {
                Assert.That((await client.ReceiveAsync("pong")).GetProperty("id").GetInt32(), Is.EqualTo(i));
            }

            JsonElement limited = await client.ReceiveAsync("error");
            Assert.That(limited.GetProperty("code").GetString(), Is.EqualTo("rate_limited"));
            Assert.That(limited.GetProperty("id").GetInt32(), Is.EqualTo(5));

            // Two seconds later, two tokens are back (and one repays the debt).
            clock.Advance(TimeSpan.FromSeconds(2));
            await client.SendAsync("""{"type":"ping","id":"later"}""");
            Assert.That((await client.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("later"));

            // A client that ignores rate_limited and sends a whole burst more is closed.
            for (int i = 0; i < 8; i++)
            {
                await client.SendAsync("""{"type":"ping"}""");
            }

            (int? code, string? reason, _) = await client.ReceiveCloseAsync();
            Assert.That((code, reason), Is.EqualTo((1008, "rate limit abused")));
        }
    }

    [Test]
    public async Task A_publisher_over_its_rate_gets_429_with_retry_after()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Gateway:Limits:PublishesPerSecond"] = "100" },
            s => s.AddSingleton<TimeProvider>(clock));
        string batch = "[" + string.Join(",", Enumerable.Repeat("""{"event":"e"}""", 1000)) + "]";
        Assert.That(await PostAsync(server, "flood", batch), Is.EqualTo(HttpStatusCode.Accepted), "a full batch fits the burst");

        using HttpResponseMessage refused = await server.Http.PostAsync("/api/sessions/flood/events", new StringContent("""{"event":"e"}"""));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(1)));

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.That(await PostAsync(server, "flood", """{"event":"e"}"""), Is.EqualTo(HttpStatusCode.Accepted));
    }

    [Test]
    public async Task Past_the_session_limit_new_sessions_are_refused_and_existing_ones_work()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Sessions:MaxSessions"] = "2" });
        Assert.That(await PostAsync(server, "s-1", """{"event":"e"}"""), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await PostAsync(server, "s-2", """{"event":"e"}"""), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await PostAsync(server, "s-3", """{"event":"e"}"""), Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/s-3")).Status, Is.EqualTo(503));
        using (HttpResponseMessage poll = await server.Http.GetAsync("/api/sessions/s-3/events"))
        {
            Assert.That(poll.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        }

        Assert.That(await PostAsync(server, "s-1", """{"event":"e"}"""), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/s-2")).Status, Is.EqualTo(101));

        using (await server.Http.DeleteAsync("/api/sessions/s-1"))
        {
        }

        Assert.That(await PostAsync(server, "s-3", """{"event":"e"}"""), Is.EqualTo(HttpStatusCode.Accepted));
    }

    [Test]
    public async Task A_session_takes_at_most_max_event_names_in_memory()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Sessions:MaxEventNames"] = "3" });
        await AssertMaxEventNamesAsync(server);
    }

    [Test]
    public async Task A_session_takes_at_most_max_event_names_in_redis()
    {
        await using RedisNodes nodes = await RedisNodes.StartAsync(nodes: 1, settings: new Dictionary<string, string?> { ["Gateway:Sessions:MaxEventNames"] = "3" });
        await AssertMaxEventNamesAsync(nodes[0]);
    }

    /// <summary>With a bound of 3 names: batches that stay within it, whether or not every name could be new, and one that would pass it.</summary>
    private static async Task AssertMaxEventNamesAsync(GatewayServer server)
    {
        // One name of three: within the bound even if it were new.
        Assert.That(await server.PublishAsync("names", "a"), Is.EqualTo(1));

        // Two new names and a repeat of one: three at most, so accepted.
        Assert.That(await PostAsync(server, "names", """[{"event":"b"},{"event":"c"},{"event":"b"}]"""), Is.EqualTo(HttpStatusCode.Accepted));

        // A known name and a fourth.
        using HttpResponseMessage refused = await server.Http.PostAsync("/api/sessions/names/events", new StringContent("""[{"event":"a"},{"event":"d"}]"""));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await refused.Content.ReadAsStringAsync(), Does.Contain("MaxEventNames"));

        // Known names go on; nothing of the refused batch was published.
        Assert.That(await server.PublishAsync("names", "b"), Is.EqualTo(5));
    }

    [Test]
    public async Task History_memory_is_bounded_and_given_back_exactly()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:History:MaxTotalBytes"] = (4 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Gateway:History:MaxEvents"] = "20",
        });
        MemoryLog sessions = server.Get<MemoryLog>();
        string data = JsonSerializer.Serialize(new string('m', 100 * 1024));

        // Each session holds at most 20 events of about 100 KB (the frame, which holds the data):
        // the budget (4 MiB) is reached by the third session.
        int accepted = 0;
        HttpStatusCode status = HttpStatusCode.Accepted;
        for (int i = 0; i < 200 && status == HttpStatusCode.Accepted; i++)
        {
            status = await PostAsync(server, $"big-{i % 4}", $$"""{"event":"e{{i % 7}}","data":{{data}}}""");
            accepted += status == HttpStatusCode.Accepted ? 1 : 0;
        }

        Assert.That(status, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(sessions.HistoryBytes, Is.LessThanOrEqualTo(4 * 1024 * 1024));
        Assert.That(accepted, Is.GreaterThan(10));

        // Within a session, eviction and state replacement give memory back: a small session keeps going.
        for (int i = 0; i < 4; i++)
        {
            using (await server.Http.DeleteAsync($"/api/sessions/big-{i}"))
            {
            }
        }

        Assert.That(sessions.HistoryBytes, Is.Zero, "every byte reserved was given back");
        for (int i = 0; i < 500; i++)
        {
            await PostAsync(server, "churn", $$"""{"event":"e{{i % 30}}","id":"{{i}}","data":{{i}}}""");
        }

        long churn = sessions.HistoryBytes;
        Assert.That(churn, Is.GreaterThan(0));
        using (await server.Http.DeleteAsync("/api/sessions/churn"))
        {
        }

        Assert.That(sessions.HistoryBytes, Is.Zero, "events held only by the state were accounted for too");
    }

    [Test]
    public async Task An_events_data_is_held_once_inside_its_frame_and_read_back_whole()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        MemoryLog sessions = server.Get<MemoryLog>();
        string data = JsonSerializer.Serialize(new string('d', 64 * 1024) + "\"é€", new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Assert.That(await PostAsync(server, "once", $$"""{"event":"e","data":{{data}}}"""), Is.EqualTo(HttpStatusCode.Accepted));

        // The frame carries the data verbatim: history keeps that and no second copy beside it.
        int dataBytes = Encoding.UTF8.GetByteCount(data);
        Assert.That(sessions.HistoryBytes, Is.InRange(dataBytes, dataBytes + 1024));

        // What is read back out of the frame is the data, in a replay and in the session's state.
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("once", "since=0"));
        await using (client)
        {
            JsonElement replayed = await client.ReceiveAsync("event");
            Assert.That(replayed.GetProperty("data").GetRawText(), Is.EqualTo(data));
        }

        using JsonDocument status = JsonDocument.Parse(await server.Http.GetStringAsync("/api/sessions/once"));
        Assert.That(status.RootElement.GetProperty("state").GetProperty("e").GetProperty("data").GetRawText(), Is.EqualTo(data));
    }

    [Test]
    public async Task Forms_built_for_compressing_and_streaming_clients_leave_with_the_delivery_and_history_keeps_the_event_alone()
    {
        // A clock that stands still: every event's ts has the same text, so that events of equal
        // data and session names of equal length cost the same.
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "1" },
            s => s.AddSingleton<TimeProvider>(clock));
        MemoryLog sessions = server.Get<MemoryLog>();
        string body = $$"""{"event":"doc","data":{{JsonSerializer.Serialize(new string('z', 8 * 1024))}}}""";

        // The event alone, with nobody to build another form of it: its cost.
        Assert.That(await PostAsync(server, "plain-0", body), Is.EqualTo(HttpStatusCode.Accepted));
        long cost = sessions.HistoryBytes;
        Assert.That(cost, Is.GreaterThan(8 * 1024));

        // The same event in a session of a name as long, sent compressed and as a Server-Sent Event.
        await using RawWebSocket wire = await RawWebSocket.ConnectAsync(server.WebSocketUri("forms-0"), "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        Assert.That((await wire.ReceiveFrameAsync()).Compressed, Is.False, "the welcome goes plain");
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/forms-0/stream");
        await stream.ReadCommentAsync();
        Assert.That(await PostAsync(server, "forms-0", body), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That((await wire.ReceiveFrameAsync()).Compressed, Is.True);
        await stream.ReadAsync();

        // History keeps the event's bytes, not the object that carried those forms to the clients.
        Assert.That(sessions.HistoryBytes, Is.EqualTo(2 * cost));

        // A second event evicts the first (history holds one) and costs the same; a delete gives it back.
        Assert.That(await PostAsync(server, "forms-0", body), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That((await wire.ReceiveFrameAsync()).Compressed, Is.True);
        await stream.ReadAsync();
        Assert.That(sessions.HistoryBytes, Is.EqualTo(2 * cost));
        using (await server.Http.DeleteAsync("/api/sessions/forms-0"))
        {
        }

        Assert.That(sessions.HistoryBytes, Is.EqualTo(cost));
        using (await server.Http.DeleteAsync("/api/sessions/plain-0"))
        {
        }

        Assert.That(sessions.HistoryBytes, Is.Zero);
    }

    private static async Task<HttpStatusCode> PostAsync(GatewayServer server, string session, string body)
    {
        using HttpResponseMessage response = await server.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body, Encoding.UTF8, "application/json"));
        return response.StatusCode;
    }
}
