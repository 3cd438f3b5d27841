using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Client publishing made safe (spec section 13): a client cannot complete a session, publishes
/// only the names <c>Security:ClientPublishEvents</c> allows, and its events carry a <c>from</c>
/// that every way of reading them shows and that no publisher over HTTP can forge.
/// </summary>
[CancelAfter(30_000)]
public sealed class ClientPublishTests
{
    private static readonly Dictionary<string, string?> Allowed = new() { ["Gateway:Security:AllowClientPublish"] = "true" };

    [Test]
    public async Task A_final_event_from_a_client_is_forbidden_and_the_session_goes_on()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Allowed);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("no-final"));
        await using (client)
        {
            await client.SendAsync("""{"type":"publish","id":"f","event":"done","final":true}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("id").GetString(), Is.EqualTo("f"));
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("forbidden"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("final"));

            // Nothing was published, and the session takes events still.
            await client.SendAsync("""{"type":"publish","id":"m","event":"chat","data":1,"final":false}""");
            Assert.That((await client.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That((await client.ReceiveAsync("ack")).GetProperty("id").GetString(), Is.EqualTo("m"));
        }
    }

    [Test]
    public async Task ClientPublishEvents_limits_the_names_a_client_may_publish()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>(Allowed)
        {
            ["Gateway:Security:ClientPublishEvents:0"] = "chat.*",
            ["Gateway:Security:ClientPublishEvents:1"] = "typing",
        });
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("names"));
        await using (client)
        {
            foreach (string name in new[] { "chat.message", "chat.", "typing" })
            {
                await client.SendAsync($$"""{"type":"publish","id":"{{name}}","event":"{{name}}"}""");
                await client.ReceiveAsync("event");
                Assert.That((await client.ReceiveAsync("ack")).GetProperty("id").GetString(), Is.EqualTo(name));
            }

            foreach (string name in new[] { "status", "typing2", "chat" })
            {
                await client.SendAsync($$"""{"type":"publish","id":"{{name}}","event":"{{name}}"}""");
                JsonElement error = await client.ReceiveAsync("error");
                Assert.That(error.GetProperty("id").GetString(), Is.EqualTo(name));
                Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("forbidden"));
                Assert.That(error.GetProperty("message").GetString(), Is.EqualTo(
                    $"a client may not publish \"{name}\" here: Gateway:Security:ClientPublishEvents allows chat.*, typing"));
            }
        }

        // The backend publishes any name over HTTP.
        Assert.That(await server.PublishAsync("names", "status"), Is.EqualTo(4));
    }

    [Test]
    public async Task A_client_event_carries_from_on_every_way_of_reading_it_and_a_backend_event_none()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Allowed);
        (TestClient publisher, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("room", "user=alice"));
        (TestClient watcher, _) = await TestClient.JoinAsync(server.WebSocketUri("room"));
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/room/stream");
        await stream.ReadCommentAsync();
        string connection = welcome.GetProperty("connection").GetString()!;
        string from = $$"""{"connection":"{{connection}}","user":"alice"}""";
        await using (publisher)
        await using (watcher)
        {
            await publisher.SendAsync("""{"type":"publish","id":1,"event":"chat.message","data":{"text":"hello"}}""");
            await publisher.ReceiveAsync("event");
            await publisher.ReceiveAsync("ack");
            await server.PublishAsync("room", "status", "\"thinking\"");

            JsonElement live = await watcher.ReceiveAsync("event");
            Assert.That(live.GetProperty("from").GetRawText(), Is.EqualTo(from), "WebSocket");
            Assert.That((await watcher.ReceiveAsync("event")).TryGetProperty("from", out _), Is.False, "an event published over HTTP has no from");

            JsonElement sse = JsonDocument.Parse((await stream.ReadAsync()).Data).RootElement;
            Assert.That(sse.GetProperty("from").GetRawText(), Is.EqualTo(from), "SSE");
            Assert.That(JsonDocument.Parse((await stream.ReadAsync()).Data).RootElement.TryGetProperty("from", out _), Is.False);

            JsonElement page = JsonDocument.Parse(await server.Http.GetStringAsync("/api/sessions/room/events?since=0")).RootElement;
            JsonElement[] polled = [.. page.GetProperty("events").EnumerateArray()];
            Assert.That(polled[0].GetProperty("from").GetRawText(), Is.EqualTo(from), "long poll");
            Assert.That(polled[1].TryGetProperty("from", out _), Is.False);

            JsonElement state = JsonDocument.Parse(await server.Http.GetStringAsync("/api/sessions/room")).RootElement.GetProperty("state");
            Assert.That(state.GetProperty("chat.message").GetProperty("from").GetRawText(), Is.EqualTo(from), "state over HTTP");
            Assert.That(state.GetProperty("status").TryGetProperty("from", out _), Is.False);

            await watcher.SendAsync("""{"type":"status","id":"s"}""");
            JsonElement status = await watcher.ReceiveAsync("status");
            Assert.That(status.GetProperty("state").GetProperty("chat.message").GetProperty("from").GetRawText(), Is.EqualTo(from), "status");
        }

        (TestClient late, _) = await TestClient.JoinAsync(server.WebSocketUri("room", "since=0"));
        await using (late)
        {
            Assert.That((await late.ReceiveAsync("event")).GetProperty("from").GetRawText(), Is.EqualTo(from), "replay");
        }

        // A client without a user is still told apart by its connection.
        (TestClient anonymous, JsonElement anonymousWelcome) = await TestClient.JoinAsync(server.WebSocketUri("room"));
        await using (anonymous)
        {
            await anonymous.SendAsync("""{"type":"publish","event":"chat.message","data":2}""");
            JsonElement own = await anonymous.ReceiveAsync("event");
            Assert.That(own.GetProperty("from").GetRawText(), Is.EqualTo(
                $$"""{"connection":"{{anonymousWelcome.GetProperty("connection").GetString()}}","user":null}"""));
        }
    }

    [TestCase("""{"event":"chat.message","data":"forged","from":{"connection":"x","user":"alice"}}""", TestName = "An HTTP publish with from is refused with 400")]
    [TestCase("""[{"event":"ok"},{"event":"chat.message","from":null}]""", TestName = "A batch with from in any event is refused whole")]
    public async Task An_HTTP_publisher_cannot_forge_from(string body)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using HttpResponseMessage response = await server.Http.PostAsync("/api/sessions/forged/events", new StringContent(body, Encoding.UTF8, "application/json"));
        string problem = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem);
        Assert.That(JsonDocument.Parse(problem).RootElement.GetProperty("detail").GetString(), Does.Contain("field \"from\" is set by the gateway"));
        using HttpResponseMessage session = await server.Http.GetAsync("/api/sessions/forged");
        Assert.That(session.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "nothing was published");
    }

    [Test]
    public async Task Over_Redis_from_survives_the_events_channel_history_and_state()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, settings: Allowed);
        (TestClient publisher, JsonElement welcome) = await TestClient.JoinAsync(cluster[0].WebSocketUri("redis-room", "user=bob"));
        (TestClient watcher, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("redis-room"));
        string from = $$"""{"connection":"{{welcome.GetProperty("connection").GetString()}}","user":"bob"}""";
        await using (publisher)
        await using (watcher)
        {
            await publisher.SendAsync("""{"type":"publish","id":1,"event":"chat.message","data":"hi\nthere"}""");

            // Over Redis the ack may come before the client's own event comes back through the channel.
            string[] replies = [(await publisher.ReceiveAsync()).GetProperty("type").GetString()!, (await publisher.ReceiveAsync()).GetProperty("type").GetString()!];
            Assert.That(replies, Is.EquivalentTo(new[] { "event", "ack" }));
            await cluster[1].PublishAsync("redis-room", "status", "1");

            JsonElement live = await watcher.ReceiveAsync("event");
            Assert.That(live.GetProperty("from").GetRawText(), Is.EqualTo(from), "through the events channel, on the other node");
            Assert.That(live.GetProperty("data").GetString(), Is.EqualTo("hi\nthere"));
            Assert.That((await watcher.ReceiveAsync("event")).TryGetProperty("from", out _), Is.False);
        }

        (TestClient late, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("redis-room", "since=0"));
        await using (late)
        {
            Assert.That((await late.ReceiveAsync("event")).GetProperty("from").GetRawText(), Is.EqualTo(from), "replayed from Redis history");
        }

        JsonElement state = JsonDocument.Parse(await cluster[0].Http.GetStringAsync("/api/sessions/redis-room")).RootElement.GetProperty("state");
        Assert.That(state.GetProperty("chat.message").GetProperty("from").GetRawText(), Is.EqualTo(from), "state read from Redis");
    }
}
