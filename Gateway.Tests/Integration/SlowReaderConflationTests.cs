using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Conflation for readers that are behind (spec section 12), over real sockets: a reader that
/// stops reading while a backend publishes progress (conflatable by <c>Sessions:Conflate</c>, and by
/// <c>"conflate": true</c> under two keys) interleaved with events that are not conflatable (a log
/// and appends under the listed name) stays connected, and when it reads again gets every event
/// that is not conflatable, the newest progress of each name and key, and <c>conflated</c> counts
/// that add up to exactly what it was not sent. The same stream without conflation closes it with
/// 4001: the control that shows the lag bound was passed.
/// </summary>
public sealed class SlowReaderConflationTests
{
    // 30 batches of 50: 900 progress events of about 2 KB (1.9 MB, far past the 256 KiB lag bound
    // plus what Kestrel and the sockets hold), 600 small events that are never conflated (about
    // 70 KB, within the bound together with the send loop's batch in flight).
    private const int Batches = 30;
    private const int BatchSize = 50;
    private const int Events = Batches * BatchSize;

    private static readonly Dictionary<string, string?> Bounds = new()
    {
        ["Gateway:Limits:MaxLagBytes"] = "262144",
        ["Gateway:Limits:MaxPublishBytes"] = "131072",
        ["Gateway:Limits:CloseTimeout"] = "00:00:30",
    };

    private static readonly string Pad = new('p', 2000);

    // The conflated names come from Sessions:Conflate, or from the profile of the reader's session.
    [TestCase(false, "conflate-ws")]
    [TestCase(true, "train-ws")]
    [CancelAfter(60_000)]
    public async Task A_websocket_reader_that_stops_reading_stays_connected_and_gets_the_newest_progress_with_counts_that_add_up_and_every_other_event(bool byProfile, string session)
    {
        await using GatewayServer server = await GatewayServer.StartAsync(byProfile ? WithProfileConflation() : WithConflation());
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using RawWebSocket reader = await RawWebSocket.ConnectAsync(server.WebSocketUri(session), receiveBufferSize: 4096);
        Assert.That((await reader.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));

        await PublishStreamAsync(server, session, conflate: true);
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.Zero, "no 4001 while the reader was stalled");

        // The reader reads again: everything up to the last event, then the connection still answers.
        var received = new List<JsonObject>();
        while (true)
        {
            ServerFrame frame = (await reader.ReceiveAsync()) ?? throw new AssertionException($"dropped after {received.Count} events");
            Assert.That(frame.Kind, Is.Not.EqualTo(WebSocketReadStatus.Close), $"closed with {frame.CloseCode} {frame.CloseReason}");
            if (frame.Kind != WebSocketReadStatus.Text)
            {
                continue;
            }

            JsonObject e = JsonNode.Parse(frame.Text)!.AsObject();
            if ((string?)e["event"] == "done")
            {
                break;
            }

            received.Add(e);
        }

        int conflated = AssertConflatedStream(received);
        await AssertCountedAsync(server, conflated);
        await reader.SendTextAsync("""{"type":"ping","id":"still-there"}""");
        ServerFrame pong;
        do
        {
            pong = (await reader.ReceiveAsync())!.Value;
        }
        while (pong.Kind != WebSocketReadStatus.Text);

