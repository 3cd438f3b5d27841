using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>Bad input gets an error and the connection reads on; only the closes of spec section 3 end it.</summary>
[CancelAfter(30_000)]
public sealed class BadInputTests
{
    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:Limits:MaxMessageBytes"] = "4096",
    });

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    private static IEnumerable<TestCaseData> BadMessages()
    {
        yield return new TestCaseData("{not json", "invalid_json", null).SetName("not JSON");
        yield return new TestCaseData("[1,2]", "invalid_message", null).SetName("not an object");
        yield return new TestCaseData("""{"id":"a"}""", "invalid_message", "a").SetName("no type");
        yield return new TestCaseData("""{"type":"launch","id":"b"}""", "unknown_type", "b").SetName("unknown type");
        yield return new TestCaseData("""{"type":"subscribe","id":"c","events":"all"}""", "invalid_message", "c").SetName("events not an array");
        yield return new TestCaseData("""{"type":"resume","id":"d","since":-1}""", "invalid_message", "d").SetName("negative since");
        yield return new TestCaseData("""{"type":"publish","id":"e","data":1}""", "invalid_message", "e").SetName("publish without event");
        yield return new TestCaseData(new string('[', 40) + new string(']', 40), "invalid_message", null).SetName("deep nesting");
    }

    [TestCaseSource(nameof(BadMessages))]
    public async Task A_bad_message_gets_an_error_and_the_next_message_is_read(string message, string code, string? id)
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("bad-input"));
        await using (client)
        {
            await client.SendAsync(message);
            JsonElement error = await client.ReceiveAsync("error");
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo(code));
            Assert.That(error.GetProperty("message").GetString(), Is.Not.Empty);
            Assert.That(error.TryGetProperty("id", out JsonElement echoed) ? echoed.GetString() : null, Is.EqualTo(id));

            await client.SendAsync("""{"type":"ping","id":"still-here"}""");
            Assert.That((await client.ReceiveAsync("pong")).GetProperty("id").GetString(), Is.EqualTo("still-here"));
        }
    }

    [Test]
    public async Task A_binary_frame_closes_with_1003()
    {
        await using TestClient client = await TestClient.ConnectAsync(_server.WebSocketUri("binary"));
        await client.ReceiveAsync("welcome");
        await client.Socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, TestClient.Deadline);
        (int? code, string? reason, _) = await client.ReceiveCloseAsync();
        Assert.That(code, Is.EqualTo(1003));
        Assert.That(reason, Does.Contain("text"));
    }

    [Test]
    public async Task A_message_over_the_limit_closes_with_1009_before_it_is_read()
    {
        await using TestClient client = await TestClient.ConnectAsync(_server.WebSocketUri("too-large"));
        await client.ReceiveAsync("welcome");
        string big = $$"""{"type":"ping","id":"{{new string('x', 5000)}}"}""";
        await client.SendAsync(big);
        (int? code, string? reason, List<string> before) = await client.ReceiveCloseAsync();
        Assert.That(code, Is.EqualTo(1009));
        Assert.That(reason, Does.Contain("4096"));
        Assert.That(before, Is.Empty, "nothing of the oversized message was answered");
    }

    [Test]
    public async Task A_fragmented_message_over_the_limit_closes_with_1009()
    {
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(_server.WebSocketUri("too-large-fragments"));
        Assert.That((await raw.ReceiveAsync())!.Value.Text, Does.Contain("welcome"));
        await raw.SendFrameAsync(WebSocketOpcode.Text, new byte[3000], fin: false);
        await raw.SendFrameAsync(WebSocketOpcode.Continuation, new byte[3000], fin: true);
        (ServerFrame? close, _) = await raw.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(1009));
    }

    [Test]
    public async Task A_message_at_the_limit_is_read()
    {
        (TestClient client, _) = await TestClient.JoinAsync(_server.WebSocketUri("at-limit"));
        await using (client)
        {
            const string prefix = "{\"type\":\"ping\",\"ts\":\"";
            string message = prefix + new string('y', 4096 - prefix.Length - 2) + "\"}";
            Assert.That(Encoding.UTF8.GetByteCount(message), Is.EqualTo(4096));
            await client.SendAsync(message);

            // ts is longer than 64 characters: an error reply, not a close.
            Assert.That((await client.ReceiveAsync("error")).GetProperty("code").GetString(), Is.EqualTo("invalid_message"));
        }
    }

    [Test]
    public async Task Invalid_utf8_closes_with_1007()
    {
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(_server.WebSocketUri("utf8"));
        await raw.ReceiveAsync();
        await raw.SendFrameAsync(WebSocketOpcode.Text, [(byte)'{', 0xC3, 0x28, (byte)'}']);
        (ServerFrame? close, _) = await raw.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(1007));
    }

    [Test]
    public async Task A_fragmented_message_with_a_ping_between_fragments_is_assembled()
    {
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(_server.WebSocketUri("fragments"));
        await raw.ReceiveAsync();
        await raw.SendFrameAsync(WebSocketOpcode.Text, Encoding.UTF8.GetBytes("""{"type":"pi"""), fin: false);
        await raw.SendFrameAsync(WebSocketOpcode.Ping, Encoding.UTF8.GetBytes("hb"));
        await raw.SendFrameAsync(WebSocketOpcode.Continuation, Encoding.UTF8.GetBytes("""ng","id":9}"""));

        ServerFrame pong = (await raw.ReceiveAsync())!.Value;
        Assert.That(pong.Kind, Is.EqualTo(WebSocketReadStatus.Pong));
        Assert.That(pong.Text, Is.EqualTo("hb"));
        ServerFrame reply = (await raw.ReceiveAsync())!.Value;
        Assert.That(JsonDocument.Parse(reply.Text).RootElement.GetProperty("id").GetInt32(), Is.EqualTo(9));
    }

    [Test]
    public async Task An_unmasked_frame_is_a_protocol_error_closed_with_1002()
    {
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(_server.WebSocketUri("unmasked"));
        await raw.ReceiveAsync();
        await raw.SendRawAsync(WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Text, Encoding.UTF8.GetBytes("""{"type":"ping"}""")));
        (ServerFrame? close, _) = await raw.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(1002));
        Assert.That(close?.CloseReason, Does.Contain("masked"));
    }

    [Test]
    public async Task A_client_close_is_echoed_and_the_server_ends_the_connection()
    {
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(_server.WebSocketUri("client-close"));
        await raw.ReceiveAsync();
        await raw.SendFrameAsync(WebSocketOpcode.Close, [0x0B, 0xB8, (byte)'b', (byte)'y', (byte)'e']);
        (ServerFrame? close, _) = await raw.ReceiveCloseAsync();
        Assert.That(close?.CloseCode, Is.EqualTo(3000));
        Assert.That(await raw.ServerClosedAsync(), Is.True);
    }
}
