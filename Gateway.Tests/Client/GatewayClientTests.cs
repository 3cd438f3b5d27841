using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Gateway.Client;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Integration;

namespace Gateway.Tests.Client;

/// <summary>
/// The .NET client (Gateway.Client) against the real gateway: typed events in order, every event
/// once across broken connections and a new life of the session, client publish, rpc against a
/// real backend, status, presence, completion and cancellation.
/// </summary>
[CancelAfter(60_000)]
public sealed class GatewayClientTests
{
    private static readonly Dictionary<string, string?> ClientPublish = new() { ["Gateway:Security:AllowClientPublish"] = "true" };

    /// <summary>Quick reconnections and a quick watchdog, so a broken connection costs the test milliseconds.</summary>
    private static GatewayClientOptions Fast(Action<GatewayClientOptions>? configure = null)
    {
        var options = new GatewayClientOptions { ReconnectDelay = TimeSpan.FromMilliseconds(20), MaxReconnectDelay = TimeSpan.FromMilliseconds(200), PingInterval = TimeSpan.FromSeconds(1) };
        configure?.Invoke(options);
        return options;
    }

    private static async Task<List<GatewayEvent>> TakeAsync(GatewayClient client, int count)
    {
        var events = new List<GatewayEvent>();
        if (count == 0)
        {
            return events;
        }

        await foreach (GatewayEvent e in client.Events(TestClient.Deadline))
        {
            events.Add(e);
            if (events.Count == count)
            {
                break;
            }
        }

        return events;
    }

    private static async Task<JsonElement> GetJsonAsync(GatewayServer server, string path)
    {
        using HttpResponseMessage response = await server.Http.GetAsync(path);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Test]
    public async Task Events_arrive_typed_in_seq_order_with_their_epoch()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using var client = new GatewayClient(server.WebSocketUri("typed"), Fast());
        await client.StartAsync(TestClient.Deadline);
        Assert.That(client.State, Is.EqualTo(GatewayClientState.Open));

        for (int i = 1; i <= 5; i++)
        {
            await server.PublishAsync("typed", i == 5 ? "done" : "progress", $$"""{"pct":{{i * 20}}}""");
        }

