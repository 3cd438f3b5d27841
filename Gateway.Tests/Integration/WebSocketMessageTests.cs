using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>Each client message type and its reply, against the real gateway over real sockets.</summary>
[CancelAfter(30_000)]
public sealed class WebSocketMessageTests
{
    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    [Test]
    public async Task Welcome_comes_first_with_the_session_its_seq_and_the_heartbeat()
    {
        await _server.PublishAsync("welcome-seq", "step");
        await _server.PublishAsync("welcome-seq", "step");

        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(_server.WebSocketUri("welcome-seq"));
        await using (client)
        {
            Assert.That(welcome.GetProperty("session").GetString(), Is.EqualTo("welcome-seq"));
            Assert.That(welcome.GetProperty("connection").GetString(), Has.Length.EqualTo(16));
            Assert.That(welcome.GetProperty("seq").GetInt64(), Is.EqualTo(2));
            Assert.That(welcome.GetProperty("heartbeat").GetProperty("interval").GetInt64(), Is.EqualTo(15_000));
            Assert.That(welcome.GetProperty("heartbeat").GetProperty("timeout").GetInt64(), Is.EqualTo(45_000));
            Assert.That(welcome.GetProperty("protocol").GetInt32(), Is.EqualTo(1));
        }
    }

    [Test]
    public async Task Ping_is_answered_with_pong_echoing_id_and_ts()
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("ping"));
        await using (client)
        {
            long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await client.SendAsync("""{"type":"ping","id":"p-1","ts":1732250000123}""");
            JsonElement pong = await client.ReceiveAsync("pong");
            Assert.That(pong.GetProperty("id").GetString(), Is.EqualTo("p-1"));
            Assert.That(pong.GetProperty("ts").GetInt64(), Is.EqualTo(1732250000123));
            Assert.That(pong.GetProperty("serverTs").GetInt64(), Is.GreaterThanOrEqualTo(before));

            await client.SendAsync("""{"type":"ping","id":7}""");
            pong = await client.ReceiveAsync("pong");
            Assert.That(pong.GetProperty("id").GetInt32(), Is.EqualTo(7));
            Assert.That(pong.TryGetProperty("ts", out _), Is.False);
        }
    }

    [Test]
    public async Task Subscribe_narrows_then_widens_and_unsubscribe_removes()
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("filters"));
        await using (client)
        {
            await client.SendAsync("""{"type":"subscribe","id":1,"events":["b","a"]}""");
            Assert.That(Names(await client.ReceiveAsync("subscribed")), Is.EqualTo(new[] { "a", "b" }));

            await client.SendAsync("""{"type":"subscribe","id":2,"events":["c"]}""");
            Assert.That(Names(await client.ReceiveAsync("subscribed")), Is.EqualTo(new[] { "a", "b", "c" }));

            await client.SendAsync("""{"type":"unsubscribe","id":3,"events":["a","zzz"]}""");
            JsonElement reply = await client.ReceiveAsync("subscribed");
            Assert.That(reply.GetProperty("id").GetInt32(), Is.EqualTo(3));
            Assert.That(Names(reply), Is.EqualTo(new[] { "b", "c" }));

            await client.SendAsync("""{"type":"subscribe","id":4,"events":["*"]}""");
            Assert.That(Names(await client.ReceiveAsync("subscribed")), Is.EqualTo(new[] { "*" }));

            await client.SendAsync("""{"type":"unsubscribe","id":5,"events":["b"]}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("id").GetInt32(), Is.EqualTo(5));
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("invalid_message"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("subscribe to the names you want"));
        }
    }

    [Test]
    public async Task The_filter_decides_what_arrives()
    {
        (TestClient narrow, _) = await TestClient.JoinAsync(_server.WebSocketUri("filtered", "events=status,done"));
        (TestClient all, _) = await TestClient.JoinAsync(_server.WebSocketUri("filtered"));
        await using (narrow)
        await using (all)
        {
            await _server.PublishAsync("filtered", "progress", "1");
            await _server.PublishAsync("filtered", "status", "2");
            var narrowSeqs = new List<long> { (await narrow.ReceiveAsync("event")).GetProperty("seq").GetInt64() };
            await narrow.SendAsync("""{"type":"subscribe","events":["progress"]}""");
            await narrow.ReceiveAsync("subscribed");
            await _server.PublishAsync("filtered", "progress", "3");
            await _server.PublishAsync("filtered", "other", "4");
            await _server.PublishAsync("filtered", "done", "5");

            for (int i = 0; i < 2; i++)
            {
                narrowSeqs.Add((await narrow.ReceiveAsync("event")).GetProperty("seq").GetInt64());
            }

            var allSeqs = new List<long>();
            for (int i = 0; i < 5; i++)
            {
                allSeqs.Add((await all.ReceiveAsync("event")).GetProperty("seq").GetInt64());
            }

            Assert.That(narrowSeqs, Is.EqualTo(new long[] { 2, 3, 5 }));
            Assert.That(allSeqs, Is.EqualTo(new long[] { 1, 2, 3, 4, 5 }));
        }
    }

    [Test]
    public async Task Events_carry_session_name_seq_ts_and_data_as_published()
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("event-shape"));
        await using (client)
        {
            await _server.PublishAsync("event-shape", "step_update", """{ "loss": 0.25, "step": 10, "tags": ["a b"] }""");
            JsonElement e = await client.ReceiveAsync("event");
            Assert.That(e.GetProperty("session").GetString(), Is.EqualTo("event-shape"));
            Assert.That(e.GetProperty("event").GetString(), Is.EqualTo("step_update"));
            Assert.That(e.GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That(e.GetProperty("ts").GetString(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"));
            Assert.That(e.GetProperty("data").GetRawText(), Is.EqualTo("""{"loss":0.25,"step":10,"tags":["a b"]}"""));
        }
    }

    [Test]
    public async Task Events_reach_only_their_own_session()
    {
        (TestClient a, _) = await TestClient.JoinAsync(_server.WebSocketUri("isolated-a"));
        (TestClient b, _) = await TestClient.JoinAsync(_server.WebSocketUri("isolated-b"));
        await using (a)
        await using (b)
        {
            await _server.PublishAsync("isolated-a", "x", "\"for a\"");
            await _server.PublishAsync("isolated-b", "x", "\"for b\"");

            // Each client's next message is its own session's event: nothing from the other came first.
            Assert.That((await a.ReceiveAsync("event")).GetProperty("data").GetString(), Is.EqualTo("for a"));
            Assert.That((await b.ReceiveAsync("event")).GetProperty("data").GetString(), Is.EqualTo("for b"));
            await a.SendAsync("""{"type":"ping","id":"after"}""");
            Assert.That((await a.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("after"));
        }
    }

    [Test]
    public async Task Status_reports_seq_clients_and_the_latest_event_of_each_name()
    {
        await _server.PublishAsync("status", "build_progress", """{"pct":10}""");
        await _server.PublishAsync("status", "document_status", "\"parsing\"");
        await _server.PublishAsync("status", "build_progress", """{"pct":55}""");
        (TestClient first, _) = await TestClient.JoinAsync(_server.WebSocketUri("status"));
        (TestClient second, _) = await TestClient.JoinAsync(_server.WebSocketUri("status"));
        await using (first)
        await using (second)
        {
            await first.SendAsync("""{"type":"status","id":"s"}""");
            JsonElement status = await first.ReceiveAsync("status");
            Assert.That(status.GetProperty("id").GetString(), Is.EqualTo("s"));
            Assert.That(status.GetProperty("session").GetString(), Is.EqualTo("status"));
            Assert.That(status.GetProperty("seq").GetInt64(), Is.EqualTo(3));
            Assert.That(status.GetProperty("clients").GetInt32(), Is.EqualTo(2));
            JsonElement state = status.GetProperty("state");
            Assert.That(state.GetProperty("build_progress").GetProperty("seq").GetInt64(), Is.EqualTo(3));
            Assert.That(state.GetProperty("build_progress").GetProperty("data").GetRawText(), Is.EqualTo("""{"pct":55}"""));
            Assert.That(state.GetProperty("document_status").GetProperty("seq").GetInt64(), Is.EqualTo(2));
            Assert.That(state.EnumerateObject().Count(), Is.EqualTo(2));
        }
    }

    [Test]
    public async Task Client_publish_is_forbidden_by_default()
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("no-client-publish"));
        await using (client)
        {
            await client.SendAsync("""{"type":"publish","id":"p","event":"chat","data":"hi"}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("id").GetString(), Is.EqualTo("p"));
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("forbidden"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("AllowClientPublish"));

            using HttpResponseMessage session = await _server.Http.GetAsync("/api/sessions/no-client-publish");
            Assert.That(JsonDocument.Parse(await session.Content.ReadAsStringAsync()).RootElement.GetProperty("seq").GetInt64(), Is.Zero);
        }
    }

    [Test]
    public async Task Client_publish_when_allowed_is_acked_and_delivered_to_the_session()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Security:AllowClientPublish"] = "true" });
        (TestClient publisher, _) = await TestClient.JoinAsync(server.WebSocketUri("chat"));
        (TestClient watcher, _) = await TestClient.JoinAsync(server.WebSocketUri("chat"));
        await using (publisher)
        await using (watcher)
        {
            await publisher.SendAsync("""{"type":"publish","id":42,"event":"message_chunk","data":{"text":"Hel"}}""");
            JsonElement own = await publisher.ReceiveAsync("event");
            JsonElement ack = await publisher.ReceiveAsync("ack");
            Assert.That(ack.GetProperty("id").GetInt32(), Is.EqualTo(42));
            Assert.That(ack.GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That(own.GetProperty("seq").GetInt64(), Is.EqualTo(1));

            JsonElement seen = await watcher.ReceiveAsync("event");
            Assert.That(seen.GetProperty("event").GetString(), Is.EqualTo("message_chunk"));
            Assert.That(seen.GetProperty("data").GetProperty("text").GetString(), Is.EqualTo("Hel"));
        }
    }

    [Test]
    public async Task The_gateway_v1_subprotocol_is_selected_when_offered_and_none_is_needed()
    {
        await using TestClient offered = await TestClient.ConnectAsync(_server.WebSocketUri("subprotocol"), "gateway.v1");
        await using TestClient plain = await TestClient.ConnectAsync(_server.WebSocketUri("subprotocol"));
        Assert.That(offered.Socket.SubProtocol, Is.EqualTo("gateway.v1"));
        Assert.That(plain.Socket.SubProtocol, Is.Null);
        await offered.ReceiveAsync("welcome");
        await plain.ReceiveAsync("welcome");
    }

    [Test]
    public async Task Auth_without_auth_mode_needs_no_reply_and_rpc_without_a_backend_is_unavailable()
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("extras"));
        await using (client)
        {
            await client.SendAsync("""{"type":"auth","token":"anything"}""");
            await client.SendAsync("""{"type":"rpc","id":"r","method":"ask","data":{"q":1}}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("id").GetString(), Is.EqualTo("r"));
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("unavailable"));
        }
    }

    private static string[] Names(JsonElement subscribed) =>
        subscribed.GetProperty("events").EnumerateArray().Select(e => e.GetString()!).ToArray();
}
