using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Browser;

/// <summary>
/// <c>/client.js</c> in a real browser (Debian's Chromium, driven by Playwright) against a real
/// gateway: a page that uses it gets every event once and in order, through connections cut
/// mid-stream, and through a proxy that refuses WebSockets. Pages are served at an http address of
/// the gateway's origin (or the proxy's) by the browser's own routing, so the module and the
/// gateway share an origin. Screenshots are attached to each test.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class ClientPageTests : BrowserFixture
{
    private const string Session = "page-1";

    private static readonly string[] TickEvents = ["tick"];

    [Test]
    public async Task A_page_receives_events_in_order_and_shows_its_state()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using BrowserPage page = await Chromium.OpenAsync(server.BaseAddress, ClientPage.Html(Session, new { since = 0 }));

        await page.WaitAsync("window.client && window.client.state === 'open'", "the client to open");
        for (int i = 1; i <= 20; i++)
        {
            await server.PublishAsync(Session, "tick", $"{{\"n\":{i}}}");
        }

        await page.WaitAsync("window.seen.length >= 20", "20 events");
        Assert.That(await page.SeenAsync(), Is.EqualTo(Enumerable.Range(1, 20).ToArray()));
        Assert.That(await page.Page.InnerTextAsync("#state"), Does.StartWith("open"));
        Assert.That(await page.Page.Locator("#events li").CountAsync(), Is.EqualTo(20));
        Assert.That(await page.Page.EvaluateAsync<string>("window.client.transport"), Is.EqualTo("websocket"));
        await page.WaitAsync("window.client.latency !== null", "a latency measurement");
        await page.ScreenshotAsync("in-order");
    }

    [Test]
    public async Task Through_cut_connections_the_page_reconnects_and_has_every_event_once_in_order()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using TcpProxy proxy = TcpProxy.Start(server.BaseAddress);
        await using BrowserPage page = await Chromium.OpenAsync(proxy.BaseAddress, ClientPage.Html(Session, new { backoffBase = 1000 }));
        await page.WaitAsync("window.client && window.client.state === 'open'", "the client to open");

        int published = 0;
        async Task PublishAsync(int count)
        {
            for (int i = 0; i < count; i++)
            {
                published++;
                await server.PublishAsync(Session, "tick", $"{{\"n\":{published}}}");
            }
        }

        await PublishAsync(10);
        await page.WaitAsync("window.seen.length >= 10", "the first 10 events");

        // Three cuts: each with events published while the page is away, and one in mid-burst.
        for (int cut = 1; cut <= 3; cut++)
        {
            int reconnectsBefore = await page.Page.EvaluateAsync<int>("window.states.filter(s => s.startsWith('reconnecting')).length");
            Assert.That(proxy.CutAll(), Is.GreaterThan(0), "a connection to cut");
            await page.WaitAsync($"window.states.filter(s => s.startsWith('reconnecting')).length > {reconnectsBefore}", "the page to show reconnecting");
            if (cut == 1)
            {
                // What the page showed (the state itself may already be open again: the first retry waits 0-1 s).
                Assert.That(await page.Page.InnerTextAsync("#history"), Does.Contain("reconnecting (attempt 1)"));
                await page.ScreenshotAsync("reconnecting");
            }

            await PublishAsync(5);
            await page.WaitAsync("window.client.state === 'open'", "the page to reconnect");
            await PublishAsync(5);
            proxy.CutAll();
            await PublishAsync(5);
            await page.WaitAsync($"window.seen.length >= {published}", $"all {published} events after cut {cut}");
        }

        // One more event after everything: a late duplicate would have arrived before it.
        await PublishAsync(1);
        await page.WaitAsync($"window.seen.length >= {published}", "the last event");
        Assert.That(await page.SeenAsync(), Is.EqualTo(Enumerable.Range(1, published).ToArray()), "every event once, in order");
        Assert.That(await page.Page.InnerTextAsync("#state"), Does.StartWith("open"));
        await page.ScreenshotAsync("after-cuts");
    }

    /// <summary>
    /// The filter (<c>events: ['tick']</c>) lets the client hear SSE events by name as well as
    /// unnamed: it works with a gateway that names its SSE events and with one that does not.
    /// </summary>
    [Test]
    public async Task When_the_proxy_refuses_WebSockets_the_page_falls_back_to_SSE_and_gets_everything()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        for (int i = 1; i <= 5; i++)
        {
            await server.PublishAsync(Session, "tick", $"{{\"n\":{i}}}");
        }

        await using TcpProxy proxy = TcpProxy.Start(server.BaseAddress, refuseWebSocketUpgrades: true);
        await using BrowserPage page = await Chromium.OpenAsync(proxy.BaseAddress,
            ClientPage.Html(Session, new { since = 0, fallbackAfter = 2, backoffBase = 200, events = TickEvents }));

        await page.WaitAsync("window.client && window.client.transport === 'sse' && window.client.state === 'open'", "the client to fall back to SSE");
        Assert.That(proxy.RefusedUpgrades, Is.GreaterThanOrEqualTo(2));
        await page.WaitAsync("window.seen.length >= 5", "the 5 events published before");
        for (int i = 6; i <= 10; i++)
        {
            await server.PublishAsync(Session, "tick", $"{{\"n\":{i}}}");
        }

        await page.WaitAsync("window.seen.length >= 10", "10 events over SSE");

        // A cut stream resumes from the cursor over SSE too.
        proxy.CutAll();
        for (int i = 11; i <= 15; i++)
        {
            await server.PublishAsync(Session, "tick", $"{{\"n\":{i}}}");
        }

        await page.WaitAsync("window.seen.length >= 15", "15 events over SSE after a cut");
        Assert.That(await page.SeenAsync(), Is.EqualTo(Enumerable.Range(1, 15).ToArray()));
        Assert.That(await page.Page.EvaluateAsync<string[]>("window.states"), Does.Contain("reconnecting:1"));
        await page.ScreenshotAsync("sse-fallback");
    }

    /// <summary>
    /// A page on another origin (as every real app is) loads <c>/client.js</c> from the gateway as a
    /// module and watches a session over <paramref name="transport"/>: both need the gateway's CORS
    /// headers (spec section 5).
    /// </summary>
    [TestCase("websocket")]
    [TestCase("sse")]
    public async Task A_page_on_another_origin_loads_the_client_from_the_gateway_and_gets_events(string transport)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        var pageOrigin = new Uri("http://app.example/");
        using (var probe = new HttpRequestMessage(HttpMethod.Get, "/client.js"))
        {
            probe.Headers.Add("Origin", "http://app.example");
            using HttpResponseMessage answer = await server.Http.SendAsync(probe, TestClient.Deadline);
            Assert.That(answer.Headers.Contains("Access-Control-Allow-Origin"), Is.True, "/client.js answers a cross-origin request with Access-Control-Allow-Origin");
        }

        for (int i = 1; i <= 3; i++)
        {
            await server.PublishAsync(Session, "tick", $"{{\"n\":{i}}}");
        }

        var gateway = new Uri(server.BaseAddress, "/");
        await using BrowserPage page = await Chromium.OpenAsync(pageOrigin, ClientPage.Html(Session,
            new { since = 0, transports = new[] { transport }, events = TickEvents },
            module: new Uri(gateway, "/client.js").ToString(),
            url: $"ws://{gateway.Authority}/ws/{Session}"));

        await page.WaitAsync("window.seen && window.seen.length >= 3", "the 3 events published before");
        await server.PublishAsync(Session, "tick", "{\"n\":4}");
        await page.WaitAsync("window.seen.length >= 4", "a live event");
        Assert.That(await page.SeenAsync(), Is.EqualTo(new long[] { 1, 2, 3, 4 }));
        Assert.That(await page.Page.EvaluateAsync<string>("window.client.transport"), Is.EqualTo(transport));
        Assert.That(await page.Page.EvaluateAsync<string>("location.origin"), Is.EqualTo("http://app.example"));
        await page.ScreenshotAsync($"cross-origin-{transport}");
    }

    /// <summary>The test page: it imports <c>/client.js</c> from its own origin and shows state and events.</summary>
    private static class ClientPage
    {
        public static string Html(string session, object options, string module = "/client.js", string? url = null) => $$"""
            <!doctype html>
            <html><head><meta charset="utf-8"><title>client.js test page</title>
            <style>body { font: 14px system-ui, sans-serif; margin: 1.5rem; } #state { font-weight: 600; }
            ol { columns: 4; } li { font-family: ui-monospace, monospace; }</style></head>
            <body>
            <h1>Session {{session}}</h1>
            <p>State: <span id="state">loading</span> · transport <span id="transport">-</span> · latency <span id="latency">-</span></p>
            <p>History: <span id="history"></span></p>
            <ol id="events"></ol>
            <script type="module">
              import { GatewayClient } from '{{module}}';
              window.seen = [];
              window.states = [];
              const client = new GatewayClient('{{url ?? $"/ws/{session}"}}', {{JsonSerializer.Serialize(options)}});
              window.client = client;
              client.on('*', (e) => {
                window.seen.push(e.seq);
                const li = document.createElement('li');
                li.textContent = `#${e.seq} ${e.event} ${JSON.stringify(e.data)}`;
                document.getElementById('events').append(li);
              });
              client.on('@state', (s) => {
                const text = s.attempt ? `${s.state}:${s.attempt}` : s.state;
                window.states.push(text);
                const shown = s.attempt ? `${s.state} (attempt ${s.attempt})` : s.state;
                document.getElementById('state').textContent = shown;
                document.getElementById('history').textContent += (window.states.length > 1 ? ' → ' : '') + shown;
                document.getElementById('transport').textContent = s.transport;
              });
              client.on('@latency', (ms) => { document.getElementById('latency').textContent = `${ms} ms`; });
            </script>
            </body></html>
            """;
    }
}
