using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Integration;

/// <summary>Auth:Mode jwt (spec section 6): every allow and deny, with tokens minted here.</summary>
[CancelAfter(30_000)]
public sealed class AuthTests
{
    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync(TestTokens.JwtSettings());

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    [Test]
    public async Task An_upgrade_without_credentials_is_401()
    {
        (int status, string body) = await Upgrade("/ws/job-1");
        Assert.That(status, Is.EqualTo(401));
        Assert.That(body, Does.Contain("credentials required"));
    }

    [Test]
    public async Task A_good_token_in_the_query_or_the_authorization_header_is_accepted()
    {
        string token = TestTokens.Mint(sessions: new[] { "job-1" });
        (int status, string body) = await Upgrade($"/ws/job-1?token={token}");
        Assert.That(status, Is.EqualTo(101), body);
        (status, body) = await Upgrade("/ws/job-1", $"Authorization: Bearer {token}\r\n");
        Assert.That(status, Is.EqualTo(101), body);
    }

    private static IEnumerable<TestCaseData> BadTokens()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        string[] job = ["job-1"];
        yield return new TestCaseData(TestTokens.Mint(job, expires: now.AddMinutes(-1)), "token expired").SetName("expired");
        // Cases are built when the tests are discovered, long before a loaded run reaches this one:
        // a not-before minutes ahead could have passed by then.
        yield return new TestCaseData(TestTokens.Mint(job, expires: now.AddDays(2), notBefore: now.AddDays(1)), "not valid yet").SetName("not yet valid");
        yield return new TestCaseData(TestTokens.Mint(job, key: "another-key-that-is-at-least-32-bytes"), "signature").SetName("wrong key");
        yield return new TestCaseData(TestTokens.Mint(job, algorithm: SecurityAlgorithms.HmacSha512), "algorithm").SetName("wrong algorithm HS512");
        yield return new TestCaseData(TestTokens.Mint(job, rsa: true, algorithm: SecurityAlgorithms.RsaSha256), "algorithm").SetName("wrong algorithm RS256");
        yield return new TestCaseData(TestTokens.Unsigned(), "algorithm 'none' not accepted").SetName("alg none");
        yield return new TestCaseData(TestTokens.Mint(job, audience: "someone-else"), "audience").SetName("wrong audience");
        yield return new TestCaseData(TestTokens.Mint(job, issuer: "someone-else"), "issuer").SetName("wrong issuer");
        yield return new TestCaseData(TestTokens.Mint(job, subject: null), "no sub").SetName("missing sub");
        yield return new TestCaseData(TestTokens.Mint(job, without: ["exp"]), "no exp").SetName("missing exp");
        yield return new TestCaseData(TestTokens.Mint(5), "sessions").SetName("sessions not a list");
        yield return new TestCaseData(TestTokens.Mint(new[] { "bad name" }), "sessions").SetName("sessions with a bad name");
        yield return new TestCaseData(TestTokens.Mint(job, extra: new Dictionary<string, object> { ["pad"] = new string('p', 9000) }), "larger than 8192").SetName("oversized");
        yield return new TestCaseData("not-a-jwt", "not a valid JWT").SetName("malformed");
    }

    [TestCaseSource(nameof(BadTokens))]
    public async Task A_bad_token_is_401_saying_why(string token, string why)
    {
        (int status, string body) = await Upgrade("/ws/job-1", $"Authorization: Bearer {token}\r\n");
        Assert.That(status, Is.EqualTo(401));
        Assert.That(body, Does.Contain(why));
        Assert.That(body, Does.Not.Contain(token[..Math.Min(token.Length, 20)]), "the token is never echoed");
    }

    [Test]
    public async Task A_token_is_only_good_for_the_sessions_it_grants()
    {
        string token = TestTokens.Mint(sessions: new[] { "job-1", "build-*" });
        Assert.That((await Upgrade($"/ws/build-77?token={token}")).Status, Is.EqualTo(101));
        (int status, string body) = await Upgrade($"/ws/job-2?token={token}");
        Assert.That(status, Is.EqualTo(403));
        Assert.That(body, Does.Contain("job-2"));
        Assert.That((await Upgrade($"/ws/x?token={TestTokens.Mint()}")).Status, Is.EqualTo(403), "no sessions claim, no session");
    }

    [Test]
    public async Task An_rs256_gateway_takes_rs256_tokens_and_refuses_the_key_confusion_attack()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:Mode"] = "jwt",
            ["Gateway:Auth:PublicKey"] = TestTokens.RsaPublicKeyPem,
        });
        string good = TestTokens.Mint(sessions: "*", rsa: true, algorithm: SecurityAlgorithms.RsaSha256);
        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/any?token={good}")).Status, Is.EqualTo(101));

        // HS256 signed with the public key's PEM as the secret: the classic algorithm confusion.
        string confused = TestTokens.Mint(sessions: "*", key: TestTokens.RsaPublicKeyPem);
        (int status, string body) = await RefusalTests.UpgradeAsync(server, $"/ws/any?token={confused}");
        Assert.That(status, Is.EqualTo(401));
        Assert.That(body, Does.Contain("algorithm"));
    }

    [Test]
    public async Task Publishing_needs_a_publish_grant_or_an_api_key()
    {
        Assert.That(await PublishStatusAsync("pub-1", null), Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await PublishStatusAsync("pub-1", TestTokens.Mint(sessions: new[] { "pub-1" })), Is.EqualTo(HttpStatusCode.Forbidden), "watching is not publishing");
        Assert.That(await PublishStatusAsync("pub-1", TestTokens.Mint(sessions: new[] { "pub-1" }, publish: true)), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await PublishStatusAsync("pub-2", TestTokens.Mint(sessions: new[] { "pub-1" }, publish: true)), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await PublishStatusAsync("pub-2", TestTokens.Mint(publish: new[] { "pub-*" })), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await PublishStatusAsync("pub-3", null, apiKey: TestTokens.ApiKey), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await PublishStatusAsync("pub-3", null, apiKey: "not-the-key-at-all-000"), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Listing_and_deleting_sessions_need_admin()
    {
        await PublishStatusAsync("admin-1", null, apiKey: TestTokens.ApiKey);
        string user = TestTokens.Mint(sessions: "*");
        string admin = TestTokens.Mint(admin: true);
        Assert.That(await SendAsync(HttpMethod.Get, "/api/sessions", user), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await SendAsync(HttpMethod.Get, "/api/sessions", admin), Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await SendAsync(HttpMethod.Get, "/api/sessions", null, TestTokens.ApiKey), Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await SendAsync(HttpMethod.Delete, "/api/sessions/admin-1", user), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await SendAsync(HttpMethod.Delete, "/api/sessions/admin-1", admin), Is.EqualTo(HttpStatusCode.NoContent));
    }

    [Test]
    public async Task Reading_a_session_over_http_needs_the_watch_grant()
    {
        await PublishStatusAsync("read-1", null, apiKey: TestTokens.ApiKey);
        string reader = TestTokens.Mint(sessions: new[] { "read-1" });
        string other = TestTokens.Mint(sessions: new[] { "read-2" });
        foreach (string path in new[] { "/api/sessions/read-1", "/api/sessions/read-1/events" })
        {
            Assert.That(await SendAsync(HttpMethod.Get, path, null), Is.EqualTo(HttpStatusCode.Unauthorized), path);
            Assert.That(await SendAsync(HttpMethod.Get, path, other), Is.EqualTo(HttpStatusCode.Forbidden), path);
            Assert.That(await SendAsync(HttpMethod.Get, path, reader), Is.EqualTo(HttpStatusCode.OK), path);
        }

        await using SseReader stream = await SseReader.OpenAsync(_server, $"/api/sessions/read-1/stream?token={reader}");
        Assert.That(stream.Head.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await using SseReader refused = await SseReader.OpenAsync(_server, "/api/sessions/read-1/stream");
        Assert.That(refused.Head.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task A_token_with_a_publish_grant_lets_a_websocket_client_publish()
    {
        string token = TestTokens.Mint(sessions: new[] { "chat-1" }, publish: true);
        (TestClient client, _) = await TestClient.JoinAsync(new Uri(_server.WebSocketUri("chat-1") + $"?token={token}"));
        await using (client)
        {
            await client.SendAsync("""{"type":"publish","id":"m","event":"message_chunk","data":"hi"}""");
            await client.ReceiveAsync("event");
            Assert.That((await client.ReceiveAsync("ack")).GetProperty("seq").GetInt64(), Is.EqualTo(1));
        }

        (TestClient watcher, _) = await TestClient.JoinAsync(new Uri(_server.WebSocketUri("chat-1") + $"?token={TestTokens.Mint(sessions: new[] { "chat-1" })}"));
        await using (watcher)
        {
            await watcher.SendAsync("""{"type":"publish","id":"m","event":"message_chunk","data":"hi"}""");
            Assert.That((await watcher.ReceiveAsync("error")).GetProperty("code").GetString(), Is.EqualTo("forbidden"));
        }
    }

    [Test]
    public async Task A_live_connection_is_closed_with_1008_when_its_token_expires_unless_renewed()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        // The clock jumps 66 s; to the lag bound a jump looks like a write in flight that long, so it is set past it.
        var quietIsFine = new Dictionary<string, string?>
        {
            ["Gateway:Heartbeat:Interval"] = "00:01:00",
            ["Gateway:Heartbeat:Timeout"] = "00:10:00",
            ["Gateway:Limits:MaxLagTime"] = "00:10:00",
        };
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings(quietIsFine), s => s.AddSingleton<TimeProvider>(clock));
        DateTimeOffset expires = clock.GetUtcNow().AddSeconds(60);
        string shortLived = TestTokens.Mint(sessions: new[] { "expiry" }, expires: expires);

        (TestClient renewed, _) = await TestClient.JoinAsync(new Uri(server.WebSocketUri("expiry") + $"?token={shortLived}"));
        (TestClient lapsed, _) = await TestClient.JoinAsync(new Uri(server.WebSocketUri("expiry") + $"?token={shortLived}"));
        await using (renewed)
        await using (lapsed)
        {
            // A fresh token before the old one runs out; the ping's pong shows it was read first.
            await renewed.SendAsync($$"""{"type":"auth","token":"{{TestTokens.Mint(sessions: new[] { "expiry" }, expires: expires.AddHours(1))}}"}""");
            await renewed.SendAsync("""{"type":"ping","id":"after-auth"}""");
            await renewed.ReceiveAsync("pong");

            clock.Advance(TimeSpan.FromSeconds(66));
            (int? code, string? reason, _) = await lapsed.ReceiveCloseAsync();
            Assert.That((code, reason), Is.EqualTo((1008, "token expired")));

            await renewed.SendAsync("""{"type":"ping","id":"still-here"}""");
            Assert.That((await renewed.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("still-here"));

            // A bad token in an auth message ends the connection.
            await renewed.SendAsync("""{"type":"auth","id":"bad","token":"not-a-jwt"}""");
            JsonElement error = await renewed.ReceiveAsync("error");
            Assert.That((error.GetProperty("id").GetString(), error.GetProperty("code").GetString()), Is.EqualTo(("bad", "forbidden")));
            Assert.That((await renewed.ReceiveCloseAsync()).Code, Is.EqualTo(1008));
        }
    }

    [Test]
    public async Task A_ticket_is_single_use_bound_to_its_sessions_and_short_lived()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using GatewayServer server = await GatewayServer.StartAsync(TestTokens.JwtSettings(), s => s.AddSingleton<TimeProvider>(clock));
        string ticket = await TicketAsync(server, """{"sessions":["t-1"]}""", apiKey: TestTokens.ApiKey);

        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/t-1?ticket={ticket}")).Status, Is.EqualTo(101));
        (int reused, string body) = await RefusalTests.UpgradeAsync(server, $"/ws/t-1?ticket={ticket}");
        Assert.That(reused, Is.EqualTo(401));
        Assert.That(body, Does.Contain("already used"));

        string other = await TicketAsync(server, """{"sessions":["t-1"]}""", apiKey: TestTokens.ApiKey);
        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/t-2?ticket={other}")).Status, Is.EqualTo(403));

        string late = await TicketAsync(server, """{"sessions":["t-1"]}""", apiKey: TestTokens.ApiKey);
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/t-1?ticket={late}")).Status, Is.EqualTo(401));
    }

    [Test]
    public async Task A_user_token_can_mint_a_ticket_for_its_own_sessions_only()
    {
        string user = TestTokens.Mint(sessions: new[] { "mine-*" });
        string ticket = await TicketAsync(_server, """{"sessions":["mine-1"]}""", token: user);
        Assert.That((await Upgrade($"/ws/mine-1?ticket={ticket}")).Status, Is.EqualTo(101));

        Assert.That(await TicketStatusAsync(_server, """{"sessions":["theirs"]}""", token: user), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await TicketStatusAsync(_server, """{"sessions":["mine-2"],"publish":true}""", token: user), Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await TicketStatusAsync(_server, "", apiKey: TestTokens.ApiKey), Is.EqualTo(HttpStatusCode.BadRequest), "a key must say which sessions");
        Assert.That(await TicketStatusAsync(_server, "{\"sessions\":", token: user), Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await TicketStatusAsync(_server, """{"sessions":["mine-1"]}"""), Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task With_first_message_auth_a_client_authenticates_on_the_socket()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using GatewayServer server = await GatewayServer.StartAsync(
            TestTokens.JwtSettings(new Dictionary<string, string?> { ["Gateway:Auth:FirstMessage"] = "true" }),
            s => s.AddSingleton<TimeProvider>(clock));
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());

        await using (TestClient good = await TestClient.ConnectAsync(server.WebSocketUri("first", "since=0")))
        {
            await good.SendAsync($$"""{"type":"auth","token":"{{TestTokens.Mint(sessions: new[] { "first" })}}"}""");
            Assert.That((await good.ReceiveAsync("welcome")).GetProperty("session").GetString(), Is.EqualTo("first"));
        }

        await using (TestClient wrongFirst = await TestClient.ConnectAsync(server.WebSocketUri("first")))
        {
            await wrongFirst.SendAsync("""{"type":"ping"}""");
            (int? code, string? reason, List<string> before) = await wrongFirst.ReceiveCloseAsync();
            Assert.That((code, before.Count), Is.EqualTo((1008, 0)));
            Assert.That(reason, Does.StartWith("authentication required"));
        }

        await using (TestClient notGranted = await TestClient.ConnectAsync(server.WebSocketUri("first")))
        {
            await notGranted.SendAsync($$"""{"type":"auth","id":1,"token":"{{TestTokens.Mint(sessions: new[] { "other" })}}"}""");
            Assert.That((await notGranted.ReceiveAsync("error")).GetProperty("code").GetString(), Is.EqualTo("forbidden"));
            Assert.That((await notGranted.ReceiveCloseAsync()).Code, Is.EqualTo(1008));
        }

        await using (TestClient silent = await TestClient.ConnectAsync(server.WebSocketUri("first")))
        {
            // The client hears nothing before it authenticates, so the accepted count is how the
            // test knows the gateway has started this connection's clock before moving it.
            await metrics.WhenSumReachesAsync("gateway.connections.accepted", 4);
            clock.Advance(TimeSpan.FromSeconds(6));
            (int? code, string? reason, List<string> before) = await silent.ReceiveCloseAsync();
            Assert.That((code, reason, before.Count), Is.EqualTo((1008, "authentication timeout", 0)));
        }

        // Without first-message auth, a client without credentials is refused before the upgrade.
        Assert.That((await Upgrade("/ws/first")).Status, Is.EqualTo(401));
    }

    [Test]
    public async Task A_browser_upgrade_from_an_origin_not_listed_is_403()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Security:AllowedOrigins:0"] = "https://app.example.com",
        });
        Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/o", headers: "Origin: https://app.example.com\r\n")).Status, Is.EqualTo(101));
        (int status, string body) = await RefusalTests.UpgradeAsync(server, "/ws/o", headers: "Origin: https://evil.example\r\n");
        Assert.That(status, Is.EqualTo(403));
        Assert.That(body, Does.Contain("AllowedOrigins"));
        Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/o")).Status, Is.EqualTo(101), "no Origin: not a browser");
    }

    private Task<(int Status, string Body)> Upgrade(string target, string? headers = null) =>
        RefusalTests.UpgradeAsync(_server, target, headers: headers);

    private async Task<HttpStatusCode> PublishStatusAsync(string session, string? token, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/sessions/{session}/events")
        {
            Content = new StringContent("""{"event":"x"}""", Encoding.UTF8, "application/json"),
        };
        Authorize(request, token, apiKey);
        using HttpResponseMessage response = await _server.Http.SendAsync(request);
        return response.StatusCode;
    }

    private async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, string? token, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(method, path);
        Authorize(request, token, apiKey);
        using HttpResponseMessage response = await _server.Http.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<string> TicketAsync(GatewayServer server, string body, string? token = null, string? apiKey = null)
    {
        using HttpResponseMessage response = await PostTicketAsync(server, body, token, apiKey);
        string text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        JsonElement issued = JsonDocument.Parse(text).RootElement;
        Assert.That(issued.GetProperty("expiresIn").GetInt32(), Is.EqualTo(30));
        return issued.GetProperty("ticket").GetString()!;
    }

    private static async Task<HttpStatusCode> TicketStatusAsync(GatewayServer server, string body, string? token = null, string? apiKey = null)
    {
        using HttpResponseMessage response = await PostTicketAsync(server, body, token, apiKey);
        return response.StatusCode;
    }

    private static Task<HttpResponseMessage> PostTicketAsync(GatewayServer server, string body, string? token, string? apiKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/tickets") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        Authorize(request, token, apiKey);
        return server.Http.SendAsync(request);
    }

    private static void Authorize(HttpRequestMessage request, string? token, string? apiKey)
    {
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (apiKey is not null)
        {
            request.Headers.Add("X-Api-Key", apiKey);
        }
    }
}

