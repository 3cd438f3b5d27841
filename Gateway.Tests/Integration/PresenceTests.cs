using System.Net;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>
/// Presence over the memory log (spec section 17): who is connected, with their user and info;
/// join and leave to the clients that ask, which are not events.
/// </summary>
[CancelAfter(30_000)]
public sealed class PresenceTests
{
    private const string AdaInfo = """{"name":"Ada","color":"#f80"}""";

    [Test]
    public async Task Presence_lists_every_connection_with_its_user_info_and_since_and_counts_distinct_users()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient ada, string adaId) = await JoinAsync(server, "room", $"user=ada&info={Uri.EscapeDataString(AdaInfo)}");
        (TestClient adaAgain, string adaAgainId) = await JoinAsync(server, "room", "user=ada");
        (TestClient nobody, string nobodyId) = await JoinAsync(server, "room");
        await using (ada)
        await using (adaAgain)
        await using (nobody)
        {
            await nobody.SendAsync("""{"type":"presence","id":"p1"}""");
            JsonElement reply = await nobody.ReceiveAsync("presence");
            Assert.That(reply.GetProperty("id").GetString(), Is.EqualTo("p1"));
            Assert.That(reply.GetProperty("session").GetString(), Is.EqualTo("room"));
            Assert.That((reply.GetProperty("clients").GetInt32(), reply.GetProperty("users").GetInt32()), Is.EqualTo((3, 1)));
            JsonElement[] members = [.. reply.GetProperty("members").EnumerateArray()];
            Assert.That(members.Select(m => m.GetProperty("connection").GetString()), Is.EquivalentTo(new[] { adaId, adaAgainId, nobodyId }));
            JsonElement first = members.Single(m => m.GetProperty("connection").GetString() == adaId);
            Assert.That(first.GetProperty("user").GetString(), Is.EqualTo("ada"));
            Assert.That(first.GetProperty("info").GetRawText(), Is.EqualTo(AdaInfo));
            Assert.That(DateTimeOffset.Parse(first.GetProperty("since").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
                Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(5)));
            JsonElement anonymous = members.Single(m => m.GetProperty("connection").GetString() == nobodyId);
            Assert.That((anonymous.GetProperty("user").ValueKind, anonymous.GetProperty("info").ValueKind), Is.EqualTo((JsonValueKind.Null, JsonValueKind.Null)));

            // The HTTP API answers the same object.
            JsonElement http = await RedisBackplaneTests.GetJsonAsync(server, "/api/sessions/room/presence");
            Assert.That(http.GetProperty("type").GetString(), Is.EqualTo("presence"));
            Assert.That((http.GetProperty("clients").GetInt32(), http.GetProperty("users").GetInt32(), http.GetProperty("members").GetArrayLength()), Is.EqualTo((3, 1, 3)));
        }
    }

    [Test]
    public async Task A_leaving_connection_is_gone_from_presence_at_once()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient stays, string staysId) = await JoinAsync(server, "leaving", "user=stays");
        await using (stays)
        {
            (TestClient goes, _) = await JoinAsync(server, "leaving", "user=goes");
            // The gateway leaves the session as the close arrives, before it answers it.
            await goes.DisposeAsync();
            JsonElement presence = await RedisBackplaneTests.GetJsonAsync(server, "/api/sessions/leaving/presence");
            Assert.That(presence.GetProperty("clients").GetInt32(), Is.EqualTo(1));
            Assert.That(presence.GetProperty("members")[0].GetProperty("connection").GetString(), Is.EqualTo(staysId));
        }
    }

    [Test]
    public async Task At_most_MaxListed_members_are_listed_the_counts_cover_all()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Presence:MaxListed"] = "2" });
        var clients = new List<TestClient>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                clients.Add((await JoinAsync(server, "crowd", $"user=u{i % 3}")).Client);
            }

            JsonElement presence = await RedisBackplaneTests.GetJsonAsync(server, "/api/sessions/crowd/presence");
            Assert.That((presence.GetProperty("clients").GetInt32(), presence.GetProperty("users").GetInt32(), presence.GetProperty("members").GetArrayLength()), Is.EqualTo((4, 3, 2)));
        }
        finally
        {
            foreach (TestClient client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task A_client_with_presence_true_gets_join_and_leave_of_others_never_as_events()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient watcher, string watcherId) = await JoinAsync(server, "watched", "presence=true&user=watcher");
        (TestClient plain, _) = await JoinAsync(server, "watched");
        await using (watcher)
        await using (plain)
        {
            JsonElement plainJoin = await watcher.ReceiveAsync("join");
            (TestClient ada, string adaId) = await JoinAsync(server, "watched", $"user=ada&info={Uri.EscapeDataString(AdaInfo)}");
            JsonElement join = await watcher.ReceiveAsync("join");
            Assert.That(join.GetProperty("session").GetString(), Is.EqualTo("watched"));
            Assert.That(join.GetProperty("connection").GetString(), Is.EqualTo(adaId));
            Assert.That(join.GetProperty("user").GetString(), Is.EqualTo("ada"));
            Assert.That(join.GetProperty("info").GetRawText(), Is.EqualTo(AdaInfo));
            Assert.That(join.TryGetProperty("seq", out _), Is.False, "not an event");
            Assert.That(plainJoin.GetProperty("connection").GetString(), Is.Not.EqualTo(watcherId), "not told of its own join");

            await ada.DisposeAsync();
            JsonElement leave = await watcher.ReceiveAsync("leave");
            Assert.That((leave.GetProperty("connection").GetString(), leave.GetProperty("user").GetString()), Is.EqualTo((adaId, "ada")));

            // The client that did not ask got none of it: its next message is the next event, seq 1.
            await server.PublishAsync("watched", "after");
            Assert.That((await plain.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That((await watcher.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(1));
        }

        // Nothing of presence is in history: a replay from the start holds the one event.
        (TestClient late, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("watched", "since=0&presence=true"));
        await using (late)
        {
            Assert.That(welcome.GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That((await late.ReceiveAsync("event")).GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That((await late.ReceiveAsync("resumed")).GetProperty("replayed").GetInt32(), Is.EqualTo(1));
        }

        JsonElement page = await RedisBackplaneTests.GetJsonAsync(server, "/api/sessions/watched/events?since=0");
        Assert.That(page.GetProperty("events").GetArrayLength(), Is.EqualTo(1));
    }

    [Test]
    public async Task An_event_stream_with_presence_true_and_named_true_gets_join_and_leave_as_named_events()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-room/stream?presence=true&named=true");
        Assert.That(stream.Head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        (TestClient ada, string adaId) = await JoinAsync(server, "sse-room", "user=ada");
        SseMessage join = await stream.ReadAsync();
        Assert.That((join.Event, join.Id), Is.EqualTo(("join", (string?)null)), "no id: it moves no Last-Event-ID");
        Assert.That(JsonDocument.Parse(join.Data).RootElement.GetProperty("connection").GetString(), Is.EqualTo(adaId));
        await ada.DisposeAsync();
        SseMessage leave = await stream.ReadAsync();
        Assert.That(leave.Event, Is.EqualTo("leave"));
        Assert.That(JsonDocument.Parse(leave.Data).RootElement.GetProperty("user").GetString(), Is.EqualTo("ada"));

        // The stream itself is a member, listed like a WebSocket client.
        JsonElement presence = await RedisBackplaneTests.GetJsonAsync(server, "/api/sessions/sse-room/presence");
        Assert.That(presence.GetProperty("clients").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task Two_hundred_joins_at_once_reach_a_watcher_as_one_diff_while_events_flow()
    {
        // The clock stands still: every join after the watcher's falls within one interval, which
        // ends when the test moves the clock.
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using GatewayServer server = await GatewayServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        (TestClient watcher, _) = await JoinAsync(server, "storm", "presence=true");
        var crowd = new List<(TestClient Client, string Id)>();
        await using (watcher)
        {
            try
            {
                crowd.AddRange(await Task.WhenAll(Enumerable.Range(0, 200).Select(i => JoinAsync(server, "storm", $"user=u{i}"))));

                // Events are not held up by the joins waiting to be announced.
                await server.PublishAsync("storm", "during");
                Assert.That((await watcher.ReceiveAsync("event")).GetProperty("event").GetString(), Is.EqualTo("during"));

                await clock.WhenOneShotTimerScheduledAsync();
                clock.Advance(TimeSpan.FromMilliseconds(100));
                JsonElement diff = await watcher.ReceiveAsync("presence_diff");
                Assert.That(diff.GetProperty("joined").EnumerateArray().Select(m => m.GetProperty("connection").GetString()),
                    Is.EquivalentTo(crowd.Select(c => c.Id)));
                Assert.That(diff.GetProperty("left").GetArrayLength(), Is.Zero);

                JsonElement presence = await RedisBackplaneTests.GetJsonAsync(server, "/api/sessions/storm/presence");
                Assert.That((presence.GetProperty("clients").GetInt32(), presence.GetProperty("users").GetInt32()), Is.EqualTo((201, 200)));
            }
            finally
            {
                foreach ((TestClient client, _) in crowd)
                {
                    await client.DisposeAsync();
                }
            }
        }
    }

    [Test]
    public async Task Presence_of_a_session_that_does_not_exist_is_404_and_a_bad_name_400()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using HttpResponseMessage missing = await server.Http.GetAsync("/api/sessions/nobody-here/presence");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), await missing.Content.ReadAsStringAsync());
        using HttpResponseMessage bad = await server.Http.GetAsync("/api/sessions/bad%20name/presence");
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public async Task A_presence_parameter_that_is_not_a_flag_is_refused_before_the_upgrade()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        var error = Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => TestClient.ConnectAsync(server.WebSocketUri("flag", "presence=yes")));
        Assert.That(error!.Message, Does.Contain("400"));
        using HttpResponseMessage stream = await server.Http.GetAsync("/api/sessions/flag/stream?presence=1", HttpCompletionOption.ResponseHeadersRead);
        Assert.That(stream.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await stream.Content.ReadAsStringAsync(), Does.Contain("query parameter 'presence' must be true or false"));
    }

    [Test]
    public async Task With_presence_off_the_message_is_refused_clearly_and_no_join_is_sent()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Presence:Enabled"] = "false" });
        (TestClient watcher, _) = await JoinAsync(server, "quiet", "presence=true");
        await using (watcher)
        {
            (TestClient other, _) = await JoinAsync(server, "quiet", "user=other");
            await other.DisposeAsync();
            await watcher.SendAsync("""{"type":"presence","id":1}""");
            JsonElement error = await watcher.ReceiveAsync("error");
            Assert.That((error.GetProperty("id").GetInt32(), error.GetProperty("code").GetString()), Is.EqualTo((1, "forbidden")));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("Gateway:Presence:Enabled"));

            using HttpResponseMessage http = await server.Http.GetAsync("/api/sessions/quiet/presence");
            Assert.That(http.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(await http.Content.ReadAsStringAsync(), Does.Contain("Gateway:Presence:Enabled"));
        }
    }

    [Test]
    public async Task With_auth_on_presence_is_authorized_like_watching_and_a_token_says_who_its_holder_is()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings());
        string adaToken = TestTokens.Mint(sessions: new[] { "private" }, subject: "ada",
            extra: new Dictionary<string, object> { ["info"] = new Dictionary<string, object> { ["name"] = "Ada" } });
        (TestClient ada, string adaId) = await JoinAsync(server, "private", $"token={adaToken}&user=someone-else");
        await using (ada)
        {
            using var allowed = new HttpRequestMessage(HttpMethod.Get, "/api/sessions/private/presence");
            allowed.Headers.Authorization = new("Bearer", adaToken);
            using HttpResponseMessage answer = await server.Http.SendAsync(allowed);
            string text = await answer.Content.ReadAsStringAsync();
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
            JsonElement member = JsonDocument.Parse(text).RootElement.GetProperty("members")[0];
            Assert.That((member.GetProperty("connection").GetString(), member.GetProperty("user").GetString(), member.GetProperty("info").GetRawText()),
                Is.EqualTo((adaId, "ada", """{"name":"Ada"}""")), "the token's sub and info claim, not the query's user");

            using var other = new HttpRequestMessage(HttpMethod.Get, "/api/sessions/private/presence");
            other.Headers.Authorization = new("Bearer", TestTokens.Mint(sessions: new[] { "elsewhere" }));
            using HttpResponseMessage refused = await server.Http.SendAsync(other);
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            using HttpResponseMessage anonymous = await server.Http.GetAsync("/api/sessions/private/presence");
            Assert.That(anonymous.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        }
    }

    [Test]
    public async Task The_metrics_count_presence_members_and_the_join_and_leave_messages_sent()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient watcher, _) = await JoinAsync(server, "counted", "presence=true");
        (TestClient stays, _) = await JoinAsync(server, "counted");
        await using (watcher)
        await using (stays)
        {
            await watcher.ReceiveAsync("join");
            (TestClient goes, _) = await JoinAsync(server, "counted");
            await watcher.ReceiveAsync("join");
            await goes.DisposeAsync();
            await watcher.ReceiveAsync("leave");

            using HttpResponseMessage response = await server.Http.GetAsync("/metrics");
            var scrape = new Exposition(await response.Content.ReadAsStringAsync());
            Assert.Multiple(() =>
            {
                Assert.That(scrape["gateway_presence_members"], Is.EqualTo(2));
                Assert.That(scrape["gateway_presence_messages_total{type=\"join\"}"], Is.EqualTo(2));
                Assert.That(scrape["gateway_presence_messages_total{type=\"leave\"}"], Is.EqualTo(1));
            });
        }
    }

    /// <summary>Connects to <paramref name="session"/> with <paramref name="query"/>; the client and its connection id.</summary>
    internal static async Task<(TestClient Client, string Id)> JoinAsync(GatewayServer server, string session, string? query = null)
    {
        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri(session, query));
        return (client, welcome.GetProperty("connection").GetString()!);
    }
}