        Assert.That(pong.Text, Does.Contain("\"type\":\"pong\"").And.Contain("still-there"));
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.Zero);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Without_conflation_the_same_stream_closes_the_websocket_reader_with_4001()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Bounds);
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using RawWebSocket reader = await RawWebSocket.ConnectAsync(server.WebSocketUri("plain-ws"), receiveBufferSize: 4096);
        Assert.That((await reader.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));

        await PublishStreamAsync(server, "plain-ws", conflate: false);
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.EqualTo(1));

        (ServerFrame? close, List<string> before) = await reader.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(4001));
        Assert.That(before, Has.None.Contains("\"conflated\""));
        await AssertCountedAsync(server, 0);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task An_sse_reader_that_stops_reading_stays_connected_and_gets_the_newest_progress_with_counts_that_add_up_and_every_other_event()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(WithConflation());
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/conflate-sse/stream?named=true");
        await stream.ReadCommentAsync();

        await PublishStreamAsync(server, "conflate-sse", conflate: true);
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.Zero, "no 4001 while the reader was stalled");

        var received = new List<JsonObject>();
        while (true)
        {
            SseMessage message = await stream.ReadAsync();
            Assert.That(message.Event, Is.Not.EqualTo("@closed"), message.Data);
            if (message.Event == "done")
            {
                break;
            }

            JsonObject e = JsonNode.Parse(message.Data)!.AsObject();
            Assert.That(message.Id?.Split(':')[^1], Is.EqualTo(((long)e["seq"]!).ToString(System.Globalization.CultureInfo.InvariantCulture)), "the id is the sent event's");
            received.Add(e);
        }

        int conflated = AssertConflatedStream(received);
        await AssertCountedAsync(server, conflated);
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.Zero);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Without_conflation_the_same_stream_ends_the_sse_reader_with_4001()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Bounds);
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/plain-sse/stream?named=true");
        await stream.ReadCommentAsync();

        await PublishStreamAsync(server, "plain-sse", conflate: false);
        Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.EqualTo(1));
        SseMessage message;
        do
        {
            message = await stream.ReadAsync();
        }
        while (message.Event != "@closed");

        Assert.That(JsonDocument.Parse(message.Data).RootElement.GetProperty("code").GetInt32(), Is.EqualTo(4001));
    }

    private static Dictionary<string, string?> WithConflation() => new(Bounds) { ["Gateway:Sessions:Conflate:0"] = "progress" };

    private static Dictionary<string, string?> WithProfileConflation() => new(Bounds)
    {
        ["Gateway:Sessions:Profiles:0:Match"] = "train-*",
        ["Gateway:Sessions:Profiles:0:Conflate:0"] = "progress",
    };

    /// <summary>
    /// Publishes the stream: event i (from 0, seq i + 1) is by i mod 5 a keyless <c>progress</c>
    /// (conflatable by name), a <c>step</c> of key a or b (marked conflatable when
    /// <paramref name="conflate"/>), an append to <c>progress</c> key <c>text</c> (never conflated),
    /// or a <c>log</c>. Then one <c>done</c>.
    /// </summary>
    private static async Task PublishStreamAsync(GatewayServer server, string session, bool conflate)
    {
        for (int batch = 0; batch < Batches; batch++)
        {
            var events = new JsonArray();
            for (int i = batch * BatchSize; i < (batch + 1) * BatchSize; i++)
            {
                events.Add(Published(i, conflate));
            }

            using HttpResponseMessage response = await server.Http.PostAsync($"/api/sessions/{session}/events",
                new StringContent(events.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.That((int)response.StatusCode, Is.EqualTo(202), await response.Content.ReadAsStringAsync());
        }

        Assert.That(await server.PublishAsync(session, "done"), Is.EqualTo(Events + 1));
    }

    private static JsonObject Published(int i, bool conflate) => (i % 5) switch
    {
        0 => new JsonObject { ["event"] = "progress", ["data"] = new JsonObject { ["i"] = i, ["pad"] = Pad } },
        1 or 2 => new JsonObject
        {
            ["event"] = "step", ["key"] = i % 5 == 1 ? "a" : "b", ["conflate"] = conflate,
            ["data"] = new JsonObject { ["i"] = i, ["pad"] = Pad },
        },
        3 => new JsonObject { ["event"] = "progress", ["key"] = "text", ["append"] = true, ["data"] = $"c{i}" },
        _ => new JsonObject { ["event"] = "log", ["data"] = new JsonObject { ["i"] = i } },
    };

    /// <summary>
    /// What a reader that was behind must have got: seqs that only grow; every log and every
    /// append; of each conflatable name and key, the newest, and counts that with the events
    /// received add up to every one published; and some conflation at all. Returns the sum of the counts.
    /// </summary>
    private static int AssertConflatedStream(List<JsonObject> received)
    {
        long[] seqs = [.. received.Select(e => (long)e["seq"]!)];
        Assert.That(seqs, Is.Ordered.Ascending);
        Assert.That(seqs.Distinct().Count(), Is.EqualTo(seqs.Length));

        long[] PublishedSeqs(int residue) => [.. Enumerable.Range(0, Events).Where(i => i % 5 == residue).Select(i => (long)i + 1)];
        IEnumerable<JsonObject> Group(string name, string? key) =>
            received.Where(e => (string?)e["event"] == name && (string?)e["key"] == key);

        Assert.That(Group("log", null).Select(e => (long)e["seq"]!), Is.EqualTo(PublishedSeqs(4)), "every log");
        Assert.That(Group("progress", "text").Select(e => (long)e["seq"]!), Is.EqualTo(PublishedSeqs(3)), "every append");
        Assert.That(Group("log", null).Concat(Group("progress", "text")).Where(e => e["conflated"] is not null), Is.Empty);

        int conflated = 0;
        foreach ((string name, string? key, int residue) in new[] { ("progress", (string?)null, 0), ("step", "a", 1), ("step", "b", 2) })
        {
            JsonObject[] group = [.. Group(name, key)];
            long[] published = PublishedSeqs(residue);
            int skipped = group.Sum(e => (int?)e["conflated"] ?? 0);
            Assert.That(group.Length + skipped, Is.EqualTo(published.Length), $"{name}/{key}: received plus conflated");
            Assert.That((long)group[^1]["seq"]!, Is.EqualTo(published[^1]), $"{name}/{key}: the newest is current");
            conflated += skipped;
        }

        Assert.That(received.Count + conflated, Is.EqualTo(Events));
        Assert.That(conflated, Is.GreaterThan(0), "the reader was behind: something was conflated");
        return conflated;
    }

    /// <summary>The gateway's count of conflated events, scraped, is what its one reader was told it was not sent.</summary>
    private static async Task AssertCountedAsync(GatewayServer server, int conflated)
    {
        var scrape = new Exposition(await server.Http.GetStringAsync("/metrics", TestClient.Deadline));
        Assert.That(scrape["gateway_events_conflated_total"], Is.EqualTo(conflated), "gateway_events_conflated_total");
    }
}
