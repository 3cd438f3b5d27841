using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// A foreign .NET client that reconnects by itself (Websocket.Client) against the gateway: its
/// connections drop under it while events keep coming, and it resumes each time with <c>since</c>.
/// </summary>
[CancelAfter(60_000)]
public sealed class ReconnectingClientTests
{
    [Test]
    public async Task A_client_whose_connection_keeps_breaking_ends_with_every_event_once_in_order()
    {
        const int Rounds = 10;
        const int Batch = 100;
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:History:MaxEvents"] = "5000" });
        await using var client = new ResumingClient(since => server.WebSocketUri("flaky", $"since={since}"));
        await client.StartAsync();

        var seqs = new List<long>();
        var resumed = new List<JsonElement>();
        async Task ReadUntilAsync(Func<bool> done)
        {
            while (!done())
            {
                JsonElement message = await client.ReceiveAsync();
                switch (message.GetProperty("type").GetString())
                {
                    case "event":
                        seqs.Add(message.GetProperty("seq").GetInt64());
                        break;
                    case "resumed":
                        resumed.Add(message);
                        break;
                }
            }
        }

        for (int round = 0; round < Rounds; round++)
        {
            // A batch arrives live; once it is all in, the connection breaks, and the next batch
            // is published while the client is away or reconnecting: it comes as replay, live, or
            // partly each, but once.
            await ResumeTests.PublishBatchesAsync(server, "flaky", batches: 1, size: Batch);
            await ReadUntilAsync(() => seqs.Count == (2 * round + 1) * Batch);
            client.BreakConnection();
            await ResumeTests.PublishBatchesAsync(server, "flaky", batches: 1, size: Batch);
            await ReadUntilAsync(() => seqs.Count == (2 * round + 2) * Batch);
        }

        // The last reconnection may have brought its whole batch as replay, ahead of its resumed.
        await ReadUntilAsync(() => resumed.Count == Rounds + 1);

        Assert.Multiple(() =>
        {
            Assert.That(seqs, Is.EqualTo(ResumeTests.Range(1, 2 * Rounds * Batch)), "every event once, in order, across every connection");
            Assert.That(client.Connects, Is.EqualTo(Rounds + 1), "one connection, then one after each break");
            Assert.That(resumed.Select(r => r.GetProperty("since").GetInt64()).ToArray(), Is.EqualTo(Enumerable.Range(0, Rounds + 1).Select(r => r == 0 ? 0L : (2L * r - 1) * Batch).ToArray()),
                "each connection resumed from the last seq seen before it");
            Assert.That(resumed.Select(r => r.GetProperty("complete").GetBoolean()), Has.All.True);
        });
    }
}
