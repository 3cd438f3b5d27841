using System.Net;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary><c>GET /api/sessions/{session}/stream</c>: the same events as Server-Sent Events, read by a plain HTTP client.</summary>
[CancelAfter(30_000)]
public sealed class ServerSentEventsTests
{
    [Test]
    public async Task Events_arrive_as_id_and_data_lines_without_an_event_line_so_that_onmessage_gets_them()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse/stream");
        Assert.That(stream.Head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(stream.Head.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        Assert.That(await stream.ReadCommentAsync(), Is.EqualTo("session sse at seq 0"));

        await server.PublishAsync("sse", "terminal_output", """{"line":"compiling..."}""");
        SseMessage message = await stream.ReadAsync();
        Assert.That(message.Id, Does.Match("^[0-9a-f]{12}:1$"));
        Assert.That(message.Event, Is.Null, "an EventSource delivers only unnamed events to onmessage");
        JsonElement data = JsonDocument.Parse(message.Data).RootElement;
        Assert.That(data.GetProperty("type").GetString(), Is.EqualTo("event"));
        Assert.That(data.GetProperty("event").GetString(), Is.EqualTo("terminal_output"), "the object says which event it is");
        Assert.That(data.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(data.GetProperty("data").GetProperty("line").GetString(), Is.EqualTo("compiling..."));
    }

    [Test]
    public async Task With_named_true_events_and_notices_come_with_an_event_line_for_add_event_listener()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("sse-named", "terminal_output", """{"line":"a"}""");

        // A named stream and an unnamed one on the same event: each gets its own form.
        await using SseReader plain = await SseReader.OpenAsync(server, "/api/sessions/sse-named/stream?since=0");
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-named/stream?since=0&named=true");
        await stream.ReadCommentAsync();
        SseMessage replayed = await stream.ReadAsync();
        Assert.That(replayed.Event, Is.EqualTo("terminal_output"));
        Assert.That(replayed.Id, Does.Match("^[0-9a-f]{12}:1$"), "the id line as on an unnamed stream");
        SseMessage resumed = await stream.ReadAsync();
        Assert.That((resumed.Event, resumed.Id), Is.EqualTo(("@resumed", (string?)null)));

        await server.PublishAsync("sse-named", "build_done", "{}");
        SseMessage live = await stream.ReadAsync();
        Assert.That(live.Event, Is.EqualTo("build_done"));
        Assert.That(JsonDocument.Parse(live.Data).RootElement.GetProperty("seq").GetInt64(), Is.EqualTo(2));

        await plain.ReadCommentAsync();
        Assert.That((await plain.ReadAsync()).Event, Is.Null);
        Assert.That((await plain.ReadAsync()).Event, Is.Null);
        Assert.That((await plain.ReadAsync()).Event, Is.Null);

        using (await server.Http.DeleteAsync("/api/sessions/sse-named"))
        {
        }

        Assert.That((await stream.ReadAsync()).Event, Is.EqualTo("@closed"));
    }

    [TestCase("yes")]
    [TestCase("1")]
    public async Task A_named_that_is_not_true_or_false_is_a_400_problem(string value)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/ok/stream?named={value}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("named"));
    }

    [Test]
    public async Task Presence_notices_are_unnamed_too_and_say_their_type_in_the_data()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-presence/stream?presence=true");
        await stream.ReadCommentAsync();
        (TestClient ada, _) = await TestClient.JoinAsync(server.WebSocketUri("sse-presence", "user=ada"));
        await using (ada)
        {
            SseMessage join = await stream.ReadAsync();
            Assert.That((join.Event, join.Id), Is.EqualTo(((string?)null, (string?)null)));
            Assert.That(JsonDocument.Parse(join.Data).RootElement.GetProperty("type").GetString(), Is.EqualTo("join"));
        }
    }

    [Test]
    public async Task Last_event_id_resumes_after_it_then_live_events_follow()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await ResumeTests.PublishBatchesAsync(server, "sse-resume", batches: 1, size: 5);

        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-resume/stream?since=1", lastEventId: "3");
        await stream.ReadCommentAsync();
        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:4$"));
        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:5$"));
        SseMessage resumed = await stream.ReadAsync();
        Assert.That(resumed.Event, Is.Null);
        Assert.That(resumed.Id, Is.Null, "control events leave the client's Last-Event-ID alone");
        JsonElement notice = JsonDocument.Parse(resumed.Data).RootElement;
        Assert.That(notice.GetProperty("type").GetString(), Is.EqualTo("resumed"));
        Assert.That(notice.GetProperty("since").GetInt64(), Is.EqualTo(3));
        Assert.That(notice.GetProperty("replayed").GetInt32(), Is.EqualTo(2));
        Assert.That(notice.GetProperty("complete").GetBoolean(), Is.True);

        await server.PublishAsync("sse-resume", "tick");
        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:6$"));
    }

    [Test]
    public async Task Since_resumes_when_there_is_no_last_event_id_and_the_filter_applies()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("sse-filter", "a");
        await server.PublishAsync("sse-filter", "b");
        await server.PublishAsync("sse-filter", "a");

        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-filter/stream?since=0&events=a");
        await stream.ReadCommentAsync();
        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:1$"));
        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:3$"));
        Assert.That(JsonDocument.Parse((await stream.ReadAsync()).Data).RootElement.GetProperty("type").GetString(), Is.EqualTo("resumed"));
        await server.PublishAsync("sse-filter", "b");
        await server.PublishAsync("sse-filter", "a");
        Assert.That((await stream.ReadAsync()).Id, Does.Match("^[0-9a-f]{12}:5$"));
    }

    [Test]
    public async Task A_heartbeat_comment_goes_out_every_interval()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-heartbeat/stream");
        await stream.ReadCommentAsync();
        clock.Advance(TimeSpan.FromSeconds(16));
        Assert.That(await stream.ReadCommentAsync(), Is.EqualTo("heartbeat"));
    }

    [Test]
    public async Task Deleting_the_session_ends_the_stream_with_a_closed_event()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-delete/stream");
        await stream.ReadCommentAsync();
        using (await server.Http.DeleteAsync("/api/sessions/sse-delete"))
        {
        }

        SseMessage closed = await stream.ReadAsync();
        Assert.That((closed.Event, closed.Id), Is.EqualTo(((string?)null, (string?)null)));
        JsonElement notice = JsonDocument.Parse(closed.Data).RootElement;
        Assert.That((notice.GetProperty("type").GetString(), notice.GetProperty("code").GetInt32()), Is.EqualTo(("closed", 1001)));
        Assert.That(await stream.AtEndAsync(), Is.True);
    }

    [TestCase("/api/sessions/bad%20name/stream", "session name")]
    [TestCase("/api/sessions/ok/stream?since=x", "since")]
    [TestCase("/api/sessions/ok/stream?events=no%20good", "events")]
    public async Task A_bad_request_is_a_400_problem(string path, string detail)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using HttpResponseMessage response = await server.Http.GetAsync(path);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain(detail));
    }
}
