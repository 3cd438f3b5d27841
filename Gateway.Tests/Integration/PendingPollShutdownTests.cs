using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>Spec section 8: a pending long poll answers at once when the gateway starts shutting down.</summary>
[CancelAfter(60_000)]
public sealed class PendingPollShutdownTests
{
    [Test]
    public async Task Sigterm_answers_a_pending_30_s_poll_and_the_process_exits_0_long_before_the_wait_ends()
    {
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Shutdown:DrainTimeout"] = "00:00:01",

            // The host's "Request starting" line tells the test that the poll has reached the gateway.
            ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
        });
        using (HttpResponseMessage published = await gateway.Http.PostAsync("/api/sessions/pending/events", new StringContent("""{"event":"first"}""")))
        {
            Assert.That(published.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        }

        var sinceSent = Stopwatch.StartNew();
        Task<HttpResponseMessage> poll = gateway.Http.GetAsync("/api/sessions/pending/events?since=1&wait=30", TestClient.Deadline);
        await gateway.WhenLoggedAsync("/api/sessions/pending/events?since=1&wait=30");

        int exitCode = await gateway.TerminateAsync();
        TimeSpan exitedAfter = sinceSent.Elapsed;

        using HttpResponseMessage answer = await poll;
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the poll is answered, not dropped");
        JsonElement page = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement;
        Assert.That(page.GetProperty("events").GetArrayLength(), Is.Zero);
        Assert.That(page.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(exitCode, Is.Zero);

        // A generous bound: the poll would have held the process for its whole 30 s.
        Assert.That(exitedAfter, Is.LessThan(TimeSpan.FromSeconds(20)), "the process waited for the poll's wait to end");
    }

    [Test]
    public async Task Stopping_answers_a_pending_poll_on_a_clock_that_never_moves()
    {
        // The poll's wait can end only by a publish or by the test moving the clock; it does neither.
        var clock = new ManualTimeProvider();
        GatewayServer server = await GatewayServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await using (server)
        {
            await server.PublishAsync("stopping", "first");
            Task<HttpResponseMessage> poll = server.Http.GetAsync("/api/sessions/stopping/events?since=1&wait=30", TestClient.Deadline);
            await clock.WhenOneShotTimerScheduledAsync().WaitAsync(TestClient.Deadline);
            Assert.That(poll.IsCompleted, Is.False, "nothing after seq 1 yet: the poll waits");

            Task stopping = server.StopAsync();
            using HttpResponseMessage answer = await poll;
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            JsonElement page = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement;
            Assert.That(page.GetProperty("events").GetArrayLength(), Is.Zero);
            Assert.That(page.GetProperty("complete").GetBoolean(), Is.True);
            await stopping.WaitAsync(TestClient.Deadline);
        }
    }
}
