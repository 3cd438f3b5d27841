using System.Net;
using System.Text.Json;
using Gateway.Log;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Integration;

/// <summary>
/// An SSE stream ends as a WebSocket connection does, because both are one client connection
/// over two transports: an expired token is the eviction <c>token_expired</c>, a close that
/// cannot get out is aborted at its deadline and counted and logged, and a session store that
/// does not answer is the 503 every endpoint gives for an outage.
/// </summary>
public sealed class ServerSentEventCloseTests
{
    private static readonly Dictionary<string, string?> InformationLogs = new() { ["Logging:LogLevel:Gateway"] = "Information" };

    [Test]
    [CancelAfter(30_000)]
    public async Task An_sse_stream_whose_token_expires_ends_with_1008_counted_and_logged_as_token_expired()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var logs = new CapturedLogs();
        var settings = new Dictionary<string, string?>(InformationLogs)
        {
            // Quiet is fine: only the token's expiry may end the stream.
            ["Gateway:Heartbeat:Interval"] = "00:01:00",
            ["Gateway:Heartbeat:Timeout"] = "00:10:00",

            // The clock jumps 66 s; to the lag bound a jump looks like a write in flight that long, so it is set past it.
            ["Gateway:Limits:MaxLagTime"] = "00:10:00",
        };
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings(settings), s =>
        {
            s.AddSingleton<TimeProvider>(clock);
            s.AddSingleton<ILoggerProvider>(logs);
        });
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        string shortLived = TestTokens.Mint(sessions: new[] { "sse-expiry" }, expires: clock.GetUtcNow().AddSeconds(60));

        await using SseReader stream = await SseReader.OpenAsync(server, $"/api/sessions/sse-expiry/stream?token={shortLived}&named=true");
        Assert.That(stream.Head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await stream.ReadCommentAsync();

        clock.Advance(TimeSpan.FromSeconds(66));
        SseMessage closed = await stream.ReadAsync();
        Assert.That(closed.Event, Is.EqualTo("@closed"));
        JsonElement notice = JsonDocument.Parse(closed.Data).RootElement;
        Assert.That((notice.GetProperty("code").GetInt32(), notice.GetProperty("reason").GetString()), Is.EqualTo((1008, "token expired")));
        Assert.That(await stream.AtEndAsync(), Is.True);

        // The notice can reach the client before the close is counted: wait for the count.
        await metrics.WhenSumReachesAsync("gateway.connections.evicted", 1, "reason=token_expired").WaitAsync(TestClient.Deadline);
        string[] evicted = logs.Lines.Where(l => l.Contains("[103]", StringComparison.Ordinal)).ToArray();
        Assert.That(evicted, Has.Length.EqualTo(1), string.Join("\n", evicted));
        Assert.That(evicted[0], Does.Contain("sse-expiry").And.Contain("token_expired").And.Not.Contain(shortLived));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task An_sse_close_that_cannot_get_out_is_aborted_at_its_deadline_counted_and_logged_as_close_timeout()
    {
        const int EventBytes = 16 * 1024;
        var clock = new ManualTimeProvider();
        var logs = new CapturedLogs();
        await using GatewayServer server = await GatewayServer.StartAsync(InformationLogs, s =>
        {
            s.AddSingleton<TimeProvider>(clock);
            s.AddSingleton<ILoggerProvider>(logs);
        });
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-deadline/stream");
        await stream.ReadCommentAsync();

        // 2 MiB the client does not read: more than its socket takes, far below the lag bounds,
        // so that the stream's @closed notice waits behind events that cannot get out.
        string data = JsonSerializer.Serialize(new string('d', EventBytes));
        for (int i = 1; i <= 128; i++)
        {
            Assert.That(await server.PublishAsync("sse-deadline", "chunk", data), Is.EqualTo(i));
        }

        using (HttpResponseMessage deleted = await server.Http.DeleteAsync("/api/sessions/sse-deadline", TestClient.Deadline))
        {
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        }

        Assert.That(metrics.Sum("gateway.connections.evicted", "reason=close_timeout"), Is.Zero, "the close has its Limits:CloseTimeout (5 s) to get out");

        // The client still does not read: past the deadline the stream is dropped, once counted and logged.
        clock.Advance(TimeSpan.FromSeconds(6));
        await metrics.WhenSumReachesAsync("gateway.connections.evicted", 1, "reason=close_timeout").WaitAsync(TestClient.Deadline);
        await metrics.WhenSumReachesAsync("gateway.connections.closed", 1, "code=1001").WaitAsync(TestClient.Deadline);
        string[] timedOut = logs.Lines.Where(l => l.Contains("[106]", StringComparison.Ordinal)).ToArray();
        Assert.That(timedOut, Has.Length.EqualTo(1), string.Join("\n", timedOut));
        Assert.That(timedOut[0], Does.Contain("sse-deadline").And.Contain("1001"));
        Assert.That(metrics.Sum("gateway.connections.evicted", "reason=close_timeout"), Is.EqualTo(1));
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task An_sse_stream_whose_join_meets_a_store_outage_gets_the_503_every_endpoint_gives()
    {
        var logs = new CapturedLogs();
        var outage = new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting");
        await using GatewayServer server = await GatewayServer.StartAsync(InformationLogs, s =>
        {
            s.AddSingleton<ILoggerProvider>(logs);
            s.AddSingleton<ISessionLog>(sp => ErrorMappingTests.FailingStore.Create(
                sp.GetRequiredService<MemoryLog>(), outage, nameof(ISessionLog.ReadAsync), nameof(ISessionLog.ListAsync)));
        });
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());

        using HttpResponseMessage listed = await server.Http.GetAsync("/api/sessions", TestClient.Deadline);
        using HttpResponseMessage refused = await server.Http.GetAsync("/api/sessions/sse-outage/stream", TestClient.Deadline);

        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(refused.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        JsonElement problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        JsonElement other = JsonDocument.Parse(await listed.Content.ReadAsStringAsync()).RootElement;
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Service Unavailable"));
        Assert.That(problem.GetProperty("detail").GetString(), Is.EqualTo(other.GetProperty("detail").GetString()));
        Assert.That(metrics.Sum("gateway.connections.refused", "reason=backplane_unavailable"), Is.EqualTo(1), "a refused stream is a refused connection");
        Assert.That(metrics.Sum("gateway.connections.accepted", "transport=sse"), Is.Zero, "a stream that never began was never accepted");
        Assert.That(metrics.Sum("gateway.connections.closed", "transport=sse"), Is.Zero, "nor closed");
        Assert.That(logs.Lines.Where(l => l.StartsWith("Error ", StringComparison.Ordinal)), Is.Empty, "an outage is not a bug");
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task An_sse_stream_to_a_node_that_cannot_reach_redis_gets_the_503_every_endpoint_gives()
    {
        await using GatewayServer node = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Backplane:Mode"] = "redis",
            ["Gateway:Backplane:Redis"] = $"127.0.0.1:{Tools.FreePort()}",
        });
        using var metrics = new MetricRecorder(node.Get<Gateway.Diagnostics.GatewayMetrics>());

        using HttpResponseMessage listed = await node.Http.GetAsync("/api/sessions", TestClient.Deadline);
        using HttpResponseMessage refused = await node.Http.GetAsync("/api/sessions/sse-early/stream", TestClient.Deadline);

        Assert.That(listed.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(1)));
        string detail = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()!;
        Assert.That(detail, Is.EqualTo(JsonDocument.Parse(await listed.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString()));
        Assert.That(detail, Does.Contain("Redis"));
        Assert.That(metrics.Sum("gateway.connections.refused", "reason=backplane_unavailable"), Is.EqualTo(1));
    }
}
