using System.Buffers;
using Gateway.Protocol.Framing;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class WebSocketFrameHeaderTests
{
    private static IEnumerable<TestCaseData> Headers()
    {
        static TestCaseData Case(string name, string hex, WebSocketFrameHeader expected) =>
            new TestCaseData(FromHex(hex), expected).SetArgDisplayNames(name);

        yield return Case("text, 7-bit length 5", "81 05",
            new(Fin: true, Reserved: 0, WebSocketOpcode.Text, Masked: false, MaskKey: 0, PayloadLength: 5, HeaderLength: 2));
        yield return Case("empty close", "88 00",
            new(true, 0, WebSocketOpcode.Close, false, 0, 0, 2));
        yield return Case("text, 7-bit length 125, masked", "81 FD 37 FA 21 3D",
            new(true, 0, WebSocketOpcode.Text, true, 0x3D21FA37, 125, 6));
        yield return Case("not final text", "01 03",
            new(false, 0, WebSocketOpcode.Text, false, 0, 3, 2));
        yield return Case("continuation, masked", "80 81 01 02 03 04",
            new(true, 0, WebSocketOpcode.Continuation, true, 0x04030201, 1, 6));
        yield return Case("binary, 16-bit length 126", "82 7E 00 7E",
            new(true, 0, WebSocketOpcode.Binary, false, 0, 126, 4));
        yield return Case("binary, 16-bit length 65535, masked", "82 FE FF FF AA BB CC DD",
            new(true, 0, WebSocketOpcode.Binary, true, 0xDDCCBBAA, 65535, 8));
        yield return Case("text, 64-bit length 65536", "81 7F 00 00 00 00 00 01 00 00",
            new(true, 0, WebSocketOpcode.Text, false, 0, 65536, 10));
        yield return Case("text, 64-bit length 2^32 + 1, masked", "81 FF 00 00 00 01 00 00 00 01 11 22 33 44",
            new(true, 0, WebSocketOpcode.Text, true, 0x44332211, 0x1_0000_0001, 14));
        yield return Case("64-bit length with the top bit set", "82 7F 80 00 00 00 00 00 00 00",
            new(true, 0, WebSocketOpcode.Binary, false, 0, 0x8000_0000_0000_0000, 10));
        yield return Case("RSV1", "C1 00", new(true, 4, WebSocketOpcode.Text, false, 0, 0, 2));
        yield return Case("RSV2", "A1 00", new(true, 2, WebSocketOpcode.Text, false, 0, 0, 2));
        yield return Case("RSV3", "91 00", new(true, 1, WebSocketOpcode.Text, false, 0, 0, 2));
        yield return Case("every RSV bit, not final", "70 00", new(false, 7, WebSocketOpcode.Continuation, false, 0, 0, 2));
        yield return Case("reserved opcode 3", "83 00", new(true, 0, (WebSocketOpcode)3, false, 0, 0, 2));
        yield return Case("reserved opcode 0xF", "8F 00", new(true, 0, (WebSocketOpcode)0xF, false, 0, 0, 2));
        yield return Case("ping, masked", "89 82 00 00 00 00", new(true, 0, WebSocketOpcode.Ping, true, 0, 2, 6));
        yield return Case("pong", "8A 00", new(true, 0, WebSocketOpcode.Pong, false, 0, 0, 2));
    }

    [TestCaseSource(nameof(Headers))]
    public void Parses_header(byte[] bytes, WebSocketFrameHeader expected)
    {
        // A payload after the header must not change anything.
        byte[] withPayload = Concat(bytes, [0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE]);
        Assert.Multiple(() =>
        {
            foreach (byte[] input in new[] { bytes, withPayload })
            {
                Assert.That(WebSocketFrameHeader.TryParse(input.AsSpan(), out WebSocketFrameHeader fromSpan), Is.True);
                Assert.That(fromSpan, Is.EqualTo(expected), "span");

                foreach (BufferShape shape in AllShapes)
                {
                    ReadOnlySequence<byte> sequence = ToSequence(input, shape);
                    Assert.That(WebSocketFrameHeader.TryParse(in sequence, out WebSocketFrameHeader fromSequence), Is.True, shape.ToString());
                    Assert.That(fromSequence, Is.EqualTo(expected), shape.ToString());
                }
            }
        });
    }

    [TestCaseSource(nameof(Headers))]
    public void Truncated_header_needs_more(byte[] bytes, WebSocketFrameHeader expected)
    {
        Assert.Multiple(() =>
        {
            for (int length = 0; length < expected.HeaderLength; length++)
            {
                byte[] prefix = bytes[..length];
                Assert.That(WebSocketFrameHeader.TryParse(prefix.AsSpan(), out _), Is.False, $"span of {length}");
                foreach (BufferShape shape in AllShapes)
                {
                    ReadOnlySequence<byte> sequence = ToSequence(prefix, shape);
                    Assert.That(WebSocketFrameHeader.TryParse(in sequence, out _), Is.False, $"{shape} of {length}");
                }
            }
        });
    }

    [Test]
    public void Header_split_at_every_point_across_two_segments()
    {
        byte[] frame = Concat(FromHex("81 FF 00 00 00 00 00 01 00 00 11 22 33 44"), new byte[20]);
        var expected = new WebSocketFrameHeader(true, 0, WebSocketOpcode.Text, true, 0x44332211, 65536, 14);
        Assert.Multiple(() =>
        {
            for (int split = 1; split < frame.Length; split++)
            {
                ReadOnlySequence<byte> sequence = FromChunks([frame[..split], frame[split..]]);
                Assert.That(WebSocketFrameHeader.TryParse(in sequence, out WebSocketFrameHeader header), Is.True, $"split at {split}");
                Assert.That(header, Is.EqualTo(expected), $"split at {split}");
            }
        });
    }

    [TestCase(WebSocketOpcode.Continuation, false)]
    [TestCase(WebSocketOpcode.Text, false)]
    [TestCase(WebSocketOpcode.Binary, false)]
    [TestCase((WebSocketOpcode)3, false)]
    [TestCase((WebSocketOpcode)7, false)]
    [TestCase(WebSocketOpcode.Close, true)]
    [TestCase(WebSocketOpcode.Ping, true)]
    [TestCase(WebSocketOpcode.Pong, true)]
    [TestCase((WebSocketOpcode)0xB, true)]
    [TestCase((WebSocketOpcode)0xF, true)]
    public void Control_opcodes_have_the_high_bit(WebSocketOpcode opcode, bool control)
    {
        var header = new WebSocketFrameHeader(true, 0, opcode, false, 0, 0, 2);
        Assert.That(header.IsControl, Is.EqualTo(control));
    }
}
