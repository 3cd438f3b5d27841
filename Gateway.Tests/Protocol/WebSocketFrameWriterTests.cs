using System.Buffers;
using Gateway.Protocol.Framing;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class WebSocketFrameWriterTests
{
    [TestCase(0, "8100")]
    [TestCase(1, "8101")]
    [TestCase(125, "817D")]
    [TestCase(126, "817E007E")]
    [TestCase(127, "817E007F")]
    [TestCase(65535, "817EFFFF")]
    [TestCase(65536, "817F0000000000010000")]
    [TestCase(0x1_0000_0000L, "817F0000000100000000")]
    public void Writes_text_header(long length, string expectedHex)
    {
        var destination = new byte[14];
        int written = WebSocketFrameWriter.WriteHeader(destination, WebSocketOpcode.Text, length);
        Assert.Multiple(() =>
        {
            Assert.That(Hex(destination.AsSpan(0, written)), Is.EqualTo(expectedHex));
            Assert.That(WebSocketFrameWriter.GetHeaderLength(length), Is.EqualTo(written));
            Assert.That(destination.Skip(written), Is.All.EqualTo(0), "nothing written past the header");
        });
    }

    [TestCase(WebSocketOpcode.Binary, true, 5, "8205")]
    [TestCase(WebSocketOpcode.Text, false, 5, "0105")]
    [TestCase(WebSocketOpcode.Continuation, false, 300, "007E012C")]
    [TestCase(WebSocketOpcode.Continuation, true, 0, "8000")]
    [TestCase(WebSocketOpcode.Close, true, 2, "8802")]
    [TestCase(WebSocketOpcode.Ping, true, 0, "8900")]
    [TestCase(WebSocketOpcode.Pong, true, 125, "8A7D")]
    public void Writes_opcode_and_fin(WebSocketOpcode opcode, bool fin, long length, string expectedHex)
    {
        var destination = new byte[14];
        int written = WebSocketFrameWriter.WriteHeader(destination, opcode, length, fin);
        Assert.That(Hex(destination.AsSpan(0, written)), Is.EqualTo(expectedHex));
    }

    [Test]
    public void Negative_length_throws()
    {
        Assert.That(() => WebSocketFrameWriter.WriteHeader(new byte[14], WebSocketOpcode.Text, -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [TestCase(0)]
    [TestCase(125)]
    [TestCase(126)]
    [TestCase(65535)]
    [TestCase(65536)]
    public void Creates_frame_and_gets_its_payload_back(int length)
    {
        byte[] payload = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        byte[] frame = WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Binary, payload);
        var header = new byte[14];
        int headerLength = WebSocketFrameWriter.WriteHeader(header, WebSocketOpcode.Binary, length);
        Assert.Multiple(() =>
        {
            Assert.That(frame, Has.Length.EqualTo(headerLength + length));
            Assert.That(Hex(frame.AsSpan(0, headerLength)), Is.EqualTo(Hex(header.AsSpan(0, headerLength))));
            Assert.That(Hex(frame.AsSpan(headerLength)), Is.EqualTo(Hex(payload)));
            Assert.That(Hex(WebSocketFrameWriter.GetPayload(frame).Span), Is.EqualTo(Hex(payload)));
        });
    }

    [Test]
    public void Creates_close_frame()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Hex(WebSocketFrameWriter.CreateCloseFrame(1000, "bye")), Is.EqualTo("880503E8627965"));
            Assert.That(Hex(WebSocketFrameWriter.CreateCloseFrame(4001, "")), Is.EqualTo("88020FA1"));
            Assert.That(Hex(WebSocketFrameWriter.CreateCloseFrame(1001, "é")), Is.EqualTo("880403E9C3A9"));
        });
    }

    private static string Repeat(string unit, int count) => string.Concat(Enumerable.Repeat(unit, count));

    private static IEnumerable<TestCaseData> CloseReasons()
    {
        static TestCaseData Case(string name, string reason, string expected) =>
            new TestCaseData(reason, expected).SetArgDisplayNames(name);

        yield return Case("empty", "", "");
        yield return Case("123 ASCII bytes fit", Repeat("x", 123), Repeat("x", 123));
        yield return Case("124 ASCII bytes", Repeat("x", 124), Repeat("x", 123));
        yield return Case("2-byte characters", Repeat("é", 200), Repeat("é", 61));
        yield return Case("3-byte characters", Repeat("€", 200), Repeat("€", 41));
        yield return Case("4-byte characters", Repeat("𝄞", 200), Repeat("𝄞", 30));
        yield return Case("3-byte characters after one ASCII", "a" + Repeat("€", 60), "a" + Repeat("€", 40));
        yield return Case("last character ends at byte 123", Repeat("a", 120) + "€", Repeat("a", 120) + "€");
        yield return Case("last character would end at byte 124", Repeat("a", 121) + "€z", Repeat("a", 121));
    }

    [TestCaseSource(nameof(CloseReasons))]
    public void Close_reason_is_cut_at_a_character_boundary(string reason, string expected)
    {
        byte[] frame = WebSocketFrameWriter.CreateCloseFrame(1000, reason);
        ReadOnlyMemory<byte> payload = WebSocketFrameWriter.GetPayload(frame);
        var harness = new ReaderHarness(expectMasked: false);
        harness.Deliver(frame);
        Assert.Multiple(() =>
        {
            Assert.That(payload.Length, Is.LessThanOrEqualTo(125));
            Assert.That(frame[0], Is.EqualTo(0x88));
            Assert.That(frame[1], Is.EqualTo(payload.Length), "a 7-bit length");
            Assert.That(Hex(payload.Span[..2]), Is.EqualTo("03E8"));
            Assert.That(Hex(payload.Span[2..]), Is.EqualTo(Hex(Utf8(expected))));
            Assert.That(harness.Events, Is.EqualTo(new[] { $"close:1000:{expected}" }));
        });
    }

    [Test]
    public void Creates_the_rfc_masked_frame()
    {
        byte[] frame = WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Text, "Hello"u8, 0x3D21FA37);
        Assert.That(Hex(frame), Is.EqualTo("818537FA213D7F9F4D5158"));
    }

    [Test]
    public void Masked_frame_round_trips_through_the_reader(
        [Values(0, 1, 7, 125, 126, 127, 65535, 65536, 70001)] int length,
        [Values(0u, 0x3D21FA37u, 0xFFFFFFFFu)] uint key)
    {
        byte[] payload = Utf8(string.Concat(Enumerable.Range(0, length).Select(i => (char)('a' + (i % 26)))));
        byte[] frame = WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Text, payload, key);

        Assert.That(WebSocketFrameHeader.TryParse(frame.AsSpan(), out WebSocketFrameHeader header), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(header, Is.EqualTo(new WebSocketFrameHeader(true, 0, WebSocketOpcode.Text, true, key, (ulong)length, WebSocketFrameWriter.GetHeaderLength(length) + 4)));
            Assert.That(frame, Has.Length.EqualTo(header.HeaderLength + length));
        });

        var reader = new WebSocketMessageReader(100_000);
        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.Text));
        Assert.Multiple(() =>
        {
            Assert.That(Hex(reader.Payload.ToArray()), Is.EqualTo(Hex(payload)));
            Assert.That(buffer.IsEmpty, Is.True);
        });
    }

    [Test]
    public void Masked_fragments_round_trip_through_the_reader()
    {
        byte[] stream = Concat(
            WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Text, "frag"u8, 0x01020304, fin: false),
            WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Ping, "p"u8, 0x0A0B0C0D),
            WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Continuation, "mented"u8, 0xF0E0D0C0));
        Assert.That(ReaderHarness.Run(SplitEvery(stream, 1)), Is.EqualTo(new[] { "ping:p", "text:fragmented" }));
    }
}
