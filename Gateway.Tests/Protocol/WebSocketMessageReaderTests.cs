using System.Buffers;
using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using static Gateway.Tests.Protocol.Frames;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class WebSocketMessageReaderTests
{
    private const string NotFragmented = "error:control frames must not be fragmented";

    /// <summary>
    /// Reads <paramref name="stream"/> delivered whole, byte by byte, in random chunks, and (when short)
    /// in two pieces split at every point; every delivery must report exactly <paramref name="expected"/>.
    /// </summary>
    private static void AssertReads(byte[] stream, string[] expected, int maxMessageBytes = 1000, bool expectMasked = true)
    {
        Assert.Multiple(() =>
        {
            Assert.That(ReaderHarness.Run([stream], maxMessageBytes, expectMasked), Is.EqualTo(expected), "whole");
            Assert.That(ReaderHarness.Run(SplitEvery(stream, 1), maxMessageBytes, expectMasked), Is.EqualTo(expected), "byte by byte");
            for (int seed = 1; seed <= 3; seed++)
            {
                Assert.That(ReaderHarness.Run(SplitRandom(stream, new Random(seed), 13), maxMessageBytes, expectMasked), Is.EqualTo(expected), $"random chunks, seed {seed}");
            }

            if (stream.Length <= 300)
            {
                for (int split = 1; split < stream.Length; split++)
                {
                    Assert.That(ReaderHarness.Run([stream[..split], stream[split..]], maxMessageBytes, expectMasked), Is.EqualTo(expected), $"split at {split}");
                }
            }
        });
    }

    [TestCaseSource(nameof(Streams))]
    public void Reads_stream(byte[] stream, string[] expected) => AssertReads(stream, expected);

    private static TestCaseData Case(string name, byte[] stream, params string[] expected) =>
        new TestCaseData(stream, expected).SetArgDisplayNames(name);

    private static IEnumerable<TestCaseData> Streams()
    {
        // RFC 6455 section 5.7.
        yield return Case("RFC masked text", FromHex("81 85 37 FA 21 3D 7F 9F 4D 51 58"), "text:Hello");
        yield return Case("RFC masked pong", FromHex("8A 85 37 FA 21 3D 7F 9F 4D 51 58"), "pong:Hello");
        yield return Case("masked text", Text("""{"type":"ping"}"""), """text:{"type":"ping"}""");
        yield return Case("empty text", Text(""), "text:");
        yield return Case("two messages", Stream(Text("a"), Text("bc")), "text:a", "text:bc");
        yield return Case("ping and pong", Stream(Ping("p1"), Pong(""), Ping(new string('x', 125))), "ping:p1", "pong:", "ping:" + new string('x', 125));
        yield return Case("other mask keys", Stream(Masked(WebSocketOpcode.Text, Utf8("abcdefghij"), key: 0), Masked(WebSocketOpcode.Text, Utf8("klmnopqrst"), key: 0xFFFFFFFF)), "text:abcdefghij", "text:klmnopqrst");

        // Fragmentation: control frames come out as they arrive, the text once whole.
        yield return Case(
            "fragmented text with control frames between",
            Stream(Text("Hel", fin: false), Ping("p"), Continuation("lo ", fin: false), Pong("q"), Continuation("world")),
            "ping:p", "pong:q", "text:Hello world");
        yield return Case("empty fragments", Stream(Text("", fin: false), Continuation("", fin: false), Continuation("x")), "text:x");
        yield return Case(
            "many small fragments",
            Stream([Text("0", fin: false), .. Enumerable.Range(1, 98).Select(i => Continuation((i % 10).ToString(), fin: false)), Continuation("9")]),
            "text:" + string.Concat(Enumerable.Range(0, 100).Select(i => i % 10)));

        // Binary: reported once, skipped, the next frame read.
        yield return Case("binary then text", Stream(Binary(3), Text("ok")), "binary", "text:ok");
        yield return Case("empty binary", Stream(Binary(0), Text("ok")), "binary", "text:ok");
        yield return Case(
            "fragmented binary with a ping inside",
            Stream(Binary(10, fin: false), Ping("p"), Masked(WebSocketOpcode.Continuation, new byte[5]), Text("ok")),
            "binary", "ping:p", "text:ok");
        yield return Case("binary larger than the limit", Stream(Binary(5000), Text("ok")), "binary", "text:ok");

        // UTF-8.
        yield return Case("invalid byte", Stream(Text([0xFF]), Text("next")), "invalidutf8", "text:next");
        yield return Case("overlong encoding", Text([0xC0, 0xAF]), "invalidutf8");
        yield return Case("UTF-16 surrogate", Text([0xED, 0xA0, 0x80]), "invalidutf8");
        yield return Case("truncated character at the end", Text([0x61, 0xE2, 0x82]), "invalidutf8");
        yield return Case("character split across two fragments", Stream(Text([0xE2], fin: false), Continuation([0x82, 0xAC])), "text:€");
        yield return Case(
            "4-byte character split across three fragments",
            Stream(Text([0x61, 0xF0], fin: false), Continuation([0x9D], fin: false), Continuation([0x84, 0x9E, 0x62])),
            "text:a𝄞b");
        yield return Case("invalid UTF-8 in a later fragment", Stream(Text("ok", fin: false), Continuation([0xFE])), "invalidutf8");

        // Close frames.
        yield return Case("close with code and reason", Close(1000, "bye"), "close:1000:bye");
        yield return Case("close with a UTF-8 reason", Close(1001, "süß €"), "close:1001:süß €");
        yield return Case("empty close", Masked(WebSocketOpcode.Close, []), "close:1005:");
        yield return Case("close after a message", Stream(Text("m"), Close(4000, "")), "text:m", "close:4000:");
        foreach (ushort code in new ushort[] { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4001, 4999 })
        {
            yield return Case($"close code {code}", Close(code, "r"), $"close:{code}:r");
        }

        yield return Case("close of 1 byte", Masked(WebSocketOpcode.Close, [0x03]), "error:a close frame's payload must be empty or start with a 2-byte status code");
        foreach (ushort code in new ushort[] { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 })
        {
            yield return Case($"close code {code}", Close(code, ""), $"error:close code {code} may not be sent by an endpoint");
        }

        yield return Case("close reason not UTF-8", Masked(WebSocketOpcode.Close, [0x03, 0xE8, 0xFF]), "error:a close frame's reason must be UTF-8 text");

        // Framing errors: reported once, and nothing after them is read.
        yield return Case("unmasked client frame", Stream(FromHex("81 02 68 69"), Text("x")), "error:frames from a client must be masked");
        yield return Case("unmasked ping", FromHex("89 00"), "error:frames from a client must be masked");
        yield return Case("RSV1", Stream(WithFirstByte(0xC1, Utf8("x")), Text("x")), "error:reserved bits RSV1-3 must be 0: no extension was negotiated");
        yield return Case("RSV2", WithFirstByte(0xA1, Utf8("x")), "error:reserved bits RSV1-3 must be 0: no extension was negotiated");
        yield return Case("RSV3 on a ping", WithFirstByte(0x99, []), "error:reserved bits RSV1-3 must be 0: no extension was negotiated");
        yield return Case("reserved opcode 3", WithFirstByte(0x83, Utf8("x")), "error:opcode 0x3 is reserved");
        yield return Case("reserved opcode 7", WithFirstByte(0x87, []), "error:opcode 0x7 is reserved");
        yield return Case("reserved opcode 0xB", WithFirstByte(0x8B, Utf8("x")), "error:opcode 0xB is reserved");
        yield return Case("reserved opcode 0xF", WithFirstByte(0x8F, []), "error:opcode 0xF is reserved");
        yield return Case("reserved opcode 3 inside a message", Stream(Text("a", fin: false), WithFirstByte(0x83, [])), "error:opcode 0x3 is reserved");
        yield return Case("ping with fin 0", WithFirstByte(0x09, Utf8("p")), NotFragmented);
        yield return Case("close with fin 0", WithFirstByte(0x08, []), NotFragmented);
        yield return Case("ping of 126 bytes", Masked(WebSocketOpcode.Ping, new byte[126]), "error:control frames carry at most 125 bytes");
        yield return Case("close of 200 bytes", Masked(WebSocketOpcode.Close, Concat([0x03, 0xE8], new byte[198])), "error:control frames carry at most 125 bytes");
        yield return Case("continuation without a start", Continuation("x"), "error:a continuation frame arrived with no message to continue");
        yield return Case("continuation after a whole message", Stream(Text("a"), Continuation("b")), "text:a", "error:a continuation frame arrived with no message to continue");
        yield return Case(
            "new text frame inside a fragmented message",
            Stream(Text("a", fin: false), Text("b")),
            "error:a new message began before the previous fragmented message ended");
        yield return Case(
            "binary frame inside a fragmented message",
            Stream(Text("a", fin: false), Ping(""), Binary(1)),
            "ping:", "error:a new message began before the previous fragmented message ended");
        yield return Case(
            "64-bit length with the top bit set",
            FromHex("81 FF 80 00 00 00 00 00 00 00 01 02 03 04"),
            "error:the most significant bit of a 64-bit payload length must be 0");
    }

    [Test]
    public void Message_exactly_at_the_limit_is_read()
    {
        string payload = new('m', 100);
        AssertReads(Text(payload), ["text:" + payload], maxMessageBytes: 100);
        AssertReads(
            Stream([Text("ab", fin: false), .. Enumerable.Range(0, 48).Select(_ => Continuation("ab", fin: false)), Continuation("ab")]),
            ["text:" + string.Concat(Enumerable.Repeat("ab", 50))],
            maxMessageBytes: 100);
    }

    [Test]
    public void Message_one_byte_over_the_limit_is_too_large_and_the_next_frames_are_read()
    {
        AssertReads(Stream(Text(new string('m', 101)), Close(1000, "bye")), ["toolarge", "close:1000:bye"], maxMessageBytes: 100);
        AssertReads(
            Stream(Text(new string('a', 60), fin: false), Ping("p"), Continuation(new string('b', 41), fin: false), Ping("q"), Continuation("c"), Text("ok")),
            ["ping:p", "toolarge", "ping:q", "text:ok"],
            maxMessageBytes: 100);
    }

    [Test]
    public void Too_large_is_reported_from_the_header_before_the_payload_arrives()
    {
        var harness = new ReaderHarness(maxMessageBytes: 100);
        byte[] frame = Text(new string('m', 101));
        harness.Deliver(frame[..6]);
        Assert.Multiple(() =>
        {
            Assert.That(harness.Events, Is.EqualTo(new[] { "toolarge" }));
            Assert.That(harness.Reader.HoldsBuffer, Is.False);
            Assert.That(harness.Pending, Is.Zero);
        });

        foreach (byte[] chunk in SplitEvery(frame[6..], 10))
        {
            harness.Deliver(chunk);
        }

        harness.Deliver(Close(1009, "x"));
        Assert.That(harness.Events, Is.EqualTo(new[] { "toolarge", "close:1009:x" }));
    }

    [Test]
    public void Huge_declared_length_is_too_large_without_buffering()
    {
        // 64 KiB limit, a header declaring 2^40 bytes: the reader must not try to hold them.
        var harness = new ReaderHarness(maxMessageBytes: 64 * 1024);
        harness.Deliver(FromHex("81 FF 00 00 01 00 00 00 00 00 01 02 03 04"));
        harness.Deliver(new byte[100_000]);
        Assert.Multiple(() =>
        {
            Assert.That(harness.Events, Is.EqualTo(new[] { "toolarge" }));
            Assert.That(harness.Reader.HoldsBuffer, Is.False);
            Assert.That(harness.Pending, Is.Zero, "skipped bytes are consumed as they arrive");
        });
    }

    [Test]
    public void A_header_alone_reserves_no_buffer_until_payload_arrives()
    {
        // A header that promises 60,000 bytes, then nothing: a connection that does this must not
        // make the gateway hold 60 KB for it.
        byte[] frame = Text(new string('p', 60_000));
        var harness = new ReaderHarness(maxMessageBytes: 64 * 1024);
        harness.Deliver(frame[..8]);
        Assert.That(harness.Reader.HoldsBuffer, Is.False);

        harness.Deliver(frame[8..1008]);
        Assert.That(harness.Reader.HoldsBuffer, Is.True);
        harness.Deliver(frame[1008..]);
        Assert.That(harness.Events, Is.EqualTo(new[] { "text:" + new string('p', 60_000) }));
    }

    [Test]
    public void Large_message_in_one_frame_and_in_many_fragments()
    {
        var random = new Random(7);
        string big = string.Concat(Enumerable.Range(0, 150_000).Select(_ => (char)random.Next('a', 'z' + 1)));
        AssertReads(Text(big), ["text:" + big], maxMessageBytes: 150_000);

        byte[][] fragments = [.. SplitEvery(Utf8(big), 1500).Select((chunk, i) => i == 0 ? Text(chunk, fin: false) : Continuation(chunk, fin: i == 99))];
        AssertReads(Stream(fragments), ["text:" + big], maxMessageBytes: 150_000);
        AssertReads(Stream(fragments), ["toolarge"], maxMessageBytes: 149_999);
    }

    [Test]
    public void Client_reader_reads_unmasked_server_frames()
    {
        byte[] stream = Stream(
            ServerFrames.CreateTextFrame(new AckMessage(JsonScalar.FromString("a"), 5)),
            WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Ping, "hb"u8),
            WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Pong, []),
            ServerFrames.CreateTextFrame(new ErrorMessage(null, ErrorCode.InvalidJson, new string('e', 70_000))),
            WebSocketFrameWriter.CreateCloseFrame(CloseCodes.GoingAway, "going away"));
        AssertReads(
            stream,
            [
                """text:{"type":"ack","id":"a","seq":5}""",
                "ping:hb",
                "pong:",
                $$"""text:{"type":"error","code":"invalid_json","message":"{{new string('e', 70_000)}}"}""",
                "close:1001:going away",
            ],
            maxMessageBytes: 100_000,
            expectMasked: false);
    }

    [Test]
    public void Client_reader_refuses_masked_frames()
    {
        AssertReads(Text("x"), ["error:frames from a server must not be masked"], expectMasked: false);
    }

    [Test]
    public void No_buffer_is_held_while_idle()
    {
        var harness = new ReaderHarness();
        WebSocketMessageReader reader = harness.Reader;
        var buffer = new ReadOnlySequence<byte>(Stream(Text("first"), Text("sec", fin: false)));

        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.Text));
        Assert.That(reader.HoldsBuffer, Is.True, "the payload lives in the buffer until the next call");
        Assert.That(Encoding.UTF8.GetString(reader.Payload.ToArray()), Is.EqualTo("first"));

        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.NeedMore));
        Assert.That(reader.HoldsBuffer, Is.True, "a fragmented message is being assembled");

        buffer = new ReadOnlySequence<byte>(Continuation("ond"));
        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.Text));
        Assert.That(Encoding.UTF8.GetString(reader.Payload.ToArray()), Is.EqualTo("second"));
        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.NeedMore));
        Assert.Multiple(() =>
        {
            Assert.That(reader.HoldsBuffer, Is.False, "idle after a delivered message");
            Assert.That(reader.Payload.IsEmpty, Is.True);
            Assert.That(buffer.IsEmpty, Is.True);
        });
    }

    [Test]
    public void No_buffer_is_held_after_invalid_utf8_or_a_partial_header()
    {
        var harness = new ReaderHarness();
        byte[] next = Text("next");
        harness.Deliver(Stream(Text([0xFF]), next[..3]));
        Assert.Multiple(() =>
        {
            Assert.That(harness.Events, Is.EqualTo(new[] { "invalidutf8" }));
            Assert.That(harness.Reader.HoldsBuffer, Is.False);
            Assert.That(harness.Pending, Is.EqualTo(3), "a partial header stays unconsumed");
        });
    }

    [Test]
    public void Reset_releases_a_message_being_assembled()
    {
        var harness = new ReaderHarness();
        harness.Deliver(Text("part", fin: false));
        Assert.That(harness.Reader.HoldsBuffer, Is.True);
        harness.Reader.Reset();
        Assert.That(harness.Reader.HoldsBuffer, Is.False);
    }

    [Test]
    public void After_a_protocol_error_every_read_is_a_protocol_error_and_consumes_everything()
    {
        var reader = new WebSocketMessageReader(1000);
        var buffer = new ReadOnlySequence<byte>(Stream(Continuation("x"), Text("valid")));
        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.ProtocolError));
        string problem = reader.Problem;

        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.ProtocolError));
        Assert.Multiple(() =>
        {
            Assert.That(buffer.IsEmpty, Is.True);
            Assert.That(reader.Problem, Is.EqualTo(problem));
            Assert.That(problem, Is.EqualTo("a continuation frame arrived with no message to continue"));
        });
    }

    [Test]
    public void Control_frame_waits_whole_and_consumes_nothing_until_then()
    {
        var reader = new WebSocketMessageReader(1000);
        byte[] ping = Ping("hello");
        var partial = new ReadOnlySequence<byte>(ping[..^1]);
        Assert.Multiple(() =>
        {
            Assert.That(reader.TryRead(ref partial), Is.EqualTo(WebSocketReadStatus.NeedMore));
            Assert.That(partial.Length, Is.EqualTo(ping.Length - 1));
        });

        var whole = new ReadOnlySequence<byte>(ping);
        Assert.That(reader.TryRead(ref whole), Is.EqualTo(WebSocketReadStatus.Ping));
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(reader.Payload.ToArray()), Is.EqualTo("hello"));
            Assert.That(whole.IsEmpty, Is.True);
        });
    }

    [Test]
    public void Limit_must_be_positive()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new WebSocketMessageReader(0), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new WebSocketMessageReader(-1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }
}
