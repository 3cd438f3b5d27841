using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// Keys and message assembly (spec section 19) across two gateway nodes on one real redis-server:
/// the text is assembled in the publish script, so every node shows the same text, and the limits
/// refuse a batch there, whole.
/// </summary>
[CancelAfter(60_000)]
public sealed class RedisAssemblyTests
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Gateway:Limits:MaxAssembledBytes"] = "64",
        ["Gateway:Sessions:MaxKeys"] = "2",
    };

    [Test]
    public async Task Chunks_appended_on_one_node_are_live_and_assembled_on_the_other_until_replaced()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, settings: Settings);
        (TestClient watcher, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("llm"));
        await using (watcher)
        {
            string[] chunks = ["Hel", "lo \"", "wörld\"\n", "🚀"];
            foreach (string chunk in chunks)
            {
                Assert.That(await AssemblyTests.PostAsync(cluster[0], "llm", $$"""{"event":"answer","key":"q1","append":true,"data":{{JsonSerializer.Serialize(chunk)}}}"""),
                    Is.EqualTo(HttpStatusCode.Accepted));
            }

            for (int i = 0; i < chunks.Length; i++)
            {
                JsonElement e = await watcher.ReceiveAsync("event");
                Assert.That((e.GetProperty("seq").GetInt64(), e.GetProperty("key").GetString(), e.GetProperty("append").GetBoolean(), e.GetProperty("data").GetString()),
                    Is.EqualTo(((long)i + 1, "q1", true, chunks[i])));
            }

            // A plain event stays in state, and a keyed one from a client lives under keyed beside the text.
            await cluster[0].PublishAsync("llm", "typing", "true");
            await watcher.ReceiveAsync("event");
            await watcher.SendAsync("""{"type":"status","id":"s"}""");
            JsonElement status = await watcher.ReceiveAsync("status");
            AssemblyTests.AssertAssembled(status, string.Concat(chunks), chunks: 4, seq: 4);
            Assert.That(status.GetProperty("state").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "typing" }));
            AssemblyTests.AssertAssembled(await RedisBackplaneTests.GetJsonAsync(cluster[0], "/api/sessions/llm"), string.Concat(chunks), chunks: 4, seq: 4);
            AssemblyTests.AssertAssembled(await RedisBackplaneTests.GetJsonAsync(cluster[1], "/api/sessions/llm/events?limit=1"), string.Concat(chunks), chunks: 4, seq: 4);

            // The final message replaces the text; an append after it starts a new one.
            await AssemblyTests.PostAsync(cluster[1], "llm", """{"event":"answer","key":"q1","data":{"text":"done"}}""");
            JsonElement entry = (await RedisBackplaneTests.GetJsonAsync(cluster[0], "/api/sessions/llm")).GetProperty("keyed").GetProperty("answer").GetProperty("q1");
            Assert.That((entry.GetProperty("data").GetRawText(), entry.GetProperty("seq").GetInt64(), entry.TryGetProperty("chunks", out _)),
                Is.EqualTo(("""{"text":"done"}""", 6L, false)));
            await AssemblyTests.PostAsync(cluster[0], "llm", """{"event":"answer","key":"q1","append":true,"data":"again"}""");
            AssemblyTests.AssertAssembled(await RedisBackplaneTests.GetJsonAsync(cluster[1], "/api/sessions/llm"), "again", chunks: 1, seq: 7);
        }

        // A delete takes the keyed state with it: the next life starts with none.
        using HttpResponseMessage deleted = await cluster[1].Http.DeleteAsync("/api/sessions/llm", TestClient.Deadline);
        Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        await cluster[0].PublishAsync("llm", "typing", "false");
        Assert.That((await RedisBackplaneTests.GetJsonAsync(cluster[1], "/api/sessions/llm")).GetProperty("keyed").EnumerateObject().Count(), Is.Zero);
    }

    [Test]
    public async Task The_limits_refuse_a_batch_whole_in_the_script()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2, settings: Settings);
        string thirty = JsonSerializer.Serialize(new string('x', 30));
        await AssemblyTests.PostAsync(cluster[0], "limit", $$"""{"event":"answer","key":"k","append":true,"data":{{thirty}}}""");

        // The batch's first append fits; its third would take the text past 64 bytes.
        using HttpResponseMessage refused = await cluster[1].Http.PostAsync("/api/sessions/limit/events", new StringContent(
            $$"""[{"event":"answer","key":"k","append":true,"data":{{thirty}}},{"event":"other","data":1},{"event":"answer","key":"k","append":true,"data":"abc"}]""",
            Encoding.UTF8, "application/json"), TestClient.Deadline);
        string problem = await refused.Content.ReadAsStringAsync();
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem);
        Assert.That(problem, Does.Contain("events[2]: ").And.Contain("Gateway:Limits:MaxAssembledBytes"));

        JsonElement session = await RedisBackplaneTests.GetJsonAsync(cluster[0], "/api/sessions/limit");
        Assert.That(session.GetProperty("seq").GetInt64(), Is.EqualTo(1));
        Assert.That(session.GetProperty("state").EnumerateObject().Count(), Is.Zero);
        AssemblyTests.AssertAssembled(session, new string('x', 30), chunks: 1, seq: 1);

        // Keys: two are held; a third is refused, and the held ones go on.
        Assert.That(await AssemblyTests.PostAsync(cluster[0], "limit", """{"event":"answer","key":"k2","data":1}"""), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That(await AssemblyTests.PostAsync(cluster[1], "limit", """{"event":"reaction","key":"k","data":1}"""), Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await AssemblyTests.PostAsync(cluster[1], "limit", """{"event":"answer","key":"k2","append":true,"data":"x"}"""), Is.EqualTo(HttpStatusCode.Accepted));
        Assert.That((await RedisBackplaneTests.GetJsonAsync(cluster[0], "/api/sessions/limit")).GetProperty("seq").GetInt64(), Is.EqualTo(3));
    }
}
