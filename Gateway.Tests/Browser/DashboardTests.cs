using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Gateway.Tests.Browser;

/// <summary>
/// The dashboard at <c>/</c> in Chromium (Playwright) against a real gateway: the page is loaded
/// from the gateway itself, as a person would open it, and the test publishes, connects and cuts
/// while it watches. Screenshots of each view are attached to the tests.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(180_000)]
public sealed class DashboardTests : BrowserFixture
{
    [Test]
    public async Task The_sessions_list_shows_sessions_and_follows_new_ones_and_new_clients_without_a_reload()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("build-41", "build_done", "{\"ok\":true}");
        for (int i = 1; i <= 3; i++)
        {
            await server.PublishAsync("build-42", "build_progress", $"{{\"pct\":{i * 30}}}");
        }

        await using BrowserPage page = await OpenAsync(server.BaseAddress);
        await page.Page.EvaluateAsync("window.loadedOnce = true");
        await page.WaitAsync(Row("build-42") + "?.dataset.seq === '3'", "build-42 listed at seq 3");
        Assert.That(await RowTextAsync(page, "build-42"), Does.Contain("seq 3").And.Contain("0 clients"));
        Assert.That(await RowTextAsync(page, "build-41"), Does.Contain("seq 1"));

        await server.PublishAsync("train-7", "step_update", "{\"step\":1,\"loss\":0.93}");
        await page.WaitAsync(Row("train-7") + " !== null", "a new session to show up");

        (TestClient watcher, _) = await TestClient.JoinAsync(server.WebSocketUri("build-42"));
        await using (watcher)
        {
            await page.WaitAsync(Row("build-42") + "?.dataset.clients === '1'", "build-42's new client to be counted");
            Assert.That(await RowTextAsync(page, "build-42"), Does.Contain("1 client"));

            await page.Page.FillAsync("#filter", "train");
            await page.WaitAsync("document.querySelectorAll('#sessions li').length === 1", "the filter to leave one session");
            Assert.That(await page.Page.InnerTextAsync("#sessions"), Does.Contain("train-7"));
            Assert.That(await page.Page.InnerTextAsync("#session-count"), Is.EqualTo("1 of 3"));
            await page.Page.FillAsync("#filter", "");
            await page.WaitAsync("document.querySelectorAll('#sessions li').length === 3", "every session again");
            await page.ScreenshotAsync("sessions");
        }

        await page.WaitAsync(Row("build-42") + "?.dataset.clients === '0'", "the client to leave the count");
        Assert.That(await page.Page.EvaluateAsync<bool>("window.loadedOnce === true"), Is.True, "the page was never reloaded");

