using System.Net;
using System.Text;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Spec section 5, "Browsers": every HTTP endpoint a page may call answers CORS preflights and sets
/// <c>Access-Control-Allow-Origin</c> for the origins of <c>Security:AllowedOrigins</c> (every origin
/// when the list is empty), never with credentials. Requests are made as a browser makes them: an
/// <c>OPTIONS</c> preflight with <c>Access-Control-Request-*</c> headers, then the request with <c>Origin</c>.
/// </summary>
[CancelAfter(30_000)]
public sealed class CrossOriginTests
{
    private const string App = "https://app.example.com";
    private const string Other = "https://other.example";

    /// <summary>Every endpoint a page may call, with the method it calls it with.</summary>
    private static readonly (string Method, string Path)[] PageEndpoints =
    [
        ("POST", "/api/sessions/cors/events"),
        ("PUT", "/api/sessions/cors/events"),
        ("GET", "/api/sessions"),
        ("GET", "/api/sessions/cors"),
        ("GET", "/api/sessions/cors/events?since=0"),
        ("GET", "/api/sessions/cors/stream"),
        ("GET", "/api/sessions/cors/presence"),
        ("POST", "/api/tickets"),
        ("DELETE", "/api/sessions/cors"),

        // Served to pages as modules; the policy is global, so paths mapped later are covered too.
        ("GET", "/client.js"),
    ];

    private static IEnumerable<TestCaseData> Endpoints() =>
        PageEndpoints.Select(e => new TestCaseData(e.Method, e.Path).SetArgDisplayNames(e.Method, e.Path));

