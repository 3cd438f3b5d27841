using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Browser;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.Examples;

/// <summary>
/// examples/build-runner, run as its README says: the gateway started with the example's
/// gateway.json (a <c>build-*</c> profile with a long history, and a file watch on the checkpoint
/// folder), then <c>build.sh</c>, which pipes its log into the session with curl, publishes
/// progress with curl and writes checkpoint files for the gateway to publish. A real client checks
/// what the README says arrives; Chromium opens the page after the build and checks that it shows
/// the whole log from line 1 and the result.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class BuildRunnerExampleTests : BrowserFixture
{
    private const string Example = "build-runner";
    private const string Session = "build-demo";

    /// <summary>What the history of a session keeps without the example's profile (Gateway:History:MaxEvents).</summary>
    private const int DefaultHistory = 1000;

    private static readonly string[] Components = ["core", "protocol", "storage", "net", "auth", "server", "cli"];
    private static readonly string[] Features = ["auth", "sessions", "storage", "search", "billing", "sync"];

    private string _checkpoints = null!;

    [SetUp]
    public void MakeCheckpointFolder()
    {
        _checkpoints = Path.Combine(Path.GetTempPath(), $"build-runner-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_checkpoints);
    }

    [TearDown]
    public void RemoveCheckpointFolder() => Directory.Delete(_checkpoints, recursive: true);

    [Test]
    public async Task The_build_streams_its_log_in_order_with_progress_checkpoints_and_a_final_result()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings(_checkpoints));
        await using ExampleProgram build = ExampleProgram.Start(Example, server.BaseAddress, "bash", ["build.sh", "--delay", "0", "--checkpoints", _checkpoints]);

        // A watcher that joins once the build has started, from its first event: what it missed
        // comes as the replay, the rest live, and the gateway closes it when the build ends.
        await build.WhenPrintedAsync("streaming the build into");
        (TestClient watcher, _) = await TestClient.JoinAsync(server.WebSocketUri(Session, "since=0"));
        await using (watcher)
        {
            (int? code, string? reason, List<string> messages) = await watcher.ReceiveCloseAsync();
            Assert.That((code, reason), Is.EqualTo(((int?)1000, "session complete")), "the final event ends the session");
            Assert.That(await build.WaitForExitAsync(), Is.Zero, build.Output);

            List<JsonElement> events = messages.Select(m => JsonDocument.Parse(m).RootElement.Clone())
                .Where(m => m.GetProperty("type").GetString() == "event").ToList();
            Assert.That(events.Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(Enumerable.Range(1, events.Count).Select(i => (long)i)),
                "every event of the build, once, in order (build.sh starts the session over)");
            Assert.That(Name(events[0]), Is.EqualTo("build_started"));
            JsonElement started = events[0].GetProperty("data");
            Assert.That(started.GetProperty("components").EnumerateArray().Select(c => c.GetProperty("name").GetString()), Is.EqualTo(Components));
            Assert.That(started.GetProperty("features").EnumerateArray().Select(c => c.GetProperty("name").GetString()), Is.EqualTo(Features));

            // The log: every line the build printed, in order, numbered from 1, colours and all.
            string[] printed = Printed(build);
            List<JsonElement> lines = events.Where(e => Name(e) == "terminal_output").Select(e => e.GetProperty("data")).ToList();
            Assert.That(lines.Select(l => l.GetProperty("n").GetInt32()), Is.EqualTo(Enumerable.Range(1, lines.Count)));
            Assert.That(lines.Select(l => l.GetProperty("line").GetString()), Is.EqualTo(printed));
            Assert.That(lines[0].GetProperty("line").GetString(), Is.EqualTo("-- The C compiler identification is GNU 12.2.0"));
            Assert.That(lines[^1].GetProperty("line").GetString(), Does.Contain("Build succeeded"));
            Assert.That(lines[8].GetProperty("line").GetString(), Does.StartWith("[  1%] \u001b[32mBuilding C object src/core/"), "ANSI colours are kept for the page to render");
            Assert.That(events.Count, Is.GreaterThan(DefaultHistory), "more events than the default history holds: the profile is what keeps line 1");

            // Progress: each component and feature from 0 to 100, keyed by its name; overall to 100.
            foreach (string component in Components)
            {
                List<JsonElement> progress = Keyed(events, "component_progress", component);
                Assert.That(progress.First().GetProperty("pct").GetInt32(), Is.Zero, component);
                Assert.That(progress.Select(p => p.GetProperty("pct").GetInt32()), Is.Ordered, component);
                Assert.That(progress.Last().GetProperty("status").GetString(), Is.EqualTo("done"), component);
                Assert.That(progress.Last().GetProperty("pct").GetInt32(), Is.EqualTo(100), component);
            }

            foreach (string feature in Features)
            {
                JsonElement last = Keyed(events, "feature_progress", feature).Last();
                Assert.That((last.GetProperty("status").GetString(), last.GetProperty("passed").GetInt32(), last.GetProperty("failed").GetInt32()), Is.EqualTo(("passed", 170, 0)), feature);
            }

            List<JsonElement> overall = events.Where(e => Name(e) == "build_progress").Select(e => e.GetProperty("data")).ToList();
            Assert.That(overall.Select(p => p.GetProperty("pct").GetInt32()), Is.Ordered);
            Assert.That((overall[^1].GetProperty("phase").GetString(), overall[^1].GetProperty("pct").GetInt32()), Is.EqualTo(("package", 100)));

            // Checkpoints: published by the gateway's file watcher from the files build.sh wrote,
            // one per stage in the order written, with their JSON content, all before the end.
            List<JsonElement> checkpoints = events.Where(e => Name(e) == "checkpoint").Select(e => e.GetProperty("data")).ToList();
            string[] expected = [.. Components.Select((c, i) => $"{i + 1:00}-compile-{c}.json"), .. Features.Select((f, i) => $"{i + 8:00}-test-{f}.json"), "14-package.json"];
            Assert.That(checkpoints.Select(c => c.GetProperty("path").GetString()), Is.EqualTo(expected));
            Assert.That(checkpoints.Select(c => c.GetProperty("change").GetString()), Is.All.EqualTo("created"));
            Assert.That(checkpoints[0].GetProperty("content").GetProperty("artifact").GetString(), Is.EqualTo("build/libcore.a"));
            Assert.That(checkpoints[^1].GetProperty("content").GetProperty("stage").GetString(), Is.EqualTo("package"));
            Assert.That(checkpoints[^1].GetProperty("size").GetInt64(), Is.EqualTo(new FileInfo(Path.Combine(_checkpoints, "14-package.json")).Length));

            // The end: build_finished, final, with the numbers of the run.
            JsonElement finished = events[^1];
            Assert.That(Name(finished), Is.EqualTo("build_finished"));
            JsonElement result = finished.GetProperty("data");
            Assert.That(result.GetProperty("status").GetString(), Is.EqualTo("passed"));
            Assert.That(result.GetProperty("exit_code").GetInt32(), Is.Zero);
            Assert.That(result.GetProperty("lines").GetInt32(), Is.EqualTo(lines.Count));
            Assert.That(result.GetProperty("tests").GetProperty("passed").GetInt32(), Is.EqualTo(Features.Length * 170));
            Assert.That(result.GetProperty("failed_tests").GetArrayLength(), Is.Zero);
        }
    }

    [Test]
    public async Task A_page_opened_after_the_build_shows_the_whole_log_from_line_1_and_the_result()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings(_checkpoints));
        ExampleProgram build = await ExampleProgram.RunAsync(Example, server.BaseAddress, "bash", ["build.sh", "--delay", "0", "--checkpoints", _checkpoints]);
        await build.DisposeAsync();
        int lines = Printed(build).Length;
        Assert.That(lines, Is.GreaterThan(DefaultHistory));

        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await page.WaitAsync($"document.querySelectorAll('#log .line').length === {lines} && document.body.dataset.result === 'passed'", $"the page to show {lines} lines and the result");

        Assert.That(await page.Page.TextContentAsync("#log .line >> nth=0"), Is.EqualTo("1-- The C compiler identification is GNU 12.2.0"), "line 1 (its number, then its text)");
        Assert.That(await page.Page.TextContentAsync("#log .line >> nth=-1"), Does.StartWith($"{lines}Build succeeded"));
        Assert.That(await page.Page.TextContentAsync("#log .line >> nth=8 >> span.c32"), Does.StartWith("Building C object src/core/"), "colours rendered, not shown as escapes");
        Assert.That(await page.Page.InnerTextAsync("#log"), Does.Not.Contain("\u001b").And.Not.Contain("[0m"));
        Assert.That(await page.Page.Locator("#log .gap").CountAsync(), Is.Zero, "no lines missing from the start");
        Assert.That(await page.Page.InnerTextAsync("#result"), Does.StartWith("✔ Build passed").And.Contain($"{Thousands(lines)} lines"));
        Assert.That(await page.Page.InnerTextAsync("#line-count"), Is.EqualTo($"{Thousands(lines)} lines"));
        Assert.That(await page.Page.Locator("#components li[data-status=done]").CountAsync(), Is.EqualTo(Components.Length));
        Assert.That(await page.Page.Locator("#features li[data-status=passed]").CountAsync(), Is.EqualTo(Features.Length));
        Assert.That(await page.Page.Locator("#checkpoints li").CountAsync(), Is.EqualTo(14));
        Assert.That(await page.Page.InnerTextAsync("#checkpoints li >> nth=-1"), Does.Contain("14-package.json").And.Contain("demo-1.4.2-Linux.tar.gz"));
        Assert.That(await page.Page.GetAttributeAsync(".overall", "aria-valuenow"), Is.EqualTo("100"));
        await page.WaitAsync("document.querySelector('#connection').dataset.state === 'complete'", "the page to say the build ended");

        // The view follows the log: its end is in sight.
        Assert.That(await page.Page.EvaluateAsync<bool>("(() => { const l = document.querySelector('#log'); return l.scrollTop + l.clientHeight >= l.scrollHeight - 8; })()"), Is.True);
        await page.ScreenshotAsync("after-the-build");
    }

    [Test]
    public async Task Without_the_profile_a_late_page_has_lost_the_start_of_the_log_and_says_so()
    {
        // The example's settings less its build-* profile: the session keeps the default 1000 events.
        Dictionary<string, string?> settings = Settings(_checkpoints);
        foreach (string key in settings.Keys.Where(k => k.StartsWith("Gateway:Sessions:Profiles:", StringComparison.Ordinal)).ToList())
        {
            settings.Remove(key);
        }

        await using GatewayServer server = await GatewayServer.StartAsync(settings);
        ExampleProgram build = await ExampleProgram.RunAsync(Example, server.BaseAddress, "bash", ["build.sh", "--delay", "0", "--checkpoints", _checkpoints]);
        await build.DisposeAsync();
        int lines = Printed(build).Length;

        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await page.WaitAsync("document.body.dataset.result === 'passed' && document.querySelector('#connection').dataset.state === 'complete'", "the page to show the result");
        int shown = await page.Page.Locator("#log .line").CountAsync();
        Assert.That(shown, Is.LessThan(DefaultHistory), "the history held the last 1000 events, of which only some are lines");
        int first = int.Parse((await page.Page.TextContentAsync("#log .line >> nth=0 >> .n"))!, CultureInfo.InvariantCulture);
        Assert.That(first, Is.EqualTo(lines - shown + 1), "the lines shown are the log's last ones, in order");
        Assert.That(await page.Page.InnerTextAsync("#log .gap"), Is.EqualTo($"… lines 1 to {first - 1} are no longer in the session's history"));
    }

    [Test]
    public async Task A_page_open_before_the_build_follows_it_live_through_the_session_starting_over()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings(_checkpoints));

        // A page opened on a previous build's log: the new build deletes the session, so the page
        // sees it start over (a new epoch), clears itself, and follows the new build.
        await server.PublishAsync(Session, "terminal_output", """{"line":"an old build's log","n":1}""");
        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await page.WaitAsync("document.querySelectorAll('#log .line').length === 1 && window.client.state === 'open'", "the old log, live");

        ExampleProgram build = await ExampleProgram.RunAsync(Example, server.BaseAddress, "bash", ["build.sh", "--delay", "0", "--checkpoints", _checkpoints]);
        await build.DisposeAsync();
        int lines = Printed(build).Length;
        await page.WaitAsync($"document.querySelectorAll('#log .line').length === {lines} && document.body.dataset.result === 'passed'", $"the page to show {lines} lines and the result");
        Assert.That(await page.Page.TextContentAsync("#log .line >> nth=0"), Is.EqualTo("1-- The C compiler identification is GNU 12.2.0"));
        Assert.That(await page.Page.InnerTextAsync("#log"), Does.Not.Contain("an old build's log"));
        Assert.That(await page.Page.Locator("#checkpoints li").CountAsync(), Is.EqualTo(14));
        await page.WaitAsync("document.querySelector('#connection').dataset.state === 'complete'", "the page to say the build ended");
        await page.ScreenshotAsync("live");
    }

    [Test]
    public async Task A_failing_test_fails_the_build_and_the_page_says_which()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings(_checkpoints));
        await using ExampleProgram build = ExampleProgram.Start(Example, server.BaseAddress, "bash", ["build.sh", "--delay", "0", "--checkpoints", _checkpoints, "--fail"]);
        Assert.That(await build.WaitForExitAsync(), Is.EqualTo(8), "the build's exit status, ctest's for failed tests");

        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/{Session}");
        JsonElement session = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.That(session.GetProperty("complete").GetBoolean(), Is.True);
        JsonElement result = session.GetProperty("state").GetProperty("build_finished").GetProperty("data");
        Assert.That(result.GetProperty("status").GetString(), Is.EqualTo("failed"));
        Assert.That(result.GetProperty("exit_code").GetInt32(), Is.EqualTo(8));
        Assert.That(result.GetProperty("failed_tests").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "sync.resumes_restart" }));
        JsonElement sync = session.GetProperty("keyed").GetProperty("feature_progress").GetProperty("sync").GetProperty("data");
        Assert.That((sync.GetProperty("status").GetString(), sync.GetProperty("failed").GetInt32()), Is.EqualTo(("failed", 1)));
        Assert.That(session.GetProperty("state").GetProperty("checkpoint").GetProperty("data").GetProperty("path").GetString(), Is.EqualTo("13-test-sync.json"),
            "no package after failed tests; the last checkpoint reached the session before the end");

        await using BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress);
        await page.WaitAsync("document.body.dataset.result === 'failed'", "the page to show the failure");
        Assert.That(await page.Page.InnerTextAsync("#result"), Does.StartWith("✘ Build failed (exit 8)").And.Contain("sync.resumes_restart"));
        Assert.That(await page.Page.GetAttributeAsync("#features li[data-name=sync]", "data-status"), Is.EqualTo("failed"));
        Assert.That(await page.Page.InnerTextAsync("#log"), Does.Contain("sync.resumes_restart").And.Contain("The following tests FAILED:"));
        await page.ScreenshotAsync("failed");
    }

    [Test]
    public async Task The_readme_starts_the_gateway_with_gateway_json_and_the_gateway_takes_it()
    {
        string readme = File.ReadAllText(Path.Combine(ExampleProgram.Folder(Example), "README.md"));
        Assert.That(readme, Does.Contain("dotnet run --project Gateway -c Release -- --settings examples/build-runner/gateway.json"));

        // The same file through --settings: every key in it is a setting the gateway knows.
        await using Microsoft.AspNetCore.Builder.WebApplication gateway = GatewayHost.Build(
            ["--settings", Path.Combine(ExampleProgram.Folder(Example), "gateway.json"), "--Urls=http://127.0.0.1:0"]);
        Assert.That(gateway.Configuration["Gateway:Sessions:Profiles:0:Match"], Is.EqualTo("build-*"));
    }

    /// <summary>The example's gateway.json as configuration keys, watching <paramref name="checkpoints"/> instead of the folder in the checkout.</summary>
    private static Dictionary<string, string?> Settings(string checkpoints)
    {
        Dictionary<string, string?> settings = ExampleSettings();
        Assert.That(settings["Gateway:Sources:Watch:0:Path"], Is.EqualTo("examples/build-runner/checkpoints"));
        settings["Gateway:Sources:Watch:0:Path"] = checkpoints;
        return settings;
    }

    private static Dictionary<string, string?> ExampleSettings()
    {
        string json = File.ReadAllText(Path.Combine(ExampleProgram.Folder(Example), "gateway.json"));
        IConfiguration configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        return configuration.AsEnumerable().Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>What the program printed on its standard output, line by line (empty lines too): the build's log, which it tees.</summary>
    private static string[] Printed(ExampleProgram program) =>
        program.Output.Split('\n')[..^1].Where(l => !l.StartsWith("stderr: ", StringComparison.Ordinal)).ToArray();

    private static string Thousands(int n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string? Name(JsonElement e) => e.GetProperty("event").GetString();

    private static List<JsonElement> Keyed(List<JsonElement> events, string name, string key) =>
        events.Where(e => Name(e) == name && e.GetProperty("key").GetString() == key).Select(e => e.GetProperty("data")).ToList();
}
