using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Gateway.Diagnostics;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Integration;

/// <summary>
/// The backend hooks (spec section 13) against a real backend the test starts: notifications of
/// connections and sessions, at least once through retries and a circuit breaker, batched, with
/// a bounded outbox; and the authorize call on every upgrade and stream.
/// </summary>
[CancelAfter(60_000)]
public sealed class HookTests
{
    private const string Timestamp = @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$";

    [Test]
    public async Task Every_notification_reaches_a_backend_that_fails_at_first_with_the_same_ids_on_every_retry()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        backend.FailFirst(3);
        await using GatewayServer server = await GatewayServer.StartAsync(Notify(backend));
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());

        var connections = new List<string>();
        (TestClient alice, JsonElement aliceWelcome) = await TestClient.JoinAsync(server.WebSocketUri("room", "user=alice"));
        (TestClient anonymous, JsonElement anonymousWelcome) = await TestClient.JoinAsync(server.WebSocketUri("room"));
        connections.Add(aliceWelcome.GetProperty("connection").GetString()!);
        connections.Add(anonymousWelcome.GetProperty("connection").GetString()!);
        SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/room/stream?user=bob");
        await stream.ReadCommentAsync();
        (TestClient elsewhere, JsonElement elsewhereWelcome) = await TestClient.JoinAsync(server.WebSocketUri("hall"));
        connections.Add(elsewhereWelcome.GetProperty("connection").GetString()!);

        await alice.DisposeAsync();
        await anonymous.DisposeAsync();
        await stream.DisposeAsync();
        await elsewhere.DisposeAsync();

        // Four connections opened and closed, two sessions occupied and vacated: 12 notifications.
        await backend.WhenAcceptedAsync(accepted =>
            accepted.Count(n => Type(n) == "disconnect") == 4 && accepted.Count(n => Type(n) == "session_vacated") == 2);
        IReadOnlyList<HookPost> posts = backend.Posts;
        IReadOnlyList<JsonElement> delivered = backend.Accepted;
        Assert.Multiple(() =>
        {
            Assert.That(posts.Take(3).Select(p => p.Accepted), Is.All.False, "the first three POSTs failed");
            Assert.That(delivered, Has.Count.EqualTo(12), "each notification accepted once");
            Assert.That(delivered.Select(n => n.GetProperty("id").GetString()).Distinct().Count(), Is.EqualTo(12), "ids are unique");

            // A failed batch is sent again as it was: the same ids, the same notifications.
            foreach (HookPost failed in posts.Where(p => !p.Accepted))
            {
                Assert.That(posts.Where(p => p.Accepted).Select(p => p.Body), Does.Contain(failed.Body), "a retried batch carries the same body");
            }

            Assert.That(delivered.Select(n => n.GetProperty("ts").GetString()), Has.All.Match(Timestamp));
            Assert.That(Of(delivered, "room", "session_occupied"), Has.Count.EqualTo(1));
            Assert.That(Of(delivered, "room", "session_vacated"), Has.Count.EqualTo(1));
            Assert.That(Of(delivered, "hall", "session_occupied"), Has.Count.EqualTo(1));
            Assert.That(Of(delivered, "hall", "session_vacated"), Has.Count.EqualTo(1));
            Assert.That(Of(delivered, "room", "session_occupied").Concat(Of(delivered, "hall", "session_vacated")).Select(n => n.GetProperty("connection").ValueKind),
                Has.All.EqualTo(JsonValueKind.Null));

            // Each connection's connect and disconnect, WebSocket and SSE alike, with its user.
            List<JsonElement> connects = Of(delivered, null, "connect");
            List<JsonElement> disconnects = Of(delivered, null, "disconnect");
            Assert.That(connects.Select(n => n.GetProperty("connection").GetString()), Is.SupersetOf(connections));
            Assert.That(disconnects.Select(n => n.GetProperty("connection").GetString()), Is.EquivalentTo(connects.Select(n => n.GetProperty("connection").GetString())));
            Assert.That(connects.Select(n => n.GetProperty("user").ValueKind == JsonValueKind.Null ? null : n.GetProperty("user").GetString()),
                Is.EquivalentTo(new[] { "alice", null, "bob", null }));
            Assert.That(connects.Count(n => n.GetProperty("session").GetString() == "room"), Is.EqualTo(3));

            // Within a session, occupied comes before the last disconnect's vacated.
            int occupied = Index(delivered, "room", "session_occupied");
            int vacated = Index(delivered, "room", "session_vacated");
            Assert.That(occupied, Is.LessThan(vacated));
        });

        await metrics.WhenSumReachesAsync("gateway.hooks.notifications", 12, "outcome=sent").WaitAsync(TestClient.Deadline);
        Assert.That(metrics.Sum("gateway.hooks.notifications", "outcome=retried"), Is.GreaterThanOrEqualTo(3), "three failed tries of at least one notification");
    }

    [Test]
    public async Task Notifications_that_pile_up_are_sent_in_batches_of_at_most_MaxBatch()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        await using GatewayServer server = await GatewayServer.StartAsync(Notify(backend, new()
        {
            ["Gateway:Hooks:MaxBatch"] = "10",
            ["Gateway:Hooks:NotifyTimeout"] = "00:01:00",
        }));

        // The first POST is held: what follows piles up in the outbox meanwhile.
        backend.Hold();
        var clients = new List<TestClient>();
        for (int i = 0; i < 25; i++)
        {
            (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("crowd"));
            clients.Add(client);
        }

        await backend.WhenHeldAsync();
        backend.Release();
        await backend.WhenAcceptedAsync(accepted => accepted.Count(n => Type(n) == "connect") == 25);

        int[] sizes = backend.Posts.Select(p => p.Notifications.Length).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(sizes, Has.All.LessThanOrEqualTo(10));
            Assert.That(sizes, Has.Some.EqualTo(10), "a full batch");
            Assert.That(sizes.Sum(), Is.EqualTo(26), "25 connects and one session_occupied, each once");
        });

        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
    }

    [Test]
    public async Task The_breaker_opens_while_the_backend_fails_and_closes_once_it_answers_again()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        backend.FailUntilAccepted();
        var logs = new WaitableLogs();
        await using GatewayServer server = await GatewayServer.StartAsync(
            Notify(backend, new() { ["Gateway:Hooks:NotifyBreakDuration"] = "00:00:05", ["Logging:LogLevel:Gateway"] = "Information" }),
            s => s.AddSingleton<ILoggerProvider>(logs));
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());

        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("flaky"));
        await using (client)
        {
            // Five failed POSTs in a row open it (log 605): the gauge says open, and no POST goes
            // out for the break, however often the sender tries.
            await logs.WhenLoggedAsync(605);
            int postsWhenOpened = backend.Posts.Count;
            Assert.That(await BreakerStateAsync(server), Is.EqualTo(1), "open");
            Assert.That(postsWhenOpened, Is.EqualTo(5));
            await metrics.WhenSumReachesAsync("gateway.hooks.notifications", 5, "outcome=retried").WaitAsync(TestClient.Deadline);

            // The backend recovers: the probe after the break succeeds, the breaker closes, and
            // what waited is delivered.
            backend.Accept();
            await logs.WhenLoggedAsync(606);
            await backend.WhenAcceptedAsync(accepted => accepted.Any(n => Type(n) == "connect") && accepted.Any(n => Type(n) == "session_occupied"));
            Assert.That(await BreakerStateAsync(server), Is.EqualTo(0), "closed");
        }
    }

    [Test]
    public async Task Shutdown_sends_the_disconnects_and_vacated_of_the_clients_it_closes()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        await using GatewayServer server = await GatewayServer.StartAsync(Notify(backend));
        var clients = new List<TestClient>();
        for (int i = 0; i < 3; i++)
        {
            (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("closing"));
            clients.Add(client);
        }

        try
        {
            // Stopping returns once the gateway is done: by then the backend has what the drain caused.
            Task stopping = server.StopAsync();
            foreach (TestClient client in clients)
            {
                Assert.That((await client.ReceiveCloseAsync()).Code, Is.EqualTo(1001));
            }

            await stopping;
            IReadOnlyList<JsonElement> delivered = backend.Accepted;
            Assert.That(Of(delivered, "closing", "disconnect"), Has.Count.EqualTo(3));
            Assert.That(Of(delivered, "closing", "session_vacated"), Has.Count.EqualTo(1));
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    [Test]
    public async Task A_full_outbox_drops_new_notifications_counts_and_logs_them_and_shutdown_gives_up_on_the_rest_within_the_drain_timeout()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        backend.Hold();
        var logs = new WaitableLogs();
        GatewayServer server = await GatewayServer.StartAsync(
            Notify(backend, new()
            {
                ["Gateway:Hooks:OutboxCapacity"] = "2",
                ["Gateway:Hooks:MaxBatch"] = "1",
                ["Gateway:Hooks:NotifyTimeout"] = "00:01:00",
                ["Gateway:Shutdown:DrainTimeout"] = "00:00:01",
            }),
            s => s.AddSingleton<ILoggerProvider>(logs));
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        var clients = new List<TestClient>();
        try
        {
            // One notification in flight (held by the backend), two queued, and the rest dropped.
            for (int i = 0; i < 6; i++)
            {
                (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("packed"));
                clients.Add(client);
            }

            await metrics.WhenSumReachesAsync("gateway.hooks.notifications", 4, "outcome=dropped").WaitAsync(TestClient.Deadline);
            Assert.That(metrics.Sum("gateway.hooks.notifications", "outcome=dropped"), Is.InRange(4, 5), "7 notifications, at most 3 held");
            await logs.WhenLoggedAsync(601);
            Assert.That(logs.Lines.Single(l => l.Contains("[601]", StringComparison.Ordinal)), Does.Contain("OutboxCapacity"));
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));

            // The backend still holds its POST: shutdown flushes for the drain timeout, then gives up.
            await server.DisposeAsync();
        }

        Assert.That(logs.Lines, Has.Some.Contains("[602]"), "shutdown said what it gave up");
    }

    [Test]
    public async Task Authorize_gets_the_session_user_claims_origin_and_address_and_its_allow_lets_the_client_in()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings(new Dictionary<string, string?>
        {
            ["Gateway:Hooks:Authorize"] = backend.AuthorizeUrl,
        }));
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        string token = TestTokens.Mint(sessions: "*", subject: "carol", extra: new Dictionary<string, object> { ["team"] = "blue" });

        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("desk", $"token={token}"));
        await client.DisposeAsync();
        (int status, _) = await RefusalTests.UpgradeAsync(server, $"/ws/desk?token={token}", headers: "Origin: https://app.example.com\r\n");
        Assert.That(status, Is.EqualTo(101));

        JsonElement asked = backend.AuthorizeRequests[0];
        Assert.Multiple(() =>
        {
            Assert.That(asked.GetProperty("session").GetString(), Is.EqualTo("desk"));
            Assert.That(asked.GetProperty("user").GetString(), Is.EqualTo("carol"));
            Assert.That(asked.GetProperty("claims").GetProperty("team").GetString(), Is.EqualTo("blue"));
            Assert.That(asked.GetProperty("claims").GetProperty("sub").GetString(), Is.EqualTo("carol"));
            Assert.That(asked.GetProperty("origin").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(asked.GetProperty("remote").GetString(), Is.EqualTo("127.0.0.1"));
            Assert.That(backend.AuthorizeRequests[1].GetProperty("origin").GetString(), Is.EqualTo("https://app.example.com"));
            Assert.That(metrics.Sum("gateway.hooks.authorize", "outcome=allowed"), Is.EqualTo(2));
        });

        // With auth off: the user the client gave, and no claims.
        await using GatewayServer open = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Hooks:Authorize"] = backend.AuthorizeUrl });
        using HttpResponseMessage stream = await OpenStreamAsync(open, "desk", "user=dave");
        Assert.That(stream.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        JsonElement anonymous = backend.AuthorizeRequests[2];
        Assert.That((anonymous.GetProperty("user").GetString(), anonymous.GetProperty("claims").ValueKind), Is.EqualTo(("dave", JsonValueKind.Null)));
    }

    [TestCase(200, """{"allow":false,"reason":"room is full"}""", "room is full")]
    [TestCase(403, """{"reason":"banned until Monday"}""", "banned until Monday")]
    [TestCase(403, "nope", "no reason given")]
    public async Task A_deny_is_a_403_with_the_backends_reason_before_the_upgrade_and_before_the_stream(int answer, string body, string reason)
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        backend.Authorize = _ => Task.FromResult((answer, body));
        var logs = new WaitableLogs();
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Gateway:Hooks:Authorize"] = backend.AuthorizeUrl, ["Logging:LogLevel:Gateway"] = "Information" },
            s => s.AddSingleton<ILoggerProvider>(logs));
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());

        (int status, string text) = await RefusalTests.UpgradeAsync(server, "/ws/vip");
        Assert.That(status, Is.EqualTo(403));
        Assert.That(text, Does.Contain($"the backend refused this connection: {reason}\n"));

        using HttpResponseMessage stream = await OpenStreamAsync(server, "vip");
        Assert.That(stream.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(stream.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(JsonDocument.Parse(await stream.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString(),
            Is.EqualTo($"the backend refused this connection: {reason}"));

        Assert.Multiple(() =>
        {
            Assert.That(metrics.Sum("gateway.connections.refused", "reason=forbidden_by_backend"), Is.EqualTo(2));
            Assert.That(metrics.Sum("gateway.hooks.authorize", "outcome=denied"), Is.EqualTo(2));
            Assert.That(metrics.Sum("gateway.connections.accepted"), Is.Zero);
            Assert.That(logs.Lines.Count(l => l.Contains("[301]", StringComparison.Ordinal) && l.Contains("forbidden_by_backend", StringComparison.Ordinal)), Is.EqualTo(2));
        });
    }

    [Test]
    public async Task An_authorize_call_that_times_out_refuses_with_503_or_lets_the_client_in_when_failing_open()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        var never = new TaskCompletionSource<(int, string)>();
        backend.Authorize = _ => never.Task;
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Hooks:Authorize"] = backend.AuthorizeUrl,
            ["Gateway:Hooks:AuthorizeTimeout"] = "00:00:00.200",
        };

        await using (GatewayServer closed = await GatewayServer.StartAsync(settings))
        {
            using var metrics = new MetricRecorder(closed.Get<GatewayMetrics>());
            (int status, string text) = await RefusalTests.UpgradeAsync(closed, "/ws/slow");
            Assert.That(status, Is.EqualTo(503));
            Assert.That(text, Does.Contain("Gateway:Hooks:Authorize"));
            using HttpResponseMessage stream = await OpenStreamAsync(closed, "slow");
            Assert.That(stream.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(stream.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(5)));
            Assert.That(metrics.Sum("gateway.hooks.authorize", "outcome=timeout"), Is.EqualTo(2));
            Assert.That(metrics.Sum("gateway.connections.refused", "reason=authorize_unavailable"), Is.EqualTo(2));
        }

        settings["Gateway:Hooks:AuthorizeFailOpen"] = "true";
        await using GatewayServer open = await GatewayServer.StartAsync(settings);
        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(open.WebSocketUri("slow"));
        await using (client)
        {
            Assert.That(welcome.GetProperty("session").GetString(), Is.EqualTo("slow"));
        }

        // A backend that answers what is not an answer fails the same way.
        backend.Authorize = _ => Task.FromResult((200, """{"allowed":"yes"}"""));
        settings["Gateway:Hooks:AuthorizeFailOpen"] = "false";
        await using GatewayServer strict = await GatewayServer.StartAsync(settings);
        Assert.That((await RefusalTests.UpgradeAsync(strict, "/ws/slow")).Status, Is.EqualTo(503));
    }

    [Test]
    public async Task With_redis_a_session_is_occupied_once_and_vacated_once_for_clients_spread_over_two_nodes()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, settings: Notify(backend));

        // Joins and leaves alternate between the nodes, so each node sees the count rise and fall.
        (TestClient a, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("spread"));
        (TestClient b, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("spread"));
        (TestClient c, _) = await TestClient.JoinAsync(cluster[0].WebSocketUri("spread"));
        await a.DisposeAsync();
        (TestClient d, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("spread"));
        await c.DisposeAsync();
        await d.DisposeAsync();
        await b.DisposeAsync();
        await backend.WhenAcceptedAsync(accepted => accepted.Count(n => Type(n) == "disconnect") == 4 && accepted.Any(n => Type(n) == "session_vacated"));

        // Then empty again, and occupied from the other node.
        (TestClient e, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("spread"));
        await e.DisposeAsync();
        await backend.WhenAcceptedAsync(accepted => accepted.Count(n => Type(n) == "session_vacated") == 2);

        IReadOnlyList<JsonElement> delivered = backend.Accepted;
        Assert.Multiple(() =>
        {
            Assert.That(Of(delivered, "spread", "session_occupied"), Has.Count.EqualTo(2));
            Assert.That(Of(delivered, "spread", "session_vacated"), Has.Count.EqualTo(2));
            Assert.That(Of(delivered, "spread", "connect"), Has.Count.EqualTo(5));
        });
    }

    [Test]
    public async Task The_documented_hook_metrics_are_exported_under_their_documented_names_and_types()
    {
        await using HookReceiver backend = await HookReceiver.StartAsync();
        Dictionary<string, string?> settings = Notify(backend);
        settings["Gateway:Hooks:Authorize"] = backend.AuthorizeUrl;
        await using GatewayServer server = await GatewayServer.StartAsync(settings);
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("scraped"));
        await client.DisposeAsync();
        await metrics.WhenSumReachesAsync("gateway.hooks.notifications", 4, "outcome=sent").WaitAsync(TestClient.Deadline);

        var scrape = new Exposition(await server.Http.GetStringAsync("/metrics", TestClient.Deadline));
        string docs = await File.ReadAllTextAsync(Path.Combine(Tools.RepositoryRoot, "docs", "operations.md"));
        (string Family, string Type)[] documented = [.. System.Text.RegularExpressions.Regex
            .Matches(docs, @"^\| `(gateway_hooks_[a-z_]+)` \| (counter|gauge) \|", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => (m.Groups[1].Value, m.Groups[2].Value))];
        Assert.That(documented.Select(d => d.Family), Is.EquivalentTo(new[]
        {
            "gateway_hooks_notifications_total", "gateway_hooks_outbox_depth", "gateway_hooks_breaker_state", "gateway_hooks_authorize_total",
        }));
        Assert.Multiple(() =>
        {
            foreach ((string family, string type) in documented)
            {
                Assert.That(scrape.Types.GetValueOrDefault(family), Is.EqualTo(type), family);
            }

            Assert.That(scrape["gateway_hooks_notifications_total{outcome=\"sent\"}"], Is.EqualTo(4));
            Assert.That(scrape["gateway_hooks_authorize_total{outcome=\"allowed\"}"], Is.EqualTo(1));
            Assert.That(scrape["gateway_hooks_outbox_depth"], Is.Zero);
            Assert.That(scrape["gateway_hooks_breaker_state"], Is.Zero);
        });
    }

    /// <summary>The settings of a gateway that notifies <paramref name="backend"/>, retrying fast.</summary>
    private static Dictionary<string, string?> Notify(HookReceiver backend, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Hooks:Url"] = backend.NotifyUrl,
            ["Gateway:Hooks:NotifyRetryDelay"] = "00:00:00.010",
            ["Gateway:Hooks:NotifyBreakDuration"] = "00:00:00.500",
        };
        foreach (KeyValuePair<string, string?> setting in more ?? [])
        {
            settings[setting.Key] = setting.Value;
        }

        return settings;
    }

    private static string Type(JsonElement notification) => notification.GetProperty("type").GetString()!;

    private static List<JsonElement> Of(IEnumerable<JsonElement> notifications, string? session, string type) =>
        notifications.Where(n => Type(n) == type && (session is null || n.GetProperty("session").GetString() == session)).ToList();

    private static int Index(IReadOnlyList<JsonElement> notifications, string session, string type) =>
        notifications.ToList().FindIndex(n => Type(n) == type && n.GetProperty("session").GetString() == session);

    private static async Task<double?> BreakerStateAsync(GatewayServer server) =>
        new Exposition(await server.Http.GetStringAsync("/metrics", TestClient.Deadline))["gateway_hooks_breaker_state"];

    private static async Task<HttpResponseMessage> OpenStreamAsync(GatewayServer server, string session, string? query = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/sessions/{session}/stream" + (query is null ? "" : "?" + query));
        request.Headers.Accept.ParseAdd("text/event-stream");

        // Headers only: an accepted stream stays open, and disposing the response ends it.
        return await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestClient.Deadline);
    }

    /// <summary>Keeps every line, like <see cref="CapturedLogs"/>, and lets a test await a line's event id.</summary>
    private sealed class WaitableLogs : ILoggerProvider
    {
        private readonly CapturedLogs _lines = new();
        private readonly ConcurrentDictionary<int, TaskCompletionSource> _logged = new();

        public IReadOnlyCollection<string> Lines => _lines.Lines;

        public Task WhenLoggedAsync(int eventId) =>
            _logged.GetOrAdd(eventId, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(TestClient.Deadline);

        public ILogger CreateLogger(string categoryName) => new Logger(_lines.CreateLogger(categoryName), this);

        public void Dispose()
        {
        }

        private sealed class Logger(ILogger inner, WaitableLogs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
                owner._logged.GetOrAdd(eventId.Id, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
        }
    }
}
