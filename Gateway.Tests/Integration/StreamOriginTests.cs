using System.Net;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Integration;

/// <summary>
/// Spec section 6: <c>Security:AllowedOrigins</c> guards the SSE stream as it guards the WebSocket
/// upgrade: a page from another origin gets 403, counted and logged like a refused upgrade.
/// </summary>
[CancelAfter(30_000)]
public sealed class StreamOriginTests
{
    [Test]
    public async Task A_browser_stream_from_an_origin_not_listed_is_403_counted_and_logged_as_an_upgrade_is()
    {
        var logs = new CapturedLogs();
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?>
            {
                ["Gateway:Security:AllowedOrigins:0"] = "https://app.example.com",
                ["Logging:LogLevel:Gateway.Http.Refusals"] = "Information",
            },
            s => s.AddSingleton<ILoggerProvider>(logs));
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());

        using (HttpResponseMessage listed = await OpenStreamAsync(server, "https://app.example.com"))
        {
            Assert.That(listed.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        using (HttpResponseMessage noOrigin = await OpenStreamAsync(server, origin: null))
        {
            Assert.That(noOrigin.StatusCode, Is.EqualTo(HttpStatusCode.OK), "no Origin: not a browser, or a page of the gateway's own origin");
        }

        using (HttpResponseMessage refused = await OpenStreamAsync(server, "https://evil.example"))
        {
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That(refused.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            JsonElement problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
            Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("Gateway:Security:AllowedOrigins"));
        }

        Assert.That(metrics.Sum("gateway.connections.refused", "reason=origin_not_allowed"), Is.EqualTo(1));
        (int status, _) = await RefusalTests.UpgradeAsync(server, "/ws/origin", headers: "Origin: https://evil.example\r\n");
        Assert.That(status, Is.EqualTo(403));
        Assert.That(metrics.Sum("gateway.connections.refused", "reason=origin_not_allowed"), Is.EqualTo(2), "the same counter and reason as a refused upgrade");

        string[] refusals = logs.Lines.Where(l => l.Contains("[301]", StringComparison.Ordinal) && l.Contains("origin_not_allowed", StringComparison.Ordinal)).ToArray();
        Assert.That(refusals, Has.Length.EqualTo(2));
        Assert.That(refusals.Count(l => l.Contains("Refused stream from", StringComparison.Ordinal)), Is.EqualTo(1));
        Assert.That(refusals.Count(l => l.Contains("Refused ws from", StringComparison.Ordinal)), Is.EqualTo(1));
    }

    [Test]
    public async Task A_page_the_gateway_served_itself_may_connect_whatever_origins_are_listed()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Gateway:Security:AllowedOrigins:0"] = "https://app.example.com" });
        string own = server.BaseAddress.GetLeftPart(UriPartial.Authority);

        // The dashboard at / opens its WebSocket with Origin: the gateway's own address.
        (int upgrade, _) = await RefusalTests.UpgradeAsync(server, "/ws/own-page", headers: $"Origin: {own}\r\n");
        Assert.That(upgrade, Is.EqualTo(101));
        using (HttpResponseMessage stream = await OpenStreamAsync(server, own))
        {
            Assert.That(stream.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        // The same host on another port, or another scheme's default port, is another origin.
        string otherPort = $"http://{server.BaseAddress.Host}:{server.BaseAddress.Port + 1}";
        (int elsewhere, _) = await RefusalTests.UpgradeAsync(server, "/ws/own-page", headers: $"Origin: {otherPort}\r\n");
        Assert.That(elsewhere, Is.EqualTo(403));
        (int bare, _) = await RefusalTests.UpgradeAsync(server, "/ws/own-page", headers: $"Origin: http://{server.BaseAddress.Host}\r\n");
        Assert.That(bare, Is.EqualTo(403));
        (int garbage, _) = await RefusalTests.UpgradeAsync(server, "/ws/own-page", headers: "Origin: not a url\r\n");
        Assert.That(garbage, Is.EqualTo(403));
    }

    private static async Task<HttpResponseMessage> OpenStreamAsync(GatewayServer server, string? origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/sessions/origin/stream");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        // Headers only: an accepted stream stays open, and disposing the response ends it.
        return await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestClient.Deadline);
    }
}
