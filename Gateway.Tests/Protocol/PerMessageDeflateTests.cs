using System.Buffers;
using System.IO.Compression;
using System.Text;
using Gateway.Protocol.Framing;
using static Gateway.Tests.Protocol.Frames;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

/// <summary>
/// permessage-deflate (RFC 7692): the offer parser against hostile headers, the compressed frame
/// the server shares, and the reader inflating a client's messages within the message limit.
/// </summary>
[TestFixture]
public sealed class PerMessageDeflateTests
{
    // Both ways on its own, whatever the offer said of the client's context (RFC 7692 section 7.1.1.2).
    private const string Accepted = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

    private static TestCaseData Offer(string header, string? answer) => new TestCaseData(header, answer).SetArgDisplayNames(header.Length == 0 ? "(empty)" : header.Replace("\t", "\\t", StringComparison.Ordinal));

    private static IEnumerable<TestCaseData> Offers()
    {
        // What clients send.
        yield return Offer("permessage-deflate", Accepted);
        yield return Offer("permessage-deflate; client_max_window_bits", Accepted);
        yield return Offer("permessage-deflate; client_max_window_bits=15; client_no_context_takeover", Accepted);
        yield return Offer("permessage-deflate; server_no_context_takeover; client_no_context_takeover", Accepted);
        yield return Offer("permessage-deflate; client_max_window_bits=10", Accepted);

        // A window the client asks the server to keep to is answered with the same value.
        yield return Offer("permessage-deflate; server_max_window_bits=10", Accepted + "; server_max_window_bits=10");
        yield return Offer("permessage-deflate; server_max_window_bits=8", Accepted + "; server_max_window_bits=8");
        yield return Offer("permessage-deflate; server_max_window_bits=15", Accepted + "; server_max_window_bits=15");
        yield return Offer("permessage-deflate; server_max_window_bits=\"12\"", Accepted + "; server_max_window_bits=12");

        // Whitespace and case.
        yield return Offer("  PerMessage-Deflate\t;\tClient_No_Context_Takeover  ", Accepted);
        yield return Offer("permessage-deflate ; server_max_window_bits = 9", Accepted + "; server_max_window_bits=9");
        yield return Offer(", ,permessage-deflate ,,", Accepted);

        // Several offers: the first the server can honour wins.
        yield return Offer("x-webkit-deflate-frame, permessage-deflate", Accepted);
        yield return Offer("permessage-deflate; server_max_window_bits=16, permessage-deflate", Accepted);
        yield return Offer("permessage-deflate; mystery, permessage-deflate; client_no_context_takeover", Accepted);
        yield return Offer("permessage-deflate; server_no_context_takeover, permessage-deflate; client_no_context_takeover", Accepted);

        // Offers declined: values out of range or malformed, a parameter repeated, one unknown.
        yield return Offer("permessage-deflate; server_max_window_bits=7", null);
        yield return Offer("permessage-deflate; server_max_window_bits=16", null);
        yield return Offer("permessage-deflate; server_max_window_bits=08", null);
        yield return Offer("permessage-deflate; server_max_window_bits=+9", null);
        yield return Offer("permessage-deflate; server_max_window_bits", null);
        yield return Offer("permessage-deflate; server_max_window_bits=100000000000000000000", null);
        yield return Offer("permessage-deflate; client_max_window_bits=16", null);
        yield return Offer("permessage-deflate; client_max_window_bits=abc", null);
        yield return Offer("permessage-deflate; client_max_window_bits; client_max_window_bits", null);
        yield return Offer("permessage-deflate; server_no_context_takeover; server_no_context_takeover", null);
        yield return Offer("permessage-deflate; client_no_context_takeover; client_no_context_takeover", null);
        yield return Offer("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", null);
        yield return Offer("permessage-deflate; client_no_context_takeover=1", null);
        yield return Offer("permessage-deflate; mystery", null);
        yield return Offer("deflate-frame", null);
        yield return Offer("permessage-deflate-x", null);
        yield return Offer("", null);

        // A header that does not parse is trusted for nothing, a good offer in it included.
        yield return Offer("permessage-deflate;;", null);
        yield return Offer("permessage-deflate; server_max_window_bits=\"10", null);
        yield return Offer("permessage-deflate; server_max_window_bits=\"1\"0", null);
        yield return Offer("permessage-deflate; server_max_window_bits=\"\"", null);
        yield return Offer("permessage-deflate garbage", null);
        yield return Offer("permessage-deflate, \"quoted\"", null);
        yield return Offer("permessage-deflate; =10", null);
        yield return Offer("permessage-deflate; server_max_window_bits=1é", null);
        yield return Offer("pérmessage-deflate, permessage-deflate", null);
        yield return Offer("permessage-deflate\0", null);
        yield return Offer(new string(';', 10_000), null);
        yield return Offer("permessage-deflate, " + new string('x', 5000), null);
    }

