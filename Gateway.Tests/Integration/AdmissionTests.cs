using System.Net;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// One admission step for every client connection: a WebSocket upgrade and an event stream are
/// let in, or refused, by the same checks in the same order, with the same reasons.
/// </summary>
[CancelAfter(30_000)]
public sealed class AdmissionTests
{
    [Test]
    public async Task An_admin_credential_watches_any_session_over_a_websocket_as_over_a_stream_or_a_poll()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings());
        string admin = TestTokens.Mint(sessions: "reports:*", admin: true);

        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("builds-7", $"token={admin}"));
        await using (client)
        {
            Assert.That(welcome.GetProperty("session").GetString(), Is.EqualTo("builds-7"));
        }

        using HttpResponseMessage stream = await OpenStreamAsync(server, "builds-7", admin);
        Assert.That(stream.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using var poll = new HttpRequestMessage(HttpMethod.Get, "/api/sessions/builds-7/events");
        poll.Headers.Authorization = new("Bearer", admin);
        using HttpResponseMessage polled = await server.Http.SendAsync(poll, TestClient.Deadline);
        Assert.That(polled.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        // On the socket too, with first-message auth: the same rule lets the admin in.
        await using (GatewayServer firstMessage = await GatewayServer.StartAsync(
            TestTokens.JwtSettings(new Dictionary<string, string?> { ["Gateway:Auth:FirstMessage"] = "true" })))
        await using (TestClient onSocket = await TestClient.ConnectAsync(firstMessage.WebSocketUri("builds-7")))
        {
            await onSocket.SendAsync($$"""{"type":"auth","token":"{{admin}}"}""");
            Assert.That((await onSocket.ReceiveAsync("welcome")).GetProperty("session").GetString(), Is.EqualTo("builds-7"));
        }

        // Without admin, the same sessions claim grants none of it.
        string user = TestTokens.Mint(sessions: "reports:*");
        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/builds-7?token={user}")).Status, Is.EqualTo(403));
        using HttpResponseMessage refused = await OpenStreamAsync(server, "builds-7", user);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    /// <summary>Requests wrong in several ways at once, and the one reason both transports must give.</summary>
    private static IEnumerable<TestCaseData> Several_faults() =>
    [
        new TestCaseData("bad%20name", "since=-1", "https://evil.example", false, 400, "bad_session").SetName("name before parameters, origin and credentials"),
        new TestCaseData("ok", "since=-1", "https://evil.example", false, 400, "bad_parameter").SetName("parameters before origin and credentials"),
        new TestCaseData("ok", "since=1&info=%5B1%5D", "https://evil.example", false, 400, "bad_parameter").SetName("a malformed info before origin and credentials"),
        new TestCaseData("ok", "since=1&info=" + Uri.EscapeDataString("{\"pad\":\"" + new string('x', 1020) + "\"}"), "https://evil.example", false, 400, "bad_parameter").SetName("an info over 1 KiB before origin and credentials"),
        new TestCaseData("ok", "since=1", "https://evil.example", false, 403, "origin_not_allowed").SetName("origin before credentials"),
        new TestCaseData("ok", "since=1", "https://app.example.com", false, 401, "missing_credentials").SetName("credentials before the grant"),
        new TestCaseData("ok", "since=1", "https://app.example.com", true, 403, "not_granted").SetName("the grant"),
    ];

    [TestCaseSource(nameof(Several_faults))]
    public async Task A_websocket_and_a_stream_are_refused_for_the_same_first_fault(string session, string query, string origin, bool token, int status, string reason)
    {
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings(new Dictionary<string, string?>
        {
            ["Gateway:Security:AllowedOrigins:0"] = "https://app.example.com",
        }));
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        string? credential = token ? TestTokens.Mint(sessions: "elsewhere") : null;

        (int upgradeStatus, _) = await RefusalTests.UpgradeAsync(server, $"/ws/{session}?{query}" + (credential is null ? "" : $"&token={credential}"), headers: $"Origin: {origin}\r\n");
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/sessions/{session}/stream?{query}");
        request.Headers.Add("Origin", origin);
        if (credential is not null)
        {
            request.Headers.Authorization = new("Bearer", credential);
        }

        using HttpResponseMessage stream = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestClient.Deadline);
        Assert.Multiple(() =>
        {
            Assert.That(upgradeStatus, Is.EqualTo(status), "WebSocket");
            Assert.That((int)stream.StatusCode, Is.EqualTo(status), "SSE");
            Assert.That(metrics.Sum("gateway.connections.refused", $"reason={reason}"), Is.EqualTo(2), "both refused for the same reason");
        });
    }

    private static async Task<HttpResponseMessage> OpenStreamAsync(GatewayServer server, string session, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/sessions/{session}/stream");
        request.Headers.Authorization = new("Bearer", token);

        // Headers only: an accepted stream stays open, and disposing the response ends it.
        return await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestClient.Deadline);
    }
}
