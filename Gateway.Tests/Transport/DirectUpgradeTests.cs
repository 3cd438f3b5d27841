using System.Net.Sockets;
using System.Text;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Transport;

/// <summary>
/// The direct upgrade on a real gateway over raw sockets: ordinary HTTP on a connection it looked
/// at is untouched (pipelining and keep-alive included), an upgrade after another request still
/// takes Kestrel's path, a head split into single bytes is still an upgrade, and a refusal says the
/// same on both paths.
/// </summary>
[CancelAfter(60_000)]
public sealed class DirectUpgradeTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    [Test]
    public async Task Pipelined_requests_then_an_upgrade_on_one_keep_alive_connection_are_answered_as_before()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        NetworkStream stream = tcp.GetStream();
        string host = server.BaseAddress.Authority;
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\nGET /client.js HTTP/1.1\r\nHost: {host}\r\n\r\n"), TestClient.Deadline);
        var reader = new ResponseReader(stream);
        (int first, _, _) = await reader.ReadAsync();
        (int second, string secondHead, string script) = await reader.ReadAsync();
        Assert.That((first, second), Is.EqualTo((200, 200)));
        Assert.That(secondHead, Does.Contain("javascript"));
        Assert.That(script, Is.Not.Empty);

        // The same connection, now upgraded: Kestrel's path, as before the direct upgrade.
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Upgrade(host, "/ws/keep-alive")), TestClient.Deadline);
        (int upgraded, _, _) = await reader.ReadAsync(headOnly: true);
        Assert.That(upgraded, Is.EqualTo(101));
    }

    [Test]
    public async Task An_upgrade_head_sent_one_byte_at_a_time_is_switched()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        NetworkStream stream = tcp.GetStream();
        foreach (byte b in Encoding.ASCII.GetBytes(Upgrade(server.BaseAddress.Authority, "/ws/split")))
        {
            await stream.WriteAsync(new[] { b }, TestClient.Deadline);
            await stream.FlushAsync(TestClient.Deadline);
        }

        (int status, string head, _) = await new ResponseReader(stream).ReadAsync(headOnly: true);
        Assert.That(status, Is.EqualTo(101));
        Assert.That(head, Does.Contain("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    [Test]
    public async Task A_join_that_waits_on_redis_does_not_hold_back_the_101()
    {
        // The direct path writes its 101 unflushed, to go out with the welcome; a join that has to
        // wait for Redis must send it first. The session is new to the node, so the join reads it
        // from Redis, which is held (and the node waits on it) for longer than the handshake's own
        // deadline: a 101 kept for the welcome would arrive only after it.
        await using RedisServer redis = await RedisServer.StartAsync(appendOnly: false, port: null, "--enable-debug-command", "local");
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Backplane:Mode"] = "redis",
            ["Gateway:Backplane:Redis"] = redis.ConnectionString,
            ["Gateway:Backplane:OperationTimeout"] = "00:01:00",
        });
        await server.Get<Gateway.Log.Redis.RedisLog>().WhenAvailableAsync(TestClient.Deadline);
        Task<string[]> held = redis.PipelineAsync(["DEBUG", "SLEEP", "60"]);
        await redis.WhenBusyAsync();
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(TestClient.Deadline);
        handshake.CancelAfter(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(server.WebSocketUri("cold"), handshake.Token);
        Assert.That(socket.State, Is.EqualTo(System.Net.WebSockets.WebSocketState.Open));
        Assert.That(held.IsCompleted, Is.False, "Redis was still held when the 101 came");

        // Let the test end without waiting out the sleep: the held command's connection closes.
        await redis.KillAsync();
        Assert.That(async () => await held, Throws.InstanceOf<IOException>());
    }

    private static readonly object[] Refused =
    [
        new object[] { "/ws/bad%20name", "13", "", new Dictionary<string, string?>() },
        new object[] { "/ws/room?since=x", "13", "", new Dictionary<string, string?>() },
        new object[] { "/ws/room", "8", "", new Dictionary<string, string?>() },
        new object[] { "/ws/room", "13", "Origin: https://evil.example\r\n", new Dictionary<string, string?> { ["Gateway:Security:AllowedOrigins:0"] = "https://app.example" } },
    ];

    [TestCaseSource(nameof(Refused))]
    public async Task A_refusal_is_the_same_on_both_paths(string target, string version, string headers, Dictionary<string, string?> settings)
    {
        var answers = new List<(int Status, string Headers, string Body)>();
        foreach (bool direct in new[] { true, false })
        {
            var all = new Dictionary<string, string?>(settings) { ["Gateway:Transport:DirectUpgrade"] = direct ? "true" : "false" };
            await using GatewayServer server = await GatewayServer.StartAsync(all);
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
            NetworkStream stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(Upgrade(server.BaseAddress.Authority, target, version, headers)), TestClient.Deadline);
            (int status, string head, string body) = await new ResponseReader(stream).ReadAsync();

            // What may differ is the framing (a length and a close on the direct path, chunks on Kestrel's) and the date.
            string kept = string.Join("\n", head.Split("\r\n").Skip(1)
                .Where(h => !h.StartsWith("Date:", StringComparison.Ordinal) && !h.StartsWith("Content-Length:", StringComparison.Ordinal)
                    && !h.StartsWith("Transfer-Encoding:", StringComparison.Ordinal) && !h.StartsWith("Connection:", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal));
            answers.Add((status, kept, body));
        }

        Assert.That(answers[0].Status, Is.Not.EqualTo(101));
        Assert.That(answers[0], Is.EqualTo(answers[1]));
    }

    private static string Upgrade(string host, string target, string version = "13", string headers = "") =>
        $"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {Key}\r\nSec-WebSocket-Version: {version}\r\n{headers}\r\n";

    /// <summary>Reads HTTP/1.1 responses off a raw stream: framed by Content-Length, chunks, or the close.</summary>
    private sealed class ResponseReader(NetworkStream stream)
    {
        private readonly List<byte> _pending = [];

        public async Task<(int Status, string Head, string Body)> ReadAsync(bool headOnly = false)
        {
            int headEnd;
            while ((headEnd = IndexOf("\r\n\r\n"u8.ToArray())) < 0)
            {
                Assert.That(await FillAsync(), Is.True, "the connection closed before a response head");
            }

            string head = Encoding.ASCII.GetString(_pending.GetRange(0, headEnd).ToArray());
            _pending.RemoveRange(0, headEnd + 4);
            int status = int.Parse(head.AsSpan(9, 3));
            if (headOnly)
            {
                return (status, head, "");
            }

            var body = new List<byte>();
            string? length = head.Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))?[15..].Trim();
            if (length is not null)
            {
                int n = int.Parse(length);
                while (_pending.Count < n)
                {
                    Assert.That(await FillAsync(), Is.True);
                }

                body.AddRange(_pending.GetRange(0, n));
                _pending.RemoveRange(0, n);
            }
            else if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            {
                while (true)
                {
                    int lineEnd;
                    while ((lineEnd = IndexOf("\r\n"u8.ToArray())) < 0)
                    {
                        Assert.That(await FillAsync(), Is.True);
                    }

                    int size = Convert.ToInt32(Encoding.ASCII.GetString(_pending.GetRange(0, lineEnd).ToArray()), 16);
                    while (_pending.Count < lineEnd + 2 + size + 2)
                    {
                        Assert.That(await FillAsync(), Is.True);
                    }

                    body.AddRange(_pending.GetRange(lineEnd + 2, size));
                    _pending.RemoveRange(0, lineEnd + 2 + size + 2);
                    if (size == 0)
                    {
                        break;
                    }
                }
            }

            return (status, head, Encoding.UTF8.GetString(body.ToArray()));
        }

        private async Task<bool> FillAsync()
        {
            var buffer = new byte[8192];
            int read = await stream.ReadAsync(buffer, TestClient.Deadline);
            _pending.AddRange(buffer.AsSpan(0, read).ToArray());
            return read > 0;
        }

        private int IndexOf(byte[] needle)
        {
            for (int i = 0; i + needle.Length <= _pending.Count; i++)
            {
                if (_pending.GetRange(i, needle.Length).SequenceEqual(needle))
                {
                    return i;
                }
            }

            return -1;
        }
    }
}
