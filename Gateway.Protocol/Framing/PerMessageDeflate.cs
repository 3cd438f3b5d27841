using System.IO.Compression;

namespace Gateway.Protocol.Framing;

/// <summary>
/// The server's side of permessage-deflate's compression (RFC 7692 section 7.2.1): a message's
/// payload as one raw DEFLATE stream of its own, ended by a sync flush whose empty block's last
/// four bytes (00 00 ff ff) are removed, in a frame with RSV1 set. Because no message depends on
/// another (<c>server_no_context_takeover</c>), one compressed frame serves every recipient.
/// </summary>
public static class PerMessageDeflate
{
    /// <summary>RSV1 in a frame's first byte: "this message is compressed".</summary>
    public const byte Rsv1 = 0x40;

    /// <summary>
    /// Payloads shorter than this go plain. Measured on event JSON (docs/benchmarks.md): below
    /// 128 bytes DEFLATE saved 6 to 12 bytes a message, for several microseconds of compression
    /// and the client's inflate.
    /// </summary>
    public const int MinPayloadBytes = 128;

    /// <summary>
    /// zlib level 3. Measured on 2 KB and 64 KB of event JSON (docs/benchmarks.md): within 2% of
    /// level 6's size in about a third of its time at 64 KB, and a third smaller than level 1 for
    /// 1.5 to 2.3 times its time. Compressed once per event, the bytes every client gets weigh more.
    /// </summary>
    public const int CompressionLevel = 3;

    private static readonly byte[] FlushMarker = [0x00, 0x00, 0xFF, 0xFF];

    [ThreadStatic]
    private static MemoryStream? t_output;

    // A thread keeps its output buffer between messages unless one message made it larger than this.
    private const int RetainedOutputBytes = 64 * 1024;

    /// <summary>
    /// A complete text frame carrying <paramref name="payload"/> compressed, RSV1 set; null when
    /// the payload is too short to be worth it or did not get shorter.
    /// </summary>
    public static byte[]? TryCreateTextFrame(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < MinPayloadBytes)
        {
            return null;
        }

        MemoryStream output = CompressToBuffer(payload);
        int length = (int)output.Length;
        if (length >= payload.Length)
        {
            ReleaseLargeOutput(output);
            return null;
        }

        byte[] frame = new byte[WebSocketFrameWriter.GetHeaderLength(length) + length];
        int header = WebSocketFrameWriter.WriteHeader(frame, WebSocketOpcode.Text, length);
        frame[0] |= Rsv1;
        output.GetBuffer().AsSpan(0, length).CopyTo(frame.AsSpan(header));
        ReleaseLargeOutput(output);
        return frame;
    }

    /// <summary>
    /// <paramref name="payload"/> compressed as RFC 7692 sends it (the trailing 00 00 ff ff
    /// removed), whatever its length: for tests and benchmarks.
    /// </summary>
    public static byte[] Compress(ReadOnlySpan<byte> payload)
    {
        MemoryStream output = CompressToBuffer(payload);
        byte[] compressed = output.GetBuffer().AsSpan(0, (int)output.Length).ToArray();
        ReleaseLargeOutput(output);
        return compressed;
    }

    /// <summary>Compresses into this thread's buffer: its length is the compressed payload's, marker removed.</summary>
    private static MemoryStream CompressToBuffer(ReadOnlySpan<byte> payload)
    {
        MemoryStream output = t_output ??= new MemoryStream(1024);
        output.SetLength(0);
        long flushed;

        // zlib cannot be reset through DeflateStream, so each message gets a deflater of its own:
        // a few microseconds, once per event however many connections send it.
        using (var deflater = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = CompressionLevel }, leaveOpen: true))
        {
            deflater.Write(payload);

            // A sync flush ends the data on a byte boundary with an empty stored block (RFC 7692
            // section 7.2.1 step 2). The final block that disposing adds after it is cut off below.
            deflater.Flush();
            flushed = output.Length;
        }

        if (flushed < FlushMarker.Length || !output.GetBuffer().AsSpan((int)flushed - FlushMarker.Length, FlushMarker.Length).SequenceEqual(FlushMarker))
        {
            throw new InvalidOperationException("a DEFLATE sync flush did not end with 00 00 ff ff");
        }

        output.SetLength(flushed - FlushMarker.Length);
        return output;
    }

    private static void ReleaseLargeOutput(MemoryStream output)
    {
        if (output.Capacity > RetainedOutputBytes)
        {
            t_output = null;
        }
    }
}
