using System.Buffers;
using System.Text;
using Gateway.Tests.Protocol;
using Gateway.Transport;

namespace Gateway.Tests.Transport;

/// <summary>
/// The direct upgrade's head parser, fed well-formed and hostile heads in every buffer shape and
/// every prefix: it takes only what it is sure of, and hands everything else to Kestrel.
/// </summary>
public sealed class UpgradeRequestParserTests
{
    private const string Upgrade = "Host: gw.example:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    private static readonly HeadLimits Small = new(MaxRequestLine: 64, MaxHeadersTotal: 256, MaxHeaderCount: 8);

    // Each case: the bytes, and what the parser says of the whole of them (a HeadStatus).
    private static readonly object[] Cases =
    [
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "\r\n", "Upgrade" },
        new object[] { "GET /ws/room?since=3&events=a,b&token=x%2By HTTP/1.1\r\n" + Upgrade + "\r\n", "Upgrade" },
        new object[] { "GET /ws/r.o_o:m-1 HTTP/1.1\r\nhost: [::1]:80\r\nconnection: keep-alive, Upgrade\r\nupgrade: WebSocket\r\n\r\n", "Upgrade" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n", "Upgrade" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\nX-Empty:\r\n\r\n", "Upgrade" },

        // Truncated: a prefix of an upgrade may still become one.
        new object[] { "", "NeedMore" },
        new object[] { "GET /w", "NeedMore" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade, "NeedMore" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\r", "NeedMore" },

        // Not ours: other methods, paths, versions, HTTP/2's preface, TLS.
        new object[] { "POST /ws/room HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", "PassThrough" },
        new object[] { "GET /WS/room HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.0\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/2.0\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "PassThrough" },
        new object[] { "\u0016\u0003\u0001\u0002\u0000\u0001", "PassThrough" },
        new object[] { "get /ws/room HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },

        // Targets that routing would not match as they stand, or Kestrel would refuse.
        new object[] { "GET /ws/ HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/a/b HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/a%2Fb HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/.. HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/. HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/a#frag HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/a b HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/a  HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/r\u00e9 HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },

        // Line endings and folding.
        new object[] { "GET /ws/room HTTP/1.1\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Fold: a\r\n b\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Cr: a\rb\r\n\r\n", "PassThrough" },

        // Header lines Kestrel would refuse, or whose meaning is not clear-cut.
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Bad : a\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + ": a\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "NoColon\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Nul: a\0b\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Latin: caf\u00e9\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Del: \u007f\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "Host: b\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a/b\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost:\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "Content-Length: 0\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "Transfer-Encoding: chunked\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "Upgrade: websocket\r\n\r\n", "PassThrough" },

        // Not an upgrade: Kestrel's path answers it (not_websocket) as before.
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n", "PassThrough" },

        // Past the limits (Small): Kestrel refuses them its own way.
        new object[] { "GET /ws/" + new string('a', 60) + " HTTP/1.1\r\n" + Upgrade + "\r\n", "PassThrough" },
        new object[] { "GET /ws/" + new string('a', 60), "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Big: " + new string('b', 200) + "\r\n\r\n", "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\n" + Upgrade + "X-Big: " + new string('b', 200), "PassThrough" },
        new object[] { "GET /ws/room HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n" + string.Concat(Enumerable.Range(0, 6).Select(i => $"X-{i}: v\r\n")) + "\r\n", "PassThrough" },
    ];

    [TestCaseSource(nameof(Cases))]
    public void Every_shape_of_the_bytes_gets_the_same_answer(string text, string expected)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        foreach (BufferShape shape in TestBuffers.AllShapes)
        {
            ReadOnlySequence<byte> buffer = TestBuffers.ToSequence(bytes, shape);
            HeadStatus status = UpgradeRequestParser.TryParse(buffer, Small, out UpgradeRequestHead? head, out SequencePosition end);
            Assert.That(status.ToString(), Is.EqualTo(expected), $"{shape}");
            Assert.That(head is null, Is.EqualTo(status != HeadStatus.Upgrade), $"{shape}");
            if (status == HeadStatus.Upgrade)
            {
                Assert.That(buffer.Slice(end).Length, Is.Zero, "the head ends at its blank line");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void A_prefix_of_an_upgrade_needs_more_and_a_prefix_of_anything_else_never_becomes_one(string text, string expected)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        for (int length = 0; length < bytes.Length; length++)
        {
            HeadStatus status = UpgradeRequestParser.TryParse(new ReadOnlySequence<byte>(bytes, 0, length), Small, out _, out _);
            Assert.That(status, Is.Not.EqualTo(HeadStatus.Upgrade), $"{length} bytes: an upgrade head ends with its blank line");
            if (expected == nameof(HeadStatus.Upgrade))
            {
                Assert.That(status, Is.EqualTo(HeadStatus.NeedMore), $"{length} bytes");
            }
        }
    }

    [Test]
    public void The_head_is_read_as_sent_and_what_follows_it_is_left_alone()
    {
        byte[] bytes = Encoding.Latin1.GetBytes("GET /ws/room?since=3&token=a%2Bb HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade:  websocket \t\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n\u0081\u0080");
        foreach (BufferShape shape in TestBuffers.AllShapes)
        {
            ReadOnlySequence<byte> buffer = TestBuffers.ToSequence(bytes, shape);
            Assert.That(UpgradeRequestParser.TryParse(buffer, HeadLimits.Default, out UpgradeRequestHead? head, out SequencePosition end), Is.EqualTo(HeadStatus.Upgrade));
            Assert.That((head!.Session, head.Path, head.QueryString, head.RawTarget), Is.EqualTo(("room", "/ws/room", "?since=3&token=a%2Bb", "/ws/room?since=3&token=a%2Bb")));
            Assert.That(head.Headers.Select(h => $"{h.Key}={h.Value}"), Is.EqualTo(new[] { "Host=gw", "Connection=Upgrade", "Upgrade=websocket", "X-Dup=1", "X-Dup=2" }));
            Assert.That(buffer.Slice(end).ToArray(), Is.EqualTo(new byte[] { 0x81, 0x80 }));
        }
    }

    [Test]
    public void Random_bytes_after_the_prefix_never_make_an_upgrade_without_a_well_formed_head()
    {
        var random = new Random(17);
        byte[] prefix = Encoding.ASCII.GetBytes("GET /ws/");
        for (int i = 0; i < 20_000; i++)
        {
            byte[] tail = new byte[random.Next(0, 300)];
            random.NextBytes(tail);
            byte[] bytes = [.. prefix, .. tail];
            HeadStatus status = UpgradeRequestParser.TryParse(TestBuffers.ToSequence(bytes, BufferShape.RandomSegments, i), Small, out UpgradeRequestHead? head, out _);

            // Random bytes cannot hold the three headers an upgrade needs; a parser that said
            // Upgrade here would be taking garbage.
            Assert.That(status, Is.Not.EqualTo(HeadStatus.Upgrade), Convert.ToHexString(bytes));
            Assert.That(head, Is.Null);
        }
    }
}
