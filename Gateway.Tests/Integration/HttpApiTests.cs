using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>The HTTP API of spec section 5.</summary>
[CancelAfter(30_000)]
public sealed class HttpApiTests
{
    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:Limits:MaxPublishBytes"] = "2048",
    });

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    [Test]
    public async Task A_single_publish_answers_202_with_its_seq_and_a_batch_with_consecutive_seqs()
    {
        (HttpStatusCode status, JsonElement body) = await PostAsync("/api/sessions/http-seq/events", """{"event":"a","data":1}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(body.GetProperty("seq").GetInt64(), Is.EqualTo(1));

        (status, body) = await PostAsync("/api/sessions/http-seq/events", """[{"event":"a"},{"event":"b","data":[1]},{"event":"c","data":"x"}]""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(body.GetProperty("seqs").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(new long[] { 2, 3, 4 }));
    }

    [Test]
    public async Task A_batch_reaches_clients_in_order_with_data_defaulting_to_null()
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("http-batch"));
        await using (client)
        {
            await PostAsync("/api/sessions/http-batch/events", """[{"event":"one"},{"event":"two","data":{"k":"v"}}]""");
            JsonElement first = await client.ReceiveAsync("event");
            JsonElement second = await client.ReceiveAsync("event");
            Assert.That(first.GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That(first.GetProperty("data").ValueKind, Is.EqualTo(JsonValueKind.Null));
            Assert.That(second.GetProperty("seq").GetInt64(), Is.EqualTo(2));
            Assert.That(second.GetProperty("data").GetProperty("k").GetString(), Is.EqualTo("v"));
        }
    }

    [TestCase("", "empty")]
    [TestCase("{\"event\":", "not valid JSON")]
    [TestCase("{\"data\":1}", "missing field \"event\"")]
    [TestCase("[{\"event\":\"ok\"},{\"event\":\"no good\"}]", "events[1]:")]
    [TestCase("[]", "1 to 1000")]
    [TestCase("42", "JSON object")]
    public async Task An_invalid_body_is_a_400_problem_saying_what_was_wrong(string body, string detail)
    {
        using HttpResponseMessage response = await _server.Http.PostAsync("/api/sessions/http-bad/events", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        JsonElement problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo(400));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain(detail));
    }

    [Test]
    public async Task A_body_over_the_limit_is_a_413_problem_with_or_without_content_length()
    {
        string big = $$"""{"event":"big","data":"{{new string('z', 3000)}}"}""";
        using HttpResponseMessage declared = await _server.Http.PostAsync("/api/sessions/http-big/events", new StringContent(big, Encoding.UTF8, "application/json"));
        Assert.That(declared.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That(await declared.Content.ReadAsStringAsync(), Does.Contain("MaxPublishBytes"));

        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions/http-big/events") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using HttpResponseMessage streamed = await _server.Http.SendAsync(request);
        Assert.That(streamed.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));

        using HttpResponseMessage session = await _server.Http.GetAsync("/api/sessions/http-big");
        Assert.That(session.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), "nothing was published");
    }

    [Test]
    public async Task A_bad_session_name_is_a_400_problem()
    {
        (HttpStatusCode status, JsonElement body) = await PostAsync("/api/sessions/bad%20name/events", """{"event":"a"}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(body.GetProperty("detail").GetString(), Does.Contain("session name"));
    }

    [Test]
    public async Task Sessions_are_listed_with_seq_clients_and_last_event_time()
    {
        await _server.PublishAsync("http-list-b", "x");
        await _server.PublishAsync("http-list-a", "x");
        await _server.PublishAsync("http-list-a", "x");
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("http-list-a"));
        await using (client)
        {
            using HttpResponseMessage response = await _server.Http.GetAsync("/api/sessions");
            JsonElement[] rows = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray()
                .Where(r => r.GetProperty("session").GetString()!.StartsWith("http-list-", StringComparison.Ordinal)).ToArray();
            Assert.That(rows.Select(r => r.GetProperty("session").GetString()), Is.EqualTo(new[] { "http-list-a", "http-list-b" }));
            Assert.That(rows[0].GetProperty("seq").GetInt64(), Is.EqualTo(2));
            Assert.That(rows[0].GetProperty("clients").GetInt32(), Is.EqualTo(1));
            Assert.That(rows[1].GetProperty("clients").GetInt32(), Is.Zero);
            Assert.That(rows[0].GetProperty("lastEventAt").GetString(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"));
        }
    }

    [Test]
    public async Task A_session_shows_its_state_and_an_unknown_one_is_404()
    {
        await _server.PublishAsync("http-state", "document_status", "\"ocr\"");
        await _server.PublishAsync("http-state", "document_status", "\"done\"");
        using HttpResponseMessage response = await _server.Http.GetAsync("/api/sessions/http-state");
        JsonElement session = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.That(session.GetProperty("seq").GetInt64(), Is.EqualTo(2));
        Assert.That(session.GetProperty("state").GetProperty("document_status").GetProperty("data").GetString(), Is.EqualTo("done"));
        Assert.That(session.GetProperty("state").GetProperty("document_status").GetProperty("seq").GetInt64(), Is.EqualTo(2));

        using HttpResponseMessage missing = await _server.Http.GetAsync("/api/sessions/http-never");
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(missing.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }

    [Test]
    public async Task Delete_closes_the_sessions_clients_with_1001_and_forgets_it()
    {
        await _server.PublishAsync("http-delete", "x");
        await using TestClient client = await TestClient.ConnectAsync(_server.WebSocketUri("http-delete"));
        await client.ReceiveAsync("welcome");

        using HttpResponseMessage deleted = await _server.Http.DeleteAsync("/api/sessions/http-delete");
        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        (int? code, string? reason, _) = await client.ReceiveCloseAsync();
        Assert.That(code, Is.EqualTo(1001));
        Assert.That(reason, Is.EqualTo("session closed"));

        using HttpResponseMessage gone = await _server.Http.GetAsync("/api/sessions/http-delete");
        Assert.That(gone.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        using HttpResponseMessage again = await _server.Http.DeleteAsync("/api/sessions/http-delete");
        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));

        // A new publish starts the session over from seq 1.
        Assert.That(await _server.PublishAsync("http-delete", "x"), Is.EqualTo(1));
    }

    [Test]
    public async Task Healthz_and_readyz_answer_200()
    {
        using HttpResponseMessage health = await _server.Http.GetAsync("/healthz");
        using HttpResponseMessage ready = await _server.Http.GetAsync("/readyz");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await ready.Content.ReadAsStringAsync(), Is.EqualTo("""{"status":"ready"}"""));
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string body)
    {
        using HttpResponseMessage response = await _server.Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }
}
