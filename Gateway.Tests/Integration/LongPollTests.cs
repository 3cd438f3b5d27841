using System.Net;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary><c>GET /api/sessions/{session}/events</c>: paging history, and long polling for the next event.</summary>
/// <remarks>
/// The bound is well past the longest poll's wait (30 s): a poll on the real clock that missed its
/// wake-up then fails on what it answered, not on the test's time.
/// </remarks>
[CancelAfter(60_000)]
public sealed class LongPollTests
{
    [Test]
    public async Task A_poll_pages_through_history()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await ResumeTests.PublishBatchesAsync(server, "pages", batches: 1, size: 5);

        JsonElement page = await PollAsync(server, "/api/sessions/pages/events?since=1&limit=3");
        Assert.That(Seqs(page), Is.EqualTo(new long[] { 2, 3, 4 }));
        Assert.That(page.GetProperty("seq").GetInt64(), Is.EqualTo(5));
        Assert.That(page.GetProperty("complete").GetBoolean(), Is.True);
        Assert.That(page.GetProperty("more").GetBoolean(), Is.True);
        Assert.That(page.GetProperty("sessionComplete").GetBoolean(), Is.False);

        JsonElement rest = await PollAsync(server, "/api/sessions/pages/events?since=4");
        Assert.That(Seqs(rest), Is.EqualTo(new long[] { 5 }));
        Assert.That(rest.GetProperty("more").GetBoolean(), Is.False);

        // The events are the objects a WebSocket client gets.
        JsonElement e = rest.GetProperty("events")[0];
        Assert.That(e.GetProperty("type").GetString(), Is.EqualTo("event"));
        Assert.That(e.GetProperty("session").GetString(), Is.EqualTo("pages"));
        Assert.That(e.GetProperty("data").GetRawText(), Is.EqualTo("""{"v":1}"""));
    }

    [Test]
    public async Task A_poll_behind_history_says_it_is_incomplete()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "2" });
        await ResumeTests.PublishBatchesAsync(server, "behind", batches: 1, size: 5);
        JsonElement page = await PollAsync(server, "/api/sessions/behind/events?since=0");
        Assert.That(Seqs(page), Is.EqualTo(new long[] { 4, 5 }));
        Assert.That(page.GetProperty("complete").GetBoolean(), Is.False);
    }

    [Test]
    public async Task A_waiting_poll_answers_when_an_event_is_published_and_empty_at_its_deadline()
    {
        // On a clock that only the test moves, the wait can end only by a publish, or by the test's Advance.
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await server.PublishAsync("wait", "first");

        Task<JsonElement> waiting = PollAsync(server, "/api/sessions/wait/events?since=1&wait=30");
        await clock.WhenOneShotTimerScheduledAsync().WaitAsync(TestClient.Deadline);
        Assert.That(waiting.IsCompleted, Is.False, "nothing after seq 1 yet: the poll waits");
        await server.PublishAsync("wait", "second", "\"woke\"");
        JsonElement woken = await waiting;
        Assert.That(Seqs(woken), Is.EqualTo(new long[] { 2 }));
        Assert.That(woken.GetProperty("events")[0].GetProperty("data").GetString(), Is.EqualTo("woke"));

        // Move the clock only once the poll has set its deadline. A one-shot timer may be there
        // before it: the first poll's, which it gives up only after its answer went out (on a
        // loaded machine, after this poll was sent). Moving the clock then would leave this poll
        // waiting on a clock that never moves again; so the clock moves at each one-shot timer
        // until the poll answers.
        Task<JsonElement> timingOut = PollAsync(server, "/api/sessions/wait/events?since=2&wait=30");
        while (!timingOut.IsCompleted)
        {
            await Task.WhenAny(timingOut, clock.WhenOneShotTimerScheduledAsync()).WaitAsync(TestClient.Deadline);
            clock.Advance(TimeSpan.FromSeconds(31));
        }

        JsonElement empty = await timingOut;
        Assert.That(Seqs(empty), Is.Empty);
        Assert.That(empty.GetProperty("seq").GetInt64(), Is.EqualTo(2));
        Assert.That(empty.GetProperty("complete").GetBoolean(), Is.True);
    }

    [Test]
    public async Task A_poll_can_start_before_the_first_publish()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        Task<JsonElement> waiting = PollAsync(server, "/api/sessions/not-yet/events?wait=30");
        await server.PublishAsync("not-yet", "started");
        Assert.That(Seqs(await waiting), Is.EqualTo(new long[] { 1 }));
    }

    [TestCase("since=-1", "since")]
    [TestCase("since=abc", "since")]
    [TestCase("limit=0", "limit")]
    [TestCase("limit=1001", "limit")]
    [TestCase("wait=31", "wait")]
    public async Task A_bad_parameter_is_a_400_problem(string query, string parameter)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/p/events?{query}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain($"'{parameter}'"));
    }

    private static async Task<JsonElement> PollAsync(GatewayServer server, string path)
    {
        using HttpResponseMessage response = await server.Http.GetAsync(path, TestClient.Deadline);
        string body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    internal static long[] Seqs(JsonElement page) =>
        page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()).ToArray();
}
