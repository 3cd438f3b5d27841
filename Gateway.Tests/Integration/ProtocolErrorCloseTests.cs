using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>
/// A frame that fails the connection (RFC 6455 section 7.1.7; spec section 3, row 1002) gets the
/// close frame with the right code, and then TCP closes at once: the gateway reads nothing more
/// and does not wait out the close timeout for a close frame it could never find.
/// </summary>
/// <remarks>
/// The gateway runs with a close timeout of 5 minutes, far past the test's wait of 10 s: a TCP
/// close that only comes from the close deadline cannot pass. The measured times are written to
/// the test output.
/// </remarks>
[CancelAfter(60_000)]
public sealed class ProtocolErrorCloseTests
{
    private const int MaxMessageBytes = 4096;
    private static readonly TimeSpan TcpCloseWait = TimeSpan.FromSeconds(10);

    private GatewayServer _server = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _server = await GatewayServer.StartAsync(new Dictionary<string, string?>
    {
        ["Gateway:Limits:MaxMessageBytes"] = MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Gateway:Limits:CloseTimeout"] = "00:05:00",
    });

    [OneTimeTearDown]
    public async Task StopAsync() => await _server.DisposeAsync();

    private static IEnumerable<TestCaseData> FailingFrames()
    {
        byte[] ping = Encoding.UTF8.GetBytes("""{"type":"ping"}""");

        byte[] reserved = Masked(WebSocketOpcode.Text, ping);
        reserved[0] |= 0x40;
        yield return Case("reserved bit RSV1 set", reserved, 1002, "reserved bits");
        yield return Case("reserved data opcode 0x3", Masked((WebSocketOpcode)0x3, ping), 1002, "opcode 0x3 is reserved");
        yield return Case("reserved control opcode 0xB", Masked((WebSocketOpcode)0xB, []), 1002, "opcode 0xB is reserved");
        yield return Case("unmasked frame", WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Text, ping), 1002, "must be masked");
        yield return Case("ping of 126 bytes", Masked(WebSocketOpcode.Ping, new byte[126]), 1002, "at most 125 bytes");
        yield return Case("fragmented ping", Masked(WebSocketOpcode.Ping, [1, 2], fin: false), 1002, "must not be fragmented");
        yield return Case("continuation with nothing to continue", Masked(WebSocketOpcode.Continuation, ping), 1002, "no message to continue");
        yield return Case("close code 1005", Masked(WebSocketOpcode.Close, CloseCode(1005)), 1002, "close code 1005");
        yield return Case("close code 999", Masked(WebSocketOpcode.Close, CloseCode(999)), 1002, "close code 999");
        yield return Case("close payload of 1 byte", Masked(WebSocketOpcode.Close, [3]), 1002, "2-byte status code");
        yield return Case("close reason not UTF-8", Masked(WebSocketOpcode.Close, [.. CloseCode(1000), 0xC3, 0x28]), 1002, "UTF-8");

        // A header that declares a terabyte and no payload after it.
        byte[] huge = new byte[14];
        huge[0] = 0x81;
        huge[1] = 0x80 | 127;
        BinaryPrimitives.WriteUInt64BigEndian(huge.AsSpan(2), 1UL << 40);
        yield return Case("header declaring 1 TiB", huge, 1009, $"larger than {MaxMessageBytes} bytes");
        yield return Case("fragments past the limit", [.. Masked(WebSocketOpcode.Text, new byte[3000], fin: false), .. Masked(WebSocketOpcode.Continuation, new byte[3000])],
            1009, $"larger than {MaxMessageBytes} bytes");
        yield return Case("text not UTF-8", Masked(WebSocketOpcode.Text, [(byte)'{', 0xC3, 0x28, (byte)'}']), 1007, "not valid UTF-8");
    }

    [TestCaseSource(nameof(FailingFrames))]
    public async Task The_close_frame_comes_and_then_tcp_closes_at_once(byte[] frame, int code, string reason)
    {
        await using RawWebSocket raw = await RawWebSocket.ConnectAsync(_server.WebSocketUri("failing"));
        Assert.That((await raw.ReceiveAsync())?.Text, Does.Contain("welcome"));

        await raw.SendRawAsync(frame);
        var clock = Stopwatch.StartNew();
        (ServerFrame? close, List<string> before) = await raw.ReceiveCloseAsync();
        TimeSpan toClose = clock.Elapsed;
        Assert.That(close?.CloseCode, Is.EqualTo(code), "the close frame came, with the code of spec section 3");
        Assert.That(close?.CloseReason, Does.Contain(reason));
        Assert.That(before, Is.Empty, "nothing of the failing frame was answered");

        string? end = await raw.WaitForTcpCloseAsync(TcpCloseWait);
        TimeSpan toTcpClose = clock.Elapsed;
        TestContext.Out.WriteLine(
            $"{TestContext.CurrentContext.Test.Name}: close {code} after {toClose.TotalMilliseconds:F1} ms, TCP {end ?? "still open"} after {toTcpClose.TotalMilliseconds:F1} ms");
        Assert.That(end, Is.Not.Null, $"the server closed TCP after its close frame, without waiting for the close timeout (5 min); waited {TcpCloseWait.TotalSeconds} s");
    }

    private static TestCaseData Case(string name, byte[] frame, int code, string reason) =>
        new TestCaseData(frame, code, reason).SetName(name);

    private static byte[] Masked(WebSocketOpcode opcode, byte[] payload, bool fin = true) =>
        WebSocketFrameWriter.CreateMaskedFrame(opcode, payload, 0x1B2C_3D4Eu, fin);

    private static byte[] CloseCode(ushort code)
    {
        var payload = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        return payload;
    }
}