/// <summary>Spec section 6: never log a token, ticket or key, at any level the gateway ships with.</summary>
[CancelAfter(30_000)]
public sealed class SecretLoggingTests
{
    [Test]
    public async Task No_token_ticket_or_key_reaches_the_logs()
    {
        var logs = new CapturedLogs();
        await using GatewayServer server = await GatewayServer.StartAsync(
            TestTokens.JwtSettings(new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Trace",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
            }),
            s => s.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));

        string good = TestTokens.Mint(sessions: new[] { "secret-*" }, publish: true);
        string expired = TestTokens.Mint(sessions: new[] { "secret-*" }, expires: DateTimeOffset.UtcNow.AddMinutes(-5));
        string wrongKey = TestTokens.Mint(sessions: new[] { "secret-*" }, key: "an-attackers-key-that-is-at-least-32-bytes");
        const string badKey = "a-wrong-api-key-0000000000";

        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/secret-1?token={good}")).Status, Is.EqualTo(101));
        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/secret-1?token={expired}")).Status, Is.EqualTo(401));
        Assert.That((await RefusalTests.UpgradeAsync(server, "/ws/secret-1", headers: $"Authorization: Bearer {wrongKey}\r\n")).Status, Is.EqualTo(401));

        using var ticketRequest = new HttpRequestMessage(HttpMethod.Post, "/api/tickets") { Content = new StringContent("""{"sessions":["secret-2"]}""") };
        ticketRequest.Headers.Add("X-Api-Key", TestTokens.ApiKey);
        using HttpResponseMessage issued = await server.Http.SendAsync(ticketRequest);
        string ticket = JsonDocument.Parse(await issued.Content.ReadAsStringAsync()).RootElement.GetProperty("ticket").GetString()!;
        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/secret-2?ticket={ticket}")).Status, Is.EqualTo(101));
        Assert.That((await RefusalTests.UpgradeAsync(server, $"/ws/secret-2?ticket={ticket}")).Status, Is.EqualTo(401));

        using var publish = new HttpRequestMessage(HttpMethod.Post, "/api/sessions/secret-3/events") { Content = new StringContent("""{"event":"x"}""") };
        publish.Headers.Add("X-Api-Key", badKey);
        using (await server.Http.SendAsync(publish))
        {
        }

        (TestClient client, _) = await TestClient.JoinAsync(new Uri(server.WebSocketUri("secret-4") + $"?token={good}"));
        await using (client)
        {
            await client.SendAsync($$"""{"type":"auth","token":"{{wrongKey}}"}""");
            await client.ReceiveCloseAsync();
        }

        Assert.That(logs.Lines, Is.Not.Empty, "the gateway logged its refusals and connections");
        string all = string.Join("\n", logs.Lines);
        foreach (string secret in new[] { good, expired, wrongKey, ticket, TestTokens.ApiKey, badKey, TestTokens.SigningKey })
        {
            // The tokens' signatures are their last segment; none of any credential may appear.
            Assert.That(all, Does.Not.Contain(secret.Split('.')[^1]), "a credential was logged");
        }
    }
}
