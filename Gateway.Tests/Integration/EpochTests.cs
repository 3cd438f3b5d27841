using System.Net;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// A seq means something only within one life of a session: the epoch tells lives apart, so that
/// a client resuming from a seq of a life that is gone gets the new life from its start.
/// </summary>
[CancelAfter(60_000)]
public sealed class EpochTests
{
    [Test]
    public async Task After_a_restart_a_resume_with_the_old_epoch_gets_the_new_life_from_its_start_and_says_incomplete()
    {
        string oldEpoch;
        await using (GatewayServer first = await GatewayServer.StartAsync())
        {
            await ResumeTests.PublishBatchesAsync(first, "restarted", batches: 1, size: 5);
            (TestClient watcher, JsonElement welcome) = await TestClient.JoinAsync(first.WebSocketUri("restarted", "since=0"));
            await using (watcher)
            {
                oldEpoch = welcome.GetProperty("epoch").GetString()!;
                Assert.That(await ResumeTests.SeqsAsync(watcher, 3), Is.EqualTo(new long[] { 1, 2, 3 }), "the client has seen up to seq 3");
            }
        }

        // The memory backplane's sessions die with the process: the next one starts again at seq 1.
        await using GatewayServer second = await GatewayServer.StartAsync();
        await ResumeTests.PublishBatchesAsync(second, "restarted", batches: 1, size: 8);

        (TestClient client, JsonElement again) = await TestClient.JoinAsync(second.WebSocketUri("restarted", $"since=3&epoch={oldEpoch}"));
        await using (client)
        {
            string newEpoch = again.GetProperty("epoch").GetString()!;
            Assert.That(newEpoch, Is.Not.EqualTo(oldEpoch));
            Assert.That(await ResumeTests.SeqsAsync(client, 8), Is.EqualTo(ResumeTests.Range(1, 8)), "every event of the new life, 1..3 included");
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That(resumed.GetProperty("since").GetInt64(), Is.EqualTo(3));
            Assert.That(resumed.GetProperty("replayed").GetInt32(), Is.EqualTo(8));
            Assert.That(resumed.GetProperty("complete").GetBoolean(), Is.False);
            Assert.That(resumed.GetProperty("epoch").GetString(), Is.EqualTo(newEpoch));

            // A resume message with the old epoch: the same answer.
            await client.SendAsync($$"""{"type":"resume","id":"r","since":3,"epoch":"{{oldEpoch}}"}""");
            Assert.That(await ResumeTests.SeqsAsync(client, 8), Is.EqualTo(ResumeTests.Range(1, 8)));
            JsonElement viaMessage = await client.ReceiveAsync("resumed");
            Assert.That((viaMessage.GetProperty("complete").GetBoolean(), viaMessage.GetProperty("epoch").GetString()), Is.EqualTo((false, newEpoch)));
        }

        // A poll with the old epoch: the same.
        JsonElement page = await GetJsonAsync(second, $"/api/sessions/restarted/events?since=3&epoch={oldEpoch}");
        Assert.That(page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(ResumeTests.Range(1, 8)));
        Assert.That(page.GetProperty("complete").GetBoolean(), Is.False);
        Assert.That(page.GetProperty("epoch").GetString(), Is.Not.EqualTo(oldEpoch));
    }

    [Test]
    public async Task A_matching_epoch_resumes_exactly_as_a_seq_alone_and_every_view_carries_it()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await ResumeTests.PublishBatchesAsync(server, "same-life", batches: 1, size: 5);
        string epoch = (await GetJsonAsync(server, "/api/sessions/same-life")).GetProperty("epoch").GetString()!;
        Assert.That(epoch, Does.Match("^[A-Za-z0-9]{1,32}$"));

        (TestClient client, JsonElement welcome) = await TestClient.JoinAsync(server.WebSocketUri("same-life", $"since=3&epoch={epoch}"));
        await using (client)
        {
            Assert.That(welcome.GetProperty("epoch").GetString(), Is.EqualTo(epoch));
            Assert.That(await ResumeTests.SeqsAsync(client, 2), Is.EqualTo(new long[] { 4, 5 }));
            JsonElement resumed = await client.ReceiveAsync("resumed");
            Assert.That((resumed.GetProperty("replayed").GetInt32(), resumed.GetProperty("complete").GetBoolean(), resumed.GetProperty("epoch").GetString()), Is.EqualTo((2, true, epoch)));

            await client.SendAsync("""{"type":"status","id":"s"}""");
            Assert.That((await client.ReceiveAsync("status")).GetProperty("epoch").GetString(), Is.EqualTo(epoch));
        }

