using System.Buffers;
using System.Text;
using Gateway.Protocol.Framing;

namespace Gateway.Tests.Protocol;

/// <summary>The line cutter of streaming ingest, fed hostile bodies in every chunking.</summary>
public sealed class LineCutterTests
{
    private const int Max = 8;

    // Each case: the body, and what the cutter must report ("L:text" a line, "TooLong").
    private static readonly object[] Cases =
    [
        new object[] { "a\nb\n", new[] { "L:a", "L:b" } },
        new object[] { "a\r\nb\r\n", new[] { "L:a", "L:b" } },
        new object[] { "\n\n", new[] { "L:", "L:" } },
        new object[] { "\r\n", new[] { "L:" } },
        new object[] { "a\rb\n", new[] { "L:a\rb" } },
        new object[] { "last", new[] { "L:last" } },
        new object[] { "last\r", new[] { "L:last" } },
        new object[] { "", Array.Empty<string>() },
        new object[] { "12345678\n", new[] { "L:12345678" } },
        new object[] { "12345678\r\n", new[] { "L:12345678" } },
        new object[] { "12345678", new[] { "L:12345678" } },
        new object[] { "123456789\nok\n", new[] { "TooLong", "L:ok" } },
        new object[] { "123456789\r\nok", new[] { "TooLong", "L:ok" } },
        new object[] { "123456789012345678901234567890\nok\n", new[] { "TooLong", "L:ok" } },
        new object[] { "123456789012345678901234567890", new[] { "TooLong" } },
        new object[] { "ok\n123456789012345678901234567890\n\nz", new[] { "L:ok", "TooLong", "L:", "L:z" } },
    ];

    [TestCaseSource(nameof(Cases))]
    public void Cuts_lines_the_same_whatever_the_reads(string body, string[] expected)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        for (int chunk = 1; chunk <= Math.Max(1, bytes.Length); chunk++)
        {
            Assert.That(Cut(bytes, chunk), Is.EqualTo(expected), $"reads of {chunk} bytes");
        }
    }

    [Test]
    public void Never_holds_more_than_the_limit_and_a_read_of_an_overlong_line()
    {
        var cutter = new LineCutter(Max);
        byte[] chunk = new byte[5];
        Array.Fill(chunk, (byte)'x');
        var held = new List<byte>();
        for (int i = 0; i < 1000; i++)
        {
            held.AddRange(chunk);
            var buffer = new ReadOnlySequence<byte>(held.ToArray());
            Assert.That(cutter.TryCut(ref buffer, out _), Is.EqualTo(LineStatus.NeedMore));
            held = [.. buffer.ToArray()];
            Assert.That(held, Has.Count.LessThanOrEqualTo(Max + 1 + chunk.Length));
        }

        var end = new ReadOnlySequence<byte>("\nok\n"u8.ToArray());
        Assert.That(cutter.TryCut(ref end, out _), Is.EqualTo(LineStatus.TooLong));
        Assert.That(cutter.TryCut(ref end, out ReadOnlySequence<byte> ok), Is.EqualTo(LineStatus.Line));
        Assert.That(Encoding.UTF8.GetString(ok.ToArray()), Is.EqualTo("ok"));
    }

    /// <summary>Feeds the body as a pipe would: what is left is kept, the next chunk joins it in a new segment.</summary>
    private static List<string> Cut(byte[] bytes, int chunk)
    {
        var cutter = new LineCutter(Max);
        var found = new List<string>();
        var held = new List<byte[]>();
        for (int offset = 0; offset < bytes.Length; offset += chunk)
        {
            held.Add(bytes[offset..Math.Min(bytes.Length, offset + chunk)]);
            ReadOnlySequence<byte> buffer = TestBuffers.FromChunks(held);
            LineStatus status;
            while ((status = cutter.TryCut(ref buffer, out ReadOnlySequence<byte> line)) != LineStatus.NeedMore)
            {
                found.Add(Describe(status, line));
            }

            held = buffer.IsEmpty ? [] : [buffer.ToArray()];
        }

        ReadOnlySequence<byte> rest = TestBuffers.FromChunks(held);
        if (cutter.TryFinish(rest, out LineStatus last, out ReadOnlySequence<byte> lastLine))
        {
            found.Add(Describe(last, lastLine));
        }

        return found;
    }

    private static string Describe(LineStatus status, ReadOnlySequence<byte> line) =>
        status == LineStatus.Line ? "L:" + Encoding.UTF8.GetString(line.ToArray()) : status.ToString();
}
