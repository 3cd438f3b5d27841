using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Gateway.Protocol.Messages;

namespace Gateway.Protocol.Json;

/// <summary>
/// Decodes the body of <c>POST /api/sessions/{session}/events</c>: one event object
/// <c>{"event","data"?,"id"?,"final"?,"key"?,"append"?,"conflate"?}</c>, or an array of 1 to <see cref="MaxBatch"/> of them.
/// Never throws for any input; errors name the item and the field, and say what is accepted.
/// </summary>
public static class PublishRequestDecoder
{
    /// <summary>The most events one request may publish.</summary>
    public const int MaxBatch = 1000;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = ClientMessageDecoder.MaxDepth + 1 };

    /// <summary>Decodes a body held in a sequence of one or more segments.</summary>
    /// <param name="body">The whole request body.</param>
    /// <param name="events">The events, in order.</param>
    /// <param name="isBatch">True when the body was an array (the reply then lists every seq).</param>
    /// <param name="error">What was wrong, when this returns false.</param>
    public static bool TryDecode(in ReadOnlySequence<byte> body, [NotNullWhen(true)] out IReadOnlyList<PublishRequest>? events, out bool isBatch, out ProtocolError error)
    {
        if (body.IsSingleSegment)
        {
            var spanReader = new Utf8JsonReader(body.FirstSpan, ReaderOptions);
            return TryDecode(ref spanReader, new JsonSource(body.FirstSpan), out events, out isBatch, out error);
        }

        var reader = new Utf8JsonReader(body, ReaderOptions);
        return TryDecode(ref reader, new JsonSource(body), out events, out isBatch, out error);
    }

    private static bool TryDecode(ref Utf8JsonReader reader, JsonSource source, [NotNullWhen(true)] out IReadOnlyList<PublishRequest>? events, out bool isBatch, out ProtocolError error)
    {
        events = null;
        isBatch = false;
        var list = new List<PublishRequest>();
        string? problem = null;
        try
        {
            // A reader throws, rather than returning false, on text without a single token.
            if (source.IsBlank() || !reader.Read())
            {
                error = Invalid(Errors.Empty);
                return false;
            }

            if (reader.TokenType == JsonTokenType.StartArray)
            {
                isBatch = true;
                while (problem is null && reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (list.Count == MaxBatch)
                    {
                        problem = Errors.BatchTooLarge;
                        break;
                    }

                    int index = list.Count;
                    problem = TryReadItem(ref reader, source, list);
                    if (problem is not null)
                    {
                        problem = $"events[{index}]: {problem}";
                    }
                }

                if (problem is null && list.Count == 0)
                {
                    problem = Errors.BatchEmpty;
                }
            }
            else
            {
                problem = TryReadItem(ref reader, source, list);
            }

            if (problem is null)
            {
                // Anything after the value (a second value, stray bytes) makes this throw.
                reader.Read();
            }
        }
        catch (JsonException) when (source.NestsDeeperThan(ReaderOptions.MaxDepth))
        {
            problem = Errors.TooDeep;
        }
        catch (JsonException)
        {
            problem = Errors.NotJson;
        }
        catch (InvalidOperationException)
        {
            problem = Errors.NotUtf8;
        }

        if (problem is not null)
        {
            error = Invalid(problem);
            return false;
        }

        events = list;
        error = default;
        return true;
    }

    /// <summary>Reads one event object at the reader into <paramref name="list"/>; returns the error text, or null.</summary>
    private static string? TryReadItem(ref Utf8JsonReader reader, JsonSource source, List<PublishRequest> list)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return Errors.NotAnObject;
        }

        string? name = null;
        JsonScalar? id = null;
        bool final = false, append = false, conflate = false, dataIsString = false;
        string? key = null;
        bool hasData = false, hasId = false, hasFinal = false, hasAppend = false, hasConflate = false;
        long dataStart = 0, dataLength = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(ProtocolText.Event.EncodedUtf8Bytes))
            {
                if (name is not null) return Errors.Duplicate("event");
                reader.Read();
                if (!JsonFields.TryGetEventName(ref reader, out string value)) return Errors.EventInvalid;
                name = value;
            }
            else if (reader.ValueTextEquals(ProtocolText.Data.EncodedUtf8Bytes))
            {
                if (hasData) return Errors.Duplicate("data");
                hasData = true;
                reader.Read();
                dataIsString = reader.TokenType == JsonTokenType.String;
                JsonFields.SkipRawValue(ref reader, out dataStart, out dataLength);
            }
            else if (reader.ValueTextEquals(ProtocolText.Id.EncodedUtf8Bytes))
            {
                if (hasId) return Errors.Duplicate("id");
                hasId = true;
                reader.Read();
                if (!JsonFields.TryGetScalar(ref reader, out JsonScalar value)) return Errors.IdInvalid;
                id = value;
            }
            else if (reader.ValueTextEquals(ProtocolText.Final.EncodedUtf8Bytes))
            {
                if (hasFinal) return Errors.Duplicate("final");
                hasFinal = true;
                reader.Read();
                if (!JsonFields.TryGetBoolean(ref reader, out final)) return Errors.FinalInvalid;
            }
            else if (reader.ValueTextEquals(ProtocolText.Key.EncodedUtf8Bytes))
            {
                if (key is not null) return Errors.Duplicate("key");
                reader.Read();
                if (!JsonFields.TryGetKey(ref reader, out string value)) return EventTraits.Errors.KeyInvalid;
                key = value;
            }
            else if (reader.ValueTextEquals(ProtocolText.Append.EncodedUtf8Bytes))
            {
                if (hasAppend) return Errors.Duplicate("append");
                hasAppend = true;
                reader.Read();
                if (!JsonFields.TryGetBoolean(ref reader, out append)) return EventTraits.Errors.AppendInvalid;
            }
            else if (reader.ValueTextEquals(ProtocolText.Conflate.EncodedUtf8Bytes))
            {
                if (hasConflate) return Errors.Duplicate("conflate");
                hasConflate = true;
                reader.Read();
                if (!JsonFields.TryGetBoolean(ref reader, out conflate)) return EventTraits.Errors.ConflateInvalid;
            }
            else if (reader.ValueTextEquals(ProtocolText.From.EncodedUtf8Bytes))
            {
                return Errors.FromGiven;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (name is null)
        {
            return Errors.EventMissing;
        }

        var traits = new EventTraits(key, append, conflate);
        if (traits.Problem(dataIsString) is { } problem)
        {
            return problem;
        }

        ReadOnlyMemory<byte> data = PublishRequest.NullData;
        if (hasData && !JsonFields.TryCopyRawValue(source, dataStart, dataLength, out data))
        {
            return Errors.NotUtf8;
        }

        list.Add(new PublishRequest(name, data, id, final, Traits: traits));
        return null;
    }

    private static ProtocolError Invalid(string message) => new(ErrorCode.InvalidMessage, message);

    private static class Errors
    {
        private const string NameRule = "1-64 characters from " + Names.AllowedCharacters;
        private const string Shape = "{\"event\":\"name\",\"data\":<any JSON>,\"id\"?:\"id\",\"final\"?:true,\"key\"?:\"key\",\"append\"?:true,\"conflate\"?:true} or an array of 1 to 1000 of them";

        public const string Empty = "the body is empty; send " + Shape;
        public const string NotJson = "the body is not valid JSON; send " + Shape;
        public const string NotUtf8 = "the body is not valid UTF-8 text";
        public const string TooDeep = "the body nests deeper than 33 levels, counting the array and the event object";
        public const string NotAnObject = "an event must be a JSON object: " + Shape;
        public const string BatchEmpty = "the array is empty; send 1 to 1000 events";
        public const string BatchTooLarge = "the array holds more than 1000 events; send at most 1000 per request";
        public const string EventMissing = "missing field \"event\": the event name, a string of " + NameRule;
        public const string EventInvalid = "field \"event\" must be an event name: a string of " + NameRule;
        public const string IdInvalid = "field \"id\" must be a string or a number of at most 64 characters";
        public const string FinalInvalid = "field \"final\" must be true or false";
        public const string FromGiven = "field \"from\" is set by the gateway, on events a WebSocket client published; a publisher over HTTP may not give it";

        public static string Duplicate(string field) => $"field \"{field}\" appears more than once; each field may appear once";
    }
}
