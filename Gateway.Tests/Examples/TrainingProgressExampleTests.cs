using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Tests.Browser;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Examples;

/// <summary>
/// examples/training-progress: the Python training loop publishes what its README says, in
/// order, ending with a final event, in batches or step by step, and through a publish rate
/// limit; its page, in Chromium, shows the run live over a WebSocket (progress, numbers, a loss
/// chart, completion), shows it to a late joiner, and shows the same numbers over long polling
/// when a proxy refuses WebSockets.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed partial class TrainingProgressExampleTests : BrowserFixture
{
    private const string Example = "training-progress";
    private const string Session = "training-run-1";

    /// <summary>
    /// A long <c>--flush</c> sends every step in one batch with the final event (two POSTs in all);
    /// <c>--flush 0</c> sends each step alone. A watcher sees the same events either way.
    /// </summary>
    [TestCase("60", 2)]
    [TestCase("0", 42)]
    public async Task The_producer_publishes_training_started_every_step_in_order_and_a_final_phase_completed(string flush, int posts)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using TestClient watcher = await TestClient.ConnectAsync(server.WebSocketUri(Session));
        await watcher.ReceiveAsync("welcome");

        await using ExampleProgram run = await ExampleProgram.RunAsync(Example, server.BaseAddress, "python3",
            ["train.py", "--models", "2", "--steps", "20", "--delay", "0", "--flush", flush]);

        (int? code, string? reason, List<string> messages) = await watcher.ReceiveCloseAsync();
        Assert.That((code, reason), Is.EqualTo(((int?)1000, "session complete")), "the final event ends the session");
        JsonElement[] events = [.. messages.Select(m => JsonDocument.Parse(m).RootElement.Clone())];
        CheckRun(events, models: 2, steps: 20);
        Assert.That(run.Output, Does.Contain($"40 steps in {posts} posts (0 retries)"), run.Output);

        using JsonDocument status = JsonDocument.Parse(await server.Http.GetStringAsync($"/api/sessions/{Session}", TestClient.Deadline));
        Assert.That(status.RootElement.GetProperty("complete").GetBoolean(), Is.True);
    }

    /// <summary>
    /// At one event a second past a burst of 1000, the batch of 1000 steps and then the final event
    /// are refused with 429; the producer waits the Retry-After each time and publishes them, and
    /// a watcher gets every event once, in order.
    /// </summary>
    [Test]
    public async Task Under_a_publish_rate_limit_the_producer_retries_after_Retry_After_and_every_event_arrives_once()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:PublishesPerSecond"] = "1",
            ["Gateway:Limits:PublishBurst"] = "1000",
            ["Gateway:History:MaxEvents"] = "2000",
        });
        await using TestClient watcher = await TestClient.ConnectAsync(server.WebSocketUri(Session));
        await watcher.ReceiveAsync("welcome");

        await using ExampleProgram run = await ExampleProgram.RunAsync(Example, server.BaseAddress, "python3",
            ["train.py", "--models", "1", "--steps", "1000", "--delay", "0", "--flush", "60"]);

        (int? code, _, List<string> messages) = await watcher.ReceiveCloseAsync();
        Assert.That(code, Is.EqualTo(1000));
        CheckRun([.. messages.Select(m => JsonDocument.Parse(m).RootElement.Clone())], models: 1, steps: 1000);
        Assert.That(run.Output, Does.Contain("gateway answered 429 (publishing faster than 1 events a second"), run.Output);
        Assert.That(run.Output, Does.Contain("retrying in 1 s"), "the wait is the Retry-After the gateway gave");
        Assert.That(run.Output, Does.Match(@"1000 steps in 3 posts \([1-9]\d* retries\)"), run.Output);
    }

    [Test]
    public async Task The_page_shows_the_run_live_over_WebSocket_with_a_loss_chart_and_completion_and_a_late_joiner_sees_it_at_once()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await page.WaitAsync("document.getElementById('connection').textContent === 'live over WebSocket'", "the page to go live over WebSocket");
        Assert.That(await page.Page.InnerTextAsync("#phase"), Is.EqualTo("waiting for the run"));

        await using ExampleProgram run = await ExampleProgram.RunAsync(Example, server.BaseAddress, "python3",
            ["train.py", "--models", "3", "--steps", "60", "--delay", "0.002", "--flush", "0.05"]);
        await page.WaitAsync("document.getElementById('phase').textContent === 'completed'", "the page to show the run completed");

        Assert.That(await page.SeenAsync(), Is.EqualTo(Enumerable.Range(1, 182).Select(i => (long)i).ToArray()), "every event once, in order");
        Assert.That(await page.Page.EvaluateAsync<string[]>("window.states"), Is.EqualTo(new[] { "connecting (websocket)", "open (websocket)", "closed (websocket)" }));
        await CheckFinalPageAsync(page, server, models: 3, steps: 60);
        Assert.That(await page.Page.InnerTextAsync("#connection"), Is.EqualTo("run ended · came over WebSocket"));
        await page.ScreenshotAsync("completed");

        // Someone who opens the page after the run sees all of it: the state at once, the chart from history.
        await using BrowserPage late = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await late.WaitAsync("document.getElementById('phase').textContent === 'completed' && document.querySelectorAll('#chart path.series').length === 3", "the late joiner's page to show the run");
        await CheckFinalPageAsync(late, server, models: 3, steps: 60);
        await late.ScreenshotAsync("late-joiner");

        // The same over long polling, asked for in the address.
        await using BrowserPage polling = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress, "transport=poll");
        await polling.WaitAsync("document.getElementById('phase').textContent === 'completed' && document.querySelectorAll('#chart path.series').length === 3", "the polling late joiner's page to show the run");
        await CheckFinalPageAsync(polling, server, models: 3, steps: 60);
        Assert.That(await polling.Page.InnerTextAsync("#connection"), Is.EqualTo("run ended · came over long polling"));
        Assert.That(await polling.Page.InnerTextAsync("#notice"), Does.Contain("long polling (?transport=)"));
    }

    /// <summary>
    /// History holds the last 50 events of the run's 82: a late joiner still gets the start, the
    /// progress and the summary whole from the session's state, and the chart from what history
    /// holds (the last 9 steps of model 1, all 40 of model 2), saying so.
    /// </summary>
    [Test]
    public async Task A_late_joiner_of_a_run_longer_than_history_gets_the_numbers_from_state_and_the_chart_from_history()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "50" });
        await using ExampleProgram run = await ExampleProgram.RunAsync(Example, server.BaseAddress, "python3",
            ["train.py", "--models", "2", "--steps", "40", "--delay", "0", "--flush", "0"]);

        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await page.WaitAsync("document.getElementById('phase').textContent === 'completed' && document.querySelectorAll('#chart path.series').length === 2", "the page to show the run");
        Assert.That(await page.SeenAsync(), Is.EqualTo(Enumerable.Range(33, 50).Select(i => (long)i).ToArray()), "what history holds");
        Assert.That(await page.Page.InnerTextAsync("#chart-note"), Does.Contain("history"));
        Assert.That(await page.Page.InnerTextAsync("#run"), Does.EndWith("2 models × 40 steps"), "training_started, from state: history no longer holds it");
        Assert.That(await page.Page.InnerTextAsync("#hyper"), Does.Contain("warmupSteps"));
        Assert.That(await page.Page.InnerTextAsync("#overall"), Is.EqualTo("80 of 80 steps"));
        Assert.That(await page.Page.Locator("#summary-rows tr").CountAsync(), Is.EqualTo(2));
        string[] paths = await page.Page.EvaluateAsync<string[]>("[...document.querySelectorAll('#chart path.series')].map(p => p.getAttribute('d'))");
        Assert.That(paths.Select(d => Point().Matches(d).Count), Is.EqualTo(new[] { 9, 40 }));
        await page.ScreenshotAsync("late-joiner-partial-history");
    }

    /// <summary>
    /// The page is served as usual, but the gateway is reached through a proxy that refuses
    /// WebSocket upgrades: the client falls back to long polling, the page says so, and the run
    /// shows with the same numbers.
    /// </summary>
    [Test]
    public async Task When_WebSockets_are_refused_the_page_switches_to_long_polling_says_so_and_shows_the_same_final_numbers()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using TcpProxy proxy = TcpProxy.Start(server.BaseAddress, refuseWebSocketUpgrades: true);
        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", proxy.BaseAddress);
        await page.WaitAsync("document.getElementById('connection').textContent === 'live over long polling'", "the page to fall back to long polling");
        Assert.That(proxy.RefusedUpgrades, Is.GreaterThanOrEqualTo(3), "the client tries WebSockets fallbackAfter (3) times first");
        Assert.That(await page.Page.InnerTextAsync("#notice"), Does.Contain("switched to long polling"));
        await page.ScreenshotAsync("polling");

        // The backend publishes to the gateway directly; only the page is behind the proxy.
        await using ExampleProgram run = await ExampleProgram.RunAsync(Example, server.BaseAddress, "python3",
            ["train.py", "--models", "3", "--steps", "60", "--delay", "0.002", "--flush", "0.05"]);
        await page.WaitAsync("document.getElementById('phase').textContent === 'completed'", "the page to show the run completed");

        Assert.That(await page.SeenAsync(), Is.EqualTo(Enumerable.Range(1, 182).Select(i => (long)i).ToArray()), "every event once, in order");
        Assert.That(await page.Page.EvaluateAsync<string[]>("window.states"), Does.Contain("open (poll)").And.Not.Contain("open (websocket)"));
        await CheckFinalPageAsync(page, server, models: 3, steps: 60);
        Assert.That(await page.Page.InnerTextAsync("#connection"), Is.EqualTo("run ended · came over long polling"));
        Assert.That(await page.Page.IsVisibleAsync("#notice"), Is.True, "the page still says why it polls");
        await page.ScreenshotAsync("completed-polling");
    }

    /// <summary>The events of a whole run, as the README describes them.</summary>
    private static void CheckRun(JsonElement[] events, int models, int steps)
    {
        int total = models * steps;
        Assert.That(events.Select(e => e.GetProperty("type").GetString()), Is.All.EqualTo("event"));
        Assert.That(events.Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(Enumerable.Range(1, total + 2).Select(i => (long)i)), "consecutive seqs, nothing twice");
        Assert.That(events.Select(e => e.GetProperty("event").GetString()),
            Is.EqualTo(new[] { "training_started" }.Concat(Enumerable.Repeat("step_update", total)).Append("phase_completed")));

        JsonElement started = events[0].GetProperty("data");
        Assert.That(started.GetProperty("modelCount").GetInt32(), Is.EqualTo(models));
        Assert.That(started.GetProperty("models").GetArrayLength(), Is.EqualTo(models));
        Assert.That(started.GetProperty("stepsPerModel").GetInt32(), Is.EqualTo(steps));
        Assert.That(started.GetProperty("totalSteps").GetInt32(), Is.EqualTo(total));
        double peak = started.GetProperty("hyperparameters").GetProperty("learningRate").GetDouble();
        Assert.That(peak, Is.GreaterThan(0));

        var finalLoss = new double[models];
        for (int i = 0; i < total; i++)
        {
            JsonElement step = events[1 + i].GetProperty("data");
            string where = $"step_update #{i + 1}: {step.GetRawText()}";
            Assert.That(step.GetProperty("model").GetInt32(), Is.EqualTo(i / steps + 1), where);
            Assert.That(step.GetProperty("models").GetInt32(), Is.EqualTo(models), where);
            Assert.That(step.GetProperty("step").GetInt32(), Is.EqualTo(i % steps + 1), where);
            Assert.That(step.GetProperty("steps").GetInt32(), Is.EqualTo(steps), where);
            Assert.That(step.GetProperty("globalStep").GetInt32(), Is.EqualTo(i + 1), where);
            Assert.That(step.GetProperty("totalSteps").GetInt32(), Is.EqualTo(total), where);
            Assert.That(step.GetProperty("modelName").GetString(), Is.EqualTo(started.GetProperty("models")[i / steps].GetProperty("name").GetString()), where);
            double loss = step.GetProperty("loss").GetDouble();
            Assert.That(loss, Is.GreaterThan(0), where);
            Assert.That(step.GetProperty("perplexity").GetDouble(), Is.EqualTo(Math.Exp(loss)).Within(0.5).Percent, where);
            Assert.That(step.GetProperty("learningRate").GetDouble(), Is.GreaterThan(0).And.LessThanOrEqualTo(peak), where);
            finalLoss[i / steps] = loss;
        }

        for (int m = 0; m < models; m++)
        {
            double first = events[1 + m * steps].GetProperty("data").GetProperty("loss").GetDouble();
            Assert.That(finalLoss[m], Is.LessThan(first), $"model {m + 1}'s loss decays");
        }

        JsonElement completed = events[^1];
        Assert.That(completed.GetProperty("data").GetProperty("totalSteps").GetInt32(), Is.EqualTo(total));
        Assert.That(completed.GetProperty("data").GetProperty("models").EnumerateArray().Select(m => m.GetProperty("finalLoss").GetDouble()), Is.EqualTo(finalLoss),
            "the summary's final losses are the last steps'");
    }

    /// <summary>The page at the end of a run shows what the session's state says: 100%, the last step's numbers, a line per model, the summary.</summary>
    private static async Task CheckFinalPageAsync(BrowserPage page, GatewayServer server, int models, int steps)
    {
        using JsonDocument status = JsonDocument.Parse(await server.Http.GetStringAsync($"/api/sessions/{Session}", TestClient.Deadline));
        JsonElement last = status.RootElement.GetProperty("state").GetProperty("step_update").GetProperty("data");
        int total = models * steps;

        Assert.That(await page.Page.InnerTextAsync("#percent"), Is.EqualTo("100%"));
        Assert.That(await page.Page.InnerTextAsync("#overall"), Is.EqualTo($"{total} of {total} steps"));
        Assert.That(await page.Page.InnerTextAsync("#model-label"), Does.StartWith($"Model {models} of {models}"));
        Assert.That(await page.Page.InnerTextAsync("#step-label"), Is.EqualTo($"step {steps} of {steps}"));
        Assert.That(await page.Page.InnerTextAsync("#loss"), Is.EqualTo(last.GetProperty("loss").GetDouble().ToString("F4", CultureInfo.InvariantCulture)));
        Assert.That(await page.Page.InnerTextAsync("#perplexity"), Is.EqualTo(last.GetProperty("perplexity").GetDouble().ToString("F2", CultureInfo.InvariantCulture)));
        Assert.That(await page.Page.Locator("#summary-rows tr").CountAsync(), Is.EqualTo(models));

        // One path per model through every step: "M x,y" then "L x,y" for each further point.
        string[] paths = await page.Page.EvaluateAsync<string[]>("[...document.querySelectorAll('#chart path.series')].map(p => p.getAttribute('d'))");
        Assert.That(paths, Has.Length.EqualTo(models));
        Assert.That(paths.Select(d => Point().Matches(d).Count), Is.All.EqualTo(steps), string.Join('\n', paths));
    }

    [GeneratedRegex(@"[ML]-?\d+(\.\d+)?,-?\d+(\.\d+)?")]
    private static partial Regex Point();
}
