using System.Buffers;
using System.Text;
using Gateway.Protocol.Framing;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

/// <summary>
/// Drives a <see cref="WebSocketMessageReader"/> the way a receive loop over a <c>PipeReader</c> does:
/// unconsumed bytes are kept (as the segments they are), new bytes are appended as a new segment,
/// and <c>TryRead</c> is called until it needs more. Everything the reader reports is recorded as text.
/// </summary>
internal sealed class ReaderHarness
{
    private readonly Func<ReadOnlySequence<byte>, string>? _describeText;
    private List<byte[]> _pending = [];

    /// <summary>Creates a harness around a new reader.</summary>
    /// <param name="maxMessageBytes">The reader's message limit.</param>
    /// <param name="expectMasked">Whether the reader expects masked frames.</param>
    /// <param name="describeText">What to record of a text payload after <c>text:</c>; the payload as a string when null.</param>
    public ReaderHarness(int maxMessageBytes = 1000, bool expectMasked = true, Func<ReadOnlySequence<byte>, string>? describeText = null)
    {
        Reader = new WebSocketMessageReader(maxMessageBytes, expectMasked);
        _describeText = describeText;
    }

    public WebSocketMessageReader Reader { get; }

    public List<string> Events { get; } = [];

    /// <summary>True once the reader reported a protocol error; nothing more is fed to it then.</summary>
    public bool Broken { get; private set; }

    /// <summary>How many bytes arrived but were not consumed yet.</summary>
    public long Pending => _pending.Sum(p => (long)p.Length);

    /// <summary>Feeds the bytes in the given <paramref name="chunks"/> and returns everything reported.</summary>
    public static List<string> Run(IEnumerable<byte[]> chunks, int maxMessageBytes = 1000, bool expectMasked = true)
    {
        var harness = new ReaderHarness(maxMessageBytes, expectMasked);
        foreach (byte[] chunk in chunks)
        {
            harness.Deliver(chunk);
        }

        return harness.Events;
    }

    /// <summary>Appends <paramref name="chunk"/> to the unconsumed bytes and reads until the reader needs more.</summary>
    public void Deliver(byte[] chunk)
    {
        if (Broken)
        {
            return;
        }

        if (chunk.Length > 0)
        {
            _pending.Add(chunk);
        }

        ReadOnlySequence<byte> buffer = FromChunks(_pending);
        long before = buffer.Length;
        int calls = 0;
        while (true)
        {
            WebSocketReadStatus status = Reader.TryRead(ref buffer);
            if (status == WebSocketReadStatus.NeedMore)
            {
                break;
            }

            Events.Add(Describe(status));
            if (status == WebSocketReadStatus.ProtocolError)
            {
                Broken = true;
                break;
            }

            // Every other status consumes at least one byte: more calls than bytes means a loop.
            if (++calls > before + 1)
            {
                throw new AssertionException($"TryRead reported {calls} times from {before} bytes without needing more");
            }
        }

        var rest = new List<byte[]>();
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            rest.Add(segment.ToArray());
        }

        _pending = rest;
    }

    private string Describe(WebSocketReadStatus status) => status switch
    {
        WebSocketReadStatus.Text => "text:" + (_describeText is null ? Encoding.UTF8.GetString(Reader.Payload.ToArray()) : _describeText(Reader.Payload)),
        WebSocketReadStatus.Ping => "ping:" + Encoding.UTF8.GetString(Reader.Payload.ToArray()),
        WebSocketReadStatus.Pong => "pong:" + Encoding.UTF8.GetString(Reader.Payload.ToArray()),
        WebSocketReadStatus.Close => $"close:{Reader.CloseCode}:{Reader.CloseReason}",
        WebSocketReadStatus.ProtocolError => "error:" + Reader.Problem,
        _ => status.ToString().ToLowerInvariant(),
    };
}

/// <summary>Frame builders for reader tests.</summary>
internal static class Frames
{
    public const uint Key = 0x3D21FA37;

    /// <summary>A masked frame as a client sends it.</summary>
    public static byte[] Masked(WebSocketOpcode opcode, byte[] payload, bool fin = true, uint key = Key) =>
        WebSocketFrameWriter.CreateMaskedFrame(opcode, payload, key, fin);

    public static byte[] Masked(WebSocketOpcode opcode, string payload, bool fin = true) => Masked(opcode, Utf8(payload), fin);

    public static byte[] Text(string payload, bool fin = true) => Masked(WebSocketOpcode.Text, payload, fin);

    public static byte[] Text(byte[] payload, bool fin = true) => Masked(WebSocketOpcode.Text, payload, fin);

    public static byte[] Continuation(string payload, bool fin = true) => Masked(WebSocketOpcode.Continuation, payload, fin);

    public static byte[] Continuation(byte[] payload, bool fin = true) => Masked(WebSocketOpcode.Continuation, payload, fin);

    public static byte[] Ping(string payload) => Masked(WebSocketOpcode.Ping, payload);

    public static byte[] Pong(string payload) => Masked(WebSocketOpcode.Pong, payload);

    public static byte[] Binary(int length, bool fin = true) => Masked(WebSocketOpcode.Binary, new byte[length], fin);

    public static byte[] Close(ushort code, string reason) =>
        Masked(WebSocketOpcode.Close, Concat([(byte)(code >> 8), (byte)code], Utf8(reason)));

    /// <summary>A masked frame whose first byte (FIN, RSV, opcode) is given whole.</summary>
    public static byte[] WithFirstByte(byte first, byte[] payload)
    {
        byte[] frame = Masked(WebSocketOpcode.Text, payload);
        frame[0] = first;
        return frame;
    }

    public static byte[] Stream(params byte[][] frames) => Concat(frames);
}
