using System.Net.Sockets;
using System.Text;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>RFC 6455 section 4.2.1: the opening handshake is an HTTP/1.1 request; an HTTP/1.0 one is refused.</summary>
[CancelAfter(30_000)]
public sealed class HandshakeVersionTests
{
    [Test]
    public async Task An_upgrade_over_http_1_0_is_refused_with_400_naming_http_1_1()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        NetworkStream stream = tcp.GetStream();
        string request = $"GET /ws/old-client HTTP/1.0\r\nHost: {server.BaseAddress.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), TestClient.Deadline);

        var response = new StringBuilder();
        var buffer = new byte[4096];
        int headEnd;
        while ((headEnd = response.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
        {
            int read = await stream.ReadAsync(buffer, TestClient.Deadline);
            Assert.That(read, Is.GreaterThan(0), "the server closed before it answered: " + response);
            response.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        string head = response.ToString()[..headEnd];
        Assert.That(head, Does.StartWith("HTTP/1.1 400"), head);
        Assert.That(head, Does.Not.Contain("Sec-WebSocket-Accept"));

        // HTTP/1.0 has no chunks: the body ends where the server closes the connection.
        int more;
        while ((more = await stream.ReadAsync(buffer, TestClient.Deadline)) > 0)
        {
            response.Append(Encoding.UTF8.GetString(buffer, 0, more));
        }

        Assert.That(response.ToString()[(headEnd + 4)..], Does.Contain("HTTP/1.1 or later"));
    }
}
