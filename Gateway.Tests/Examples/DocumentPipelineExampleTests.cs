using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Tests.Browser;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Integration;

namespace Gateway.Tests.Examples;

/// <summary>
/// examples/document-pipeline, run as its README says against a gateway with JWT auth on: the
/// Python pipeline signs its own publisher token and publishes each document's
/// <c>document_status</c> and <c>rag_progress</c> to its owner's <c>user:&lt;id&gt;</c> session; the
/// example's app backend mints a user token that watches that session only; the page swaps it for
/// a ticket and shows every document's progress live.
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed partial class DocumentPipelineExampleTests : BrowserFixture
{
    private const string Example = "document-pipeline";
    private const string SigningKey = "document-pipeline-example-key-of-at-least-32-bytes";
    private const string Issuer = "my-app";
    private const string Audience = "gateway";

    /// <summary>The pipeline's default uploads, as its README lists them: name and pages.</summary>
    private static readonly (string Name, int Pages)[] Documents =
        [("employee-handbook.pdf", 48), ("q3-board-deck.pptx", 22), ("supplier-contract.docx", 9), ("release-notes.md", 3)];

    private static readonly string[] Indexed = ["queued", "parsing", "chunking", "embedding", "indexed"];
    private static readonly string[] Failed = ["queued", "parsing", "failed"];

    /// <summary>What the example's programs get besides GATEWAY_URL: the gateway's secret, issuer and audience.</summary>
    private static readonly Dictionary<string, string> Environment = new()
    {
        ["GATEWAY_SIGNING_KEY"] = SigningKey,
        ["GATEWAY_JWT_ISSUER"] = Issuer,
        ["GATEWAY_JWT_AUDIENCE"] = Audience,
    };

    [Test]
    public async Task The_pipelines_events_for_user_42_reach_a_client_of_user_42_in_order_as_the_readme_says()
    {
        await using GatewayServer server = await StartGatewayAsync();
        await using ExampleProgram backend = ExampleProgram.Start(Example, server.BaseAddress, "python3", ["app_backend.py", "--user", "42", "--port", "0"], Environment);
        Uri backendAddress = await AddressOfAsync(backend);

        // The way the page connects: the backend's user token, swapped for a ticket in a header.
        string token = await UserTokenAsync(backendAddress);
        (HttpStatusCode status, string body) = await TicketAsync(server, token, "user:42");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK), body);
        string ticket = JsonDocument.Parse(body).RootElement.GetProperty("ticket").GetString()!;
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("user:42", $"ticket={ticket}"));
        await using TestClient watcher = client;

        await ExampleProgram.RunAsync(Example, server.BaseAddress, "python3", ["pipeline.py", "--user", "42", "--delay", "0", "--fail", "release-notes.md"], Environment);

        var statuses = new Dictionary<string, List<string>>();
        var progress = new Dictionary<string, List<JsonElement>>();
        var names = new Dictionary<string, (string Name, int Pages)>();
        var seqs = new List<long>();
        var order = new List<string>();
        while (statuses.Count < Documents.Length || statuses.Values.Any(s => s[^1] is not ("indexed" or "failed")))
        {
            JsonElement message = await watcher.ReceiveAsync("event");
            seqs.Add(message.GetProperty("seq").GetInt64());
            JsonElement data = message.GetProperty("data");
            string document = data.GetProperty("document").GetString()!;
            order.Add($"{message.GetProperty("event").GetString()} {(data.TryGetProperty("status", out JsonElement s) ? s.GetString() : null)}");
            Assert.That(message.GetProperty("key").GetString(), Is.EqualTo(document), "each event is keyed by its document's id");
            switch (message.GetProperty("event").GetString())
            {
                case "document_status":
                    names[document] = (data.GetProperty("name").GetString()!, data.GetProperty("pages").GetInt32());
                    string state = data.GetProperty("status").GetString()!;
                    (statuses.TryGetValue(document, out List<string>? list) ? list : statuses[document] = []).Add(state);
                    Assert.That(data.TryGetProperty("error", out JsonElement error), Is.EqualTo(state == "failed"), message.GetRawText());
                    if (state == "failed")
                    {
                        Assert.That(error.GetString(), Does.Contain("no text layer"));
                    }

                    break;
                case "rag_progress":
                    Assert.That(statuses[document][^1], Is.EqualTo(data.GetProperty("stage").GetString()), $"progress comes in the stage its status announced: {message.GetRawText()}");
                    (progress.TryGetValue(document, out List<JsonElement>? steps) ? steps : progress[document] = []).Add(data);
                    break;
                default:
                    Assert.Fail($"an event the README does not list: {message.GetRawText()}");
                    break;
            }
        }

        // rag_progress is published with "conflate": true, so a reader that falls behind may get a
        // document's newest progress in place of older steps (the example's README). What arrives
        // comes once and in order; every event it skips is a progress step of a document whose
        // newer progress did arrive; and the last event arrives.
        Assert.That(seqs, Is.Unique.And.Ordered.Ascending, "in order, none twice");
        JsonElement[] history = await HistoryAsync(server, token, "user:42");
        var delivered = seqs.ToHashSet();
        foreach (JsonElement skipped in history.Where(e => !delivered.Contains(e.GetProperty("seq").GetInt64())))
        {
            Assert.That(skipped.GetProperty("event").GetString(), Is.EqualTo("rag_progress"), $"only progress is conflated: {skipped.GetRawText()}");
            long seq = skipped.GetProperty("seq").GetInt64();
            string key = skipped.GetProperty("key").GetString()!;
            Assert.That(
                history.Any(e => e.GetProperty("seq").GetInt64() is long later && later > seq && delivered.Contains(later)
                    && e.GetProperty("event").GetString() == "rag_progress" && e.GetProperty("key").GetString() == key),
                Is.True,
                $"a newer progress of the same document arrived instead: {skipped.GetRawText()}");
        }

        Assert.That(seqs[^1], Is.EqualTo(history[^1].GetProperty("seq").GetInt64()), "the last event arrives");
        Assert.That(names.Values, Is.EquivalentTo(Documents));
        Assert.That(order.Take(Documents.Length), Is.All.EqualTo("document_status queued"), "the uploads are queued together, first");
        foreach ((string document, List<string> seen) in statuses)
        {
            bool fails = names[document].Name == "release-notes.md";
            Assert.That(seen, Is.EqualTo(fails ? Failed : Indexed), names[document].Name);
            if (fails)
            {
                Assert.That(progress.ContainsKey(document), Is.False, "a document that failed to parse makes no progress");
                continue;
            }

            List<JsonElement> steps = progress[document];
            int total = steps[0].GetProperty("total").GetInt32();
            Assert.That(steps.Select(s => s.GetProperty("total").GetInt32()), Is.All.EqualTo(total));
            Assert.That(steps.Select(s => s.GetProperty("percent").GetInt32()), Is.Ordered, "the bar only moves forward");
            Assert.That(steps.Select(s => s.GetProperty("done").GetInt32()), Is.All.InRange(1, total));
            JsonElement last = steps[^1];
            Assert.That((last.GetProperty("stage").GetString(), last.GetProperty("done").GetInt32(), last.GetProperty("percent").GetInt32()), Is.EqualTo(("embedding", total, 100)));
        }
    }

    /// <summary>
    /// The isolation the example promises: a user's token watches that user's session and no
    /// other, cannot get a ticket for another's, and cannot publish progress at all.
    /// </summary>
    [Test]
    public async Task A_token_for_user_7_is_refused_on_user_42()
    {
        await using GatewayServer server = await StartGatewayAsync();
        await using ExampleProgram backend = ExampleProgram.Start(Example, server.BaseAddress, "python3", ["app_backend.py", "--user", "7", "--port", "0"], Environment);
        string token = await UserTokenAsync(await AddressOfAsync(backend));

        (int status, string body) = await RefusalTests.UpgradeAsync(server, $"/ws/user:42?token={token}");
        Assert.That(status, Is.EqualTo(403), body);
        Assert.That(body, Does.Contain("user:42"));
        (status, body) = await RefusalTests.UpgradeAsync(server, $"/ws/user:7?token={token}");
        Assert.That(status, Is.EqualTo(101), "the same token is good for user 7's own session: " + body);

        (HttpStatusCode ticket, body) = await TicketAsync(server, token, "user:42");
        Assert.That(ticket, Is.EqualTo(HttpStatusCode.Forbidden), body);
        Assert.That((await TicketAsync(server, token, "user:7")).Status, Is.EqualTo(HttpStatusCode.OK));

        using var publish = new HttpRequestMessage(HttpMethod.Post, "/api/sessions/user:7/events")
        {
            Content = new StringContent("""{"event":"document_status","data":{"status":"indexed"}}""", Encoding.UTF8, "application/json"),
        };
        publish.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage published = await server.Http.SendAsync(publish, TestClient.Deadline);
        Assert.That(published.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "a user cannot fake the pipeline's progress, even on their own session");
    }

    [Test]
    public async Task The_page_shows_every_document_reaching_indexed_with_no_token_in_any_url()
    {
        await using GatewayServer server = await StartGatewayAsync();
        await using ExampleProgram backend = ExampleProgram.Start(Example, server.BaseAddress, "python3",
            ["app_backend.py", "--user", "42", "--port", "0", "--allow-origin", BrowserSession.ExampleOrigin.GetLeftPart(UriPartial.Authority)], Environment);
        string query = "backend=" + Uri.EscapeDataString((await AddressOfAsync(backend)).GetLeftPart(UriPartial.Authority));

        await using (BrowserPage page = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress, query))
        {
            await page.WaitAsync("window.client && window.client.state === 'open'", "the page to connect");
            Assert.That(await page.Page.InnerTextAsync("#state"), Is.EqualTo("live"));
            Assert.That(await page.Page.InnerTextAsync("#who"), Is.EqualTo("signed in as user 42"));

            await ExampleProgram.RunAsync(Example, server.BaseAddress, "python3", ["pipeline.py", "--user", "42", "--delay", "0"], Environment);
            await page.WaitAsync($"document.querySelectorAll('#documents li[data-status=indexed]').length === {Documents.Length}", "every document indexed");
            await AssertAllIndexedAsync(page);
            await page.WaitAsync("document.getAnimations().length === 0", "the bars to finish filling");
            await page.ScreenshotAsync("indexed");

            string[] requests = page.Requests;
            Assert.That(requests, Has.Some.Contains("/api/gateway-token"), "the page got its token from the app backend");
            Assert.That(requests, Has.Some.Match("^ws://.*/ws/user(:|%3A)42\\?.*ticket="), "and connected with a ticket");

            // A JWT's header is base64url of {"...: it starts with eyJ, whatever its claims.
            string all = string.Join('\n', requests);
            Assert.That(requests, Has.None.Contains("eyJ"), "no token in any URL:\n" + all);
            Assert.That(requests, Has.None.Contains("token="), "no token parameter in any URL:\n" + all);
        }

        // A page opened afterwards shows where things stand from the session's state.
        await using BrowserPage late = await Chromium.OpenExampleAsync(Example, "index.html", server.BaseAddress, query);
        await late.WaitAsync($"document.querySelectorAll('#documents li[data-status=indexed]').length === {Documents.Length}", "every document indexed, on a page opened later");
        await AssertAllIndexedAsync(late);
    }

    private static async Task AssertAllIndexedAsync(BrowserPage page)
    {
        Assert.That(await page.Page.Locator("#documents li").AllInnerTextsAsync(), Has.Count.EqualTo(Documents.Length));
        Assert.That(await page.Page.Locator("#documents li .name").AllInnerTextsAsync(), Is.EquivalentTo(Documents.Select(d => d.Name)));
        Assert.That(await page.Page.Locator("#documents li .percent").AllInnerTextsAsync(), Is.All.EqualTo("100%"));
        Assert.That(await page.Page.InnerTextAsync("#summary"), Is.EqualTo($"{Documents.Length} of {Documents.Length} indexed"));
    }

    private static Task<GatewayServer> StartGatewayAsync() => GatewayServer.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:Auth:Mode"] = "jwt",
        ["Gateway:Auth:SigningKey"] = SigningKey,
        ["Gateway:Auth:Issuer"] = Issuer,
        ["Gateway:Auth:Audience"] = Audience,
    });

    /// <summary>The app backend's address, from the line it prints once it listens (it was started with --port 0).</summary>
    private static async Task<Uri> AddressOfAsync(ExampleProgram backend)
    {
        await backend.WhenPrintedAsync("app backend for user");
        Match address = ListeningLine().Match(backend.Output);
        Assert.That(address.Success, Is.True, backend.Output);
        return new Uri(address.Groups[1].Value);
    }

    /// <summary>The session's whole history, read with the same token over the long-poll endpoint.</summary>
    private static async Task<JsonElement[]> HistoryAsync(GatewayServer server, string token, string session)
    {
        using var poll = new HttpRequestMessage(HttpMethod.Get, $"/api/sessions/{session}/events?since=0&limit=1000");
        poll.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage answer = await server.Http.SendAsync(poll, TestClient.Deadline);
        string body = await answer.Content.ReadAsStringAsync();
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        return [.. JsonDocument.Parse(body).RootElement.GetProperty("events").EnumerateArray().Select(e => e.Clone())];
    }

    private static async Task<string> UserTokenAsync(Uri backend)
    {
        using var http = new HttpClient { BaseAddress = backend };
        string body = await http.GetStringAsync("/api/gateway-token", TestClient.Deadline);
        return JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
    }

    private static async Task<(HttpStatusCode Status, string Body)> TicketAsync(GatewayServer server, string token, string session)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/tickets")
        {
            Content = new StringContent($$"""{"sessions":["{{session}}"]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage response = await server.Http.SendAsync(request, TestClient.Deadline);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestClient.Deadline));
    }

    [GeneratedRegex(@"on (http://127\.0\.0\.1:\d+/)")]
    private static partial Regex ListeningLine();
}