        JsonElement page = await GetJsonAsync(server, $"/api/sessions/same-life/events?since=3&epoch={epoch}");
        Assert.That(page.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()), Is.EqualTo(new long[] { 4, 5 }));
        Assert.That((page.GetProperty("complete").GetBoolean(), page.GetProperty("epoch").GetString()), Is.EqualTo((true, epoch)));
    }

    [Test]
    public async Task A_deleted_session_begins_a_new_life_with_a_new_epoch()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await server.PublishAsync("deleted-life", "e");
        string before = (await GetJsonAsync(server, "/api/sessions/deleted-life")).GetProperty("epoch").GetString()!;
        using (HttpResponseMessage deleted = await server.Http.DeleteAsync("/api/sessions/deleted-life"))
        {
            Assert.That(deleted.StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
        }

        await server.PublishAsync("deleted-life", "e");
        Assert.That((await GetJsonAsync(server, "/api/sessions/deleted-life")).GetProperty("epoch").GetString(), Is.Not.EqualTo(before));
    }

    [Test]
    public async Task Server_sent_events_carry_epoch_and_seq_as_their_id_and_resume_from_it()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await ResumeTests.PublishBatchesAsync(server, "sse-epoch", batches: 1, size: 5);
        string epoch = (await GetJsonAsync(server, "/api/sessions/sse-epoch")).GetProperty("epoch").GetString()!;

        await using (SseReader stream = await SseReader.OpenAsync(server, "/api/sessions/sse-epoch/stream", lastEventId: $"{epoch}:3"))
        {
            await stream.ReadCommentAsync();
            Assert.That((await stream.ReadAsync()).Id, Is.EqualTo($"{epoch}:4"));
            Assert.That((await stream.ReadAsync()).Id, Is.EqualTo($"{epoch}:5"));
            JsonElement resumed = JsonDocument.Parse((await stream.ReadAsync()).Data).RootElement;
            Assert.That((resumed.GetProperty("type").GetString(), resumed.GetProperty("complete").GetBoolean(), resumed.GetProperty("epoch").GetString()), Is.EqualTo(("resumed", true, epoch)));
        }

        // An id of another life: the stream starts this life from its beginning.
        await using (SseReader stale = await SseReader.OpenAsync(server, "/api/sessions/sse-epoch/stream", lastEventId: "gone0life:4"))
        {
            await stale.ReadCommentAsync();
            for (int seq = 1; seq <= 5; seq++)
            {
                Assert.That((await stale.ReadAsync()).Id, Is.EqualTo($"{epoch}:{seq}"));
            }

            JsonElement resumed = JsonDocument.Parse((await stale.ReadAsync()).Data).RootElement;
            Assert.That((resumed.GetProperty("since").GetInt64(), resumed.GetProperty("complete").GetBoolean()), Is.EqualTo((4, false)));
        }
    }

    [TestCase("/ws/bad-epoch?since=1&epoch=a:b")]
    [TestCase("/ws/bad-epoch?since=1&epoch=")]
    [TestCase("/ws/bad-epoch?since=1&epoch=0123456789012345678901234567890123")]
    public async Task A_bad_epoch_is_refused_before_the_upgrade_saying_what_is_accepted(string path)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (int status, string body) = await RefusalTests.UpgradeAsync(server, path);
        Assert.That(status, Is.EqualTo(400));
        Assert.That(body, Does.Contain("epoch").And.Contain("1-32 characters from A-Z a-z 0-9"));
    }

    [TestCase("/api/sessions/bad-epoch/events?since=1&epoch=a%20b", null)]
    [TestCase("/api/sessions/bad-epoch/stream", "a!b:3")]
    [TestCase("/api/sessions/bad-epoch/stream", "abc:x")]
    public async Task A_bad_epoch_or_event_id_is_refused_over_http_saying_what_is_accepted(string path, string? lastEventId)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using HttpResponseMessage response = await server.Http.SendAsync(request, TestClient.Deadline);
        string body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
        Assert.That(body, Does.Contain(lastEventId is null ? "epoch" : "Last-Event-ID"));
    }

    [Test]
    public async Task A_resume_message_with_a_bad_epoch_gets_invalid_message_and_the_connection_stays()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("bad-resume"));
        await using (client)
        {
            await client.SendAsync("""{"type":"resume","id":"r","since":0,"epoch":7}""");
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That((error.GetProperty("id").GetString(), error.GetProperty("code").GetString()), Is.EqualTo(("r", "invalid_message")));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain("\"epoch\""));

            await client.SendAsync("""{"type":"ping","id":"p"}""");
            Assert.That((await client.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("p"));
        }
    }

    internal static async Task<JsonElement> GetJsonAsync(GatewayServer server, string path)
    {
        using HttpResponseMessage response = await server.Http.GetAsync(path, TestClient.Deadline);
        string body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
