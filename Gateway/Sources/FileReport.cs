using System.Buffers;
using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;

namespace Gateway.Sources;

/// <summary>
/// Looks at one file and writes its event's data: <c>{path, change, size}</c>, and for a
/// <c>.json</c> file either <c>content</c> (the parsed document) or <c>contentError</c> saying
/// why there is none.
/// </summary>
internal sealed class FileReport(int maxFileBytes)
{
    /// <summary>The file is larger than <c>Gateway:Sources:MaxFileBytes</c>.</summary>
    public const string TooLarge = "too_large";

    /// <summary>The file is not one JSON value (empty, cut short while being written, or not JSON at all).</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>The file could not be read (permissions, or locked by its writer).</summary>
    public const string Unreadable = "unreadable";

    private static readonly JsonEncodedText PathProperty = JsonEncodedText.Encode("path");
    private static readonly JsonEncodedText ChangeProperty = JsonEncodedText.Encode("change");
    private static readonly JsonEncodedText SizeProperty = JsonEncodedText.Encode("size");
    private static readonly JsonEncodedText ContentProperty = JsonEncodedText.Encode("content");
    private static readonly JsonEncodedText ContentErrorProperty = JsonEncodedText.Encode("contentError");

    /// <summary>
    /// Compares file <paramref name="name"/> of <paramref name="folder"/> with what was last
    /// reported of it in <paramref name="known"/> (which it updates), and returns its event's data,
    /// or null when there is nothing to report: a file gone that was never reported.
    /// </summary>
    public ReadOnlyMemory<byte>? Look(string folder, string name, Dictionary<string, FileStamp> known)
    {
        string path = Path.Combine(folder, name);
        var info = new FileInfo(path);
        bool wasKnown = known.ContainsKey(name);
        if (!info.Exists)
        {
            // Also when a folder took the name: it is not a file any more. Null, not a null array:
            // that would convert to an event with empty data (a file there and gone within a debounce).
            if (!known.Remove(name))
            {
                return null;
            }

            return Write(name, "deleted", null, default, null);
        }

        known[name] = new FileStamp(info.Length, info.LastWriteTimeUtc);
        string change = wasKnown ? "changed" : "created";
        if (!name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            return Write(name, change, info.Length, default, null);
        }

        (long size, byte[]? content, int length, string? error) = Read(path, info.Length);
        return Write(name, change, size, content.AsMemory(0, length), error);
    }

    /// <summary>Reads and checks a JSON file; the content is compacted so an event stays one line (SSE, logs).</summary>
    private (long Size, byte[]? Content, int Length, string? Error) Read(string path, long size)
    {
        byte[] buffer;
        int read = 0;
        try
        {
            // Shared with its writer, which may be writing it again already.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
            size = stream.Length;
            if (size > maxFileBytes)
            {
                return (size, null, 0, TooLarge);
            }

            // Read to the end, which may be past the length taken if the writer is still at it,
            // but never more than one byte beyond the limit: that byte says the file is too large.
            buffer = new byte[(int)Math.Min(size, maxFileBytes) + 1];
            int n;
            while ((n = stream.Read(buffer, read, buffer.Length - read)) > 0)
            {
                read += n;
                if (read == buffer.Length)
                {
                    if (read > maxFileBytes)
                    {
                        break;
                    }

                    Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, maxFileBytes + 1L));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (size, null, 0, Unreadable);
        }

        if (read > maxFileBytes)
        {
            return (read, null, 0, TooLarge);
        }

        size = read;
        Span<byte> json = buffer.AsSpan(0, read);
        int start = json.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        json = json[start..];
        if (!IsOneValue(json))
        {
            return (size, null, 0, InvalidJson);
        }

        int length = JsonCompaction.CompactInPlace(json);
        return (size, start == 0 ? buffer : json[..length].ToArray(), length, null);
    }

    private static bool IsOneValue(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read())
            {
                return false;
            }

            reader.Skip();

            // Anything after the value but whitespace is an error, thrown here.
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static byte[] Write(string name, string change, long? size, ReadOnlyMemory<byte> content, string? error)
    {
        var buffer = new ArrayBufferWriter<byte>(128 + content.Length);
        using (var writer = new Utf8JsonWriter(buffer, ServerFrames.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString(PathProperty, name);
            writer.WriteString(ChangeProperty, change);
            if (size is { } bytes)
            {
                writer.WriteNumber(SizeProperty, bytes);
            }
            else
            {
                writer.WriteNull(SizeProperty);
            }

            if (error is not null)
            {
                writer.WriteString(ContentErrorProperty, error);
            }
            else if (!content.IsEmpty)
            {
                writer.WritePropertyName(ContentProperty);
                writer.WriteRawValue(content.Span, skipInputValidation: true);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
