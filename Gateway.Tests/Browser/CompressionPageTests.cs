using System.Text;
using System.Text.Json;
using Gateway.Diagnostics;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Browser;

/// <summary>
/// permessage-deflate with a real browser: Chromium always offers it, so a page's plain
/// <c>WebSocket</c> gets compressed events, large and multi-byte ones intact, and its own
/// messages (compressed by the browser, with context takeover) are inflated and accepted.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class CompressionPageTests : BrowserFixture
{
    private const string Session = "deflate-page";

    private static readonly JsonSerializerOptions RelaxedJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [Test]
    public async Task A_compressed_stream_arrives_intact_in_Chromium()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Security:AllowClientPublish"] = "true" });
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        await using BrowserPage page = await Chromium.OpenAsync(server.BaseAddress, Html);
        await page.WaitAsync("window.opened === true && window.messages.some(m => m.type === 'welcome')", "the socket to open");
        Assert.That(await page.Page.EvaluateAsync<string>("window.ws.extensions"), Is.EqualTo("permessage-deflate; server_no_context_takeover; client_no_context_takeover"));

        // About 200 KB of repetitive text, mixed with characters of two, three and four bytes.
        string large = string.Concat(Enumerable.Range(0, 6000).Select(i => $"line {i}: ok ✓ café 𝄞 日本\n"));
        string multiByte = string.Concat(Enumerable.Repeat("héllo wörld ✓ 日本語 🚀 ", 12));
        Assert.That(Encoding.UTF8.GetByteCount(large), Is.GreaterThan(200_000));
        string[] sent = ["small", multiByte, large, "after"];
        foreach (string text in sent)
        {
            await server.PublishAsync(Session, "chunk", JsonSerializer.Serialize(text));
        }

        await page.WaitAsync("window.messages.filter(m => m.type === 'event').length >= 4", "4 events");
        string[] received = await page.Page.EvaluateAsync<string[]>("window.messages.filter(m => m.type === 'event').map(m => m.data)");
        Assert.That(received, Is.EqualTo(sent), "every event intact, in order");

        // The multi-byte and the large events went compressed; "small" and "after" are under the threshold.
        await metrics.WhenSumReachesAsync("gateway.deflate.frames", 2).WaitAsync(TestContext.CurrentContext.CancellationToken);
        Assert.That(metrics.Sum("gateway.network.io", "direction=transmit"), Is.LessThan(Encoding.UTF8.GetByteCount(large) / 4), "the large event crossed the wire compressed");

        // The page publishes twice (Chromium offered context takeover, was answered
        // client_no_context_takeover, and compresses each message on its own): both are accepted.
        long plainBytes = 0;
        for (int n = 1; n <= 2; n++)
        {
            string message = JsonSerializer.Serialize(new { type = "publish", id = $"p{n}", @event = "from_page", data = new { text = multiByte, n } }, RelaxedJson);
            plainBytes += Encoding.UTF8.GetByteCount(message);
            await page.Page.EvaluateAsync("message => window.ws.send(message)", message);
            await page.WaitAsync($"window.messages.some(m => m.type === 'ack' && m.id === 'p{n}')", $"the ack of p{n}");
        }

        Assert.That(metrics.Sum("gateway.network.io", "direction=receive"), Is.LessThan(plainBytes / 2), "the page's messages came compressed");

        string[] echoed = await page.Page.EvaluateAsync<string[]>("window.messages.filter(m => m.type === 'event' && m.event === 'from_page').map(m => m.data.n + ':' + m.data.text)");
        Assert.That(echoed, Is.EqualTo(new[] { "1:" + multiByte, "2:" + multiByte }));
        await page.ScreenshotAsync("compressed");
    }

    private static readonly string Html = $$"""
        <!doctype html>
        <html><head><meta charset="utf-8"><title>permessage-deflate test page</title></head>
        <body>
        <h1>Session {{Session}}, compressed</h1>
        <p>Extensions: <span id="extensions">-</span> · messages: <span id="count">0</span></p>
        <script>
          window.messages = [];
          window.opened = false;
          const ws = new WebSocket(`ws://${location.host}/ws/{{Session}}`);
          window.ws = ws;
          ws.onopen = () => { window.opened = true; document.getElementById('extensions').textContent = ws.extensions; };
          ws.onmessage = e => { window.messages.push(JSON.parse(e.data)); document.getElementById('count').textContent = window.messages.length; };
        </script>
        </body></html>
        """;
}
