using System.IO.Compression;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// permessage-deflate over real sockets (RFC 7692): negotiated when a client offers it, each event
/// compressed once and the same compressed bytes sent to every compressing client, plain frames
/// to the others, compressed client messages inflated within the message limit, and nothing of it
/// with <c>WebSockets:Compression</c> off.
/// </summary>
[CancelAfter(60_000)]
public sealed class CompressionTests
{
    private const string Compressions = "gateway.deflate.compressions";
    private const string CompressedFrames = "gateway.deflate.frames";

    /// <summary>A data value of about 2 KB of JSON, repetitive the way progress events are.</summary>
    private static string Data(int n) =>
        "[" + string.Join(",", Enumerable.Range(0, 40).Select(i => $$"""{"step":{{n * 100 + i}},"loss":0.{{(i * 7919) % 10000:D4}},"note":"épreuve ✓"}""")) + "]";

    /// <summary>A .NET client that offers permessage-deflate (with its defaults: context takeover both ways, 15-bit windows).</summary>
    private static Task<TestClient> ConnectDeflatingAsync(Uri uri) => TestClient.ConnectAsync(uri, configure: options =>
    {
        options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        options.CollectHttpResponseDetails = true;
    });

    /// <summary>A raw socket offering <paramref name="offer"/>, which shows each frame as sent (<see cref="RawWebSocket.ReceiveFrameAsync"/>).</summary>
    private static Task<RawWebSocket> ConnectOfferingAsync(Uri uri, string offer) =>
        RawWebSocket.ConnectAsync(uri, $"Sec-WebSocket-Extensions: {offer}\r\n");

    [Test]
    public async Task Compressing_and_plain_clients_get_the_same_events_and_each_event_is_compressed_once()
    {
        const int Events = 5;
        await using GatewayServer server = await GatewayServer.StartAsync();
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        Uri uri = server.WebSocketUri("shared");

        // Two compressing .NET clients, one compressing raw socket that shows the bytes, one plain raw socket.
        await using TestClient first = await ConnectDeflatingAsync(uri);
        await using TestClient second = await ConnectDeflatingAsync(uri);
        await using RawWebSocket wire = await ConnectOfferingAsync(uri, "permessage-deflate; client_max_window_bits");
        await using RawWebSocket plain = await RawWebSocket.ConnectAsync(uri);
        Assert.That(wire.ResponseHead, Does.Contain("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"));
        Assert.That(plain.ResponseHead, Does.Not.Contain("Sec-WebSocket-Extensions"));
        await first.ReceiveAsync("welcome");
        await second.ReceiveAsync("welcome");
        Assert.That((await wire.ReceiveFrameAsync()).Compressed, Is.False, "the welcome goes plain");
        Assert.That((await plain.ReceiveAsync())!.Value.Text, Does.Contain("\"welcome\""));

        for (int n = 1; n <= Events; n++)
        {
            await server.PublishAsync("shared", "step_update", Data(n));
        }

        for (int n = 1; n <= Events; n++)
        {
            string plainText = (await plain.ReceiveAsync())!.Value.Text;
            JsonElement sent = JsonDocument.Parse(plainText).RootElement;
            Assert.That(sent.GetProperty("data").GetRawText(), Is.EqualTo(Data(n)));
            foreach (TestClient client in new[] { first, second })
            {
                Assert.That(await client.ReceiveTextAsync(), Is.EqualTo(plainText), "a compressing client gets the event intact");
            }

            WireFrame compressed = await wire.ReceiveFrameAsync();
            Assert.That(compressed.Compressed, Is.True, "RSV1 set on the event");
            Assert.That(compressed.Payload.Length, Is.LessThan(Encoding.UTF8.GetByteCount(plainText) / 2));
            Assert.That(Encoding.UTF8.GetString(Inflate(compressed.Payload)), Is.EqualTo(plainText));
        }

        // Every frame went out before its count; the counters are exact once the last is read.
        await metrics.WhenSumReachesAsync(CompressedFrames, Events * 3).WaitAsync(TestClient.Deadline);
        Assert.That(metrics.Sum(Compressions), Is.EqualTo(Events), "compressed once per event, not once per compressing client");
        Assert.That(metrics.Sum(CompressedFrames), Is.EqualTo(Events * 3));
    }