    [TestCaseSource(nameof(Offers))]
    public void An_offer_is_answered_or_declined(string header, string? answer)
    {
        bool accepted = PerMessageDeflateNegotiation.TryNegotiate([header], out PerMessageDeflateAgreement agreement);
        Assert.That(accepted ? agreement.ResponseHeader : null, Is.EqualTo(answer));
    }

    [Test]
    public void Offers_on_several_header_lines_are_one_list()
    {
        Assert.That(PerMessageDeflateNegotiation.TryNegotiate(["x-foo", null, "permessage-deflate; client_no_context_takeover"], out PerMessageDeflateAgreement agreement), Is.True);
        Assert.That(agreement.ResponseHeader, Is.EqualTo(Accepted));
        Assert.That(PerMessageDeflateNegotiation.TryNegotiate([], out _), Is.False);
    }

    [TestCase(15, int.MaxValue)]
    [TestCase(10, 1024)]
    [TestCase(8, 256)]
    public void A_smaller_server_window_bounds_what_is_sent_compressed(int bits, int maxPayload)
    {
        Assert.That(PerMessageDeflateNegotiation.TryNegotiate([$"permessage-deflate; server_max_window_bits={bits}"], out PerMessageDeflateAgreement agreement), Is.True);
        Assert.That(agreement.MaxCompressedPayload, Is.EqualTo(maxPayload));
    }

    private static IEnumerable<TestCaseData> Payloads()
    {
        yield return new TestCaseData(JsonOf(200)).SetArgDisplayNames("200 B of JSON");
        yield return new TestCaseData(JsonOf(2048)).SetArgDisplayNames("2 KB of JSON");
        yield return new TestCaseData(JsonOf(70_000)).SetArgDisplayNames("70 KB of JSON (a 64-bit length)");
        yield return new TestCaseData(string.Concat(Enumerable.Repeat("héllo wörld ✓ 𝄞 ", 40))).SetArgDisplayNames("multi-byte UTF-8");
    }

    [TestCaseSource(nameof(Payloads))]
    public void A_compressed_frame_has_RSV1_and_inflates_to_the_payload(string text)
    {
        byte[] payload = Utf8(text);
        byte[]? frame = PerMessageDeflate.TryCreateTextFrame(payload);
        Assert.That(frame, Is.Not.Null);
        Assert.That(WebSocketFrameHeader.TryParse(frame!, out WebSocketFrameHeader header), Is.True);
        Assert.That(header, Is.EqualTo(header with { Fin = true, Reserved = 4, Opcode = WebSocketOpcode.Text, Masked = false }));
        Assert.That(header.HeaderLength + (long)header.PayloadLength, Is.EqualTo(frame!.Length));
        Assert.That((long)header.PayloadLength, Is.LessThan(payload.Length));

        // RFC 7692 section 7.2.2: append 00 00 ff ff and inflate; any raw-DEFLATE reader will do.
        byte[] compressed = Concat(frame[header.HeaderLength..], [0x00, 0x00, 0xFF, 0xFF]);
        using var inflater = new DeflateStream(new MemoryStream(compressed), CompressionMode.Decompress);
        var inflated = new MemoryStream();
        inflater.CopyTo(inflated);
        Assert.That(Encoding.UTF8.GetString(inflated.ToArray()), Is.EqualTo(text));
    }

    [Test]
    public void Short_or_incompressible_payloads_get_no_compressed_frame()
    {
        Assert.That(PerMessageDeflate.TryCreateTextFrame(Utf8(new string('a', PerMessageDeflate.MinPayloadBytes - 1))), Is.Null, "below the threshold");
        Assert.That(PerMessageDeflate.TryCreateTextFrame(Utf8(new string('a', PerMessageDeflate.MinPayloadBytes))), Is.Not.Null, "at the threshold");
        byte[] noise = new byte[4096];
        new Random(7).NextBytes(noise);
        Assert.That(PerMessageDeflate.TryCreateTextFrame(noise), Is.Null, "random bytes do not shrink");
    }

    /// <summary>A compressed text frame as a client sends it: masked, RSV1 on the first frame only.</summary>
    private static byte[] CompressedText(byte[] compressed, bool fin = true)
    {
        byte[] frame = Text(compressed, fin);
        frame[0] |= PerMessageDeflate.Rsv1;
        return frame;
    }

    private static byte[] CompressedText(string text) => CompressedText(PerMessageDeflate.Compress(Utf8(text)));

