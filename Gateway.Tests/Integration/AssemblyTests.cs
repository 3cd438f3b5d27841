using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Log;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Keys and message assembly (spec section 19) on the memory log: live clients get each chunk,
/// while <c>status</c>, <c>GET /api/sessions/{session}</c> and a poll show the text so far in one
/// piece; an event without append replaces it; the limit refuses an append whichever way it comes.
/// </summary>
[CancelAfter(30_000)]
public sealed class AssemblyTests
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Gateway:Security:AllowClientPublish"] = "true",
        ["Gateway:Limits:MaxAssembledBytes"] = "64",
        ["Gateway:Sessions:MaxKeys"] = "3",
    };

    [Test]
    public async Task Chunks_go_out_live_while_status_the_session_and_a_poll_show_the_text_so_far_until_a_final_message_replaces_it()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings);
        (TestClient watcher, _) = await TestClient.JoinAsync(server.WebSocketUri("chat"));
        await using (watcher)
        {
            string[] chunks = ["Hel", "lo, \"wor", "ld\"\n", "é🚀"];
            foreach (string chunk in chunks)
            {
                Assert.That(await PostAsync(server, "chat", $$"""{"event":"answer","key":"q1","append":true,"data":{{JsonSerializer.Serialize(chunk)}}}"""), Is.EqualTo(HttpStatusCode.Accepted));
            }

            // Each chunk reaches the live client as its own event, with its key and append.
            for (int i = 0; i < chunks.Length; i++)
            {
                JsonElement e = await watcher.ReceiveAsync("event");
                Assert.That((e.GetProperty("seq").GetInt64(), e.GetProperty("key").GetString(), e.GetProperty("append").GetBoolean(), e.GetProperty("data").GetString()),
                    Is.EqualTo(((long)i + 1, "q1", true, chunks[i])));
            }

            // A plain event beside it stays in state; the keyed one lives under keyed only.
            await server.PublishAsync("chat", "typing", "false");
            Assert.That((await watcher.ReceiveAsync("event")).GetProperty("event").GetString(), Is.EqualTo("typing"));
            string text = string.Concat(chunks);
            await watcher.SendAsync("""{"type":"status","id":"s"}""");
            JsonElement status = await watcher.ReceiveAsync("status");
            AssertAssembled(status, text, chunks: 4, seq: 4);
            Assert.That(status.GetProperty("state").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "typing" }));

            AssertAssembled(await GetJsonAsync(server, "/api/sessions/chat"), text, chunks: 4, seq: 4);

            // A poller from the start, or one that lost events, gets the text whole; one that follows does not.
            AssertAssembled(await GetJsonAsync(server, "/api/sessions/chat/events?limit=1"), text, chunks: 4, seq: 4);
            AssertAssembled(await GetJsonAsync(server, "/api/sessions/chat/events?since=3&epoch=000000000000"), text, chunks: 4, seq: 4);
            Assert.That((await GetJsonAsync(server, "/api/sessions/chat/events?since=3")).TryGetProperty("keyed", out _), Is.False);

            // A late joiner sees the answer so far in one piece.
            (TestClient late, _) = await TestClient.JoinAsync(server.WebSocketUri("chat"));
            await using (late)
            {
                await late.SendAsync("""{"type":"status"}""");
                AssertAssembled(await late.ReceiveAsync("status"), text, chunks: 4, seq: 4);
            }

            // The final message, without append, replaces the text.
            await PostAsync(server, "chat", """{"event":"answer","key":"q1","data":{"text":"Hello","done":true}}""");
            JsonElement session = await GetJsonAsync(server, "/api/sessions/chat");
            JsonElement entry = session.GetProperty("keyed").GetProperty("answer").GetProperty("q1");
            Assert.That(entry.GetProperty("data").GetRawText(), Is.EqualTo("""{"text":"Hello","done":true}"""));
            Assert.That(entry.GetProperty("seq").GetInt64(), Is.EqualTo(6));
            Assert.That(entry.TryGetProperty("chunks", out _), Is.False);
        }
    }

    [Test]
    public async Task An_append_past_MaxAssembledBytes_is_refused_over_http_whole_batch_and_all()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings);

        // 64 bytes of JSON string, quotes included: "x" * 30 twice is 62, one more chunk of 3 is 65.
        string thirty = JsonSerializer.Serialize(new string('x', 30));
        await PostAsync(server, "limit", $$"""{"event":"answer","key":"k","append":true,"data":{{thirty}}}""");
        using HttpResponseMessage refused = await PostResponseAsync(server, "limit",
            $$"""[{"event":"answer","key":"k","append":true,"data":{{thirty}}},{"event":"other","data":1},{"event":"answer","key":"k","append":true,"data":"abc"}]""");
        string problem = await refused.Content.ReadAsStringAsync();
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem);
        Assert.That(problem, Does.Contain("events[2]: ").And.Contain("64 bytes (Gateway:Limits:MaxAssembledBytes").And.Contain("Nothing was published"));

        // Nothing of the batch: the seq, the text and the state are as before it.
        JsonElement session = await GetJsonAsync(server, "/api/sessions/limit");
        Assert.That(session.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(session.GetProperty("state").EnumerateObject().Count(), Is.Zero);
        AssertAssembled(session, new string('x', 30), chunks: 1, seq: 1);

        // Without the chunk too many, the batch goes through; a replacement then makes room again.
        Assert.That(await PostAsync(server, "limit", $$"""{"event":"answer","key":"k","append":true,"data":{{thirty}}}"""), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await PostAsync(server, "limit", """{"event":"answer","key":"k","append":true,"data":"abc"}"""), Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await PostAsync(server, "limit", """{"event":"answer","key":"k","data":"done"}"""), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await PostAsync(server, "limit", """{"event":"answer","key":"k","append":true,"data":"abc"}"""), Is.EqualTo(HttpStatusCode.Accepted));
        AssertAssembled(await GetJsonAsync(server, "/api/sessions/limit"), "abc", chunks: 1, seq: 4);
    }

    [Test]
    public async Task A_client_publish_past_the_limit_gets_an_invalid_message_error_naming_it()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings);
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("client-limit"));
        await using (client)
        {
            string sixty = JsonSerializer.Serialize(new string('y', 60));
            await client.SendAsync($$"""{"type":"publish","id":"a","event":"answer","key":"k","append":true,"data":{{sixty}}}""");
            Assert.That((await client.ReceiveAsync("event")).GetProperty("append").GetBoolean(), Is.True);
            Assert.That((await client.ReceiveAsync("ack")).GetProperty("seq").GetInt64(), Is.EqualTo(1));

            await client.SendAsync("""{"type":"publish","id":"b","event":"answer","key":"k","append":true,"data":"zzz"}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("id").GetString(), Is.EqualTo("b"));
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("invalid_message"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("Gateway:Limits:MaxAssembledBytes"));

            // The connection goes on; the text is as it was.
            await client.SendAsync("""{"type":"status","id":"s"}""");
            AssertAssembled(await client.ReceiveAsync("status"), new string('y', 60), chunks: 1, seq: 1);
        }
    }

    [Test]
    public async Task An_ingest_line_past_the_limit_is_that_lines_error_and_the_lines_around_it_are_published()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings);
        string forty = JsonSerializer.Serialize(new string('w', 40));
        string body = string.Join('\n',
            """{"event":"answer","key":"k","append":true,"data":"start "}""",
            $$"""{"event":"answer","key":"k","append":true,"data":{{forty}}}""",
            $$"""{"event":"answer","key":"k","append":true,"data":{{forty}}}""",
            """{"event":"answer","key":"k","append":true,"data":"end"}""",
            """{"event":"step","data":5}""") + "\n";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using HttpResponseMessage response = await server.Http.PostAsync("/api/sessions/ingest-limit/events", content, TestClient.Deadline);
        JsonElement answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), answer.GetRawText());
        Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(4));
        JsonElement error = answer.GetProperty("errors").EnumerateArray().Single();
        Assert.That(error.GetProperty("line").GetInt32(), Is.EqualTo(3));
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("Gateway:Limits:MaxAssembledBytes"));

        JsonElement session = await GetJsonAsync(server, "/api/sessions/ingest-limit");
        AssertAssembled(session, "start " + new string('w', 40) + "end", chunks: 3, seq: 3);
        Assert.That(session.GetProperty("state").GetProperty("step").GetProperty("seq").GetInt64(), Is.EqualTo(4));
    }

    [Test]
    public async Task Keys_past_MaxKeys_are_refused_and_the_keys_held_go_on()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(Settings);
        for (int i = 1; i <= 3; i++)
        {
            Assert.That(await PostAsync(server, "keys", $$"""{"event":"answer","key":"k{{i}}","data":{{i}}}"""), Is.EqualTo(HttpStatusCode.Accepted));
        }

        using HttpResponseMessage refused = await PostResponseAsync(server, "keys", """{"event":"reaction","key":"k1","data":"+1"}""");
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await refused.Content.ReadAsStringAsync(), Does.Contain("more than 3 keyed entries"));
        Assert.That(await PostAsync(server, "keys", """{"event":"answer","key":"k2","append":true,"data":"again"}"""), Is.EqualTo(HttpStatusCode.Accepted));
    }

    [Test]
    public async Task Assembled_text_is_counted_in_history_memory_and_given_back_on_replacement_and_delete()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:History:MaxEvents"] = "2",
            ["Gateway:Limits:MaxAssembledBytes"] = "1048576",
        });
        MemoryLog log = server.Get<MemoryLog>();
        string chunk = JsonSerializer.Serialize(new string('t', 10_000));
        for (int i = 0; i < 50; i++)
        {
            await PostAsync(server, "memory", $$"""{"event":"answer","key":"k","append":true,"data":{{chunk}}}""");
        }

        // History holds two chunks; the text of all fifty is held, and counted, beside them.
        long assembled = log.HistoryBytes;
        Assert.That(assembled, Is.GreaterThan(500_000));

        await PostAsync(server, "memory", """{"event":"answer","key":"k","data":"done"}""");
        Assert.That(log.HistoryBytes, Is.LessThan(100_000), "the replaced text was given back");

        using HttpResponseMessage deleted = await server.Http.DeleteAsync("/api/sessions/memory", TestClient.Deadline);
        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        Assert.That(log.HistoryBytes, Is.Zero);
    }

    internal static void AssertAssembled(JsonElement reply, string text, int chunks, long seq)
    {
        JsonElement entry = reply.GetProperty("keyed").GetProperty("answer").GetProperty(reply.GetProperty("keyed").GetProperty("answer").EnumerateObject().First().Name);
        Assert.That((entry.GetProperty("data").GetString(), entry.GetProperty("chunks").GetInt32(), entry.GetProperty("seq").GetInt64()),
            Is.EqualTo((text, chunks, seq)), reply.GetRawText());
    }

    internal static async Task<HttpStatusCode> PostAsync(GatewayServer server, string session, string body)
    {
        using HttpResponseMessage response = await PostResponseAsync(server, session, body);
        return response.StatusCode;
    }

    private static Task<HttpResponseMessage> PostResponseAsync(GatewayServer server, string session, string body) =>
        server.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body, Encoding.UTF8, "application/json"), TestClient.Deadline);

    private static async Task<JsonElement> GetJsonAsync(GatewayServer server, string path) =>
        JsonDocument.Parse(await server.Http.GetStringAsync(path, TestClient.Deadline)).RootElement.Clone();
}
