using System.Net;
using System.Net.Http.Headers;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Browser;

/// <summary>
/// The dashboard's files over plain HTTP: <c>GET /</c> and the files under <c>/dashboard/</c> are
/// embedded, served with a strong ETag and revalidated with a bodiless 304, and
/// <c>Gateway:Dashboard:Enabled false</c> takes them away.
/// </summary>
[TestFixture]
[CancelAfter(60_000)]
public sealed class DashboardEndpointTests
{
    [TestCase("/", "text/html")]
    [TestCase("/dashboard/dashboard.js", "text/javascript")]
    [TestCase("/dashboard/dashboard.css", "text/css")]
    public async Task A_dashboard_file_is_served_with_an_ETag_and_a_304_when_unchanged(string path, string mediaType)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();

        using HttpResponseMessage first = await server.Http.GetAsync(path, TestClient.Deadline);
        string body = await first.Content.ReadAsStringAsync(TestClient.Deadline);
        Assert.That(first.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        Assert.That(first.Content.Headers.ContentType?.MediaType, Is.EqualTo(mediaType));
        Assert.That(body, Is.Not.Empty);
        EntityTagHeaderValue? etag = first.Headers.ETag;
        Assert.That(etag, Is.Not.Null, "an ETag");
        Assert.That(etag!.IsWeak, Is.False, "a strong ETag: the bytes are the same on every node of a version");
        Assert.That(first.Headers.CacheControl?.NoCache, Is.True, "revalidated on every load, so the page and its script never mix versions");

        using var again = new HttpRequestMessage(HttpMethod.Get, path);
        again.Headers.IfNoneMatch.Add(etag);
        using HttpResponseMessage second = await server.Http.SendAsync(again, TestClient.Deadline);
        Assert.That(second.StatusCode, Is.EqualTo(HttpStatusCode.NotModified));
        Assert.That(await second.Content.ReadAsByteArrayAsync(TestClient.Deadline), Is.Empty);
        Assert.That(second.Headers.ETag, Is.EqualTo(etag));

        using var stale = new HttpRequestMessage(HttpMethod.Get, path);
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"0123456789abcdef\""));
        using HttpResponseMessage third = await server.Http.SendAsync(stale, TestClient.Deadline);
        Assert.That(third.StatusCode, Is.EqualTo(HttpStatusCode.OK), "another version's tag gets the file");
    }

    [Test]
    public async Task The_page_forbids_scripts_and_connections_to_anywhere_but_the_gateway()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();

        using HttpResponseMessage page = await server.Http.GetAsync("/", TestClient.Deadline);
        string policy = string.Join(";", page.Headers.GetValues("Content-Security-Policy"));
        Assert.That(policy, Does.Contain("script-src 'self'"));
        Assert.That(policy, Does.Contain("default-src 'none'"));
        string html = await page.Content.ReadAsStringAsync(TestClient.Deadline);
        Assert.That(html, Does.Contain("src=\"dashboard/dashboard.js\""), "the page names its files relatively, so a proxy's path prefix works");
        Assert.That(html, Does.Not.Match("(src|href)=\"(https?:)?//"), "nothing loaded from elsewhere");
    }

    [Test]
    public async Task Turned_off_the_dashboard_is_404_and_the_client_script_stays()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Dashboard:Enabled"] = "false" });

        foreach (string path in new[] { "/", "/dashboard/dashboard.js", "/dashboard/dashboard.css" })
        {
            using HttpResponseMessage response = await server.Http.GetAsync(path, TestClient.Deadline);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
        }

        using HttpResponseMessage client = await server.Http.GetAsync("/client.js", TestClient.Deadline);
        Assert.That(client.StatusCode, Is.EqualTo(HttpStatusCode.OK), "/client.js is not part of the dashboard");
    }
}
