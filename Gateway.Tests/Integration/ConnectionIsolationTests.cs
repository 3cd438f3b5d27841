using System.Net;
using Gateway.Connections;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Integration;

/// <summary>
/// The loops over every connection (the heartbeat scan, the shutdown drain) isolate each one: a
/// connection that throws is logged and dropped, and the others are served as usual.
/// </summary>
[CancelAfter(30_000)]
public sealed class ConnectionIsolationTests
{
    [Test]
    public async Task A_scan_survives_a_connection_whose_heartbeat_check_throws()
    {
        var clock = new ManualTimeProvider();
        var logs = new CapturedLogs();
        await using GatewayServer server = await GatewayServer.StartAsync(services: s =>
        {
            s.AddSingleton<TimeProvider>(clock);
            s.AddSingleton<ILoggerProvider>(logs);
        });
        ConnectionRegistry registry = server.Get<ConnectionRegistry>();
        var broken = new BrokenConnection(registry);
        registry.Add(broken);
        await using RawWebSocket silent = await RawWebSocket.ConnectAsync(server.WebSocketUri("scan-isolation"));
        Assert.That((await silent.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));

        // Past the 15 s interval: the scans that met the broken connection went on to ping this one.
        clock.Advance(TimeSpan.FromSeconds(16));
        Assert.That((await silent.ReceiveAsync())!.Value.Kind, Is.EqualTo(WebSocketReadStatus.Ping));

        // Later scans still run: at 46 s the silent connection is evicted as usual.
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.That((await silent.ReceiveCloseAsync()).Close?.CloseCode, Is.EqualTo(4000));

        Assert.That(broken.Ticks, Is.EqualTo(1), "the broken connection was dropped after its failed check");
        Assert.That(broken.Aborted, Is.True);
        Assert.That(logs.Lines.Count(l => l.Contains("[109]", StringComparison.Ordinal) && l.Contains(broken.Id, StringComparison.Ordinal)), Is.EqualTo(1),
            "the failure is logged once, with its connection");
        using HttpResponseMessage health = await server.Http.GetAsync("/healthz");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the process runs on");
    }

    [Test]
    public async Task Shutdown_closes_every_other_client_with_1001_when_one_connection_fails_to_close()
    {
        var logs = new CapturedLogs();
        GatewayServer server = await GatewayServer.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await using (server)
        {
            ConnectionRegistry registry = server.Get<ConnectionRegistry>();
            var broken = new BrokenConnection(registry, failOnClose: true);
            registry.Add(broken);
            (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("close-isolation"));
            await using (client)
            {
                Task stopping = server.StopAsync();
                Assert.That((await client.ReceiveCloseAsync()).Code, Is.EqualTo(1001));
                await stopping.WaitAsync(TestClient.Deadline);
            }

            Assert.That(broken.Aborted, Is.True, "the connection that failed to close was dropped");
            Assert.That(logs.Lines.Count(l => l.Contains("[404]", StringComparison.Ordinal) && l.Contains(broken.Id, StringComparison.Ordinal)), Is.EqualTo(1));
        }
    }

    /// <summary>
    /// A connection whose heartbeat check (or shutdown close) fails, as a bug in a transport would;
    /// like a real one it leaves the registry when aborted.
    /// </summary>
    private sealed class BrokenConnection(ConnectionRegistry registry, bool failOnClose = false) : IClientConnection
    {
        private int _ticks;
        private volatile bool _aborted;

        public string Id => "broken-connection";

        public int Ticks => Volatile.Read(ref _ticks);

        public bool Aborted => _aborted;

        public void OnHeartbeatTick(long now)
        {
            Interlocked.Increment(ref _ticks);
            if (!failOnClose)
            {
                throw new InvalidOperationException("the heartbeat check of a broken connection");
            }
        }

        public void CloseForShutdown()
        {
            if (failOnClose)
            {
                throw new InvalidOperationException("the shutdown close of a broken connection");
            }

            Abort();
        }

        public void Abort()
        {
            _aborted = true;
            registry.Remove(this);
        }
    }
}