        // A click opens the session.
        await page.Page.ClickAsync("#sessions li[data-session='build-42'] a");
        await page.WaitAsync("location.hash === '#/session/build-42' && document.querySelectorAll('#tail .tail-row').length === 3", "the session to open with its history");
    }

    [Test]
    public async Task A_session_tails_events_live_with_its_state_keyed_state_and_presence()
    {
        const string Session = "chat-9";
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync(Session, "document_status", "{\"status\":\"queued\"}");

        await using BrowserPage page = await OpenAsync(server.BaseAddress, $"/#/session/{Session}");
        await page.WaitAsync("document.querySelector('#status').dataset.state === 'open'", "the session's client to open");
        await page.WaitAsync("document.querySelectorAll('#tail .tail-row').length === 1", "the event from history");

        // Live: events, a replaced state entry, and an answer streamed in chunks under one key.
        await server.PublishAsync(Session, "document_status", "{\"status\":\"parsing\",\"pages\":12}");
        await server.PublishAsync(Session, "step_update", "{\"step\":1200,\"loss\":0.4213}");
        foreach (string chunk in new[] { "The answer", " is ", "forty-two." })
        {
            await PostAsync(server, Session, JsonSerializer.Serialize(new { @event = "message_chunk", data = chunk, key = "m1", append = true }));
        }

        await PostAsync(server, Session, JsonSerializer.Serialize(new { @event = "message_chunk", data = new { role = "user", text = "And why?" }, key = "m2" }));
        await page.WaitAsync("document.querySelectorAll('#tail .tail-row').length === 7", "7 events in the tail");

        string[] seqs = await page.Page.EvalOnSelectorAllAsync<string[]>("#tail .tail-row", "rows => rows.map(r => r.dataset.seq)");
        Assert.That(seqs, Is.EqualTo(new[] { "1", "2", "3", "4", "5", "6", "7" }), "in order, once each");
        string chunkRow = await page.Page.InnerTextAsync("#tail .tail-row[data-seq='5']");
        Assert.That(chunkRow, Does.Contain("message_chunk").And.Contain("key m1").And.Contain("append").And.Contain("\" is \""));

        await page.WaitAsync("document.querySelector('#keyed [data-entry=\"message_chunk/m1\"]')?.textContent === 'The answer is forty-two.'", "the keyed text assembled from its chunks");
        Assert.That(await page.Page.InnerTextAsync("#keyed"), Does.Contain("3 chunks").And.Contain("m2").And.Contain("And why?"));
        await page.WaitAsync("document.querySelector('#state [data-entry=\"document_status\"]')?.textContent.includes('parsing')", "the state to hold the latest document_status");
        Assert.That(await page.Page.InnerTextAsync("#state [data-entry='step_update']"), Does.Contain("0.4213"));
        Assert.That(await page.Page.InnerTextAsync("#state"), Does.Not.Contain("message_chunk"), "keyed events live under keyed only");
        Assert.That(await page.Page.InnerTextAsync("#fact-seq"), Is.EqualTo("7"));

        // Presence: the dashboard itself, then a second client that joins and leaves.
        await page.WaitAsync("document.querySelectorAll('#members li[data-connection]').length === 1", "the dashboard's own connection in presence");
        Assert.That(await page.Page.InnerTextAsync("#members li[data-connection] .you"), Is.EqualTo("you"), "the dashboard's own connection is marked");
        (TestClient alice, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri(Session, "user=alice"));
        string aliceConnection = welcome.GetProperty("connection").GetString()!;
        await using (alice)
        {
            await page.WaitAsync($"document.querySelector('#members li[data-connection=\"{aliceConnection}\"]') !== null", "alice to join");
            Assert.That(await page.Page.InnerTextAsync("#members"), Does.Contain("alice"));
            Assert.That(await page.Page.InnerTextAsync("#presence-log"), Does.Contain("alice joined"));
            await server.PublishAsync(Session, "step_update", "{\"step\":1300,\"loss\":0.4011}");
            await page.WaitAsync("document.querySelectorAll('#tail .tail-row').length === 8", "one more event");
            await page.ScreenshotAsync("session");
            await page.Page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
            await page.ScreenshotAsync("session-dark");
            await page.Page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
            await page.Page.SetViewportSizeAsync(1440, 900);
            await page.ScreenshotAsync("session-wide");
            await page.Page.SetViewportSizeAsync(1000, 700);
        }

        await page.WaitAsync($"document.querySelector('#members li[data-connection=\"{aliceConnection}\"]') === null", "alice to leave");
        Assert.That(await page.Page.InnerTextAsync("#presence-log"), Does.Contain("alice left"));
    }

    [Test]
    public async Task Under_its_own_Content_Security_Policy_the_page_loads_everything_it_needs_and_violates_nothing()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("csp-1", "tick", "{\"n\":1}");
        await using BrowserPage page = await OpenAsync(server.BaseAddress, "/#/session/csp-1", bypassCsp: false);
        await page.Page.EvaluateAsync("window.violations = []; document.addEventListener('securitypolicyviolation', (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`))");

        // Selector waits, not conditions: these need no eval.
        await page.Page.WaitForSelectorAsync("#sessions li[data-session='csp-1']");
        await page.Page.WaitForSelectorAsync("#tail .tail-row[data-seq='1']");
        await page.Page.WaitForSelectorAsync("#status[data-state='open']");
        await server.PublishAsync("csp-1", "tick", "{\"n\":2}");
        await page.Page.WaitForSelectorAsync("#tail .tail-row[data-seq='2']");
        Assert.That(await page.Page.EvaluateAsync<string[]>("window.violations"), Is.Empty);
        Assert.That(await page.Page.EvaluateAsync<string>("getComputedStyle(document.querySelector('.topbar')).position"), Is.EqualTo("sticky"), "the style sheet applies");
    }

    [Test]
    public async Task A_long_session_opens_on_its_last_500_events_and_the_tail_stays_bounded()
    {
        const string Session = "log-1";
        await using GatewayServer server = await GatewayServer.StartAsync();
        string batch = "[" + string.Join(",", Enumerable.Range(1, 600).Select(i => $"{{\"event\":\"line\",\"data\":{{\"n\":{i}}}}}")) + "]";
        await PostAsync(server, Session, batch);

        await using BrowserPage page = await OpenAsync(server.BaseAddress, $"/#/session/{Session}");
        await page.WaitAsync("document.querySelector('#tail .tail-row:last-child')?.dataset.seq === '600'", "the tail to reach seq 600");
        string[] sockets = [.. page.Requests.Where(url => url.StartsWith("ws", StringComparison.Ordinal))];
        Assert.That(sockets, Has.Exactly(1).Contain("since=100&"), "the replay asked for the last 500 events only");

        Assert.That(await page.Page.Locator("#tail .tail-row").CountAsync(), Is.EqualTo(500));
        Assert.That(await page.Page.GetAttributeAsync("#tail .tail-row:first-child", "data-seq"), Is.EqualTo("101"), "the last 500 of history, not all of it");

        await server.PublishAsync(Session, "line", "{\"n\":601}");
        await page.WaitAsync("document.querySelector('#tail .tail-row:last-child')?.dataset.seq === '601'", "a live event");
        Assert.That(await page.Page.Locator("#tail .tail-row").CountAsync(), Is.EqualTo(500), "bounded");
        Assert.That(await page.Page.GetAttributeAsync("#tail .tail-row:first-child", "data-seq"), Is.EqualTo("102"));
        Assert.That(await page.Page.InnerTextAsync("#tail-count"), Is.EqualTo("last 500"));
    }

    [Test]
    public async Task With_presence_off_the_session_view_says_so()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Presence:Enabled"] = "false" });
        await using BrowserPage page = await OpenAsync(server.BaseAddress, "/?session=quiet-1");

        await page.WaitAsync("!document.querySelector('#presence-note').hidden", "the note that presence is off");
        Assert.That(await page.Page.InnerTextAsync("#presence-note"), Does.Contain("Presence is off on this gateway"));
        Assert.That(await page.Page.EvaluateAsync<string>("location.hash"), Is.EqualTo("#/session/quiet-1"), "?session= opens the session too");
    }

    [Test]
    public async Task The_publish_box_publishes_to_real_watchers_and_explains_what_it_refuses()
    {
        const string Session = "deploy-3";
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient watcher, _) = await TestClient.JoinAsync(server.WebSocketUri(Session));
        await using TestClient watching = watcher;
        await using BrowserPage page = await OpenAsync(server.BaseAddress, $"/#/session/{Session}");
        await page.WaitAsync("document.querySelector('#status').dataset.state === 'open'", "the session's client to open");

        await page.Page.FillAsync("#publish-event", "deploy_started");
        await page.Page.FillAsync("#publish-data", "{\"version\": \"2.4.1\", \"canary\": true}");
        await page.Page.ClickAsync("#publish-send");
        await page.WaitAsync("document.querySelector('#publish-result').textContent.includes('seq 1')", "the publish to be acknowledged");

        JsonElement received = await watcher.ReceiveAsync("event");
        Assert.That(received.GetProperty("event").GetString(), Is.EqualTo("deploy_started"));
        Assert.That(received.GetProperty("data").GetProperty("version").GetString(), Is.EqualTo("2.4.1"));
        await page.WaitAsync("document.querySelectorAll('#tail .tail-row').length === 1", "the page's own tail to show it");

        // Not JSON: refused in the page, with what is accepted, and nothing is sent.
        await page.Page.FillAsync("#publish-data", "{\"version\": }");
        await page.Page.ClickAsync("#publish-send");
        await page.WaitAsync("document.querySelector('#publish-result').classList.contains('error')", "the page to refuse bad JSON");
        string refusal = await page.Page.InnerTextAsync("#publish-result");
        Assert.That(refusal, Does.Contain("not valid JSON").And.Contain("any JSON value"));

        await page.Page.FillAsync("#publish-data", "1");
        await page.Page.FillAsync("#publish-event", "no spaces");
        await page.Page.ClickAsync("#publish-send");
        await page.WaitAsync("document.querySelector('#publish-result').textContent.includes('event name')", "the page to refuse a bad event name");
        await page.ScreenshotAsync("publish-error");

        // The gateway's own refusal (problem+json) is shown in its words: a complete session takes no more.
        await PostAsync(server, Session, "{\"event\":\"deploy_done\",\"data\":null,\"final\":true}");
        await page.WaitAsync("document.querySelector('#status').dataset.state === 'complete'", "the page to see the session complete");
        await page.Page.FillAsync("#publish-event", "deploy_started");
        await page.Page.ClickAsync("#publish-send");
        await page.WaitAsync("document.querySelector('#publish-result').textContent.includes('Not published')", "the gateway's refusal");
        Assert.That(await page.Page.InnerTextAsync("#publish-result"), Does.Contain("is complete").And.Contain("409"));
        Assert.That(await page.Page.InnerTextAsync("#status"), Does.Contain("session complete"));
    }

    [Test]
    public async Task The_status_shows_latency_then_reconnecting_with_its_attempt_while_the_gateway_is_away_then_recovers()
    {
        const string Session = "train-5";
        GatewayServer first = await GatewayServer.StartAsync();
        Uri origin = first.BaseAddress;
        await first.PublishAsync(Session, "step_update", "{\"step\":1}");
        await using BrowserPage page = await OpenAsync(origin, $"/#/session/{Session}");
        await page.WaitAsync("/^connected · \\d+ ms$/.test(document.querySelector('#status-text').textContent)", "connected with a latency");

        // The gateway goes away: the page keeps trying and says which attempt it is on.
        await first.DisposeAsync();
        await page.WaitAsync("/^reconnecting \\(attempt [2-9]\\)$/.test(document.querySelector('#status-text').textContent)", "reconnecting, attempt 2 or later");
        Assert.That(await page.Page.IsVisibleAsync("#status-retry"), Is.True, "a button to retry now");
        await page.WaitAsync("document.querySelector('#sessions-note').textContent.includes('does not answer')", "the sessions list to say the gateway is away");
        await page.ScreenshotAsync("reconnecting");

        // Retry now starts over at once: the attempt count from 1.
        await page.Page.ClickAsync("#status-retry");
        await page.WaitAsync("document.querySelector('#status-text').textContent === 'reconnecting (attempt 1)'", "the retry to start the count over");

        // A gateway on the same address again (a restart): the page reconnects by itself.
        await using GatewayServer second = await StartOnAsync(origin);
        await second.PublishAsync(Session, "step_update", "{\"step\":2}");
        await page.WaitAsync("/^connected/.test(document.querySelector('#status-text').textContent)", "the page to reconnect");
        Assert.That(await page.Page.IsVisibleAsync("#status-retry"), Is.False, "no retry button while connected");
        await page.WaitAsync("[...document.querySelectorAll('#tail .tail-row')].some(r => r.textContent.includes('\"step\":2'))", "the new gateway's event");
        Assert.That(await page.Page.InnerTextAsync("#tail"), Does.Contain("started over"), "a restarted in-memory gateway is a new life of the session, and the page says so");
        await page.WaitAsync("/^connected · \\d+ ms$/.test(document.querySelector('#status-text').textContent)", "a latency again");
    }

    [Test]
    public async Task With_auth_on_the_page_asks_for_a_token_shows_why_a_bad_one_fails_and_watches_over_tickets_with_a_good_one()
    {
        const string Session = "secure-1";
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings());
        await PostAsync(server, Session, "{\"event\":\"build_progress\",\"data\":{\"pct\":10}}", apiKey: TestTokens.ApiKey);

        await using BrowserPage page = await OpenAsync(server.BaseAddress, $"/#/session/{Session}");
        await page.WaitAsync("!document.querySelector('#token-overlay').hidden", "the token prompt");
        await page.ScreenshotAsync("token-prompt");

        string bad = TestTokens.Mint(sessions: "*", admin: true, key: "another-key-that-is-at-least-32-bytes");
        string expected = await RefusalDetailAsync(server, bad);
        await page.Page.FillAsync("#token-input", bad);
        await page.Page.ClickAsync("#token-form button[type=submit]");
        await page.WaitAsync("document.querySelector('#token-error').textContent.length > 0 && !document.querySelector('#token-overlay').hidden", "the refusal, and the prompt again");
        Assert.That(await page.Page.InnerTextAsync("#token-error"), Does.Contain(expected).And.Contain("401"));
        await page.ScreenshotAsync("token-refused");

        string good = TestTokens.Mint(sessions: "*", publish: "*", admin: true, subject: "ops-1");
        await page.Page.FillAsync("#token-input", good);
        await page.Page.ClickAsync("#token-form button[type=submit]");
        await page.WaitAsync("document.querySelector('#token-overlay').hidden", "the prompt to go");
        await page.WaitAsync(Row(Session) + " !== null", "the sessions listed with the token");
        await page.WaitAsync("document.querySelector('#status').dataset.state === 'open'", "the session's client to open");
        await PostAsync(server, Session, "{\"event\":\"build_progress\",\"data\":{\"pct\":20}}", apiKey: TestTokens.ApiKey);
        await page.WaitAsync("document.querySelectorAll('#tail .tail-row').length === 2", "the history and a live event");
        Assert.That(await page.Page.InnerTextAsync("#members"), Does.Contain("ops-1"), "the token's subject in presence");

        string[] urls = [.. page.Requests.Where(url => url.StartsWith("ws", StringComparison.Ordinal))];
        Assert.That(urls, Is.Not.Empty);
        Assert.That(urls, Has.All.Contain("ticket="), "WebSockets authenticate with single-use tickets");
        Assert.That(urls, Has.None.Contain(good).And.None.Contain("token="), "the token is never in a URL");
        Assert.That(await page.Page.EvaluateAsync<string>("location.href"), Does.Not.Contain(good));
        Assert.That(await page.Page.EvaluateAsync<string>("sessionStorage.getItem('gateway-dashboard-token')"), Is.EqualTo(good));

        // The publish box sends the token too.
        await page.Page.FillAsync("#publish-event", "note");
        await page.Page.ClickAsync("#publish-send");
        await page.WaitAsync("document.querySelector('#publish-result').textContent.includes('seq 3')", "an authorized publish");
    }

    /// <summary>
    /// The dashboard, loaded from <paramref name="origin"/> like a person would open it, in a 1000x700
    /// window. The page's Content-Security-Policy forbids eval, which Playwright's waits on a
    /// condition use; the tests bypass it, except the one that checks the page runs under it.
    /// </summary>
    private Task<BrowserPage> OpenAsync(Uri origin, string path = "/", bool bypassCsp = true) =>
        Chromium.GoToAsync(new Uri(origin, path), bypassCsp);

    /// <summary>A gateway on <paramref name="address"/>, which a stopped one just freed: binding may need a moment after the close.</summary>
    private static async Task<GatewayServer> StartOnAsync(Uri address)
    {
        var settings = new Dictionary<string, string?> { ["Urls"] = $"http://{address.Authority}" };
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await GatewayServer.StartAsync(settings);
            }
            catch (IOException) when (attempt < 50)
            {
                await Task.Yield();
            }
        }
    }

    private static string Row(string session) => $"document.querySelector('#sessions li[data-session=\"{session}\"]')";

    private static Task<string> RowTextAsync(BrowserPage page, string session) => page.Page.InnerTextAsync($"#sessions li[data-session='{session}']");

    private static async Task PostAsync(GatewayServer server, string session, string json, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sessions/{session}/events")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (apiKey is not null)
        {
            request.Headers.Add("X-Api-Key", apiKey);
        }

        using HttpResponseMessage response = await server.Http.SendAsync(request, TestClient.Deadline);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), await response.Content.ReadAsStringAsync(TestClient.Deadline));
    }

    /// <summary>What the gateway says of <paramref name="token"/> on the list endpoint (the problem's detail).</summary>
    private static async Task<string> RefusalDetailAsync(GatewayServer server, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/sessions");
        request.Headers.Authorization = new("Bearer", token);
        using HttpResponseMessage response = await server.Http.SendAsync(request, TestClient.Deadline);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using JsonDocument problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestClient.Deadline));
        return problem.RootElement.GetProperty("detail").GetString()!;
    }
}
