using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>Fan-out: order, completeness, and isolation from slow consumers (spec section 4).</summary>
public sealed class DeliveryTests
{
    [Test]
    [CancelAfter(60_000)]
    public async Task A_client_that_stops_reading_is_closed_with_4001_while_a_healthy_client_gets_every_event()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxLagBytes"] = "262144",
            ["Gateway:Limits:MaxPublishBytes"] = "131072",
            ["Gateway:Limits:CloseTimeout"] = "00:00:30",
        });
        using var metrics = new MetricRecorder(server.Get<Gateway.Diagnostics.GatewayMetrics>());
        await using RawWebSocket slow = await RawWebSocket.ConnectAsync(server.WebSocketUri("slow"), receiveBufferSize: 4096);
        Assert.That((await slow.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));
        (TestClient healthy, _) = await TestClient.JoinAsync(server.WebSocketUri("slow"));
        await using (healthy)
        {
            // The healthy client reads everything until the pong that follows the last publish, and
            // each publish waits until the healthy client has the one before: whatever the
            // scheduling, only the client that stopped reading can fall behind.
            var received = new List<long>();
            var arrivals = System.Threading.Channels.Channel.CreateUnbounded<long>();
            Task reading = Task.Run(async () =>
            {
                while (await healthy.ReceiveAsync() is var message && message.GetProperty("type").GetString() == "event")
                {
                    long arrived = message.GetProperty("seq").GetInt64();
                    received.Add(arrived);
                    arrivals.Writer.TryWrite(arrived);
                }
            });

            // Publish 64 KB events until the slow client has been dropped from the session: the
            // kernel's buffers fill first, then Kestrel's, then its 256 KiB of lag.
            string data = JsonSerializer.Serialize(new string('d', 64 * 1024));
            long seq = 0;
            while (await ClientsAsync(server, "slow") == 2)
            {
                seq = await server.PublishAsync("slow", "chunk", data);
                Assert.That(await arrivals.Reader.ReadAsync(TestClient.Deadline), Is.EqualTo(seq));
                Assert.That(seq, Is.LessThan(2000), "the slow client was never dropped");
            }

            for (int i = 0; i < 20; i++)
            {
                seq = await server.PublishAsync("slow", "chunk", data);
                Assert.That(await arrivals.Reader.ReadAsync(TestClient.Deadline), Is.EqualTo(seq));
            }

            Assert.That(metrics.Sum("gateway.send_queue.overflows"), Is.EqualTo(1));

            // The slow client reads again: what was already in flight, then the 4001 close.
            (ServerFrame? close, List<string> before) = await slow.ReceiveCloseAsync();
            Assert.That(close?.CloseCode, Is.EqualTo(4001));
            Assert.That(before.Count, Is.LessThan(seq));

            await healthy.SendAsync("""{"type":"ping"}""");
            await reading;
            Assert.That(received, Is.EqualTo(Enumerable.Range(1, (int)seq).Select(i => (long)i)));
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_client_that_kept_up_then_stalls_is_held_to_its_lag_and_a_bounded_socket_buffer()
    {
        // 16 KiB events: the first 288 (4.5 MiB) read as fast as they come, so that the kernel grows
        // the connection's buffers as far as it will; then the client stops reading.
        const int EventBytes = 16 * 1024;
        const int KeptUp = 6 * 48;
        const int Batch = 6;
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxLagBytes"] = "204800",
            ["Gateway:Limits:MaxPublishBytes"] = "102400",
            ["Gateway:Limits:SocketSendBufferBytes"] = "65536",
            ["Gateway:Limits:CloseTimeout"] = "00:00:30",
        });
        await using RawWebSocket client = await RawWebSocket.ConnectAsync(server.WebSocketUri("stall"), receiveBufferSize: 64 * 1024);
        Assert.That((await client.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));
        string data = JsonSerializer.Serialize(new string('d', EventBytes));
        string batch = "[" + string.Join(",", Enumerable.Repeat($$"""{"event":"chunk","data":{{data}}}""", Batch)) + "]";
        for (int i = 1; i <= KeptUp;)
        {
            // 96 KiB at a time (within the 200 KiB of lag), read as it streams in: the kernel sizes
            // its buffers for a fast stream.
            using HttpResponseMessage response = await server.Http.PostAsync("/api/sessions/stall/events", new StringContent(batch, Encoding.UTF8, "application/json"));
            Assert.That(response.StatusCode, Is.EqualTo(System.Net.HttpStatusCode.Accepted));
            for (int end = i + Batch; i < end; i++)
            {
                Assert.That((await client.ReceiveAsync())!.Value.Text, Does.Contain($"\"seq\":{i},"));
            }
        }

        // Stalled: what the gateway holds for it is its 200 KiB of lag, Kestrel's output buffer
        // (64 KiB) and the socket's (twice the setting, as Linux counts it), plus what the client's
        // own 64 KiB window took: about 28 of these events. Left to the kernel's own sizing
        // (SocketSendBufferBytes 0), the same test held anywhere from 9 to more than 80 when the
        // bound was 8 frames.
        int published = 0;
        while (await ClientsAsync(server, "stall") == 1)
        {
            await server.PublishAsync("stall", "chunk", data);
            published++;
            Assert.That(published, Is.LessThan(40), "the stalled client was still held after 40 more events (640 KiB)");
        }

        TestContext.Out.WriteLine($"dropped after {published} events of {EventBytes} bytes");
        (ServerFrame? close, _) = await client.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(4001));
    }

    [Test]
    [CancelAfter(240_000)]
    public async Task A_thousand_clients_in_one_session_each_get_a_thousand_events_in_order_without_gaps()
    {
        const int Clients = 1000;
        const int Events = 1000;
        await using GatewayServer server = await GatewayServer.StartAsync();

        var clients = new List<TestClient>();
        using var gate = new SemaphoreSlim(64);
        TestClient[] joined = await Task.WhenAll(Enumerable.Range(0, Clients).Select(async i =>
        {
            await gate.WaitAsync(TestClient.Deadline);
            try
            {
                (TestClient client, _) = await TestClient.JoinAsync(server.WebSocketUri("crowd"));
                return client;
            }
            finally
            {
                gate.Release();
            }
        }));
        clients.AddRange(joined);

        try
        {
            Task<long[]>[] readers = clients.Select(c => Task.Run(() => ReadSeqsAsync(c, Events))).ToArray();

            for (int batch = 0; batch < Events / 50; batch++)
            {
                string body = "[" + string.Join(",", Enumerable.Range(0, 50).Select(i => $$$"""{"event":"tick","data":{"n":{{{(batch * 50) + i}}}}}""")) + "]";
                using HttpResponseMessage response = await server.Http.PostAsync("/api/sessions/crowd/events", new StringContent(body, Encoding.UTF8, "application/json"));
                Assert.That((int)response.StatusCode, Is.EqualTo(202));
            }

            long[][] results = await Task.WhenAll(readers);
            long[] expected = Enumerable.Range(1, Events).Select(i => (long)i).ToArray();
            for (int i = 0; i < results.Length; i++)
            {
                Assert.That(results[i], Is.EqualTo(expected), $"client {i}");
            }
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    private static async Task<long[]> ReadSeqsAsync(TestClient client, int count)
    {
        var seqs = new long[count];
        for (int i = 0; i < count; i++)
        {
            string? text = await client.ReceiveTextAsync();
            Assert.That(text, Is.Not.Null, "closed early");
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text!));
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("seq"u8))
                {
                    reader.Read();
                    seqs[i] = reader.GetInt64();
                    break;
                }
            }
        }

        return seqs;
    }

    private static async Task<int> ClientsAsync(GatewayServer server, string session)
    {
        using HttpResponseMessage response = await server.Http.GetAsync($"/api/sessions/{session}");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("clients").GetInt32();
    }
}
