using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>Refusals happen before the upgrade, as plain HTTP that says what was wrong (spec section 2).</summary>
[CancelAfter(30_000)]
public sealed class RefusalTests
{
    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    [Test]
    public async Task A_plain_get_is_told_to_use_a_websocket()
    {
        using HttpResponseMessage response = await _server.Http.GetAsync("/ws/demo");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("WebSocket"));
    }

    [TestCase("bad%20name")]
    [TestCase("sl%2Fash")]
    [TestCase("%C3%A9t%C3%A9")]
    public async Task A_bad_session_name_is_refused_with_400(string session)
    {
        (int status, string body) = await UpgradeAsync(_server, $"/ws/{session}");
        Assert.That(status, Is.EqualTo(400));
        Assert.That(body, Does.Contain("session name"));
    }

    [Test]
    public async Task A_session_name_of_129_characters_is_refused_and_128_accepted()
    {
        Assert.That((await UpgradeAsync(_server, "/ws/" + new string('s', 129))).Status, Is.EqualTo(400));
        Assert.That((await UpgradeAsync(_server, "/ws/" + new string('s', 128))).Status, Is.EqualTo(101));
    }

    [Test]
    public async Task A_bad_events_parameter_is_refused_with_400()
    {
        (int status, string body) = await UpgradeAsync(_server, "/ws/ok?events=a,b%20c");
        Assert.That(status, Is.EqualTo(400));
        Assert.That(body, Does.Contain("events"));
    }

    [Test]
    public async Task An_unknown_websocket_version_is_refused_with_426_naming_13()
    {
        (int status, string body) = await UpgradeAsync(_server, "/ws/ok", version: "8");
        Assert.That(status, Is.EqualTo(426));
        Assert.That(body, Does.Contain("13"));
    }

    [Test]
    public async Task A_bad_key_is_refused_with_400()
    {
        (int status, string body) = await UpgradeAsync(_server, "/ws/ok", key: "short");
        Assert.That(status, Is.EqualTo(400));
        Assert.That(body, Does.Contain("Sec-WebSocket-Key"));
    }

    [Test]
    public async Task A_good_upgrade_answers_with_the_rfc_6455_accept_value()
    {
        (int status, string head) = await UpgradeAsync(_server, "/ws/ok");
        Assert.That(status, Is.EqualTo(101));

        // The worked example of RFC 6455 section 1.3.
        Assert.That(head, Does.Contain("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    /// <summary>
    /// Sends an upgrade request over a raw socket; returns the status and, for a refusal, the body
    /// (for 101, the response head).
    /// </summary>
    public static async Task<(int Status, string Body)> UpgradeAsync(GatewayServer server, string target, string version = "13", string key = "dGhlIHNhbXBsZSBub25jZQ==", string? headers = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        NetworkStream stream = tcp.GetStream();
        string request = $"GET {target} HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{headers}\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), TestClient.Deadline);
        var response = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            int read = await stream.ReadAsync(buffer, TestClient.Deadline);
            if (read == 0)
            {
                // A refusal on the direct upgrade path has a length and closes the connection.
                string whole = response.ToString();
                int end = whole.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end >= 0 && whole.Contains("\r\nConnection: close\r\n", StringComparison.OrdinalIgnoreCase))
                {
                    return (int.Parse(whole.AsSpan(9, 3)), whole[(end + 4)..]);
                }

                break;
            }

            response.Append(Encoding.UTF8.GetString(buffer, 0, read));
            string text = response.ToString();
            int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd < 0)
            {
                continue;
            }

            int status = int.Parse(text.AsSpan(9, 3));
            if (status == 101)
            {
                return (status, text[..headEnd]);
            }

            // Refusals are short and chunked: the terminating chunk ends them.
            if (text.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
            {
                return (status, text[(headEnd + 4)..]);
            }
        }

        Assert.Fail("the server closed without a complete response: " + response);
        return default;
    }
}
