using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Gateway.Log;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Integration;

/// <summary>
/// One failure, one channel (spec section 5): a bug is a 500 problem+json and one error log line,
/// never "retry"; only a session store that did not answer is a 503 with Retry-After; every
/// problem's title is its status's reason phrase.
/// </summary>
[CancelAfter(30_000)]
public sealed class ErrorMappingTests
{
    [TestCase("POST", "/api/sessions/bug/events")]
    [TestCase("GET", "/api/sessions")]
    public async Task A_bug_in_an_endpoint_answers_500_problem_json_with_one_error_log_line(string method, string path)
    {
        var logs = new CapturedLogs();
        await using GatewayServer server = await StartWithStoreAsync(logs, new NullReferenceException("a bug in the session store"));
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent("""{"event":"e","id":"a-1"}""", Encoding.UTF8, "application/json");
        }

        using HttpResponseMessage failed = await server.Http.SendAsync(request, TestClient.Deadline);
        Assert.That(failed.StatusCode, Is.EqualTo(HttpStatusCode.InternalServerError));
        Assert.That(failed.Headers.RetryAfter, Is.Null, "a bug is not an outage: retrying will not help");
        JsonElement problem = await ProblemAsync(failed);
        Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo(500));
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Internal Server Error"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("a bug").And.Not.Contain("retry"));

        string[] errors = logs.Lines.Where(l => l.StartsWith("Error ", StringComparison.Ordinal) || l.StartsWith("Critical ", StringComparison.Ordinal)).ToArray();
        Assert.That(errors, Has.Length.EqualTo(1), string.Join("\n", errors));
        Assert.That(errors[0], Does.Contain("[303]").And.Contain($"{method} {path}").And.Contain("NullReferenceException"));
        Assert.That(metrics.Sum("gateway.requests.refused"), Is.Zero, "a bug is not a refusal");

        // The gateway goes on: the next request, which does not meet the bug, is answered.
        using HttpResponseMessage unknown = await server.Http.GetAsync("/api/sessions/never-published", TestClient.Deadline);
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
    }

    [Test]
    public async Task A_store_that_did_not_answer_is_503_with_retry_after_counted_as_a_refusal_and_no_error()
    {
        var logs = new CapturedLogs();
        await using GatewayServer server = await StartWithStoreAsync(logs, new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting"));
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());

        using HttpResponseMessage refused = await server.Http.GetAsync("/api/sessions");
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(1)));
        JsonElement problem = await ProblemAsync(refused);
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Service Unavailable"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("Redis is unreachable").And.Contain("retry"));
        Assert.That(metrics.Sum("gateway.requests.refused", "reason=backplane_unavailable"), Is.EqualTo(1));
        Assert.That(metrics.Sum("gateway.requests.refused", "endpoint=sessions"), Is.EqualTo(1));
        Assert.That(logs.Lines.Where(l => l.StartsWith("Error ", StringComparison.Ordinal)), Is.Empty, "an outage is not a bug");
    }

    [Test]
    public async Task A_body_the_http_server_cannot_read_is_the_clients_error_not_an_outage_nor_a_bug()
    {
        var logs = new CapturedLogs();
        await using GatewayServer server = await GatewayServer.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());

        // "ZZ" is no chunk size: Kestrel fails the body read inside the publish endpoint.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port, TestClient.Deadline);
        System.Net.Sockets.NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /api/sessions/chunks/events HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n"), TestClient.Deadline);
        string response = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync(TestClient.Deadline);

        Assert.That(response, Does.StartWith("HTTP/1.1 400 "));
        Assert.That(response, Does.Contain("application/problem+json").And.Contain("\"title\":\"Bad Request\""));
        Assert.That(response, Does.Not.Contain("Retry-After"));
        Assert.That(metrics.Sum("gateway.requests.refused", "reason=bad_request"), Is.EqualTo(1));
        Assert.That(logs.Lines.Where(l => l.StartsWith("Error ", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public async Task Problem_titles_for_401_403_and_429_are_the_reason_phrases()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using GatewayServer server = await GatewayServer.StartAsync(
            TestTokens.JwtSettings(new Dictionary<string, string?> { ["Gateway:Limits:PublishesPerSecond"] = "100" }),
            s => s.AddSingleton<TimeProvider>(clock));

        using (HttpResponseMessage missing = await PublishAsync(server, """{"event":"e"}""", authorization: null))
        {
            Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That((await ProblemAsync(missing)).GetProperty("title").GetString(), Is.EqualTo("Unauthorized"));
        }

        string watcher = TestTokens.Mint(sessions: new[] { "titles" });
        using (HttpResponseMessage notGranted = await PublishAsync(server, """{"event":"e"}""", authorization: $"Bearer {watcher}"))
        {
            Assert.That(notGranted.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
            Assert.That((await ProblemAsync(notGranted)).GetProperty("title").GetString(), Is.EqualTo("Forbidden"));
        }

        string publisher = $"Bearer {TestTokens.Mint(sessions: new[] { "titles" }, publish: true)}";
        string batch = "[" + string.Join(",", Enumerable.Repeat("""{"event":"e"}""", 1000)) + "]";
        using (HttpResponseMessage burst = await PublishAsync(server, batch, publisher))
        {
            Assert.That(burst.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), "a full batch fits the burst");
        }

        using (HttpResponseMessage limited = await PublishAsync(server, """{"event":"e"}""", publisher))
        {
            Assert.That(limited.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That((await ProblemAsync(limited)).GetProperty("title").GetString(), Is.EqualTo("Too Many Requests"));
        }
    }

    /// <summary>
    /// A gateway whose session store is the real memory backplane, except that publishing and
    /// listing sessions throw <paramref name="failure"/>: the store is replaced as a collaborator,
    /// and the mapping of what it throws is what is under test.
    /// </summary>
    private static Task<GatewayServer> StartWithStoreAsync(CapturedLogs logs, Exception failure) =>
        GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Logging:LogLevel:Gateway"] = "Information" },
            s =>
            {
                s.AddSingleton<ILoggerProvider>(logs);
                s.AddSingleton<ISessionLog>(sp => FailingStore.Create(sp.GetRequiredService<MemoryLog>(), failure, nameof(ISessionLog.AppendAsync), nameof(ISessionLog.ListAsync)));
            });

    private static async Task<HttpResponseMessage> PublishAsync(GatewayServer server, string body, string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/sessions/titles/events") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return await server.Http.SendAsync(request, TestClient.Deadline);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>Passes every call to the real store, except one method, which throws.</summary>
    internal class FailingStore : DispatchProxy
    {
        private ISessionLog _inner = null!;
        private string[] _failing = null!;
        private Exception _failure = null!;

        public static ISessionLog Create(ISessionLog inner, Exception failure, params string[] failing)
        {
            ISessionLog proxy = Create<ISessionLog, FailingStore>();
            var self = (FailingStore)(object)proxy;
            (self._inner, self._failing, self._failure) = (inner, failing, failure);
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (_failing.Contains(targetMethod!.Name))
            {
                throw _failure;
            }

            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                throw e.InnerException;
            }
        }
    }
}