    [Test]
    public async Task A_crowd_replaying_history_one_after_another_compresses_each_event_once()
    {
        const int Events = 5;
        await using GatewayServer server = await GatewayServer.StartAsync();
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        for (int n = 1; n <= Events; n++)
        {
            await server.PublishAsync("history", "step_update", Data(n));
        }

        // Nobody watched live: the events are compressed for the replays only, and shared by them.
        for (int client = 0; client < 3; client++)
        {
            await using RawWebSocket wire = await ConnectOfferingAsync(server.WebSocketUri("history", "since=0"), "permessage-deflate");
            Assert.That((await wire.ReceiveFrameAsync()).Compressed, Is.False, "the welcome goes plain");
            for (int n = 1; n <= Events; n++)
            {
                WireFrame frame = await wire.ReceiveFrameAsync();
                Assert.That(frame.Compressed, Is.True);
                Assert.That(JsonDocument.Parse(Inflate(frame.Payload)).RootElement.GetProperty("data").GetRawText(), Is.EqualTo(Data(n)));
            }
        }

        await metrics.WhenSumReachesAsync(CompressedFrames, Events * 3).WaitAsync(TestClient.Deadline);
        Assert.That(metrics.Sum(Compressions), Is.EqualTo(Events), "compressed once per event, not once per replaying client");
    }

    [Test]
    public async Task Two_compressing_connections_get_the_very_same_compressed_bytes()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        Uri uri = server.WebSocketUri("bytes");
        await using RawWebSocket a = await ConnectOfferingAsync(uri, "permessage-deflate");
        await using RawWebSocket b = await ConnectOfferingAsync(uri, "permessage-deflate; client_no_context_takeover");
        Assert.That(b.ResponseHead, Does.Contain("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"));
        await a.ReceiveFrameAsync();
        await b.ReceiveFrameAsync();

