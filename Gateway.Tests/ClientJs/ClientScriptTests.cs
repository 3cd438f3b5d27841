using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Gateway.Http;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.ClientJs;

/// <summary>
/// <c>/client.js</c> and <c>/client.d.ts</c> as the gateway serves them (spec section 15), and the
/// client's own unit tests (client.test.mjs), run by Node's test runner.
/// </summary>
[TestFixture]
[CancelAfter(120_000)]
public sealed class ClientScriptTests
{
    private static string SourceFile(string name) => Path.Combine(Tools.RepositoryRoot, "Gateway", "Client", name);

    [TestCase("/client.js", "client.js", "text/javascript")]
    [TestCase("/client.d.ts", "client.d.ts", "application/typescript")]
    public async Task Serves_the_file_with_a_strong_etag_and_cache_headers(string path, string file, string mediaType)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();

        using HttpResponseMessage response = await server.Http.GetAsync(path, TestClient.Deadline);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo(mediaType));
        Assert.That(response.Content.Headers.ContentType?.CharSet, Is.EqualTo("utf-8"));
        Assert.That(response.Headers.CacheControl?.ToString(), Is.EqualTo(ClientScriptEndpoints.CacheControl));
        Assert.That(response.Headers.ETag, Is.Not.Null);
        Assert.That(response.Headers.ETag!.IsWeak, Is.False);
        Assert.That(await response.Content.ReadAsByteArrayAsync(TestClient.Deadline), Is.EqualTo(await File.ReadAllBytesAsync(SourceFile(file), TestClient.Deadline)),
            "the gateway serves the file of the source tree, byte for byte");
    }

    [Test]
    public async Task Answers_304_to_a_matching_If_None_Match_and_200_to_another()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using HttpResponseMessage first = await server.Http.GetAsync("/client.js", TestClient.Deadline);
        EntityTagHeaderValue etag = first.Headers.ETag!;

        foreach (string matching in new[] { etag.Tag, $"W/{etag.Tag}", $"\"other\", {etag.Tag}", "*" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/client.js");
            request.Headers.TryAddWithoutValidation("If-None-Match", matching);
            using HttpResponseMessage again = await server.Http.SendAsync(request, TestClient.Deadline);
            Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.NotModified), matching);
            Assert.That(again.Headers.ETag, Is.EqualTo(etag), matching);
            Assert.That(again.Headers.CacheControl?.ToString(), Is.EqualTo(ClientScriptEndpoints.CacheControl), matching);
            Assert.That(await again.Content.ReadAsByteArrayAsync(TestClient.Deadline), Is.Empty, matching);
        }

        using var stale = new HttpRequestMessage(HttpMethod.Get, "/client.js");
        stale.Headers.TryAddWithoutValidation("If-None-Match", "\"0123456789abcdef\"");
        using HttpResponseMessage changed = await server.Http.SendAsync(stale, TestClient.Deadline);
        Assert.That(changed.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        // The tag names the bytes: a second gateway computes the same one.
        await using GatewayServer other = await GatewayServer.StartAsync();
        using HttpResponseMessage fromOther = await other.Http.GetAsync("/client.js", TestClient.Deadline);
        Assert.That(fromOther.Headers.ETag, Is.EqualTo(etag));
    }

    [Test]
    public async Task Head_gives_the_headers_without_the_body()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Head, "/client.js");
        using HttpResponseMessage response = await server.Http.SendAsync(request, TestClient.Deadline);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentLength, Is.EqualTo(new FileInfo(SourceFile("client.js")).Length));
        Assert.That(response.Headers.ETag, Is.Not.Null);
    }

    /// <summary>The pure logic (backoff, queue, resume cursor, URLs) and the client's state machine over stand-in transports.</summary>
    [Test]
    public async Task Node_unit_tests_of_the_client_pass()
    {
        string node = Tools.Require("node");
        string tests = Path.Combine(Tools.RepositoryRoot, "Gateway.Tests", "ClientJs", "client.test.mjs");
        using Process process = Tools.Start(node, "--test", tests);
        Task<string> output = process.StandardOutput.ReadToEndAsync(TestClient.Deadline);
        Task<string> errors = process.StandardError.ReadToEndAsync(TestClient.Deadline);
        try
        {
            await process.WaitForExitAsync(TestClient.Deadline);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        string report = await output + await errors;
        Assert.That(process.ExitCode, Is.Zero, report);
        Assert.That(report, Does.Contain("# fail 0"), report);
        TestContext.Out.WriteLine(report);
    }
}
