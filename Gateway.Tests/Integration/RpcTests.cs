using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Integration;

/// <summary>
/// A client's <c>rpc</c> against a real backend (spec section 13): what the backend gets, how each
/// of its answers reaches the client, the timeout and the breaker, and that a call waiting for the
/// backend never holds up the connection.
/// </summary>
[CancelAfter(30_000)]
public sealed class RpcTests
{
    /// <summary>The test backend: each method is one way of answering.</summary>
    private static async Task AnswerAsync(JsonElement call, HttpResponse response, RpcBackend backend)
    {
        string data = call.GetProperty("data").GetRawText();
        switch (call.GetProperty("method").GetString())
        {
            case "echo":
                await RpcBackend.WriteAsync(response, 200, $$"""{ "echo": {{data}} }""");
                break;
            case "empty":
                response.StatusCode = 204;
                break;
            case "text":
                await RpcBackend.WriteAsync(response, 200, "hello, not JSON", "text/plain");
                break;
            case "refuse.message":
                await RpcBackend.WriteAsync(response, 403, """{"message":"  you are not in this room  ","error":"ignored"}""");
                break;
            case "refuse.error":
                await RpcBackend.WriteAsync(response, 422, """{"error":"the message is too long"}""");
                break;
            case "refuse.text":
                await RpcBackend.WriteAsync(response, 400, "  plain reason\n", "text/plain");
                break;
            case "refuse.long":
                await RpcBackend.WriteAsync(response, 400, new string('x', 2000), "text/plain");
                break;
            case "refuse.empty":
                response.StatusCode = 404;
                break;
            case "fail":
                await RpcBackend.WriteAsync(response, 503, "down for maintenance", "text/plain");
                break;
            case "hold":
                // Answers once the test opens the gate named by the data.
                await backend.WaitForGateAsync(call.GetProperty("data").GetString()!);
                await RpcBackend.WriteAsync(response, 200, $$"""{"released":{{data}}}""");
                break;
            default:
                response.StatusCode = 500;
                break;
        }
    }

    private static Task<GatewayServer> StartGatewayAsync(RpcBackend backend, Dictionary<string, string?>? settings = null, TimeProvider? clock = null)
    {
        var all = new Dictionary<string, string?> { ["Gateway:Hooks:RpcUrl"] = backend.Url };
        foreach (KeyValuePair<string, string?> setting in settings ?? [])
        {
            all[setting.Key] = setting.Value;
        }

        return GatewayServer.StartAsync(all, clock is null ? null : s => s.AddSingleton(clock));
    }