        await server.PublishAsync("bytes", "step_update", Data(1));
        WireFrame fromA = await a.ReceiveFrameAsync();
        WireFrame fromB = await b.ReceiveFrameAsync();
        Assert.That(fromA.Compressed && fromB.Compressed, Is.True);
        Assert.That(fromB.Payload, Is.EqualTo(fromA.Payload));
    }

    [Test]
    public async Task A_smaller_server_window_is_answered_and_longer_events_go_plain()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        Uri uri = server.WebSocketUri("window");
        await using RawWebSocket wire = await ConnectOfferingAsync(uri, "permessage-deflate; server_max_window_bits=10");
        Assert.That(wire.ResponseHead, Does.Contain("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10\r\n"));
        await wire.ReceiveFrameAsync();

        // About 700 bytes: within a 1 KB window. About 3 KB: past it, so it is sent plain.
        await server.PublishAsync("window", "short", "\"" + new string('x', 550) + "\"");
        await server.PublishAsync("window", "long", Data(1));
        WireFrame shortFrame = await wire.ReceiveFrameAsync();
        WireFrame longFrame = await wire.ReceiveFrameAsync();
        Assert.That(shortFrame.Compressed, Is.True);
        Assert.That(Encoding.UTF8.GetString(Inflate(shortFrame.Payload)), Does.Contain("\"short\""));
        Assert.That(longFrame.Compressed, Is.False);
        Assert.That(Encoding.UTF8.GetString(longFrame.Payload), Does.Contain("\"long\""));
    }

    [Test]
    public async Task A_compressed_publish_is_inflated_and_accepted()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Security:AllowClientPublish"] = "true" });
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        Uri uri = server.WebSocketUri("upstream");
        await using TestClient publisher = await ConnectDeflatingAsync(uri);
        await using RawWebSocket watcher = await RawWebSocket.ConnectAsync(uri);
        await publisher.ReceiveAsync("welcome");
        await watcher.ReceiveAsync();

        // Three messages in a row. The .NET client offers context takeover; the gateway answers
        // client_no_context_takeover, and the client compresses each message on its own.
        long received = 0;
        for (int n = 1; n <= 3; n++)
        {
            string message = $$"""{"type":"publish","id":"p{{n}}","event":"step_update","data":{{Data(1)}}}""";
            await publisher.SendAsync(message);
            JsonElement seen = JsonDocument.Parse((await watcher.ReceiveAsync())!.Value.Text).RootElement;
            Assert.That(seen.GetProperty("data").GetRawText(), Is.EqualTo(Data(1)));
            Assert.That(seen.GetProperty("seq").GetInt64(), Is.EqualTo(n));
            await publisher.ReceiveAsync("event");
            Assert.That((await publisher.ReceiveAsync("ack")).GetProperty("id").GetString(), Is.EqualTo($"p{n}"));
            received += Encoding.UTF8.GetByteCount(message);
        }

        Assert.That(metrics.Sum("gateway.network.io", "direction=receive"), Is.LessThan(received / 2), "the messages came compressed");
    }

    [Test]
    public async Task Each_client_message_inflates_on_its_own_so_one_ending_in_a_final_block_spoils_none_after_it()
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(server.WebSocketUri("final"), "Sec-WebSocket-Extensions: permessage-deflate\r\n");

        // Offered without client_no_context_takeover, answered with it (RFC 7692 section 7.1.1.2).
        Assert.That(raw.ResponseHead, Does.Contain("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"));
        await raw.ReceiveAsync();
        foreach (string id in new[] { "a", "b", "c" })
        {
            // Each message ends in a final block (BFINAL), which section 7.2.3.3 allows. An inflater
            // kept from one message to the next stops at that block, and the next message inflated
            // to nothing; a fresh one per message reads each whole.
            byte[] frame = WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Text, Gateway.Tests.Protocol.TestBuffers.DeflateToFinalBlock($$"""{"type":"ping","id":"{{id}}"}"""), 0x0102_0304u);
            frame[0] |= PerMessageDeflate.Rsv1;
            await raw.SendRawAsync(frame);
            JsonElement pong = JsonDocument.Parse((await raw.ReceiveAsync())!.Value.Text).RootElement;
            Assert.That(pong.GetProperty("type").GetString(), Is.EqualTo("pong"), pong.GetRawText());
            Assert.That(pong.GetProperty("id").GetString(), Is.EqualTo(id));
        }
    }

    [Test]
    public async Task A_message_that_inflates_past_the_limit_is_closed_with_1009()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Limits:MaxMessageBytes"] = "65536" });
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(server.WebSocketUri("bomb"), "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        Assert.That(raw.ResponseHead, Does.Contain("permessage-deflate"));
        await raw.ReceiveAsync();

        // 50 MB of spaces in a 50 KB frame, under the limit on the wire.
        byte[] bomb = PerMessageDeflate.Compress(Encoding.UTF8.GetBytes(new string(' ', 50 * 1024 * 1024)));
        Assert.That(bomb.Length, Is.LessThan(65536));
        byte[] frame = WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Text, bomb, 0x1234_5678u);
        frame[0] |= PerMessageDeflate.Rsv1;
        await raw.SendRawAsync(frame);

        (ServerFrame? close, _) = await raw.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(1009));
        Assert.That(close?.CloseReason, Is.EqualTo("message larger than 65536 bytes"));
    }

    [TestCase("permessage-deflate;;")]
    [TestCase("permessage-deflate; server_max_window_bits=\"1")]
    [TestCase("permessage-deflate; server_max_window_bits=99")]
    [TestCase("\u00ff\u00fe garbage ;=,")]
    public async Task A_bad_offer_never_breaks_the_upgrade(string offer)
    {
        await using GatewayServer server = await GatewayServer.StartAsync();
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(server.WebSocketUri("bad-offer"), $"Sec-WebSocket-Extensions: {offer}\r\n");
        Assert.That(raw.ResponseHead, Does.Not.Contain("Sec-WebSocket-Extensions"));
        await raw.ReceiveAsync();
        await server.PublishAsync("bad-offer", "step_update", Data(1));
        Assert.That((await raw.ReceiveAsync())!.Value.Text, Does.Contain(Data(1)), "read plain, RSV1 clear");
    }

    [Test]
    public async Task With_compression_off_no_extension_is_answered_and_events_go_plain()
    {
        await using GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:WebSockets:Compression"] = "false" });
        using var metrics = new MetricRecorder(server.Get<GatewayMetrics>());
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(server.WebSocketUri("off"), "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        Assert.That(raw.ResponseHead, Does.Not.Contain("Sec-WebSocket-Extensions"));
        await using TestClient dotnet = await ConnectDeflatingAsync(server.WebSocketUri("off"));
        Assert.That(dotnet.Socket.HttpResponseHeaders?.ContainsKey("Sec-WebSocket-Extensions") ?? false, Is.False);
        await raw.ReceiveAsync();
        await dotnet.ReceiveAsync("welcome");

        await server.PublishAsync("off", "step_update", Data(1));
        Assert.That((await raw.ReceiveAsync())!.Value.Text, Does.Contain(Data(1)));
        Assert.That((await dotnet.ReceiveAsync("event")).GetProperty("data").GetRawText(), Is.EqualTo(Data(1)));
        Assert.That(metrics.Sum(Compressions), Is.Zero);
    }

    private static byte[] Inflate(byte[] payload)
    {
        using var inflater = new DeflateStream(new MemoryStream([.. payload, 0x00, 0x00, 0xFF, 0xFF]), CompressionMode.Decompress);
        var output = new MemoryStream();
        inflater.CopyTo(output);
        return output.ToArray();
    }
}
