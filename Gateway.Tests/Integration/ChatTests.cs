using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Gateway.Tests.Integration;

/// <summary>
/// The chat case end to end (spec section 13): a user's message goes to the room and, through
/// <c>rpc</c>, to an agent backend, whose status, tool events and streamed answer come back to
/// everyone in the room as events published over HTTP.
/// </summary>
[CancelAfter(30_000)]
public sealed class ChatTests
{
    private static readonly string[] AnswerChunks = ["It is ", "sunny ", "in Lisbon, ", "24 °C."];

    [Test]
    public async Task A_user_message_and_the_agents_whole_answer_reach_everyone_in_the_room_in_order()
    {
        GatewayServer? gateway = null;
        await using RpcBackend agent = await RpcBackend.StartAsync(async (call, response, _) =>
        {
            // The agent accepts the message, then works on it and streams its answer to the room.
            string session = call.GetProperty("session").GetString()!;
            string text = call.GetProperty("data").GetProperty("text").GetString()!;
            await RpcBackend.WriteAsync(response, 200, $$"""{"accepted":true,"for":{{JsonSerializer.Serialize(call.GetProperty("user").GetString())}}}""");
            await response.CompleteAsync();

            await PublishAsync(gateway!, session, """{"event":"status","data":"thinking"}""");
            await PublishAsync(gateway!, session, $$$"""{"event":"tool_execution","data":{"tool":"weather","input":{{{JsonSerializer.Serialize(text)}}}}}""");
            await PublishAsync(gateway!, session, "[" + string.Join(",", AnswerChunks.Select(c => $$"""{"event":"message_chunk","data":{{JsonSerializer.Serialize(c)}}}""")) + "]");
            await PublishAsync(gateway!, session, """{"event":"status","data":"done"}""");
        });
        gateway = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Hooks:RpcUrl"] = agent.Url,
            ["Gateway:Security:AllowClientPublish"] = "true",
            ["Gateway:Security:ClientPublishEvents:0"] = "chat.*",
        });
        await using GatewayServer server = gateway;

        (TestClient alice, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("chat-room", "user=alice"));
        (TestClient bob, _) = await TestClient.JoinAsync(server.WebSocketUri("chat-room", "user=bob"));
        await using (alice)
        await using (bob)
        {
            string aliceConnection = welcome.GetProperty("connection").GetString()!;
            await alice.SendAsync("""{"type":"publish","id":"m1","event":"chat.message","data":{"text":"weather in Lisbon?"}}""");
            await alice.ReceiveAsync("event");
            await alice.ReceiveAsync("ack");
            await alice.SendAsync("""{"type":"rpc","id":"m1-send","method":"chat.send","data":{"text":"weather in Lisbon?"}}""");

            // Bob sees the user's message, from Alice, then the whole answer, in order.
            var seen = new List<JsonElement>();
            for (int i = 0; i < 4 + AnswerChunks.Length; i++)
            {
                seen.Add(await bob.ReceiveAsync("event"));
            }

            Assert.Multiple(() =>
            {
                Assert.That(seen.Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(Enumerable.Range(1, seen.Count).Select(i => (long)i)));
                Assert.That(seen.Select(e => e.GetProperty("event").GetString()), Is.EqualTo(
                    new[] { "chat.message", "status", "tool_execution" }.Concat(AnswerChunks.Select(_ => "message_chunk")).Append("status")));
                Assert.That(seen[0].GetProperty("from").GetRawText(), Is.EqualTo($$"""{"connection":"{{aliceConnection}}","user":"alice"}"""));
                Assert.That(seen[0].GetProperty("data").GetProperty("text").GetString(), Is.EqualTo("weather in Lisbon?"));
                Assert.That(seen.Skip(1).Any(e => e.TryGetProperty("from", out _)), Is.False, "the agent's events are the backend's");
                Assert.That(seen[2].GetProperty("data").GetProperty("input").GetString(), Is.EqualTo("weather in Lisbon?"));
                Assert.That(string.Concat(seen.Where(e => e.GetProperty("event").GetString() == "message_chunk").Select(e => e.GetProperty("data").GetString())),
                    Is.EqualTo(string.Concat(AnswerChunks)));
                Assert.That(seen[^1].GetProperty("data").GetString(), Is.EqualTo("done"));
            });

            // Alice got the rpc's answer among the same events (it may come before or after them).
            JsonElement? result = null;
            for (int i = 0; i < 5 + AnswerChunks.Length && result is null; i++)
            {
                JsonElement message = await alice.ReceiveAsync();
                if (message.GetProperty("type").GetString() == "rpc_result")
                {
                    result = message;
                }
            }

            Assert.That(result, Is.Not.Null, "the rpc was answered");
            Assert.That(result!.Value.GetProperty("id").GetString(), Is.EqualTo("m1-send"));
            Assert.That(result.Value.GetProperty("data").GetRawText(), Is.EqualTo("""{"accepted":true,"for":"alice"}"""));
        }

        JsonElement call = await agent.NextCallAsync();
        Assert.That((call.GetProperty("method").GetString(), call.GetProperty("session").GetString()), Is.EqualTo(("chat.send", "chat-room")));
    }

    private static async Task PublishAsync(GatewayServer server, string session, string body)
    {
        using HttpResponseMessage response = await server.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That((int)response.StatusCode, Is.EqualTo(202), await response.Content.ReadAsStringAsync());
    }
}
