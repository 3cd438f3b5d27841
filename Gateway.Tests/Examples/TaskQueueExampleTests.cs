using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Protocol.Framing;
using Gateway.Tests.Browser;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Examples;

/// <summary>
/// examples/task-queue, run as its README says: the Python workers publish each task's life to
/// <c>queue:default</c> (keyed by task id, progress conflated), the .NET consumer on Gateway.Client
/// prints every task that ends, once, across a dropped connection, a reader that stops reading
/// gets conflated progress and stays connected, and the monitor page shows every task with the
/// counts per state, live and for a late joiner.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed partial class TaskQueueExampleTests : BrowserFixture
{
    private const string Example = "task-queue";
    private const string Session = "queue:default";

    private static readonly string[] TaskEvents = ["task_queued", "task_started", "task_progress", "task_completed", "task_failed"];

    [Test]
    public async Task The_workers_publish_each_task_s_life_keyed_by_its_id_then_queue_drained()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using TestClient watcher = (await TestClient.JoinAsync(server.WebSocketUri(Session))).Client;

        await RunWorkersAsync(server.BaseAddress, "w1", tasks: 12);
        List<JsonObject> events = await ReadUntilDrainedAsync(watcher);

        // The run's tasks are queued first, in one batch: consecutive seqs, in task order.
        string[] ids = [.. Enumerable.Range(1, 12).Select(n => $"w1-{n:000}")];
        JsonObject[] queued = [.. events.Take(12)];
        Assert.That(queued.Select(e => (string?)e["event"]), Is.All.EqualTo("task_queued"));
        Assert.That(queued.Select(e => (string?)e["key"]), Is.EqualTo(ids));
        Assert.That(queued.Select(e => (long)e["seq"]!), Is.EqualTo(Enumerable.Range(1, 12).Select(n => (long)n)));
        Assert.That(queued.Select(e => (string?)e["data"]!["input"]), Has.All.Not.Empty);

        int completed = 0, failed = 0;
        foreach (string id in ids)
        {
            JsonObject[] life = [.. events.Where(e => (string?)e["key"] == id)];
            Assert.That(life.Select(e => (string?)e["data"]!["id"]), Is.All.EqualTo(id), "every event's data names its task");
            string[] names = [.. life.Select(e => (string)e["event"]!)];
            Assert.That(names[..2], Is.EqualTo(new[] { "task_queued", "task_started" }), id);
            Assert.That(names[2..^1], Is.All.EqualTo("task_progress"), id);
            string worker = (string)life[1]["data"]!["worker"]!;
            Assert.That(worker, Does.Match("^worker-[1-4]$"));

            JsonObject[] progress = [.. life.Where(e => (string?)e["event"] == "task_progress")];
            Assert.That(progress.Select(e => (string?)e["data"]!["worker"]), Is.All.EqualTo(worker));
            Assert.That(progress.Select(e => (int)e["data"]!["percent"]!), Is.Ordered.Ascending.And.All.InRange(1, 100));
            int lastStep = progress.Length == 0 ? 0 : (int)progress[^1]["data"]!["step"]!;
            Assert.That(progress.Length + progress.Sum(e => (int?)e["conflated"] ?? 0), Is.EqualTo(lastStep), $"{id}: steps 1 to {lastStep}, each received or conflated");

            JsonObject end = life[^1];
            Assert.That((string?)end["data"]!["worker"], Is.EqualTo(worker));
            Assert.That((long)end["data"]!["duration_ms"]!, Is.GreaterThanOrEqualTo(0));
            if ((string?)end["event"] == "task_completed")
            {
                completed++;
                Assert.That((int)progress[^1]["data"]!["percent"]!, Is.EqualTo(100), $"{id} completed at 100%");
                Assert.That((string?)end["data"]!["result"], Is.Not.Empty);
            }
            else
            {
                failed++;
                Assert.That((string?)end["event"], Is.EqualTo("task_failed"), id);
                Assert.That((string?)end["data"]!["error"], Is.Not.Empty);
            }
        }

        Assert.That(failed, Is.GreaterThan(0), "the seeded run has failures (the default fail rate is 0.1)");
        Assert.That(events.Count(e => TaskEvents.Contains((string?)e["event"])), Is.EqualTo(events.Count - 1), "nothing else before queue_drained");
        JsonNode drained = events[^1]["data"]!;
        Assert.That(((string?)drained["run"], (int)drained["completed"]!, (int)drained["failed"]!), Is.EqualTo(("w1", completed, failed)));

        // A monitor that opens now reads the whole table from the keyed state: each task's outcome under its id.
        JsonElement state = JsonDocument.Parse(await server.Http.GetStringAsync($"/api/sessions/{Session}", TestClient.Deadline)).RootElement;
        JsonElement keyed = state.GetProperty("keyed");
        Assert.That(keyed.GetProperty("task_queued").EnumerateObject().Select(p => p.Name), Is.EquivalentTo(ids));
        Assert.That(Keys(keyed, "task_completed").Concat(Keys(keyed, "task_failed")), Is.EquivalentTo(ids));
        Assert.That(Keys(keyed, "task_progress"), Is.EquivalentTo(events.Where(e => (string?)e["event"] == "task_progress").Select(e => (string)e["key"]!).Distinct()));
        Assert.That(state.GetProperty("state").GetProperty("queue_drained").GetProperty("data").GetProperty("run").GetString(), Is.EqualTo("w1"));
    }

    [Test]
    public async Task The_dotnet_consumer_prints_every_task_that_ends_once_across_a_dropped_connection()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using TcpProxy proxy = TcpProxy.Start(server.BaseAddress);
        await using ExampleProgram consumer = ExampleProgram.Start(Example, proxy.BaseAddress, "dotnet", [ConsumerDll, "--session", Session]);
        await consumer.WhenPrintedAsync("watching queue:default");

        await RunWorkersAsync(server.BaseAddress, "c1", tasks: 10);
        await consumer.WhenPrintedAsync("summary: run c1");

        // The network drops the consumer's connection and keeps it out while a second run goes by:
        // the proxy refuses its reconnections until the run has drained.
        proxy.RefusesWebSocketUpgrades = true;
        Assert.That(proxy.CutAll(), Is.GreaterThan(0));
        await RunWorkersAsync(server.BaseAddress, "c2", tasks: 10);
        await consumer.WhenPrintedAsync("reconnecting, attempt 2");
        Assert.That(consumer.Output, Does.Not.Contain(" c2-"), "nothing of the second run before the consumer is back");
        proxy.RefusesWebSocketUpgrades = false;
        await consumer.WhenPrintedAsync("summary: run c2");

        // Back, it got what it missed from the gateway's history: 10 outcomes and queue_drained (its filter's events).
        await consumer.WhenPrintedAsync(": 11 missed events replayed");
        string output = consumer.Output;
        await TestContext.Out.WriteLineAsync(output);
        MatchCollection lines = OutcomeLine().Matches(output);
        Dictionary<string, string> printed = [];
        foreach (Match line in lines)
        {
            Assert.That(printed.TryAdd(line.Groups["id"].Value, line.Groups["outcome"].Value), Is.True, $"{line.Groups["id"].Value} printed once:\n{output}");
        }

        // What the workers published: every task's outcome, from the session's keyed state.
        JsonElement keyed = JsonDocument.Parse(await server.Http.GetStringAsync($"/api/sessions/{Session}", TestClient.Deadline)).RootElement.GetProperty("keyed");
        Dictionary<string, string> published = Keys(keyed, "task_completed").Select(id => (id, "completed"))
            .Concat(Keys(keyed, "task_failed").Select(id => (id, "failed")))
            .ToDictionary(p => p.id, p => p.Item2);
        Assert.That(published, Has.Count.EqualTo(20));
        Assert.That(printed, Is.EquivalentTo(published), output);

        foreach (string run in new[] { "c1", "c2" })
        {
            int completed = published.Count(p => p.Key.StartsWith(run, StringComparison.Ordinal) && p.Value == "completed");
            Assert.That(output, Does.Contain($"summary: run {run} drained, {completed} completed and {10 - completed} failed")
                .And.Contain($"seen here: {completed} completed, {10 - completed} failed"));
        }
    }

    [Test]
    public async Task A_reader_that_stops_reading_gets_conflated_progress_and_stays_connected()
    {
        // Small bounds, so that the run's progress, sent as published, would be far past them:
        // 60 tasks publish about 1,300 progress events of some 250 bytes (300 KB) against a lag
        // bound of 64 KiB and a few KiB of socket buffers.
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxLagBytes"] = "65536",
            ["Gateway:Limits:MaxPublishBytes"] = "32768",
            ["Gateway:Limits:SocketSendBufferBytes"] = "4096",
        });
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using RawWebSocket reader = await RawWebSocket.ConnectAsync(server.WebSocketUri(Session), receiveBufferSize: 4096);
        Assert.That((await reader.ReceiveAsync())!.Value.Text, Does.Contain("\"welcome\""));

        // The reader reads nothing while the whole run is published.
        await RunWorkersAsync(server.BaseAddress, "s1", tasks: 60);
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.Zero, "no 4001 while the reader was stalled");

        var events = new List<JsonObject>();
        while (events.Count == 0 || (string?)events[^1]["event"] != "queue_drained")
        {
            ServerFrame frame = (await reader.ReceiveAsync()) ?? throw new AssertionException($"dropped after {events.Count} events");
            Assert.That(frame.Kind, Is.Not.EqualTo(WebSocketReadStatus.Close), $"closed with {frame.CloseCode} {frame.CloseReason}");
            if (frame.Kind == WebSocketReadStatus.Text)
            {
                events.Add(JsonNode.Parse(frame.Text)!.AsObject());
            }
        }

        Assert.That(events.Select(e => (long)e["seq"]!), Is.Ordered.Ascending);
        int conflated = 0;
        foreach (IGrouping<string, JsonObject> task in events.Where(e => e["key"] is not null).GroupBy(e => (string)e["key"]!))
        {
            // Every lifecycle event arrives; of the progress, the newest, with counts for what was skipped.
            Assert.That(task.Where(e => (string?)e["event"] != "task_progress").Select(e => (string?)e["event"]),
                Is.EqualTo(new[] { "task_queued", "task_started", "task_completed" }).Or.EqualTo(new[] { "task_queued", "task_started", "task_failed" }), task.Key);
            JsonObject[] progress = [.. task.Where(e => (string?)e["event"] == "task_progress")];
            if (progress.Length == 0)
            {
                continue;
            }

            int skipped = progress.Sum(e => (int?)e["conflated"] ?? 0);
            Assert.That(progress.Length + skipped, Is.EqualTo((int)progress[^1]["data"]!["step"]!), $"{task.Key}: received plus conflated is every step published");
            if (task.Any(e => (string?)e["event"] == "task_completed"))
            {
                Assert.That((int)progress[^1]["data"]!["percent"]!, Is.EqualTo(100), $"{task.Key}: the newest progress is current");
            }

            conflated += skipped;
        }

        Assert.That(events.Select(e => (string?)e["key"]).Where(k => k is not null).Distinct().Count(), Is.EqualTo(60));
        Assert.That(conflated, Is.GreaterThan(0), "the reader was behind: progress was conflated");

        await reader.SendTextAsync("""{"type":"ping","id":"still-here"}""");
        ServerFrame pong;
        do
        {
            pong = (await reader.ReceiveAsync())!.Value;
        }
        while (pong.Kind != WebSocketReadStatus.Text);

        Assert.That(pong.Text, Does.Contain("\"pong\"").And.Contain("still-here"));
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.Zero);
    }

    [Test]
    public async Task The_monitor_page_shows_every_task_with_counts_live_and_to_a_late_joiner()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using BrowserPage live = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await live.WaitAsync("window.monitor && window.monitor.client.state === 'open' && document.body.dataset.snapshot === 'loaded'", "the monitor to join the queue");
        Assert.That(await live.Page.InnerTextAsync("#connection"), Does.StartWith("open · websocket"));

        await RunWorkersAsync(server.BaseAddress, "p1", tasks: 16);
        JsonElement session = JsonDocument.Parse(await server.Http.GetStringAsync($"/api/sessions/{Session}", TestClient.Deadline)).RootElement;
        JsonElement drained = session.GetProperty("state").GetProperty("queue_drained").GetProperty("data");
        int completed = drained.GetProperty("completed").GetInt32(), failed = drained.GetProperty("failed").GetInt32();
        Assert.That(completed + failed, Is.EqualTo(16));

        // The workers that ended a task, as the session's keyed state names them: with no delay
        // between steps, one worker thread can take every task before the others have started.
        JsonElement keyed = session.GetProperty("keyed");
        string[] workers = [.. new[] { "task_completed", "task_failed" }
            .Where(name => keyed.TryGetProperty(name, out _))
            .SelectMany(name => keyed.GetProperty(name).EnumerateObject())
            .Select(entry => entry.Value.GetProperty("data").GetProperty("worker").GetString()!)
            .Distinct()
            .Order(StringComparer.Ordinal)];
        Assert.That(workers, Is.Not.Empty.And.All.Matches<string>(w => w is "worker-1" or "worker-2" or "worker-3" or "worker-4"));

        await AssertShowsRunAsync(live, completed, failed, workers, "live");

        Assert.That(int.Parse(await live.Page.InnerTextAsync("#progress-received"), System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0), "progress arrived live");

        // A late joiner builds the same table from the keyed state alone.
        await using BrowserPage late = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await late.WaitAsync("window.monitor && document.body.dataset.snapshot === 'loaded'", "the late joiner to read the queue's state");
        await AssertShowsRunAsync(late, completed, failed, workers, "late-joiner");
        Assert.That(await late.Page.InnerTextAsync("#progress-received"), Is.EqualTo("0"), "nothing live: all of it from the keyed state");
    }

    private static async Task AssertShowsRunAsync(BrowserPage page, int completed, int failed, string[] workers, string name)
    {
        await page.WaitAsync($"document.getElementById('count-completed').textContent === '{completed}' && document.getElementById('count-failed').textContent === '{failed}'", $"{completed} completed and {failed} failed");
        await page.WaitAsync("document.getElementById('last-run').textContent.includes('last drained: run p1,')", "the drained run");
        Assert.That(await page.Page.InnerTextAsync("#count-queued"), Is.EqualTo("0"));
        Assert.That(await page.Page.InnerTextAsync("#count-running"), Is.EqualTo("0"));
        Assert.That(await page.Page.Locator("#tasks tbody tr").CountAsync(), Is.EqualTo(16));
        Assert.That(await page.Page.Locator("#tasks tr[data-state=completed] .bar[data-percent='100']").CountAsync(), Is.EqualTo(completed));
        Assert.That(await page.Page.Locator("#workers tbody td:nth-child(1)").AllInnerTextsAsync(), Is.EqualTo(workers), "one row per worker that ran a task, in order");
        Assert.That(await page.Page.Locator("#workers tbody td:nth-child(2)").AllInnerTextsAsync(), Is.All.EqualTo("idle"), "no worker is busy");
        Assert.That(int.Parse(await page.Page.InnerTextAsync("#throughput"), System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(completed), "every completion is within the last minute");
        await page.ScreenshotAsync(name);
    }

    /// <summary>
    /// The consumer as the tests' build made it (the test project references it, so it is built
    /// first, in the same configuration), run from its own output folder as <c>dotnet run</c> would.
    /// </summary>
    private static string ConsumerDll => Path.Combine(ExampleProgram.Folder(Example), "consumer", "bin",
        typeof(TaskQueueExampleTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration, "net10.0", "TaskQueueConsumer.dll");

    /// <summary>Runs the workers flat out (<c>--delay 0</c>), with a seed so that the run has the same tasks and failures every time.</summary>
    private static Task<ExampleProgram> RunWorkersAsync(Uri gateway, string run, int tasks) =>
        ExampleProgram.RunAsync(Example, gateway, "python3",
            ["workers.py", "--session", Session, "--tasks", tasks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--delay", "0", "--seed", "7", "--run", run]);

    private static async Task<List<JsonObject>> ReadUntilDrainedAsync(TestClient client)
    {
        var events = new List<JsonObject>();
        while (events.Count == 0 || (string?)events[^1]["event"] != "queue_drained")
        {
            JsonObject message = JsonNode.Parse((await client.ReceiveAsync()).GetRawText())!.AsObject();
            Assert.That((string?)message["type"], Is.EqualTo("event"), message.ToJsonString());
            events.Add(message);
        }

        return events;
    }

    private static IEnumerable<string> Keys(JsonElement keyed, string name) =>
        keyed.TryGetProperty(name, out JsonElement byKey) ? byKey.EnumerateObject().Select(p => p.Name) : [];

    [GeneratedRegex(@"^(?<outcome>completed|failed) +(?<id>c[12]-\d{3}) ", RegexOptions.Multiline)]
    private static partial Regex OutcomeLine();
}