    [Test]
    public async Task The_backend_gets_the_call_with_its_context_and_its_answer_comes_back_as_rpc_result()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend);
        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("room-1", "user=alice"));
        await using (client)
        {
            await client.SendAsync("""{"type":"rpc","id":"r1","method":"echo","data":{"text":"hi there", "n": [1, 2]}}""");
            JsonElement result = await client.ReceiveAsync("rpc_result");
            Assert.That(result.GetProperty("id").GetString(), Is.EqualTo("r1"));
            Assert.That(result.GetProperty("data").GetRawText(), Is.EqualTo("""{"echo":{"text":"hi there","n":[1,2]}}"""), "the answer's JSON, compacted");

            JsonElement call = await backend.NextCallAsync();
            Assert.Multiple(() =>
            {
                Assert.That(call.GetProperty("id").GetString(), Is.EqualTo("r1"));
                Assert.That(call.GetProperty("method").GetString(), Is.EqualTo("echo"));
                Assert.That(call.GetProperty("data").GetRawText(), Is.EqualTo("""{"text":"hi there","n":[1,2]}"""));
                Assert.That(call.GetProperty("session").GetString(), Is.EqualTo("room-1"));
                Assert.That(call.GetProperty("connection").GetString(), Is.EqualTo(welcome.GetProperty("connection").GetString()));
                Assert.That(call.GetProperty("user").GetString(), Is.EqualTo("alice"));
            });

            // A numeric id is echoed as a number; data absent is null; a client without a user is null.
            await client.SendAsync("""{"type":"rpc","id":7,"method":"empty"}""");
            JsonElement empty = await client.ReceiveAsync("rpc_result");
            Assert.That(empty.GetProperty("id").GetInt32(), Is.EqualTo(7));
            Assert.That(empty.GetProperty("data").ValueKind, Is.EqualTo(JsonValueKind.Null), "an empty 2xx body is null");
            Assert.That((await backend.NextCallAsync()).GetProperty("data").ValueKind, Is.EqualTo(JsonValueKind.Null));
        }

        (TestClient anonymous, _) = await TestClient.JoinAsync(server.WebSocketUri("room-1"));
        await using (anonymous)
        {
            await anonymous.SendAsync("""{"type":"rpc","id":1,"method":"echo","data":null}""");
            await anonymous.ReceiveAsync("rpc_result");
            Assert.That((await backend.NextCallAsync()).GetProperty("user").ValueKind, Is.EqualTo(JsonValueKind.Null));
        }
    }

    [TestCase("refuse.message", "you are not in this room", TestName = "A 4xx JSON object's message is the reason, trimmed")]
    [TestCase("refuse.error", "the message is too long", TestName = "A 4xx JSON object's error is the reason")]
    [TestCase("refuse.text", "plain reason", TestName = "A 4xx text body is the reason, trimmed")]
    [TestCase("refuse.empty", "the backend refused the call (HTTP 404) without saying why", TestName = "A 4xx without a body says so")]
    public async Task A_4xx_is_rejected_with_the_backends_reason(string method, string reason)
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("refusals"));
        await using (client)
        {
            await client.SendAsync($$"""{"type":"rpc","id":"x","method":"{{method}}"}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("id").GetString(), Is.EqualTo("x"));
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("rejected"));
            Assert.That(error.GetProperty("message").GetString(), Is.EqualTo(reason));
        }
    }

    [Test]
    public async Task A_long_refusal_is_cut_to_512_characters()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("refusals"));
        await using (client)
        {
            await client.SendAsync("""{"type":"rpc","id":1,"method":"refuse.long"}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("rejected"));
            Assert.That(error.GetProperty("message").GetString(), Is.EqualTo(new string('x', 512)));
        }
    }

    [Test]
    public async Task A_5xx_or_a_2xx_that_is_not_JSON_is_unavailable_and_the_connection_stays()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("failures"));
        await using (client)
        {
            await client.SendAsync("""{"type":"rpc","id":1,"method":"fail"}""");
            JsonElement failed = await client.ReceiveAsync("error");
            Assert.That(failed.GetProperty("code").GetString(), Is.EqualTo("unavailable"));
            Assert.That(failed.GetProperty("message").GetString(), Does.Contain("HTTP 503"));

            await client.SendAsync("""{"type":"rpc","id":2,"method":"text"}""");
            JsonElement notJson = await client.ReceiveAsync("error");
            Assert.That(notJson.GetProperty("id").GetInt32(), Is.EqualTo(2));
            Assert.That(notJson.GetProperty("code").GetString(), Is.EqualTo("unavailable"));
            Assert.That(notJson.GetProperty("message").GetString(), Does.Contain("not JSON"));

            await client.SendAsync("""{"type":"rpc","id":3,"method":"echo","data":1}""");
            Assert.That((await client.ReceiveAsync("rpc_result")).GetProperty("data").GetRawText(), Is.EqualTo("""{"echo":1}"""));
        }

        var scrape = new Exposition(await server.Http.GetStringAsync("/metrics"));
        Assert.Multiple(() =>
        {
            Assert.That(scrape["gateway_rpc_calls_total{outcome=\"unavailable\"}"], Is.EqualTo(2));
            Assert.That(scrape["gateway_rpc_calls_total{outcome=\"ok\"}"], Is.EqualTo(1));
            Assert.That(scrape["gateway_rpc_duration_seconds_count{outcome=\"ok\"}"], Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Calls_in_flight_are_answered_out_of_order_each_with_its_id_while_pings_are_answered_at_once()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("in-flight"));
        await using (client)
        {
            foreach (string gate in new[] { "a", "b", "c" })
            {
                await client.SendAsync($$"""{"type":"rpc","id":"{{gate}}","method":"hold","data":"{{gate}}"}""");
            }

            for (int i = 0; i < 3; i++)
            {
                await backend.NextCallAsync();
            }

            // Three calls wait on the backend; the connection's other traffic goes on.
            await client.SendAsync("""{"type":"ping","id":"p"}""");
            Assert.That((await client.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("p"));

            foreach (string gate in new[] { "c", "a", "b" })
            {
                backend.Open(gate);
                JsonElement result = await client.ReceiveAsync("rpc_result");
                Assert.That(result.GetProperty("id").GetString(), Is.EqualTo(gate));
                Assert.That(result.GetProperty("data").GetProperty("released").GetString(), Is.EqualTo(gate));
            }
        }
    }

    [Test]
    public async Task Past_MaxRpcInFlight_a_call_is_rate_limited_until_one_is_answered()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend, new() { ["Gateway:Hooks:MaxRpcInFlight"] = "2" });
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("bounded"));
        await using (client)
        {
            await client.SendAsync("""{"type":"rpc","id":1,"method":"hold","data":"one"}""");
            await client.SendAsync("""{"type":"rpc","id":2,"method":"hold","data":"two"}""");
            await client.SendAsync("""{"type":"rpc","id":3,"method":"echo","data":3}""");
            JsonElement limited = await client.ReceiveAsync("error");
            Assert.That(limited.GetProperty("id").GetInt32(), Is.EqualTo(3));
            Assert.That(limited.GetProperty("code").GetString(), Is.EqualTo("rate_limited"));
            Assert.That(limited.GetProperty("message").GetString(), Does.Contain("2 rpc calls").And.Contain("Gateway:Hooks:MaxRpcInFlight"));

            backend.Open("one");
            Assert.That((await client.ReceiveAsync("rpc_result")).GetProperty("id").GetInt32(), Is.EqualTo(1));
            await client.SendAsync("""{"type":"rpc","id":4,"method":"echo","data":4}""");
            Assert.That((await client.ReceiveAsync("rpc_result")).GetProperty("id").GetInt32(), Is.EqualTo(4));
            backend.Open("two");
            Assert.That((await client.ReceiveAsync("rpc_result")).GetProperty("id").GetInt32(), Is.EqualTo(2));
        }

        Assert.That(backend.Received, Is.EqualTo(3), "the limited call never reached the backend");
        var scrape = new Exposition(await server.Http.GetStringAsync("/metrics"));
        Assert.That(scrape["gateway_rpc_calls_total{outcome=\"rate_limited\"}"], Is.EqualTo(1));
    }

    [Test]
    public async Task A_backend_that_does_not_answer_within_RpcTimeout_is_unavailable()
    {
        var clock = new ManualTimeProvider();
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend, new() { ["Gateway:Hooks:RpcTimeout"] = "00:00:02" }, clock);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("slow"));
        await using (client)
        {
            await client.SendAsync("""{"type":"rpc","id":"slow","method":"hold","data":"never"}""");
            await backend.NextCallAsync();
            clock.Advance(TimeSpan.FromSeconds(2));
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("id").GetString(), Is.EqualTo("slow"));
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("unavailable"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("2000 ms").And.Contain("Gateway:Hooks:RpcTimeout"));
        }

        var scrape = new Exposition(await server.Http.GetStringAsync("/metrics"));
        Assert.That(scrape["gateway_rpc_calls_total{outcome=\"timeout\"}"], Is.EqualTo(1));
    }

    [Test]
    public async Task The_breaker_opens_after_failures_answers_unavailable_without_calling_and_closes_when_the_backend_recovers()
    {
        var clock = new ManualTimeProvider();
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend, clock: clock);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("breaker"));
        await using (client)
        {
            for (int i = 0; i < 10; i++)
            {
                await client.SendAsync($$"""{"type":"rpc","id":{{i}},"method":"fail"}""");
                Assert.That((await client.ReceiveAsync("error")).GetProperty("message").GetString(), Does.Contain("HTTP 503"));
            }

            // Ten failures in a row: the breaker is open, and the backend is not called.
            await client.SendAsync("""{"type":"rpc","id":"open","method":"echo","data":1}""");
            JsonElement open = await client.ReceiveAsync("error");
            Assert.That(open.GetProperty("id").GetString(), Is.EqualTo("open"));
            Assert.That(open.GetProperty("code").GetString(), Is.EqualTo("unavailable"));
            Assert.That(open.GetProperty("message").GetString(), Does.Contain("circuit open"));
            Assert.That(backend.Received, Is.EqualTo(10));

            // After the break, one call goes through; the backend answers, and the breaker closes.
            clock.Advance(TimeSpan.FromSeconds(5));
            await client.SendAsync("""{"type":"rpc","id":"back","method":"echo","data":2}""");
            Assert.That((await client.ReceiveAsync("rpc_result")).GetProperty("id").GetString(), Is.EqualTo("back"));
            await client.SendAsync("""{"type":"rpc","id":"again","method":"echo","data":3}""");
            Assert.That((await client.ReceiveAsync("rpc_result")).GetProperty("id").GetString(), Is.EqualTo("again"));
            Assert.That(backend.Received, Is.EqualTo(12));
        }

        var scrape = new Exposition(await server.Http.GetStringAsync("/metrics"));
        Assert.Multiple(() =>
        {
            Assert.That(scrape["gateway_rpc_calls_total{outcome=\"unavailable\"}"], Is.EqualTo(10));
            Assert.That(scrape["gateway_rpc_calls_total{outcome=\"breaker_open\"}"], Is.EqualTo(1));
            Assert.That(scrape["gateway_rpc_calls_total{outcome=\"ok\"}"], Is.EqualTo(2));
        });
    }

    [Test]
    public async Task An_rpc_counts_against_the_message_rate()
    {
        // The clock stands still: the bucket does not refill during the test.
        var clock = new ManualTimeProvider();
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend, new()
        {
            ["Gateway:Limits:MessagesPerSecond"] = "1",
            ["Gateway:Limits:MessageBurst"] = "2",
        }, clock);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("rated"));
        await using (client)
        {
            await client.SendAsync("""{"type":"rpc","id":1,"method":"echo","data":1}""");
            await client.SendAsync("""{"type":"rpc","id":2,"method":"echo","data":2}""");
            await client.SendAsync("""{"type":"rpc","id":3,"method":"echo","data":3}""");
            var replies = new List<JsonElement> { await client.ReceiveAsync(), await client.ReceiveAsync(), await client.ReceiveAsync() };
            JsonElement limited = replies.Single(r => r.GetProperty("type").GetString() == "error");
            Assert.That(limited.GetProperty("id").GetInt32(), Is.EqualTo(3));
            Assert.That(limited.GetProperty("code").GetString(), Is.EqualTo("rate_limited"));
            Assert.That(limited.GetProperty("message").GetString(), Does.Contain("messages a second"));
            Assert.That(replies.Where(r => r.GetProperty("type").GetString() == "rpc_result").Select(r => r.GetProperty("id").GetInt32()), Is.EquivalentTo(new[] { 1, 2 }));
        }

        Assert.That(backend.Received, Is.EqualTo(2), "the limited call never reached the backend");
    }

    [Test]
    public async Task Without_RpcUrl_an_rpc_is_unavailable()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("no-backend"));
        await using (client)
        {
            await client.SendAsync("""{"type":"rpc","id":1,"method":"chat.send","data":"hi"}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("unavailable"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("Gateway:Hooks:RpcUrl"));
        }
    }

    [Test]
    public async Task A_connection_that_closes_while_its_call_waits_drops_the_answer_and_others_are_unaffected()
    {
        await using RpcBackend backend = await RpcBackend.StartAsync(AnswerAsync);
        await using GatewayServer server = await StartGatewayAsync(backend);
        (TestClient leaving, _) = await TestClient.JoinAsync(server.WebSocketUri("leaving"));
        await leaving.SendAsync("""{"type":"rpc","id":1,"method":"hold","data":"late"}""");
        await backend.NextCallAsync();
        await leaving.DisposeAsync();

        backend.Open("late");
        (TestClient staying, _) = await TestClient.JoinAsync(server.WebSocketUri("leaving"));
        await using (staying)
        {
            await staying.SendAsync("""{"type":"rpc","id":2,"method":"echo","data":2}""");
            Assert.That((await staying.ReceiveAsync("rpc_result")).GetProperty("id").GetInt32(), Is.EqualTo(2), "the other client gets only its own answer");
        }
    }
}
