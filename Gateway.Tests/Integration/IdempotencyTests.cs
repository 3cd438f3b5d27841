using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>A publish retried with the same id is answered with the original seq and delivered once.</summary>
[CancelAfter(30_000)]
public sealed class IdempotencyTests
{
    [Test]
    public async Task A_retried_publish_gets_its_original_seq_marked_duplicate_and_is_delivered_once()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("retry"));
        await using (client)
        {
            JsonElement first = await PostAsync(server, "retry", """{"event":"step","id":"job-7:step-1","data":1}""");
            JsonElement again = await PostAsync(server, "retry", """{"event":"step","id":"job-7:step-1","data":1}""");
            JsonElement other = await PostAsync(server, "retry", """{"event":"step","id":"job-7:step-2","data":2}""");
            Assert.That(first.GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That(first.GetProperty("duplicate").GetBoolean(), Is.False);
            Assert.That(again.GetProperty("seq").GetInt64(), Is.EqualTo(1));
            Assert.That(again.GetProperty("duplicate").GetBoolean(), Is.True);
            Assert.That(other.GetProperty("seq").GetInt64(), Is.EqualTo(2));

            // The client's next two events are 1 and 2: the retry was not delivered in between.
            Assert.That(await ResumeTests.SeqsAsync(client, 2), Is.EqualTo(new long[] { 1, 2 }));
        }
    }

    [Test]
    public async Task In_a_batch_each_repeated_id_is_answered_with_its_original_seq()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("batch-retry"));
        await using (client)
        {
            JsonElement first = await PostAsync(server, "batch-retry", """[{"event":"a","id":"a"},{"event":"b","id":2}]""");
            Assert.That(Longs(first, "seqs"), Is.EqualTo(new long[] { 1, 2 }));
            Assert.That(Longs(first, "duplicates"), Is.Empty);

            // A retry of the whole batch with one new event, and an id repeated inside the batch.
            JsonElement retry = await PostAsync(server, "batch-retry", """[{"event":"a","id":"a"},{"event":"b","id":2},{"event":"c","id":"c"},{"event":"c","id":"c"}]""");
            Assert.That(Longs(retry, "seqs"), Is.EqualTo(new long[] { 1, 2, 3, 3 }));
            Assert.That(Longs(retry, "duplicates"), Is.EqualTo(new long[] { 0, 1, 3 }));

            // A string id and a number id are different keys.
            JsonElement typed = await PostAsync(server, "batch-retry", """{"event":"d","id":"2"}""");
            Assert.That(typed.GetProperty("seq").GetInt64(), Is.EqualTo(4));

            Assert.That(await ResumeTests.SeqsAsync(client, 4), Is.EqualTo(new long[] { 1, 2, 3, 4 }));
        }
    }

    [Test]
    public async Task An_id_is_remembered_as_long_as_history_holds_its_event()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "3" });
        await PostAsync(server, "window", """{"event":"x","id":"k"}""");
        await PostAsync(server, "window", """{"event":"x"}""");
        await PostAsync(server, "window", """{"event":"x"}""");
        Assert.That((await PostAsync(server, "window", """{"event":"x","id":"k"}""")).GetProperty("duplicate").GetBoolean(), Is.True);

        // A fourth event pushes seq 1 out of history, and its id with it.
        await PostAsync(server, "window", """{"event":"x"}""");
        JsonElement reused = await PostAsync(server, "window", """{"event":"x","id":"k"}""");
        Assert.That(reused.GetProperty("seq").GetInt64(), Is.EqualTo(5));
        Assert.That(reused.GetProperty("duplicate").GetBoolean(), Is.False);
    }

    private static async Task<JsonElement> PostAsync(GatewayServer server, string session, string body)
    {
        using HttpResponseMessage response = await server.Http.PostAsync($"/api/sessions/{session}/events", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Accepted), text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static long[] Longs(JsonElement element, string property) =>
        element.GetProperty(property).EnumerateArray().Select(e => e.GetInt64()).ToArray();
}