    [TestCaseSource(nameof(Endpoints))]
    public async Task With_no_origins_listed_a_preflight_from_any_page_is_allowed_with_the_api_headers_and_no_credentials(string method, string path)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using HttpResponseMessage response = await PreflightAsync(server, path, Other, method);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NoContent), "answered, not 405");
        Assert.That(Header(response, "Access-Control-Allow-Origin"), Is.EqualTo("*"));
        Assert.That(List(response, "Access-Control-Allow-Methods"), Does.Contain(method));
        Assert.That(List(response, "Access-Control-Allow-Headers"), Is.SupersetOf(new[] { "authorization", "x-api-key", "content-type", "last-event-id" }));
        Assert.That(Header(response, "Access-Control-Max-Age"), Is.EqualTo("600"));
        Assert.That(response.Headers.Contains("Access-Control-Allow-Credentials"), Is.False, "cookies are never allowed");
    }

    [TestCaseSource(nameof(Endpoints))]
    public async Task With_origins_listed_a_preflight_from_a_listed_page_is_allowed_and_from_another_gets_no_cors_headers(string method, string path)
    {
        await using GatewayServer server = await StartListingAsync();
        using (HttpResponseMessage allowed = await PreflightAsync(server, path, App, method))
        {
            Assert.That(allowed.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
            Assert.That(Header(allowed, "Access-Control-Allow-Origin"), Is.EqualTo(App));
            Assert.That(List(allowed, "Vary"), Does.Contain("origin"), "the answer depends on the origin: caches must keep them apart");
            Assert.That(List(allowed, "Access-Control-Allow-Methods"), Does.Contain(method));
            Assert.That(List(allowed, "Access-Control-Allow-Headers"), Is.SupersetOf(new[] { "authorization", "x-api-key", "content-type", "last-event-id" }));
            Assert.That(allowed.Headers.Contains("Access-Control-Allow-Credentials"), Is.False);
        }

        using HttpResponseMessage refused = await PreflightAsync(server, path, Other, method);
        Assert.That(refused.Headers.Select(h => h.Key).Where(k => k.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase)), Is.Empty,
            "without Access-Control-Allow-Origin the browser does not send the request");
    }

    [Test]
    public async Task A_publish_and_a_read_from_a_listed_page_carry_its_origin_and_the_readable_headers_and_from_another_none()
    {
        await using GatewayServer server = await StartListingAsync();
        using (HttpResponseMessage published = await SendAsync(server, HttpMethod.Post, "/api/sessions/cors/events", App, """{"event":"e","data":1}"""))
        {
            Assert.That(published.StatusCode, Is.EqualTo(HttpStatusCode.Accepted));
            Assert.That(Header(published, "Access-Control-Allow-Origin"), Is.EqualTo(App));
            Assert.That(List(published, "Access-Control-Expose-Headers"), Does.Contain("retry-after"), "a page reads when to retry a 429 or a 503");
            Assert.That(published.Headers.Contains("Access-Control-Allow-Credentials"), Is.False);
        }

        using (HttpResponseMessage read = await SendAsync(server, HttpMethod.Get, "/api/sessions/cors", App))
        {
            Assert.That(read.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(read, "Access-Control-Allow-Origin"), Is.EqualTo(App));
            Assert.That(List(read, "Vary"), Does.Contain("origin"));
        }

        // The gateway does not refuse the request itself (with auth off anyone may publish, with auth on
        // the credential decides); the browser withholds the answer from a page of another origin.
        using HttpResponseMessage other = await SendAsync(server, HttpMethod.Get, "/api/sessions/cors", Other);
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(other.Headers.Contains("Access-Control-Allow-Origin"), Is.False);
    }

    [Test]
    public async Task With_no_origins_listed_any_page_reads_answers_refusals_included()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using (HttpResponseMessage read = await SendAsync(server, HttpMethod.Get, "/api/sessions", Other))
        {
            Assert.That(read.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(Header(read, "Access-Control-Allow-Origin"), Is.EqualTo("*"));
        }

        using HttpResponseMessage missing = await SendAsync(server, HttpMethod.Get, "/api/sessions/never-published", Other);
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(Header(missing, "Access-Control-Allow-Origin"), Is.EqualTo("*"), "a page can read why it was refused");
    }

    [Test]
    public async Task With_auth_on_a_listed_page_reads_the_401_and_what_it_asks_for()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings(new Dictionary<string, string?> { ["Gateway:Security:AllowedOrigins:0"] = App }));
        using HttpResponseMessage refused = await SendAsync(server, HttpMethod.Post, "/api/sessions/cors/events", App, """{"event":"e"}""");
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(Header(refused, "Access-Control-Allow-Origin"), Is.EqualTo(App));
        Assert.That(List(refused, "Access-Control-Expose-Headers"), Does.Contain("www-authenticate"));
    }

    [Test]
    public async Task An_event_stream_opened_by_a_listed_page_carries_its_origin()
    {
        await using GatewayServer server = await StartListingAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/sessions/cors/stream");
        request.Headers.Add("Origin", App);
        request.Headers.Accept.ParseAdd("text/event-stream");
        using HttpResponseMessage stream = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestClient.Deadline);
        Assert.That(stream.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(Header(stream, "Access-Control-Allow-Origin"), Is.EqualTo(App));
    }

    private static Task<GatewayServer> StartListingAsync() =>
        GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Security:AllowedOrigins:0"] = App });

    /// <summary>The preflight a browser sends before a request that carries a token and a JSON body.</summary>
    private static async Task<HttpResponseMessage> PreflightAsync(GatewayServer server, string path, string origin, string method)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type,last-event-id,x-api-key");
        return await server.Http.SendAsync(request, TestClient.Deadline);
    }

    private static async Task<HttpResponseMessage> SendAsync(GatewayServer server, HttpMethod method, string path, string origin, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Origin", origin);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return await server.Http.SendAsync(request, TestClient.Deadline);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? string.Join(",", values) : null;

    /// <summary>A comma-separated header's items, lower case (header names and methods compare so).</summary>
    private static string[] List(HttpResponseMessage response, string name) =>
        (Header(response, name) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(item => name == "Access-Control-Allow-Methods" ? item : item.ToLowerInvariant()).ToArray();
}
