using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Gateway.Protocol.Messages;

namespace Gateway.Protocol.Json;

/// <summary>
/// Where a reader's bytes come from, so that a value's raw bytes can be copied out of either a
/// single span (the fast path) or a multi-segment sequence.
/// </summary>
internal readonly ref struct JsonSource
{
    private readonly ReadOnlySpan<byte> _span;
    private readonly ReadOnlySequence<byte> _sequence;
    private readonly bool _isSequence;

    public JsonSource(ReadOnlySpan<byte> span)
    {
        _span = span;
        _sequence = default;
        _isSequence = false;
    }

    public JsonSource(ReadOnlySequence<byte> sequence)
    {
        _span = default;
        _sequence = sequence;
        _isSequence = true;
    }

    public byte[] Copy(long start, long length) =>
        _isSequence ? _sequence.Slice(start, length).ToArray() : _span.Slice((int)start, (int)length).ToArray();

    /// <summary>True when the text holds no JSON token at all: nothing, or only whitespace.</summary>
    public bool IsBlank()
    {
        if (!_isSequence)
        {
            return _span.IndexOfAnyExcept(" \t\r\n"u8) < 0;
        }

        foreach (ReadOnlyMemory<byte> segment in _sequence)
        {
            if (segment.Span.IndexOfAnyExcept(" \t\r\n"u8) >= 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// True when the text opens more than <paramref name="maxDepth"/> nested objects or arrays before it
    /// ends or turns out not to be JSON. After a reader fails, its state cannot tell its depth error from
    /// a syntax error at the deepest allowed level, so the failed text is read again with one more level
    /// allowed: a depth error reads past the point where the first reader stopped, a syntax error does not.
    /// </summary>
    public bool NestsDeeperThan(int maxDepth)
    {
        var options = new JsonReaderOptions { MaxDepth = maxDepth + 1 };
        var reader = _isSequence ? new Utf8JsonReader(_sequence, options) : new Utf8JsonReader(_span, options);
        try
        {
            while (reader.Read())
            {
                // CurrentDepth of a start token counts the containers around it, not itself.
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= maxDepth)
                {
                    return true;
                }
            }
        }
        catch (JsonException)
        {
        }

        return false;
    }
}

/// <summary>
/// Readers for the fields that several messages share. Each returns false when the value at the
/// reader is of the wrong type or out of range; the reader is then left on that value.
/// </summary>
internal static class JsonFields
{
    /// <summary>Reads a string of at most <paramref name="maxChars"/> characters without allocating for longer ones.</summary>
    public static bool TryGetBoundedString(ref Utf8JsonReader reader, int maxChars, out string value)
    {
        value = string.Empty;
        if (reader.TokenType != JsonTokenType.String)
        {
            return false;
        }

        // An escaped character takes at most six bytes (\uXXXX): longer raw text cannot fit.
        long rawLength = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (rawLength > maxChars * 6L)
        {
            return false;
        }

        value = reader.GetString()!;
        return value.Length <= maxChars;
    }

    /// <summary>Reads an <c>id</c> or <c>ts</c>: a string or number of at most 64 characters.</summary>
    public static bool TryGetScalar(ref Utf8JsonReader reader, out JsonScalar value)
    {
        value = default;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                if (!TryGetBoundedString(ref reader, JsonScalar.MaxLength, out string text))
                {
                    return false;
                }

                value = JsonScalar.FromString(text);
                return true;

            case JsonTokenType.Number:
                // A number's raw text is plain ASCII, never escaped.
                long length = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
                if (length > JsonScalar.MaxLength)
                {
                    return false;
                }

                string number = reader.HasValueSequence
                    ? Encoding.ASCII.GetString(reader.ValueSequence.ToArray())
                    : Encoding.ASCII.GetString(reader.ValueSpan);
                value = new JsonScalar(number, IsString: false);
                return true;

            default:
                return false;
        }
    }

    /// <summary>Reads an event name: 1-64 characters from the name alphabet.</summary>
    public static bool TryGetEventName(ref Utf8JsonReader reader, out string name) =>
        TryGetBoundedString(ref reader, Names.MaxEventNameLength, out name) && Names.IsValidEventName(name);

    /// <summary>Reads an event key (<see cref="Names.IsValidKey"/>) at the reader.</summary>
    public static bool TryGetKey(ref Utf8JsonReader reader, out string key) =>
        TryGetBoundedString(ref reader, Names.MaxKeyLength, out key) && Names.IsValidKey(key);

    /// <summary>Reads <c>true</c> or <c>false</c>.</summary>
    public static bool TryGetBoolean(ref Utf8JsonReader reader, out bool value)
    {
        value = reader.TokenType == JsonTokenType.True;
        return reader.TokenType is JsonTokenType.True or JsonTokenType.False;
    }

    /// <summary>Reads a non-negative 64-bit integer.</summary>
    public static bool TryGetSeq(ref Utf8JsonReader reader, out long value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out value) && value >= 0;
    }

    /// <summary>
    /// Reads an array of event names for a filter: 1 to <see cref="EventFilterNames.MaxNames"/> names,
    /// or <c>["*"]</c> alone. On false the reader is somewhere inside the array.
    /// </summary>
    public static bool TryGetEventNames(ref Utf8JsonReader reader, out List<string> names)
    {
        names = [];
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return false;
        }

        bool all = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (names.Count == EventFilterNames.MaxNames
                || !TryGetBoundedString(ref reader, Names.MaxEventNameLength, out string name))
            {
                return false;
            }

            if (name == EventFilterNames.All)
            {
                all = true;
            }
            else if (!Names.IsValidEventName(name))
            {
                return false;
            }

            names.Add(name);
        }

        // "*" means everything and stands alone; an empty list would be a silent no-op.
        return names.Count > 0 && (!all || names.Count == 1);
    }

    /// <summary>
    /// Records where the value at the reader starts and skips it; <paramref name="length"/> covers
    /// the whole value (an object or array with everything inside).
    /// </summary>
    public static void SkipRawValue(ref Utf8JsonReader reader, out long start, out long length)
    {
        start = reader.TokenStartIndex;
        reader.Skip();
        length = reader.BytesConsumed - start;
    }

    /// <summary>
    /// Copies a raw JSON value out of the source, compacted. Returns false when it is not valid UTF-8
    /// (the reader validates structure, not the bytes inside strings it skips).
    /// </summary>
    public static bool TryCopyRawValue(JsonSource source, long start, long length, out ReadOnlyMemory<byte> value)
    {
        byte[] copy = source.Copy(start, length);
        int compact = JsonCompaction.CompactInPlace(copy);
        value = new ReadOnlyMemory<byte>(copy, 0, compact);
        return Utf8.IsValid(value.Span);
    }
}
