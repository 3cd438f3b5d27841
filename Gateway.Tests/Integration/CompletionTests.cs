using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Log;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>Job completion (spec section 11): a final event, a 1000 close, and a complete session kept for late joiners.</summary>
[CancelAfter(30_000)]
public sealed class CompletionTests
{
    [Test]
    public async Task A_final_event_is_delivered_then_every_client_is_closed_with_1000()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient first, _) = await TestClient.JoinAsync(server.WebSocketUri("job"));
        (TestClient second, _) = await TestClient.JoinAsync(server.WebSocketUri("job"));
        await using (first)
        await using (second)
        {
            await server.PublishAsync("job", "build_progress", """{"pct":99}""");
            JsonElement final = await PostAsync(server, "job", """{"event":"build_done","data":"ok","final":true}""", HttpStatusCode.Accepted);
            Assert.That(final.GetProperty("seq").GetInt64(), Is.EqualTo(2));

            foreach (TestClient client in new[] { first, second })
            {
                (int? code, string? reason, List<string> before) = await client.ReceiveCloseAsync();
                Assert.That(before.Select(t => JsonDocument.Parse(t).RootElement.GetProperty("seq").GetInt64()), Is.EqualTo(new long[] { 1, 2 }));
                Assert.That(code, Is.EqualTo(1000));
                Assert.That(reason, Is.EqualTo("session complete"));
            }
        }

        using HttpResponseMessage session = await server.Http.GetAsync("/api/sessions/job");
        JsonElement snapshot = JsonDocument.Parse(await session.Content.ReadAsStringAsync()).RootElement;
        Assert.That(snapshot.GetProperty("complete").GetBoolean(), Is.True);
        Assert.That(snapshot.GetProperty("clients").GetInt32(), Is.Zero);
        Assert.That(snapshot.GetProperty("state").GetProperty("build_done").GetProperty("seq").GetInt64(), Is.EqualTo(2));
    }

    [Test]
    public async Task A_late_joiner_gets_welcome_with_complete_the_replay_it_asked_for_and_the_same_close()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("late", "step");
        await PostAsync(server, "late", """{"event":"done","final":true}""", HttpStatusCode.Accepted);

        await using TestClient plain = await TestClient.ConnectAsync(server.WebSocketUri("late"));
        JsonElement welcome = await plain.ReceiveAsync("welcome");
        Assert.That(welcome.GetProperty("complete").GetBoolean(), Is.True);
        Assert.That(welcome.GetProperty("seq").GetInt64(), Is.EqualTo(2));
        (int? code, string? reason, List<string> before) = await plain.ReceiveCloseAsync();
        Assert.That((code, reason, before.Count), Is.EqualTo((1000, "session complete", 0)));

        await using TestClient resuming = await TestClient.ConnectAsync(server.WebSocketUri("late", "since=0"));
        await resuming.ReceiveAsync("welcome");
        Assert.That(await ResumeTests.SeqsAsync(resuming, 2), Is.EqualTo(new long[] { 1, 2 }));
        Assert.That((await resuming.ReceiveAsync("resumed")).GetProperty("replayed").GetInt32(), Is.EqualTo(2));
        Assert.That((await resuming.ReceiveCloseAsync()).Code, Is.EqualTo(1000));

        // A poller learns it too.
        using HttpResponseMessage poll = await server.Http.GetAsync("/api/sessions/late/events?since=2&wait=30");
        JsonElement page = JsonDocument.Parse(await poll.Content.ReadAsStringAsync()).RootElement;
        Assert.That(page.GetProperty("sessionComplete").GetBoolean(), Is.True);
        Assert.That(page.GetProperty("events").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task A_complete_session_refuses_new_events_but_answers_a_retried_final()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await PostAsync(server, "refuse", """{"event":"done","id":"final-1","final":true}""", HttpStatusCode.Accepted);

        JsonElement conflict = await PostAsync(server, "refuse", """{"event":"late"}""", HttpStatusCode.Conflict);
        Assert.That(conflict.GetProperty("detail").GetString(), Does.Contain("complete"));

        JsonElement retry = await PostAsync(server, "refuse", """{"event":"done","id":"final-1","final":true}""", HttpStatusCode.Accepted);
        Assert.That(retry.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(retry.GetProperty("duplicate").GetBoolean(), Is.True);
    }

    [Test]
    public async Task Only_the_last_event_of_a_batch_may_be_final()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        JsonElement problem = await PostAsync(server, "order", """[{"event":"done","final":true},{"event":"after"}]""", HttpStatusCode.BadRequest);
        Assert.That(problem.GetProperty("detail").GetString(), Does.StartWith("events[0]: only the last event of a batch may be final"));

        JsonElement ok = await PostAsync(server, "order", """[{"event":"step"},{"event":"done","final":true}]""", HttpStatusCode.Accepted);
        Assert.That(ok.GetProperty("seqs").GetArrayLength(), Is.EqualTo(2));
    }

    [Test]
    public async Task An_sse_stream_gets_the_final_event_then_a_closed_event_and_a_reconnect_gets_204()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-job/stream?named=true");
        await stream.ReadCommentAsync();
        await PostAsync(server, "sse-job", """{"event":"done","final":true}""", HttpStatusCode.Accepted);

        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:1$"));
        SseMessage closed = await stream.ReadAsync();
        Assert.That(closed.Event, Is.EqualTo("@closed"));
        Assert.That(JsonDocument.Parse(closed.Data).RootElement.GetProperty("reason").GetString(), Is.EqualTo("session complete"));
        Assert.That(await stream.AtEndAsync(), Is.True);

        // EventSource reconnects with the last id it saw; 204 is what makes it stop.
        await using SseReader again = await SseReader.OpenAsync(server, "/api/sessions/sse-job/stream", lastEventId: "1");
        Assert.That(again.Head.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
    }

    [Test]
    public async Task A_client_publish_cannot_complete_the_session_and_is_refused_after_the_backend_did()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Security:AllowClientPublish"] = "true" });
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("ws-final"));
        await using (client)
        {
            // Spec section 13: final from a client is forbidden; only a publisher over HTTP completes a session.
            await client.SendAsync("""{"type":"publish","id":1,"event":"done","final":true}""");
            Assert.That((await client.ReceiveAsync("error")).GetProperty("code").GetString(), Is.EqualTo("forbidden"));

            using HttpResponseMessage final = await server.Http.PostAsync("/api/sessions/ws-final/events",
                new StringContent("""{"event":"done","final":true}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.That((int)final.StatusCode, Is.EqualTo(202));
            (int? code, _, List<string> before) = await client.ReceiveCloseAsync();
            Assert.That(code, Is.EqualTo(1000));
            Assert.That(before.Select(t => JsonDocument.Parse(t).RootElement.GetProperty("type").GetString()), Is.EqualTo(new[] { "event" }));
        }

        (TestClient late, _) = await TestClient.JoinAsync(server.WebSocketUri("ws-final"));
        await using (late)
        {
            Assert.That((await late.ReceiveCloseAsync()).Code, Is.EqualTo(1000));
        }
    }

    [Test]
    public async Task Complete_sessions_are_kept_for_the_retention_and_idle_ones_for_the_idle_timeout()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?>
            {
                ["Gateway:Sessions:IdleTimeout"] = "00:10:00",
                ["Gateway:Sessions:CompletedRetention"] = "00:30:00",
            },
            s => s.AddSingleton<TimeProvider>(clock));
        MemoryLog sessions = server.Get<MemoryLog>();
        await server.PublishAsync("idle", "x");
        await PostAsync(server, "finished", """{"event":"done","final":true}""", HttpStatusCode.Accepted);

        clock.Advance(TimeSpan.FromMinutes(11));
        sessions.ExpireSessions();
        Assert.That(await StatusAsync(server, "idle"), Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await StatusAsync(server, "finished"), Is.EqualTo(HttpStatusCode.OK));

        clock.Advance(TimeSpan.FromMinutes(20));
        sessions.ExpireSessions();
        Assert.That(await StatusAsync(server, "finished"), Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task A_session_with_a_client_does_not_expire_however_long_it_is_quiet()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(
            // The clock jumps 30 min; to the lag bound a jump looks like a write in flight that long, so it is set past it.
            new Dictionary<string, string?>
            {
                ["Gateway:Sessions:IdleTimeout"] = "00:10:00",
                ["Gateway:Heartbeat:Timeout"] = "23:00:00",
                ["Gateway:Heartbeat:Interval"] = "01:00:00",
                ["Gateway:Limits:MaxLagTime"] = "01:00:00",
            },
            s => s.AddSingleton<TimeProvider>(clock));
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("watched"));
        await using (client)
        {
            clock.Advance(TimeSpan.FromMinutes(30));
            server.Get<MemoryLog>().ExpireSessions();
            Assert.That(await StatusAsync(server, "watched"), Is.EqualTo(HttpStatusCode.OK));
        }
    }

    private static async Task<HttpStatusCode> StatusAsync(GatewayServer server, string session)
    {
        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/{session}");
        return response.StatusCode;
    }

    private static async Task<JsonElement> PostAsync(GatewayServer server, string session, string body, HttpStatusCode expected)
    {
        using HttpResponseMessage response = await server.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(expected), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
