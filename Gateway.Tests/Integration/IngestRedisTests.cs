using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>Streaming ingest (spec section 18) over the Redis backplane: lines piped into one node reach the watchers of another.</summary>
[CancelAfter(60_000)]
public sealed class IngestRedisTests
{
    [Test]
    public async Task Text_piped_into_one_node_reaches_a_watcher_on_another_in_order_while_the_body_is_open()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2);
        (TestClient watcher, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("ingest-across"));
        await using (watcher)
        {
            var body = new IngestTests.StreamedContent("text/plain");
            Task<HttpResponseMessage> sending = cluster[0].Http.PutAsync("/api/sessions/ingest-across/events?event=log", body, TestClient.Deadline);

            // Chunks of several lines, the last cut mid-line: each becomes one or more appends on
            // node A, and node B must deliver them as one gapless sequence.
            const int Chunks = 4;
            const int LinesPerChunk = 50;
            var received = new List<JsonElement>();
            for (int chunk = 0; chunk < Chunks; chunk++)
            {
                string text = string.Concat(Enumerable.Range(chunk * LinesPerChunk, LinesPerChunk).Select(i => $"line {i}\n"));
                if (chunk < Chunks - 1)
                {
                    await body.WriteAsync(text[..^4]);
                    await body.WriteAsync(text[^4..]);
                }
                else
                {
                    await body.WriteAsync(text);
                }

                for (int i = 0; i < LinesPerChunk; i++)
                {
                    received.Add(await watcher.ReceiveAsync("event"));
                }

                Assert.That(sending.IsCompleted, Is.False, "the lines crossed to node B before the body ended");
            }

            body.Complete();
            JsonElement answer = await IngestTests.AnswerAsync(sending);
            Assert.That((answer.GetProperty("count").GetInt32(), answer.GetProperty("first").GetInt64(), answer.GetProperty("last").GetInt64()),
                Is.EqualTo((Chunks * LinesPerChunk, 1L, (long)Chunks * LinesPerChunk)));

            int total = Chunks * LinesPerChunk;
            Assert.That(received.Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(Enumerable.Range(1, total).Select(i => (long)i)));
            Assert.That(received.Select(e => e.GetProperty("data").GetProperty("line").GetString()),
                Is.EqualTo(Enumerable.Range(0, total).Select(i => "line " + i.ToString(CultureInfo.InvariantCulture))));
            Assert.That(received.Select(e => e.GetProperty("data").GetProperty("n").GetInt32()), Is.EqualTo(Enumerable.Range(1, total)));
            Assert.That(received.Select(e => e.GetProperty("event").GetString()).Distinct(), Is.EqualTo(new[] { "log" }));
        }
    }

    [Test]
    public async Task A_bad_ndjson_line_into_one_node_is_reported_and_the_rest_reach_another()
    {
        await using RedisNodes cluster = await RedisNodes.StartAsync(nodes: 2);
        (TestClient watcher, _) = await TestClient.JoinAsync(cluster[1].WebSocketUri("ingest-bad-across"));
        await using (watcher)
        {
            var content = new StringContent(
                """{"event":"step","data":1}""" + "\n" + """{"event":"step","data":""" + "\n" + """{"event":"step","data":3}""" + "\n" + """{"event":"step","data":4}""" + "\n");
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            JsonElement answer = await IngestTests.AnswerAsync(cluster[0].Http.PutAsync("/api/sessions/ingest-bad-across/events", content, TestClient.Deadline));

            Assert.That(answer.GetProperty("count").GetInt32(), Is.EqualTo(3));
            Assert.That(answer.GetProperty("errorCount").GetInt32(), Is.EqualTo(1));
            JsonElement error = answer.GetProperty("errors")[0];
            Assert.That(error.GetProperty("line").GetInt32(), Is.EqualTo(2));
            Assert.That(error.GetProperty("message").GetString(), Is.Not.Empty);

            var received = new List<JsonElement>();
            for (int i = 0; i < 3; i++)
            {
                received.Add(await watcher.ReceiveAsync("event"));
            }

            Assert.That(received.Select(e => e.GetProperty("data").GetInt32()), Is.EqualTo(new[] { 1, 3, 4 }));
            Assert.That(received.Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(new long[] { 1, 2, 3 }));
        }
    }
}
