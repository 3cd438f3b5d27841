using System.Text.Json;
using Gateway.Sources;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Sources;

/// <summary>
/// The file-watch source (spec section 16): a real folder, a real gateway watching it, and a real
/// WebSocket client watching the session the folder's files go to.
/// </summary>
[CancelAfter(30_000)]
public sealed class FileWatchTests
{
    private string _root = null!;

    [SetUp]
    public void CreateFolder()
    {
        _root = Path.Combine(Path.GetTempPath(), "gateway-watch-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    [TearDown]
    public void DeleteFolder()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Test]
    public async Task Files_created_changed_and_deleted_become_events_with_a_json_files_content()
    {
        string folder = Path.Combine(_root, "checkpoints");
        Directory.CreateDirectory(folder);
        await using GatewayServer server = await StartAsync(folder, "files");
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("files"));
        await using (client)
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "step.json"), "{\n  \"step\": 1,\n  \"loss\": 0.5\n}\n");
            JsonElement created = await NextFileEventAsync(client);
            Assert.That(created.GetProperty("event").GetString(), Is.EqualTo("checkpoint"));
            JsonElement data = created.GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("step.json"));
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));
            Assert.That(data.GetProperty("size").GetInt64(), Is.EqualTo(new FileInfo(Path.Combine(folder, "step.json")).Length));
            Assert.That(data.GetProperty("content").GetRawText(), Is.EqualTo("{\"step\":1,\"loss\":0.5}"), "parsed, and compact so the event stays one line");

            await File.WriteAllTextAsync(Path.Combine(folder, "step.json"), "{\"step\":2}");
            data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("changed"));
            Assert.That(data.GetProperty("size").GetInt64(), Is.EqualTo(10));
            Assert.That(data.GetProperty("content").GetProperty("step").GetInt32(), Is.EqualTo(2));

            File.Delete(Path.Combine(folder, "step.json"));
            data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("step.json"));
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("deleted"));
            Assert.That(data.GetProperty("size").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(data.TryGetProperty("content", out _), Is.False);
        }

        // Published like any event: the session's state holds the latest.
        using JsonDocument session = JsonDocument.Parse(await server.Http.GetStringAsync("/api/sessions/files"));
        Assert.That(session.RootElement.GetProperty("seq").GetInt64(), Is.EqualTo(3));
        Assert.That(session.RootElement.GetProperty("state").GetProperty("checkpoint").GetProperty("data").GetProperty("change").GetString(), Is.EqualTo("deleted"));
    }

    [Test]
    public async Task A_burst_of_writes_to_one_file_is_one_event_with_the_last_content()
    {
        string folder = Path.Combine(_root, "burst");
        Directory.CreateDirectory(folder);

        // A debounce far longer than five small writes take, even on a loaded machine.
        await using GatewayServer server = await StartAsync(folder, "burst", debounce: "00:00:03");
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("burst"));
        await using (client)
        {
            // Each write waits until a watcher of the test's own has been told of the one before:
            // written back to back, the kernel may merge the notifications itself, and the burst
            // would be one event even without the gateway's debounce.
            using var paced = new SemaphoreSlim(0);
            using var pacer = new FileSystemWatcher(folder, "progress.json") { NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size };
            pacer.Created += (_, _) => paced.Release();
            pacer.Changed += (_, _) => paced.Release();
            pacer.EnableRaisingEvents = true;
            for (int i = 1; i <= 5; i++)
            {
                while (paced.Wait(0))
                {
                }

                await File.WriteAllTextAsync(Path.Combine(folder, "progress.json"), $"{{\"i\":{i}}}");
                await paced.WaitAsync(TestClient.Deadline);
            }

            JsonElement data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("progress.json"));
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));
            Assert.That(data.GetProperty("content").GetProperty("i").GetInt32(), Is.EqualTo(5));

            // Every notification of the burst came before this file's: a second event for the
            // burst would come before this one, not after it.
            await File.WriteAllTextAsync(Path.Combine(folder, "sentinel.json"), "{}");
            data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("sentinel.json"), "one event for the burst, then the next file's");
        }
    }

    [Test]
    public async Task A_file_that_does_not_match_the_filter_is_ignored()
    {
        string folder = Path.Combine(_root, "filtered");
        Directory.CreateDirectory(folder);
        await using GatewayServer server = await StartAsync(folder, "filtered");
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("filtered"));
        await using (client)
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "notes.txt"), "not a checkpoint");
            await File.WriteAllTextAsync(Path.Combine(folder, "step.json.tmp"), "{}");
            File.Move(Path.Combine(folder, "step.json.tmp"), Path.Combine(folder, "step.json"));

            // The temporary file of a save by rename is not reported; the file it became is.
            JsonElement data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("step.json"));
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));
        }
    }

    [Test]
    public async Task A_folder_that_does_not_exist_at_start_is_picked_up_when_it_appears()
    {
        string folder = Path.Combine(_root, "later", "checkpoints");
        var logs = new CapturedLogs();
        await using GatewayServer server = await StartAsync(folder, "later", logs: logs);
        Assert.That(logs.Lines, Has.Some.Contain("[802]").And.Contain(folder), "a warning saying the folder is not there yet");

        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("later"));
        await using (client)
        {
            // Made, and written to at once: whether the file comes before or after the watch
            // starts, it is reported once, as created.
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, "first.json"), "{\"step\":1}");
            JsonElement data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("first.json"));
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));

            await File.WriteAllTextAsync(Path.Combine(folder, "second.json"), "{\"step\":2}");
            data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("second.json"), "watched for good, with no second event for the first file");
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));
        }
    }

    [Test]
    public async Task A_folder_deleted_and_made_again_is_still_watched()
    {
        string folder = Path.Combine(_root, "rebuilt");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "old.json"), "{}");

        // A retry far longer than the test: only noticing the folder's replacement at once passes.
        await using GatewayServer server = await StartAsync(folder, "rebuilt", retryInterval: "00:10:00");
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("rebuilt"));
        await using (client)
        {
            // What a build that starts with rm -rf and mkdir -p does.
            Directory.Delete(folder, recursive: true);
            Directory.CreateDirectory(folder);
            JsonElement data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("old.json"));
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("deleted"));

            await File.WriteAllTextAsync(Path.Combine(folder, "new.json"), "{\"build\":2}");
            data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("new.json"), "the new folder is watched, not the deleted one");
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));
            Assert.That(data.GetProperty("content").GetProperty("build").GetInt32(), Is.EqualTo(2));
        }
    }

    [Test]
    public async Task A_file_created_and_deleted_within_the_debounce_is_no_event_and_the_folder_stays_watched()
    {
        string folder = Path.Combine(_root, "temporary");
        Directory.CreateDirectory(folder);

        // A debounce far longer than a write and a delete take, even on a loaded machine; a retry far
        // longer than the test: a watch that failed on the temporary file would not be back in time.
        await using GatewayServer server = await StartAsync(folder, "temporary", debounce: "00:00:03", retryInterval: "00:10:00");
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("temporary"));
        await using (client)
        {
            // What an editor's or a build's scratch file does: there and gone within one debounce.
            string scratch = Path.Combine(folder, "scratch.json");
            await File.WriteAllTextAsync(scratch, "{}");
            File.Delete(scratch);

            await File.WriteAllTextAsync(Path.Combine(folder, "kept.json"), "{\"kept\":true}");
            JsonElement data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("kept.json"), "no event for the scratch file, and the folder still watched");
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));
        }
    }

    [Test]
    public async Task A_json_file_that_does_not_parse_or_is_too_large_still_gives_an_event_saying_why_it_has_no_content()
    {
        string folder = Path.Combine(_root, "bad");
        Directory.CreateDirectory(folder);
        await using GatewayServer server = await StartAsync(folder, "bad", maxFileBytes: 64);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("bad"));
        await using (client)
        {
            await File.WriteAllTextAsync(Path.Combine(folder, "cut.json"), "{\"step\": 1, \"lo");
            JsonElement data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("cut.json"));
            Assert.That(data.GetProperty("change").GetString(), Is.EqualTo("created"));
            Assert.That(data.GetProperty("size").GetInt64(), Is.EqualTo(15));
            Assert.That(data.GetProperty("contentError").GetString(), Is.EqualTo("invalid_json"));
            Assert.That(data.TryGetProperty("content", out _), Is.False);

            string large = "{\"text\":\"" + new string('x', 100) + "\"}";
            await File.WriteAllTextAsync(Path.Combine(folder, "large.json"), large);
            data = (await NextFileEventAsync(client)).GetProperty("data");
            Assert.That(data.GetProperty("path").GetString(), Is.EqualTo("large.json"));
            Assert.That(data.GetProperty("size").GetInt64(), Is.EqualTo(large.Length));
            Assert.That(data.GetProperty("contentError").GetString(), Is.EqualTo("too_large"));
            Assert.That(data.TryGetProperty("content", out _), Is.False);
        }
    }

    /// <summary><see cref="FileReport.Look"/> alone: what it reports of a file against what was last reported of it, and when nothing.</summary>
    /// <remarks>The file's content (null: no file), whether it was reported before, the change reported (null: no event), and whether it stays known.</remarks>
    [TestCase(null, false, null, false, TestName = "Gone and never reported: nothing")]
    [TestCase(null, true, "deleted", false, TestName = "Gone after it was reported: deleted")]
    [TestCase("{\"a\": 1}", false, "created", true, TestName = "New: created")]
    [TestCase("{\"a\": 2}", true, "changed", true, TestName = "Reported before: changed")]
    public void Look_reports_a_file_against_what_was_reported_of_it(string? content, bool reported, string? change, bool knownAfter)
    {
        var known = new Dictionary<string, FileStamp>(StringComparer.Ordinal);
        if (reported)
        {
            known["f.json"] = new FileStamp(1, DateTime.UnixEpoch);
        }

        if (content is not null)
        {
            File.WriteAllText(Path.Combine(_root, "f.json"), content);
        }

        ReadOnlyMemory<byte>? data = new FileReport(1024).Look(_root, "f.json", known);

        Assert.That(known.ContainsKey("f.json"), Is.EqualTo(knownAfter));
        if (change is null)
        {
            Assert.That(data, Is.Null, "no event, not an event with no data");
            return;
        }

        Assert.That(data, Is.Not.Null);
        using JsonDocument document = JsonDocument.Parse(data!.Value);
        Assert.That(document.RootElement.GetProperty("path").GetString(), Is.EqualTo("f.json"));
        Assert.That(document.RootElement.GetProperty("change").GetString(), Is.EqualTo(change));
    }

    private static async Task<JsonElement> NextFileEventAsync(TestClient client) => await client.ReceiveAsync("event");

    private static Task<GatewayServer> StartAsync(
        string folder, string session, string debounce = "00:00:00.5", string retryInterval = "00:00:00.2", int? maxFileBytes = null, CapturedLogs? logs = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Sources:Watch:0:Path"] = folder,
            ["Gateway:Sources:Watch:0:Filter"] = "*.json",
            ["Gateway:Sources:Watch:0:Session"] = session,
            ["Gateway:Sources:Watch:0:Event"] = "checkpoint",
            ["Gateway:Sources:Debounce"] = debounce,
            ["Gateway:Sources:RetryInterval"] = retryInterval,
        };
        if (maxFileBytes is { } max)
        {
            settings["Gateway:Sources:MaxFileBytes"] = max.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return GatewayServer.StartAsync(settings, logs is null ? null : s => s.AddSingleton<ILoggerProvider>(logs));
    }
}
