using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Integration;

namespace Gateway.Tests.Diagnostics;

/// <summary>Streaming ingest's metrics (docs/operations.md): lines published and skipped, bodies being read.</summary>
[CancelAfter(30_000)]
public sealed class IngestMetricsTests
{
    [Test]
    public async Task A_scrape_counts_the_lines_published_and_skipped_and_the_bodies_still_open()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient watcher, _) = await TestClient.JoinAsync(server.WebSocketUri("ingest-metered"));
        await using (watcher)
        {
            // One body stays open through the scrape; its first line is in by the time the watcher has it.
            var open = new IngestTests.StreamedContent("application/x-ndjson");
            Task<HttpResponseMessage> streaming = server.Http.PutAsync("/api/sessions/ingest-metered/events", open, TestClient.Deadline);
            await open.WriteAsync("""{"event":"open","data":1}""" + "\n");
            await watcher.ReceiveAsync("event");

            // Another runs to its end: three good lines, a bad one, a blank one (neither).
            var content = new StringContent(
                """{"event":"ok","data":1}""" + "\n" + "not json\n" + """{"event":"ok","data":2}""" + "\n\n" + """{"event":"ok","data":3}""" + "\n");
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            JsonElement answer = await IngestTests.AnswerAsync(server.Http.PutAsync("/api/sessions/ingest-metered/events", content, TestClient.Deadline));
            Assert.That((answer.GetProperty("count").GetInt32(), answer.GetProperty("errorCount").GetInt32()), Is.EqualTo((3, 1)));

            var scrape = new Exposition(await server.Http.GetStringAsync("/metrics", TestClient.Deadline));
            Assert.Multiple(() =>
            {
                Assert.That(scrape["gateway_ingest_lines_total{outcome=\"published\"}"], Is.EqualTo(4), "the open body's line and the ended one's three");
                Assert.That(scrape["gateway_ingest_lines_total{outcome=\"skipped\"}"], Is.EqualTo(1));
                Assert.That(scrape["gateway_ingest_streams_open"], Is.EqualTo(1), "the ended body no longer counts; the open one does");
                Assert.That(scrape.Types.GetValueOrDefault("gateway_ingest_streams_open"), Is.EqualTo("gauge"));
                Assert.That(scrape["gateway_events_published_total"], Is.EqualTo(4));
            });

            open.Complete();
            JsonElement last = await IngestTests.AnswerAsync(streaming);
            Assert.That(last.GetProperty("count").GetInt32(), Is.EqualTo(1));
        }
    }
}
