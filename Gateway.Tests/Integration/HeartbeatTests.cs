using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>Pings and eviction of silent connections, on a clock the test moves (spec section 4).</summary>
[CancelAfter(30_000)]
public sealed class HeartbeatTests
{
    [Test]
    public async Task A_silent_connection_is_pinged_then_evicted_with_4000_while_a_live_one_stays()
    {
        var clock = new ManualTimeProvider();
        await using GatewayServer server = await GatewayServer.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using RawWebSocket silent = await RawWebSocket.ConnectAsync(server.WebSocketUri("heartbeat"));
        Assert.That((await silent.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));
        (TestClient live, _) = await TestClient.JoinAsync(server.WebSocketUri("heartbeat"));
        await using (live)
        {
            // Past the 15 s interval: the server pings.
            clock.Advance(TimeSpan.FromSeconds(16));
            Assert.That((await silent.ReceiveAsync())!.Value.Kind, Is.EqualTo(WebSocketReadStatus.Ping));

            // The live client speaks at 16 s; the silent one never does.
            await live.SendAsync("""{"type":"ping","id":"at-16s"}""");
            Assert.That((await live.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("at-16s"));

            // At 46 s the silent one has said nothing for more than 45 s; the live one for 30 s.
            clock.Advance(TimeSpan.FromSeconds(30));
            (ServerFrame? close, _) = await silent.ReceiveCloseAsync();
            Assert.That(close?.CloseCode, Is.EqualTo(4000));
            Assert.That(close?.CloseReason, Is.EqualTo("heartbeat timeout"));

            await live.SendAsync("""{"type":"status","id":"still-open"}""");
            JsonElement status = await live.ReceiveAsync("status");
            Assert.That(status.GetProperty("clients").GetInt32(), Is.EqualTo(1), "the evicted connection left the session at once");
            Assert.That(metrics.Sum("gateway.connections.evicted", "reason=heartbeat_timeout"), Is.EqualTo(1));
        }
    }

    [Test]
    public async Task A_close_handshake_that_is_never_answered_is_aborted_after_the_close_timeout()
    {
        var clock = new ManualTimeProvider();
        // The clock jumps 46 s; to the lag bound a jump looks like a write in flight that long, so it is set past it.
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Gateway:Limits:MaxLagTime"] = "00:10:00" }, s => s.AddSingleton<TimeProvider>(clock));
        await using RawWebSocket silent = await RawWebSocket.ConnectAsync(server.WebSocketUri("close-timeout"));
        await silent.ReceiveAsync();

        clock.Advance(TimeSpan.FromSeconds(46));
        Assert.That((await silent.ReceiveCloseAsync()).Close?.CloseCode, Is.EqualTo(4000));

        // The client never answers the close; 5 s later the socket is dropped.
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.That(await silent.ServerClosedAsync(), Is.True);
    }

    [Test]
    public void The_scan_runs_every_second_or_a_fifth_of_a_short_interval()
    {
        Assert.That(Gateway.Connections.HeartbeatScanner.ScanPeriod(TimeSpan.FromSeconds(15)), Is.EqualTo(TimeSpan.FromSeconds(1)));
        Assert.That(Gateway.Connections.HeartbeatScanner.ScanPeriod(TimeSpan.FromMilliseconds(500)), Is.EqualTo(TimeSpan.FromMilliseconds(100)));
    }
}