    private static readonly string Long = JsonOf(600);

    /// <summary>Two messages compressed by one deflater, so that the second points back into the first (context takeover).</summary>
    private static (byte[] First, byte[] Second) SharedContext(string text)
    {
        var output = new MemoryStream();
        using var deflater = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true);
        deflater.Write(Utf8(text));
        deflater.Flush();
        byte[] first = output.ToArray()[..^4];
        long mark = output.Length;
        deflater.Write(Utf8(text));
        deflater.Flush();
        byte[] second = output.ToArray()[(int)mark..^4];
        return (first, second);
    }

    private static TestCaseData Read(string name, byte[] stream, params string[] expected) =>
        new TestCaseData(stream, expected).SetArgDisplayNames(name);

    private static IEnumerable<TestCaseData> Reads()
    {
        byte[] hello = PerMessageDeflate.Compress(Utf8(Long));
        yield return Read("a compressed message", CompressedText(Long), "text:" + Long);
        yield return Read("a plain message on a compressing connection", Text("plain"), "text:plain");
        yield return Read("compressed, plain, compressed", Stream(CompressedText(Long), Text("plain"), CompressedText("{\"a\":1}")), "text:" + Long, "text:plain", "text:{\"a\":1}");
        yield return Read("an empty compressed message", CompressedText([0x00]), "text:");
        yield return Read("fragmented: RSV1 on the first frame only",
            Stream(CompressedText(hello[..10], fin: false), Ping("p"), Continuation(hello[10..20], fin: false), Continuation(hello[20..])), "ping:p", "text:" + Long);
        yield return Read("a compressed multi-byte UTF-8 message", CompressedText("δ ✓ 𝄞 " + Long), "text:δ ✓ 𝄞 " + Long);

        // Each message inflates on its own (client_no_context_takeover, always agreed): one that
        // points back into the message before it is refused, and one that ends in a final block
        // (section 7.2.3.3) leaves the next one whole.
        (byte[] first, byte[] second) = SharedContext(Long);
        yield return Read("a message that points into the one before is refused", Stream(CompressedText(first), CompressedText(second)),
            "text:" + Long, "error:a compressed message's payload is not valid DEFLATE data");
        yield return Read("messages that end in a final block, one after another", Stream(CompressedText(DeflateToFinalBlock(Long)), CompressedText(DeflateToFinalBlock("{\"a\":1}")), CompressedText(DeflateToFinalBlock(Long))),
            "text:" + Long, "text:{\"a\":1}", "text:" + Long);

        yield return Read("RSV1 on a continuation frame", Stream(Text("a", fin: false), WithFirst(Continuation("b"), 0xC0)),
            "error:RSV1 marks a compressed message on its first frame only, never on a continuation frame (RFC 7692 section 6.1)");
        yield return Read("RSV1 on a ping", WithFirst(Ping("p"), 0xC9),
            "error:control frames are never compressed: RSV1 must be 0 on close, ping and pong (RFC 7692 section 6.1)");
        yield return Read("RSV1 on a close", WithFirst(Close(1000, ""), 0xC8),
            "error:control frames are never compressed: RSV1 must be 0 on close, ping and pong (RFC 7692 section 6.1)");
        yield return Read("RSV2", WithFirst(Text("x"), 0xA1), "error:reserved bits RSV2 and RSV3 must be 0: permessage-deflate uses RSV1 only");
        yield return Read("RSV1 and RSV3", WithFirst(Text("x"), 0xD1), "error:reserved bits RSV2 and RSV3 must be 0: permessage-deflate uses RSV1 only");
        yield return Read("not DEFLATE data (a reserved block type)", CompressedText([0xFF, 0xFF, 0xFF]), "error:a compressed message's payload is not valid DEFLATE data");
        yield return Read("compressed bytes that are not UTF-8", CompressedText(PerMessageDeflate.Compress([0xC3, 0x28, .. Utf8(Long)])), "invalidutf8");
        yield return Read("a compressed binary message is skipped, not inflated", Stream(WithFirst(Masked(WebSocketOpcode.Binary, [0xFF, 0xFF]), 0xC2), Text("after")), "binary", "text:after");
    }

    private static byte[] WithFirst(byte[] frame, byte first)
    {
        frame[0] = first;
        return frame;
    }

    [TestCaseSource(nameof(Reads))]
    public void The_reader_inflates_compressed_messages(byte[] stream, string[] expected)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Run([stream]), Is.EqualTo(expected), "whole");
            Assert.That(Run(SplitEvery(stream, 1)), Is.EqualTo(expected), "byte by byte");
            Assert.That(Run(SplitRandom(stream, new Random(3), 17)), Is.EqualTo(expected), "random chunks");
        });
    }

    [Test]
    public void Without_negotiation_RSV1_is_a_protocol_error()
    {
        var reader = new WebSocketMessageReader(1000);
        var buffer = new ReadOnlySequence<byte>(CompressedText(Long));
        Assert.That(reader.TryRead(ref buffer), Is.EqualTo(WebSocketReadStatus.ProtocolError));
        Assert.That(reader.Problem, Is.EqualTo("reserved bits RSV1-3 must be 0: no extension was negotiated"));
    }

    [TestCase(1000, 1001)]
    [TestCase(64 * 1024, 64 * 1024 + 1)]
    [TestCase(64 * 1024, 10 * 1024 * 1024)]
    public void A_message_that_inflates_past_the_limit_is_too_large(int limit, int inflatedLength)
    {
        // 10 MB of spaces compress to about 10 KB: a small frame that would cost a large buffer.
        byte[] bomb = PerMessageDeflate.Compress(Utf8(new string(' ', inflatedLength)));
        Assert.That(bomb.Length, Is.LessThan(limit), "the compressed message itself is within the limit");
        Assert.That(Run([Stream(CompressedText(bomb), Text("next"))], limit), Is.EqualTo(new[] { "toolarge", "text:next" }));
    }

    [Test]
    public void A_message_that_inflates_to_exactly_the_limit_is_read()
    {
        string text = new(' ', 1000);
        Assert.That(Run([CompressedText(text)], maxMessageBytes: 1000), Is.EqualTo(new[] { "text:" + text }));
    }

    [Test]
    public void The_inflater_stops_one_byte_past_the_limit()
    {
        var inflater = new MessageInflater();
        byte[] bomb = PerMessageDeflate.Compress(Utf8(new string(' ', 50 * 1024 * 1024)));
        Assert.That(inflater.Inflate(bomb, 64 * 1024, out byte[]? output, out int length), Is.EqualTo(InflateStatus.TooLarge));
        Assert.That(output, Is.Null);
        Assert.That(length, Is.EqualTo(64 * 1024 + 1), "inflating went one byte past the limit, no further");
    }

    [Test]
    public void A_compressed_message_over_the_limit_on_the_wire_is_too_large_before_inflating()
    {
        byte[] noise = new byte[2000];
        new Random(5).NextBytes(noise);
        Assert.That(Run([CompressedText(noise)], maxMessageBytes: 1000), Is.EqualTo(new[] { "toolarge" }));
    }

    /// <summary>Feeds <paramref name="chunks"/> to a reader with an inflater, as the receive loop does, and records what it reports.</summary>
    private static List<string> Run(IEnumerable<byte[]> chunks, int maxMessageBytes = 100_000)
    {
        var reader = new WebSocketMessageReader(maxMessageBytes, inflater: new MessageInflater());
        var events = new List<string>();
        List<byte[]> pending = [];
        foreach (byte[] chunk in chunks)
        {
            pending.Add(chunk);
            ReadOnlySequence<byte> buffer = FromChunks(pending);
            while (true)
            {
                WebSocketReadStatus status = reader.TryRead(ref buffer);
                if (status == WebSocketReadStatus.NeedMore)
                {
                    break;
                }

                events.Add(status switch
                {
                    WebSocketReadStatus.Text => "text:" + Encoding.UTF8.GetString(reader.Payload.ToArray()),
                    WebSocketReadStatus.Ping => "ping:" + Encoding.UTF8.GetString(reader.Payload.ToArray()),
                    WebSocketReadStatus.ProtocolError => "error:" + reader.Problem,
                    _ => status.ToString().ToLowerInvariant(),
                });
                if (status == WebSocketReadStatus.ProtocolError)
                {
                    reader.Reset();
                    return events;
                }
            }

            pending = [];
            foreach (ReadOnlyMemory<byte> segment in buffer)
            {
                pending.Add(segment.ToArray());
            }
        }

        reader.Reset();
        return events;
    }

    /// <summary>Event-like JSON of about <paramref name="length"/> bytes, repetitive the way real events are.</summary>
    private static string JsonOf(int length)
    {
        var json = new StringBuilder("{\"type\":\"event\",\"session\":\"build-42\",\"event\":\"step_update\",\"seq\":7,\"data\":[");
        for (int i = 0; json.Length < length - 40; i++)
        {
            json.Append(System.Globalization.CultureInfo.InvariantCulture, $"{{\"step\":{i},\"loss\":0.{(i * 7919) % 10000:D4}}},");
        }

        json.Length--;
        return json.Append("]}").ToString();
    }
}
