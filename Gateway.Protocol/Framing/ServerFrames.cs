using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Protocol.Messages;

namespace Gateway.Protocol.Framing;

/// <summary>
/// Serializes server messages. An event is serialized once, into a complete text frame, and those
/// same bytes go to every recipient's queue.
/// </summary>
public static class ServerFrames
{
    /// <summary>
    /// The writer settings for every server message: compact, and escaping only what JSON requires,
    /// so that quotes in error texts read as <c>\"</c> in wscat and data passes through as sent.
    /// </summary>
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    // A thread keeps its buffer between messages unless one message made it larger than this.
    private const int RetainedBufferBytes = 64 * 1024;

    /// <summary>Serializes <paramref name="message"/> into a complete WebSocket text frame.</summary>
    public static byte[] CreateTextFrame<T>(in T message) where T : IServerMessage => ToTextFrame(Serialize(message), out _);

    /// <summary>
    /// Serializes an event into a complete WebSocket text frame, and gives where in the frame its
    /// data lies (<see cref="EventMessage.Data"/>, verbatim): a history that keeps the frame keeps
    /// the data as that slice of it, not as a second copy.
    /// </summary>
    public static byte[] CreateEventFrame(in EventMessage message, out Range data)
    {
        Utf8JsonWriter writer = StartSerializing();
        message.WriteTo(writer, out long dataAt);
        writer.Flush();
        byte[] frame = ToTextFrame(t_buffer!.WrittenSpan, out int header);
        int start = header + (int)dataAt;
        data = start..(start + message.Data.Length);
        return frame;
    }

    /// <summary>A text frame of <paramref name="json"/> (this thread's buffer, released after), and its header's length.</summary>
    private static byte[] ToTextFrame(ReadOnlySpan<byte> json, out int header)
    {
        byte[] frame = new byte[WebSocketFrameWriter.GetHeaderLength(json.Length) + json.Length];
        header = WebSocketFrameWriter.WriteHeader(frame, WebSocketOpcode.Text, json.Length);
        json.CopyTo(frame.AsSpan(header));
        ReleaseLargeBuffer();
        return frame;
    }

    /// <summary>Serializes <paramref name="message"/> as JSON bytes, without a frame header.</summary>
    public static byte[] CreateJson<T>(in T message) where T : IServerMessage
    {
        byte[] json = Serialize(message).ToArray();
        ReleaseLargeBuffer();
        return json;
    }

    /// <summary>Serializes <paramref name="message"/> into <paramref name="destination"/>.</summary>
    public static void WriteJson<T>(in T message, IBufferWriter<byte> destination) where T : IServerMessage
    {
        using var writer = new Utf8JsonWriter(destination, WriterOptions);
        message.WriteTo(writer);
    }

    private static void ReleaseLargeBuffer()
    {
        if (t_buffer is { Capacity: > RetainedBufferBytes })
        {
            t_buffer = null;
            t_writer = null;
        }
    }

    /// <summary>Serializes into this thread's buffer; the span is valid until the next call on this thread.</summary>
    private static ReadOnlySpan<byte> Serialize<T>(in T message) where T : IServerMessage
    {
        Utf8JsonWriter writer = StartSerializing();
        message.WriteTo(writer);
        writer.Flush();
        return t_buffer!.WrittenSpan;
    }

    /// <summary>This thread's writer, emptied, over this thread's buffer.</summary>
    private static Utf8JsonWriter StartSerializing()
    {
        ArrayBufferWriter<byte> buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        Utf8JsonWriter writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        return writer;
    }
}
