using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Diagnostics;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>
/// The hostile-input campaign against a live gateway (issue: security and limits): floods past
/// every limit, clients that misbehave at every stage, and a torrent of malformed messages; after
/// which the gateway still serves a healthy client and its memory is back near where it started.
/// The counts it prints are recorded in docs/security.md.
/// </summary>
[CancelAfter(120_000)]
public sealed class HostileCampaignTests
{
    private const int ConnectionLimit = 200;
    private const int ConnectionFlood = 300;
    private const int MalformedMessages = 10_000;

    [Test]
    public async Task The_gateway_survives_the_campaign_and_gives_its_memory_back()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?>
            {
                ["Gateway:Limits:MaxConnections"] = ConnectionLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Gateway:Limits:MessagesPerSecond"] = "0",
                ["Gateway:Limits:PublishesPerSecond"] = "1000",
                ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:02",
            },
            s => s.AddSingleton<TimeProvider>(clock));
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        var report = new StringBuilder();

        // Warm up every path once, so that what is measured is growth, not first-use allocations.
        await HealthyRoundTripAsync(server);
        long before = ManagedHeap();

        await FloodConnectionsAsync(server, report);
        await NeverFinishTheUpgradeAsync(server, report);
        await FloodPublishesAsync(server, clock, report);
        await SendMalformedMessagesAsync(server, report);

        await HealthyRoundTripAsync(server);
        long after = ManagedHeap();
        report.AppendLine($"managed heap: {before / 1024} KiB before, {after / 1024} KiB after ({(after - before) / 1024:+#;-#;0} KiB)");
        report.AppendLine($"refusals counted: {metrics.Sum("gateway.connections.refused")} connections, {metrics.Sum("gateway.requests.refused")} requests; protocol errors: {metrics.Sum("gateway.protocol.errors")}");
        TestContext.Out.Write(report.ToString());

        Assert.That(after - before, Is.LessThan(16L * 1024 * 1024), "memory is back near where it started");
    }

    /// <summary>More upgrades than the limit, all at once: exactly the limit is accepted, the rest get 503.</summary>
    private static async Task FloodConnectionsAsync(GatewayServer server, StringBuilder report)
    {
        var sockets = new List<TcpClient>();
        try
        {
            Task<(TcpClient Socket, int Status)>[] attempts = Enumerable.Range(0, ConnectionFlood)
                .Select(i => OpenUpgradeAsync(server, $"/ws/flood-{i % 10}"))
                .ToArray();
            (TcpClient Socket, int Status)[] results = await Task.WhenAll(attempts);
            sockets.AddRange(results.Select(r => r.Socket));
            int accepted = results.Count(r => r.Status == 101);
            int refused = results.Count(r => r.Status == 503);
            report.AppendLine($"connection flood: {ConnectionFlood} upgrades at once against MaxConnections {ConnectionLimit}: {accepted} accepted (101), {refused} refused (503)");
            Assert.That((accepted, refused), Is.EqualTo((ConnectionLimit, ConnectionFlood - ConnectionLimit)));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }

        // The slots come back as the dropped connections end; a healthy client then gets in.
        await WaitForConnectionsAsync(server, 0);
    }

    /// <summary>A client that sends half a request and stops: Kestrel's header timeout ends it.</summary>
    private static async Task NeverFinishTheUpgradeAsync(GatewayServer server, StringBuilder report)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /ws/stalled HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nUpgrade: websocket\r\n"), TestClient.Deadline);
        var buffer = new byte[4096];
        var answer = new StringBuilder();
        int read;
        while ((read = await ReadOrResetAsync(stream, buffer)) > 0)
        {
            answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        string status = answer.ToString().Split("\r\n")[0];
        report.AppendLine($"stalled upgrade: half a request, then silence: the server answered '{status}' and closed the connection (Kestrel RequestHeadersTimeout)");
        Assert.That(status, Does.StartWith("HTTP/1.1 408"));
    }

    /// <summary>Publishes far past the publish rate: the burst goes through, the rest get 429.</summary>
    private static async Task FloodPublishesAsync(GatewayServer server, ManualTimeProvider clock, StringBuilder report)
    {
        // Earlier publishes from this address drew on the same bucket: let it fill up first.
        clock.Advance(TimeSpan.FromSeconds(2));
        string batch = "[" + string.Join(",", Enumerable.Repeat("""{"event":"flood","data":1}""", 100)) + "]";
        Task<HttpStatusCode>[] posts = Enumerable.Range(0, 50).Select(async _ =>
        {
            using HttpResponseMessage response = await server.Http.PostAsync("/api/sessions/publish-flood/events", new StringContent(batch));
            return response.StatusCode;
        }).ToArray();
        HttpStatusCode[] statuses = await Task.WhenAll(posts);
        int accepted = statuses.Count(s => s == HttpStatusCode.Accepted);
        int limited = statuses.Count(s => s == HttpStatusCode.TooManyRequests);
        report.AppendLine($"publish flood: 50 batches of 100 events at once, PublishesPerSecond 1000 (burst 1000): {accepted} accepted, {limited} refused (429)");
        Assert.That((accepted, limited), Is.EqualTo((10, 40)));

        // The session holds what was accepted and nothing else.
        using HttpResponseMessage session = await server.Http.GetAsync("/api/sessions/publish-flood");
        Assert.That(JsonDocument.Parse(await session.Content.ReadAsStringAsync()).RootElement.GetProperty("seq").GetInt64(), Is.EqualTo(1000));
        clock.Advance(TimeSpan.FromSeconds(1));
    }

    /// <summary>Ten thousand malformed messages on one connection: each is answered, none closes it.</summary>
    private static async Task SendMalformedMessagesAsync(GatewayServer server, StringBuilder report)
    {
        var random = new Random(4242);
        string[] shapes =
        [
            "{not json",
            "[1,2,3]",
            """{"type":"launch"}""",
            """{"type":"subscribe","events":"all"}""",
            """{"type":"resume","since":-5}""",
            """{"type":"ping","id":{"nested":true}}""",
            """{"type":"ping","type":"ping"}""",
            """{"type":"publish","event":"no good"}""",
            new string('[', 40) + new string(']', 40),
            $$"""{"type":"ping","id":"{{new string('x', 5000)}}"}""",
            """{"type":"ping","ts":{"not":"scalar"}}""",
            "",
        ];
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("malformed"));
        await using (client)
        {
            // In windows of 500, below the send queue's 1024: a client that sends faster than it
            // reads its replies is a slow consumer, which is not what this measures.
            var codes = new Dictionary<string, int>();
            for (int sent = 0; sent < MalformedMessages; sent += 500)
            {
                for (int i = 0; i < 500; i++)
                {
                    await client.SendAsync(shapes[random.Next(shapes.Length)]);
                }

                for (int i = 0; i < 500; i++)
                {
                    string code = (await client.ReceiveAsync("error")).GetProperty("code").GetString()!;
                    codes[code] = codes.GetValueOrDefault(code) + 1;
                }
            }

            await client.SendAsync("""{"type":"ping","id":"after"}""");
            Assert.That((await client.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("after"));
            report.AppendLine($"malformed messages: {MalformedMessages} on one connection ({shapes.Length} shapes): every one answered with an error, the connection stayed open: "
                + string.Join(", ", codes.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}")));
            Assert.That(codes.Values.Sum(), Is.EqualTo(MalformedMessages));
        }
    }

    private static async Task HealthyRoundTripAsync(GatewayServer server)
    {
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("healthy", "since=0"));
        await using (client)
        {
            long seq = await server.PublishAsync("healthy", "ok");
            while ((await client.ReceiveAsync()).TryGetProperty("seq", out JsonElement got) is var has && (!has || got.GetInt64() != seq))
            {
            }
        }
    }

    private static async Task<(TcpClient, int)> OpenUpgradeAsync(GatewayServer server, string target)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        NetworkStream stream = tcp.GetStream();
        string request = $"GET {target} HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), TestClient.Deadline);
        var head = new byte[12];
        int read = 0;
        while (read < head.Length)
        {
            int n = await stream.ReadAsync(head.AsMemory(read), TestClient.Deadline);
            Assert.That(n, Is.GreaterThan(0), "closed before answering");
            read += n;
        }

        return (tcp, int.Parse(Encoding.ASCII.GetString(head, 9, 3), System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task WaitForConnectionsAsync(GatewayServer server, int count)
    {
        var limiter = server.Get<Gateway.Security.ConnectionLimiter>();
        while (limiter.Count != count)
        {
            // The dropped sockets' handlers end as Kestrel notices the resets; yield until they have.
            await Task.Yield();
            TestClient.Deadline.ThrowIfCancellationRequested();
        }
    }

    private static async Task<int> ReadOrResetAsync(NetworkStream stream, byte[] buffer)
    {
        try
        {
            return await stream.ReadAsync(buffer, TestClient.Deadline);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long ManagedHeap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