        List<GatewayEvent> events = await TakeAsync(client, 5);
        string epoch = (await GetJsonAsync(server, "/api/sessions/typed")).GetProperty("epoch").GetString()!;
        Assert.Multiple(() =>
        {
            Assert.That(events.Select(e => e.Seq), Is.EqualTo(new long[] { 1, 2, 3, 4, 5 }));
            Assert.That(events.Select(e => e.Name), Is.EqualTo(new[] { "progress", "progress", "progress", "progress", "done" }));
            Assert.That(events.Select(e => e.Data.GetProperty("pct").GetInt32()), Is.EqualTo(new[] { 20, 40, 60, 80, 100 }));
            Assert.That(events.All(e => e.Session == "typed" && e.Epoch == epoch && !e.EpochChanged && e.From is null && e.Key is null && e.Conflated == 0), Is.True);
            Assert.That(events[0].Timestamp, Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(5)));
            Assert.That(client.LastSeq, Is.EqualTo(5));
            Assert.That(client.Epoch, Is.EqualTo(epoch));
        });
    }

    [Test]
    public async Task Since_zero_starts_with_every_held_event_then_live_ones()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await ResumeTests.PublishBatchesAsync(server, "history", batches: 1, size: 3);
        await using var client = new GatewayClient(server.WebSocketUri("history"), Fast(o => o.Since = 0));
        await client.StartAsync(TestClient.Deadline);
        await server.PublishAsync("history", "live");

        List<GatewayEvent> events = await TakeAsync(client, 4);
        Assert.That(events.Select(e => (e.Seq, e.Name)), Is.EqualTo(new[] { (1L, "tick"), (2L, "tick"), (3L, "tick"), (4L, "live") }));
    }

    [Test]
    public async Task A_client_whose_connection_keeps_breaking_gets_every_event_once_in_order()
    {
        const int Rounds = 5;
        const int Batch = 50;
        await using GatewayServer server = await GatewayServer.StartAsync();
        var reconnections = Channel.CreateUnbounded<GatewayStateChange>();
        var resumes = new List<GatewayResume>();
        await using var client = new GatewayClient(server.WebSocketUri("flaky"), Fast());
        client.StateChanged += (_, change) =>
        {
            if (change.State == GatewayClientState.Reconnecting)
            {
                reconnections.Writer.TryWrite(change);
            }
        };
        client.Resumed += (_, resume) =>
        {
            lock (resumes)
            {
                resumes.Add(resume);
            }
        };
        await client.StartAsync(TestClient.Deadline);

        var seqs = new List<long>();
        for (int round = 0; round < Rounds; round++)
        {
            // A batch arrives live; then the socket breaks under the client, and the next batch is
            // published while it is away or coming back: it arrives as replay, live, or some of
            // each, but once.
            await ResumeTests.PublishBatchesAsync(server, "flaky", batches: 1, size: Batch);
            seqs.AddRange((await TakeAsync(client, Batch)).Select(e => e.Seq));
            client.BreakConnection();
            await ResumeTests.PublishBatchesAsync(server, "flaky", batches: 1, size: Batch);
            seqs.AddRange((await TakeAsync(client, Batch)).Select(e => e.Seq));
            GatewayStateChange change = await reconnections.Reader.ReadAsync(TestClient.Deadline);
            Assert.That(change.Attempt, Is.EqualTo(1), "the first attempt after a welcome succeeds against a healthy gateway");
            Assert.That(change.Delay, Is.InRange(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20)), "the first backoff step, with jitter");
        }

        Assert.That(seqs, Is.EqualTo(ResumeTests.Range(1, 2 * Rounds * Batch)), "every event once, in order, across every connection");
        await client.StatusAsync(TestClient.Deadline); // the last connection is open, so its resumed has come
        lock (resumes)
        {
            Assert.That(resumes, Has.Count.EqualTo(Rounds));
            Assert.That(resumes.All(r => r.Complete), Is.True, "history held every missed event");
            Assert.That(resumes.Select(r => r.Since), Is.EqualTo(Enumerable.Range(0, Rounds).Select(r => (2L * r + 1) * Batch)), "each reconnection resumed after the last event delivered");
        }
    }

    [Test]
    public async Task A_deleted_session_is_followed_into_its_new_life_and_the_first_event_of_it_says_so()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        var closes = Channel.CreateUnbounded<GatewayStateChange>();
        await using var client = new GatewayClient(server.WebSocketUri("life"), Fast());
        client.StateChanged += (_, change) => closes.Writer.TryWrite(change);
        await client.StartAsync(TestClient.Deadline);
        await ResumeTests.PublishBatchesAsync(server, "life", batches: 1, size: 3);
        List<GatewayEvent> first = await TakeAsync(client, 3);
        string oldEpoch = first[0].Epoch!;

        using (HttpResponseMessage deleted = await server.Http.DeleteAsync("/api/sessions/life"))
        {
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        }

        // The delete closes the client with 1001; it comes back to the session's new life, which
        // starts at seq 1 again whether the client or this publish creates it.
        await server.PublishAsync("life", "reborn", "1");
        await server.PublishAsync("life", "reborn", "2");
        List<GatewayEvent> second = await TakeAsync(client, 2);

        Assert.Multiple(() =>
        {
            Assert.That(second.Select(e => (e.Seq, e.Name, e.EpochChanged)), Is.EqualTo(new[] { (1L, "reborn", true), (2L, "reborn", false) }));
            Assert.That(second[0].Epoch, Is.Not.EqualTo(oldEpoch).And.Not.Null);
            Assert.That(client.Epoch, Is.EqualTo(second[0].Epoch));
        });
        GatewayStateChange change;
        do
        {
            change = await closes.Reader.ReadAsync(TestClient.Deadline);
        }
        while (change.State != GatewayClientState.Reconnecting);
        Assert.That((change.CloseStatus, change.CloseReason), Is.EqualTo(((WebSocketCloseStatus?)WebSocketCloseStatus.EndpointUnavailable, "session closed")));
    }

    [Test]
    public async Task A_client_publish_is_acked_with_its_seq_and_comes_back_from_the_client()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(ClientPublish);
        await using var client = new GatewayClient(server.WebSocketUri("chat"), Fast(o => o.User = "ada"));
        await client.StartAsync(TestClient.Deadline);

        long seq = await client.PublishAsync("chat.message", new { text = "hello" }, cancellationToken: TestClient.Deadline);
        GatewayEvent echo = (await TakeAsync(client, 1))[0];
        Assert.Multiple(() =>
        {
            Assert.That(seq, Is.EqualTo(1));
            Assert.That((echo.Seq, echo.Name, echo.Data.GetProperty("text").GetString()), Is.EqualTo((1L, "chat.message", "hello")));
            Assert.That(echo.From, Is.EqualTo(new GatewayEventSender(client.ConnectionId!, "ada")));
        });
    }

    [Test]
    public async Task A_refused_publish_throws_the_gateways_error()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using var client = new GatewayClient(server.WebSocketUri("readonly"), Fast());
        await client.StartAsync(TestClient.Deadline);

        GatewayErrorException error = Assert.ThrowsAsync<GatewayErrorException>(() => client.PublishAsync("chat.message", "hi", cancellationToken: TestClient.Deadline))!;
        Assert.That(error.Code, Is.EqualTo("forbidden"));
        Assert.That(error.GatewayMessage, Is.Not.Empty);
    }

    private sealed record Echo(JsonElement EchoValue);

    [Test]
    public async Task Rpc_returns_the_backends_answer_and_throws_typed_errors_for_refusals_and_failures()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(async (call, response, _) =>
        {
            switch (call.GetProperty("method").GetString())
            {
                case "echo":
                    await RpcBackend.WriteAsync(response, 200, $$"""{"echo":{{call.GetProperty("data").GetRawText()}},"user":"{{call.GetProperty("user").GetString()}}"}""");
                    break;
                case "refuse":
                    await RpcBackend.WriteAsync(response, 403, """{"message":"not in this room"}""");
                    break;
                default:
                    await RpcBackend.WriteAsync(response, 503, "down", "text/plain");
                    break;
            }
        });
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Hooks:RpcUrl"] = backend.Url });
        await using var client = new GatewayClient(server.WebSocketUri("rpc"), Fast(o => o.User = "ada"));
        await client.StartAsync(TestClient.Deadline);

        JsonElement answer = await client.RpcAsync("echo", new { text = "hi" }, TestClient.Deadline);
        Assert.That(answer.GetProperty("echo").GetProperty("text").GetString(), Is.EqualTo("hi"));
        Dictionary<string, JsonElement>? typed = await client.RpcAsync<Dictionary<string, JsonElement>>("echo", 7, TestClient.Deadline);
        Assert.That((typed!["echo"].GetInt32(), typed["user"].GetString()), Is.EqualTo((7, "ada")));

        GatewayRejectedException rejected = Assert.ThrowsAsync<GatewayRejectedException>(() => client.RpcAsync("refuse", cancellationToken: TestClient.Deadline))!;
        Assert.That((rejected.Code, rejected.GatewayMessage), Is.EqualTo(("rejected", "not in this room")));
        GatewayUnavailableException unavailable = Assert.ThrowsAsync<GatewayUnavailableException>(() => client.RpcAsync("fail", cancellationToken: TestClient.Deadline))!;
        Assert.That(unavailable.Code, Is.EqualTo("unavailable"));

        // The connection outlives the refusals.
        Assert.That((await client.RpcAsync("echo", "again", TestClient.Deadline)).GetProperty("echo").GetString(), Is.EqualTo("again"));
    }

    [Test]
    public async Task Status_gives_the_seq_epoch_clients_and_latest_event_of_each_name()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("state", "phase", "\"build\"");
        await server.PublishAsync("state", "pct", "10");
        await server.PublishAsync("state", "pct", "90");
        await using var client = new GatewayClient(server.WebSocketUri("state"), Fast());
        await client.StartAsync(TestClient.Deadline);

        GatewayStatus status = await client.StatusAsync(TestClient.Deadline);
        Assert.Multiple(() =>
        {
            Assert.That((status.Session, status.Seq, status.Epoch, status.Clients, status.Complete), Is.EqualTo(("state", 3L, client.Epoch, 1, false)));
            Assert.That(status.State.Keys, Is.EqualTo(new[] { "phase", "pct" }));
            Assert.That((status.State["pct"].Seq, status.State["pct"].Data.GetInt32()), Is.EqualTo((3L, 90)));
            Assert.That(status.State["phase"].Data.GetString(), Is.EqualTo("build"));
            Assert.That(status.Keyed, Is.Empty);
        });
    }

    [Test]
    public async Task Presence_lists_the_members_and_reports_joins_and_leaves()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        var changes = Channel.CreateUnbounded<PresenceChange>();
        JsonElement info = JsonDocument.Parse("""{"name":"Ada"}""").RootElement.Clone();
        await using var ada = new GatewayClient(server.WebSocketUri("room"), Fast(o => { o.Presence = true; o.User = "ada"; o.Info = info; }));
        ada.PresenceChanged += (_, change) => changes.Writer.TryWrite(change);
        await ada.StartAsync(TestClient.Deadline);

        var bob = new GatewayClient(server.WebSocketUri("room"), Fast(o => o.User = "bob"));
        await bob.StartAsync(TestClient.Deadline);

        // Joins within 100 ms of each other may come together (presence_diff, which may list Ada
        // too): the change that lists Bob is the one to look at.
        PresenceChange joined;
        do
        {
            joined = await changes.Reader.ReadAsync(TestClient.Deadline);
        }
        while (!joined.Joined.Any(m => m.Connection == bob.ConnectionId));
        Assert.That(joined.Joined.Single(m => m.Connection == bob.ConnectionId).User, Is.EqualTo("bob"));
        Assert.That(joined.Left, Is.Empty);

        GatewayPresence presence = await ada.PresenceAsync(TestClient.Deadline);
        PresenceMember adaListed = presence.Members.Single(m => m.Connection == ada.ConnectionId);
        PresenceMember bobListed = presence.Members.Single(m => m.Connection == bob.ConnectionId);
        Assert.Multiple(() =>
        {
            Assert.That((presence.Session, presence.Clients, presence.Users), Is.EqualTo(("room", 2, 2)));
            Assert.That((adaListed.User, adaListed.Info.GetProperty("name").GetString(), bobListed.User), Is.EqualTo(("ada", "Ada", "bob")));
            Assert.That(adaListed.Since <= bobListed.Since, Is.True, $"both have a since, Ada's no later: Ada {adaListed.Since:O}, Bob {bobListed.Since:O}");
            // Those that joined first first, to the millisecond of since; two joins in one
            // millisecond are listed in the order of their connection ids.
            Assert.That(presence.Members, Is.EqualTo(presence.Members.OrderBy(m => m.Since).ThenBy(m => m.Connection, StringComparer.Ordinal)));
        });

        string bobId = bob.ConnectionId!;
        await bob.DisposeAsync();
        PresenceChange left = await changes.Reader.ReadAsync(TestClient.Deadline);
        Assert.That((left.Joined.Count, left.Left.Single().Connection, left.Left.Single().User), Is.EqualTo((0, bobId, (string?)"bob")));
    }

    [Test]
    public async Task A_final_event_ends_the_stream_and_the_client_stops_for_good()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        var states = Channel.CreateUnbounded<GatewayStateChange>();
        await using var client = new GatewayClient(server.WebSocketUri("job"), Fast());
        client.StateChanged += (_, change) => states.Writer.TryWrite(change);
        await client.StartAsync(TestClient.Deadline);
        await server.PublishAsync("job", "progress", "50");
        using (HttpResponseMessage response = await server.Http.PostAsync("/api/sessions/job/events", new StringContent("""{"event":"done","data":"ok","final":true}""", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
        }

        // The stream ends by itself after the final event: no break, no cancellation.
        var events = new List<GatewayEvent>();
        await foreach (GatewayEvent e in client.Events(TestClient.Deadline))
        {
            events.Add(e);
        }

        Assert.That(events.Select(e => (e.Seq, e.Name)), Is.EqualTo(new[] { (1L, "progress"), (2L, "done") }));
        Assert.That((client.State, client.IsComplete), Is.EqualTo((GatewayClientState.Closed, true)));
        GatewayStateChange last;
        do
        {
            last = await states.Reader.ReadAsync(TestClient.Deadline);
        }
        while (last.State != GatewayClientState.Closed);
        Assert.That((last.CloseStatus, last.CloseReason), Is.EqualTo(((WebSocketCloseStatus?)WebSocketCloseStatus.NormalClosure, "session complete")));
        Assert.That(states.Reader.TryRead(out GatewayStateChange? after), Is.False, $"nothing after the close, no reconnection: {after?.State}");
        Assert.ThrowsAsync<InvalidOperationException>(() => client.StatusAsync(TestClient.Deadline));
    }

    [Test]
    public async Task Cancelling_a_read_or_a_call_leaves_the_client_running()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(async (call, response, b) =>
        {
            await b.WaitForGateAsync("never");
            await RpcBackend.WriteAsync(response, 200, "null");
        });
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Hooks:RpcUrl"] = backend.Url });
        await using var client = new GatewayClient(server.WebSocketUri("cancel"), Fast());
        await client.StartAsync(TestClient.Deadline);

        // A read with nothing to read, cancelled.
        using (var reading = CancellationTokenSource.CreateLinkedTokenSource(TestClient.Deadline))
        {
            Task read = TakeFirstAsync(client, reading.Token);
            await reading.CancelAsync();
            Assert.That(async () => await read, Throws.InstanceOf<OperationCanceledException>());
        }

        // A call the backend never answers, cancelled.
        using (var calling = CancellationTokenSource.CreateLinkedTokenSource(TestClient.Deadline))
        {
            Task<JsonElement> call = client.RpcAsync("slow", cancellationToken: calling.Token);
            await backend.NextCallAsync();
            await calling.CancelAsync();
            Assert.That(async () => await call, Throws.InstanceOf<OperationCanceledException>());
        }

        // Still open, and the next read continues where the stream was.
        await server.PublishAsync("cancel", "after");
        Assert.That((await TakeAsync(client, 1)).Single().Name, Is.EqualTo("after"));
        Assert.That(client.State, Is.EqualTo(GatewayClientState.Open));

        // Let the abandoned call finish, so that the gateway's shutdown does not wait for it.
        backend.Open("never");
    }

    private static async Task TakeFirstAsync(GatewayClient client, CancellationToken cancellationToken)
    {
        await foreach (GatewayEvent _ in client.Events(cancellationToken))
        {
            return;
        }
    }

    [Test]
    public async Task Clients_refused_at_every_reconnection_for_a_while_keep_trying_and_get_what_they_missed()
    {
        // Each refused attempt is a failed reconnection to be retried. The retry used to be lost,
        // now and then, to a race in the library's own retry (most often on a busy machine), and
        // the client then never tried again: many clients refused many times each give it many
        // chances to show.
        const int Clients = 16;
        const int Refusals = 12;
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using TcpProxy proxy = TcpProxy.Start(server.BaseAddress);
        var clients = new List<(GatewayClient Client, Channel<GatewayStateChange> Attempts)>();
        try
        {
            for (int i = 0; i < Clients; i++)
            {
                var attempts = Channel.CreateUnbounded<GatewayStateChange>();
                var client = new GatewayClient(new Uri($"ws://{proxy.BaseAddress.Authority}/ws/refused"), Fast(o => o.MaxReconnectDelay = TimeSpan.FromMilliseconds(20)));
                clients.Add((client, attempts));
                client.StateChanged += (_, change) =>
                {
                    if (change.State == GatewayClientState.Reconnecting)
                    {
                        attempts.Writer.TryWrite(change);
                    }
                };
                await client.StartAsync(TestClient.Deadline);
            }

            await server.PublishAsync("refused", "before");
            foreach ((GatewayClient client, _) in clients)
            {
                Assert.That((await TakeAsync(client, 1)).Single().Name, Is.EqualTo("before"));
            }

            proxy.RefusesWebSocketUpgrades = true;
            Assert.That(proxy.CutAll(), Is.EqualTo(Clients));
            await server.PublishAsync("refused", "while_away");
            await Task.WhenAll(clients.Select(async c =>
            {
                for (int attempt = 1; attempt <= Refusals; attempt++)
                {
                    GatewayStateChange change = await c.Attempts.Reader.ReadAsync(TestClient.Deadline);
                    Assert.That(change.Attempt, Is.EqualTo(attempt));
                    if (attempt > 1)
                    {
                        Assert.That(change.Error, Is.InstanceOf<GatewayConnectException>().With.Property(nameof(GatewayConnectException.StatusCode)).EqualTo(403), "the refusal that ended the last attempt");
                    }
                }
            }));

            Assert.That(clients.Select(c => c.Client.State), Is.All.EqualTo(GatewayClientState.Reconnecting));
            Assert.That(proxy.RefusedUpgrades, Is.GreaterThanOrEqualTo(Clients * (Refusals - 1)), "attempts 1 to 11 of each were refused; the 12th was announced, maybe not yet made");
            proxy.RefusesWebSocketUpgrades = false;
            await server.PublishAsync("refused", "after");
            foreach ((GatewayClient client, _) in clients)
            {
                Assert.That((await TakeAsync(client, 2)).Select(e => (e.Seq, e.Name)), Is.EqualTo(new[] { (2L, "while_away"), (3L, "after") }));
            }
        }
        finally
        {
            foreach ((GatewayClient client, _) in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task A_handshake_that_never_comes_fails_the_attempt_after_the_connect_timeout()
    {
        // A listener that accepts connections and never answers: the handshake hangs.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        int port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var client = new GatewayClient(new Uri($"ws://127.0.0.1:{port}/ws/silent"), Fast(o => o.ConnectTimeout = TimeSpan.FromMilliseconds(300)));
        GatewayConnectException failed = Assert.ThrowsAsync<GatewayConnectException>(() => client.StartAsync(TestClient.Deadline))!;
        Assert.That(failed.StatusCode, Is.Zero);
        Assert.That(failed.InnerException, Is.InstanceOf<TimeoutException>());
        Assert.That(failed.Message, Does.Contain("ConnectTimeout"));
        Assert.That(client.State, Is.EqualTo(GatewayClientState.Closed));
    }

    [Test]
    public async Task A_refused_first_connection_throws_with_the_HTTP_status()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using var client = new GatewayClient(server.WebSocketUri("bad name!"), Fast());
        GatewayConnectException refused = Assert.ThrowsAsync<GatewayConnectException>(() => client.StartAsync(TestClient.Deadline))!;
        Assert.That(refused.StatusCode, Is.EqualTo(400));
        Assert.That(client.State, Is.EqualTo(GatewayClientState.Closed));
    }

    [Test]
    public void Bad_options_and_addresses_are_refused_saying_what_is_accepted()
    {
        Assert.That(() => new GatewayClient(new Uri("http://127.0.0.1/ws/x")), Throws.ArgumentException.With.Message.Contains("ws://"));
        Assert.That(() => new GatewayClient(new Uri("ws://127.0.0.1/ws/x?since=3")), Throws.ArgumentException.With.Message.Contains("GatewayClientOptions"));
        Assert.That(() => new GatewayClient(new Uri("ws://127.0.0.1/ws/x"), new GatewayClientOptions { Epoch = "abc" }), Throws.ArgumentException.With.Message.Contains("Since"));
        Assert.That(() => new GatewayClient(new Uri("ws://127.0.0.1/ws/x"), new GatewayClientOptions { MaxReconnectDelay = TimeSpan.FromMilliseconds(1) }), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => new GatewayClient(new Uri("ws://127.0.0.1/ws/x"), new GatewayClientOptions { ConnectTimeout = TimeSpan.Zero }), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("ConnectTimeout must be positive"));
    }

    [Test]
    public async Task The_backoff_doubles_from_the_first_delay_with_jitter_and_stops_at_the_cap()
    {
        await using var client = new GatewayClient(new Uri("ws://127.0.0.1/ws/x"), new GatewayClientOptions());
        for (int attempt = 1; attempt <= 12; attempt++)
        {
            double ceiling = Math.Min(30_000, 500 * Math.Pow(2, attempt - 1));
            for (int sample = 0; sample < 50; sample++)
            {
                double delay = client.Backoff(attempt).TotalMilliseconds;
                Assert.That(delay, Is.InRange(ceiling / 2, ceiling), $"attempt {attempt}");
            }
        }

        Assert.That(client.Backoff(int.MaxValue), Is.LessThanOrEqualTo(TimeSpan.FromSeconds(30)));
    }
}
