using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Gateway.Protocol.Messages;

namespace Gateway.Protocol.Json;

/// <summary>
/// Turns one complete client message (the payload of a WebSocket text message) into a typed
/// <see cref="ClientMessage"/>, or into a <see cref="ProtocolError"/> that names the field at fault
/// and says what is accepted. Never throws for any input.
/// </summary>
/// <remarks>
/// One pass over the JSON: fields may come in any order (<c>type</c> last is fine), unknown fields
/// are skipped, a known field given twice is refused. A field that the message's type does not use
/// is ignored even when malformed.
/// </remarks>
public static class ClientMessageDecoder
{
    /// <summary>The deepest nesting accepted, the message object itself counting as one level.</summary>
    public const int MaxDepth = 32;

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth };

    /// <summary>Decodes a message held in a sequence of one or more segments.</summary>
    public static bool TryDecode(in ReadOnlySequence<byte> message, [NotNullWhen(true)] out ClientMessage? result, out ProtocolError error)
    {
        if (message.IsSingleSegment)
        {
            return TryDecode(message.FirstSpan, out result, out error);
        }

        var reader = new Utf8JsonReader(message, ReaderOptions);
        return TryDecode(ref reader, new JsonSource(message), out result, out error);
    }

    /// <summary>Decodes a message held in one contiguous span.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> message, [NotNullWhen(true)] out ClientMessage? result, out ProtocolError error)
    {
        var reader = new Utf8JsonReader(message, ReaderOptions);
        return TryDecode(ref reader, new JsonSource(message), out result, out error);
    }

    private static bool TryDecode(ref Utf8JsonReader reader, JsonSource source, [NotNullWhen(true)] out ClientMessage? result, out ProtocolError error)
    {
        result = null;
        var fields = new Fields();
        try
        {
            // A reader throws, rather than returning false, on text without a single token.
            if (source.IsBlank() || !reader.Read())
            {
                error = new ProtocolError(ErrorCode.InvalidJson, Errors.Empty);
                return false;
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                // Read the whole value so that broken JSON is reported as such, not as "not an object".
                reader.Skip();
                reader.Read();
                error = new ProtocolError(ErrorCode.InvalidMessage, Errors.NotAnObject);
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                Field field = Identify(ref reader);
                if (field != Field.None && (fields.Seen & field) != 0)
                {
                    error = new ProtocolError(ErrorCode.InvalidMessage, Errors.Duplicate(field), fields.Id);
                    return false;
                }

                fields.Seen |= field;
                reader.Read();
                ReadField(ref reader, field, ref fields);
            }

            // Anything after the object (a second value, stray bytes) makes this throw.
            reader.Read();
        }
        catch (JsonException) when (source.NestsDeeperThan(MaxDepth))
        {
            error = new ProtocolError(ErrorCode.InvalidMessage, Errors.TooDeep, fields.Id);
            return false;
        }
        catch (JsonException)
        {
            error = new ProtocolError(ErrorCode.InvalidJson, Errors.NotJson, fields.Id);
            return false;
        }
        catch (InvalidOperationException)
        {
            // GetString on a string that is not valid UTF-8.
            error = new ProtocolError(ErrorCode.InvalidJson, Errors.NotUtf8, fields.Id);
            return false;
        }

        return TryBuild(ref fields, source, out result, out error);
    }

    private static Field Identify(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals(ProtocolText.Type.EncodedUtf8Bytes)) return Field.Type;
        if (reader.ValueTextEquals(ProtocolText.Id.EncodedUtf8Bytes)) return Field.Id;
        if (reader.ValueTextEquals(ProtocolText.Ts.EncodedUtf8Bytes)) return Field.Ts;
        if (reader.ValueTextEquals(ProtocolText.Events.EncodedUtf8Bytes)) return Field.Events;
        if (reader.ValueTextEquals(ProtocolText.Since.EncodedUtf8Bytes)) return Field.Since;
        if (reader.ValueTextEquals(ProtocolText.Epoch.EncodedUtf8Bytes)) return Field.Epoch;
        if (reader.ValueTextEquals(ProtocolText.Event.EncodedUtf8Bytes)) return Field.Event;
        if (reader.ValueTextEquals(ProtocolText.Data.EncodedUtf8Bytes)) return Field.Data;
        if (reader.ValueTextEquals(ProtocolText.Final.EncodedUtf8Bytes)) return Field.Final;
        if (reader.ValueTextEquals(ProtocolText.Token.EncodedUtf8Bytes)) return Field.Token;
        if (reader.ValueTextEquals(ProtocolText.Method.EncodedUtf8Bytes)) return Field.Method;
        if (reader.ValueTextEquals(ProtocolText.Key.EncodedUtf8Bytes)) return Field.Key;
        if (reader.ValueTextEquals(ProtocolText.Append.EncodedUtf8Bytes)) return Field.Append;
        if (reader.ValueTextEquals(ProtocolText.Conflate.EncodedUtf8Bytes)) return Field.Conflate;
        return Field.None;
    }

    private static void ReadField(ref Utf8JsonReader reader, Field field, ref Fields fields)
    {
        bool valid = true;
        switch (field)
        {
            case Field.Type:
                fields.Type = ReadType(ref reader);
                break;
            case Field.Id:
                valid = JsonFields.TryGetScalar(ref reader, out JsonScalar id);
                fields.Id = valid ? id : null;
                break;
            case Field.Ts:
                valid = JsonFields.TryGetScalar(ref reader, out JsonScalar ts);
                fields.Ts = ts;
                break;
            case Field.Events:
                var start = reader;
                valid = JsonFields.TryGetEventNames(ref reader, out fields.Events);
                if (!valid)
                {
                    // The names stopped somewhere inside the array: go back and skip it whole.
                    reader = start;
                }

                break;
            case Field.Since:
                valid = JsonFields.TryGetSeq(ref reader, out fields.Since);
                break;
            case Field.Epoch:
                valid = JsonFields.TryGetBoundedString(ref reader, Epochs.MaxLength, out fields.Epoch) && Epochs.IsValid(fields.Epoch);
                break;
            case Field.Event:
                valid = JsonFields.TryGetEventName(ref reader, out fields.Event);
                break;
            case Field.Data:
                fields.DataIsString = reader.TokenType == JsonTokenType.String;
                JsonFields.SkipRawValue(ref reader, out fields.DataStart, out fields.DataLength);
                break;
            case Field.Key:
                valid = JsonFields.TryGetKey(ref reader, out fields.Key);
                break;
            case Field.Append:
                valid = JsonFields.TryGetBoolean(ref reader, out fields.Append);
                break;
            case Field.Conflate:
                valid = JsonFields.TryGetBoolean(ref reader, out fields.Conflate);
                break;
            case Field.Final:
                valid = JsonFields.TryGetBoolean(ref reader, out fields.Final);
                break;
            case Field.Token:
                valid = JsonFields.TryGetBoundedString(ref reader, int.MaxValue / 6, out fields.Token) && fields.Token.Length > 0;
                break;
            case Field.Method:
                valid = JsonFields.TryGetBoundedString(ref reader, Names.MaxEventNameLength, out fields.Method)
                    && Names.IsValidEventName(fields.Method);
                break;
        }

        if (!valid)
        {
            fields.Invalid |= field;
        }

        // Leave the reader on the last token of the value, whatever it was.
        reader.Skip();
    }

    private static TypeName ReadType(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String) return TypeName.NotAString;
        if (reader.ValueTextEquals(ProtocolText.TypePing.EncodedUtf8Bytes)) return TypeName.Ping;
        if (reader.ValueTextEquals(ProtocolText.TypeSubscribe.EncodedUtf8Bytes)) return TypeName.Subscribe;
        if (reader.ValueTextEquals(ProtocolText.TypeUnsubscribe.EncodedUtf8Bytes)) return TypeName.Unsubscribe;
        if (reader.ValueTextEquals(ProtocolText.TypeStatus.EncodedUtf8Bytes)) return TypeName.Status;
        if (reader.ValueTextEquals(ProtocolText.TypeResume.EncodedUtf8Bytes)) return TypeName.Resume;
        if (reader.ValueTextEquals(ProtocolText.TypePublish.EncodedUtf8Bytes)) return TypeName.Publish;
        if (reader.ValueTextEquals(ProtocolText.TypeAuth.EncodedUtf8Bytes)) return TypeName.Auth;
        if (reader.ValueTextEquals(ProtocolText.TypeRpc.EncodedUtf8Bytes)) return TypeName.Rpc;
        if (reader.ValueTextEquals(ProtocolText.TypePresence.EncodedUtf8Bytes)) return TypeName.Presence;
        return TypeName.Unknown;
    }

    private static bool TryBuild(ref Fields fields, JsonSource source, [NotNullWhen(true)] out ClientMessage? result, out ProtocolError error)
    {
        result = null;
        if ((fields.Invalid & Field.Id) != 0)
        {
            error = new ProtocolError(ErrorCode.InvalidMessage, Errors.IdInvalid);
            return false;
        }

        JsonScalar? id = fields.Id;
        string? problem = fields.Type switch
        {
            TypeName.Missing => Errors.TypeMissing,
            TypeName.NotAString => Errors.TypeNotAString,
            TypeName.Ping => Check(ref fields, Field.Ts, required: false),
            TypeName.Subscribe => Check(ref fields, Field.Events, required: true),
            TypeName.Unsubscribe => Check(ref fields, Field.Events, required: true)
                ?? (fields.Events.Contains(EventFilterNames.All) ? Errors.UnsubscribeAll : null),
            TypeName.Status => null,
            TypeName.Presence => null,
            TypeName.Resume => Check(ref fields, Field.Since, required: true) ?? Check(ref fields, Field.Epoch, required: false),
            TypeName.Publish => Check(ref fields, Field.Event, required: true) ?? Check(ref fields, Field.Final, required: false)
                ?? Check(ref fields, Field.Key, required: false) ?? Check(ref fields, Field.Append, required: false)
                ?? Check(ref fields, Field.Conflate, required: false) ?? Traits(ref fields).Problem(fields.DataIsString),
            TypeName.Auth => Check(ref fields, Field.Token, required: true),
            TypeName.Rpc => Check(ref fields, Field.Method, required: true),
            _ => null,
        };

        if (fields.Type == TypeName.Unknown)
        {
            error = new ProtocolError(ErrorCode.UnknownType, Errors.UnknownType, id);
            return false;
        }

        if (problem is not null)
        {
            error = new ProtocolError(ErrorCode.InvalidMessage, problem, id);
            return false;
        }

        ReadOnlyMemory<byte> data = PublishRequest.NullData;
        if ((fields.Seen & Field.Data) != 0 && fields.Type is TypeName.Publish or TypeName.Rpc
            && !JsonFields.TryCopyRawValue(source, fields.DataStart, fields.DataLength, out data))
        {
            error = new ProtocolError(ErrorCode.InvalidJson, Errors.NotUtf8, id);
            return false;
        }

        result = fields.Type switch
        {
            TypeName.Ping => new PingMessage(id, (fields.Seen & Field.Ts) != 0 ? fields.Ts : null),
            TypeName.Subscribe => new SubscribeMessage(id, fields.Events),
            TypeName.Unsubscribe => new UnsubscribeMessage(id, fields.Events),
            TypeName.Status => new StatusRequest(id),
            TypeName.Resume => new ResumeMessage(id, fields.Since, (fields.Seen & Field.Epoch) != 0 ? fields.Epoch : null),
            TypeName.Publish => new PublishMessage(id, fields.Event, data, fields.Final, Traits(ref fields)),
            TypeName.Auth => new AuthMessage(id, fields.Token),
            TypeName.Rpc => new RpcRequest(id, fields.Method, data),
            TypeName.Presence => new PresenceRequest(id),
            _ => throw new InvalidOperationException("unreachable: every type was checked above"),
        };
        error = default;
        return true;
    }

    /// <summary>The error text for <paramref name="field"/> when it is invalid, or required and absent.</summary>
    private static string? Check(ref Fields fields, Field field, bool required)
    {
        if ((fields.Invalid & field) != 0)
        {
            return Errors.Invalid(field);
        }

        return required && (fields.Seen & field) == 0 ? Errors.Missing(field) : null;
    }

    private static EventTraits Traits(ref Fields fields) =>
        new((fields.Seen & Field.Key) != 0 ? fields.Key : null, fields.Append, fields.Conflate);

    [Flags]
    private enum Field
    {
        None = 0,
        Type = 1 << 0,
        Id = 1 << 1,
        Ts = 1 << 2,
        Events = 1 << 3,
        Since = 1 << 4,
        Event = 1 << 5,
        Data = 1 << 6,
        Final = 1 << 7,
        Token = 1 << 8,
        Method = 1 << 9,
        Epoch = 1 << 10,
        Key = 1 << 11,
        Append = 1 << 12,
        Conflate = 1 << 13,
    }

    private enum TypeName
    {
        Missing,
        NotAString,
        Unknown,
        Ping,
        Subscribe,
        Unsubscribe,
        Status,
        Resume,
        Publish,
        Auth,
        Rpc,
        Presence,
    }

    /// <summary>Everything one pass over the object found.</summary>
    private struct Fields
    {
        public Field Seen;
        public Field Invalid;
        public TypeName Type;
        public JsonScalar? Id;
        public JsonScalar Ts;
        public List<string> Events;
        public long Since;
        public string Epoch;
        public string Event;
        public long DataStart;
        public long DataLength;
        public bool Final;
        public bool DataIsString;
        public string Key;
        public bool Append;
        public bool Conflate;
        public string Token;
        public string Method;
    }

    /// <summary>The fixed error texts. Each names the field and says what is accepted.</summary>
    private static class Errors
    {
        private const string Types = "ping, subscribe, unsubscribe, status, resume, publish, auth, rpc, presence";
        private const string NameRule = "1-64 characters from " + Names.AllowedCharacters;

        public const string Empty = "the message is empty; send one JSON object with a string \"type\", for example {\"type\":\"ping\"}";
        public const string NotJson = "the message is not valid JSON; send one JSON object per text frame, for example {\"type\":\"ping\"}";
        public const string NotUtf8 = "the message is not valid UTF-8 text";
        public const string NotAnObject = "a message must be a JSON object with a string \"type\", for example {\"type\":\"ping\"}";
        public const string TooDeep = "the message nests deeper than 32 levels; \"data\" may nest at most 31 levels";
        public const string TypeMissing = "missing field \"type\": a string, one of " + Types;
        public const string TypeNotAString = "field \"type\" must be a string, one of " + Types;
        public const string UnknownType = "unknown message type; \"type\" must be one of " + Types;
        public const string IdInvalid = "field \"id\" must be a string or a number of at most 64 characters";
        public const string UnsubscribeAll = "field \"events\" of unsubscribe must name events; \"*\" cannot be unsubscribed, subscribe to the names you want instead";

        public static string Duplicate(Field field) => field switch
        {
            Field.Type => "field \"type\" appears more than once; each field may appear once",
            Field.Id => "field \"id\" appears more than once; each field may appear once",
            Field.Ts => "field \"ts\" appears more than once; each field may appear once",
            Field.Events => "field \"events\" appears more than once; each field may appear once",
            Field.Since => "field \"since\" appears more than once; each field may appear once",
            Field.Event => "field \"event\" appears more than once; each field may appear once",
            Field.Data => "field \"data\" appears more than once; each field may appear once",
            Field.Final => "field \"final\" appears more than once; each field may appear once",
            Field.Token => "field \"token\" appears more than once; each field may appear once",
            Field.Epoch => "field \"epoch\" appears more than once; each field may appear once",
            Field.Key => "field \"key\" appears more than once; each field may appear once",
            Field.Append => "field \"append\" appears more than once; each field may appear once",
            Field.Conflate => "field \"conflate\" appears more than once; each field may appear once",
            _ => "field \"method\" appears more than once; each field may appear once",
        };

        public static string Invalid(Field field) => field switch
        {
            Field.Ts => "field \"ts\" must be a string or a number of at most 64 characters",
            Field.Events => "field \"events\" must be an array of 1 to 256 event names (" + NameRule + "), or [\"*\"] alone for every event",
            Field.Since => "field \"since\" must be an integer seq of 0 or more",
            Field.Event => "field \"event\" must be an event name: a string of " + NameRule,
            Field.Final => "field \"final\" must be true or false",
            Field.Token => "field \"token\" must be a non-empty string (a JWT)",
            Field.Epoch => "field \"epoch\" must be the session's epoch: a string of " + Epochs.Rule,
            Field.Key => EventTraits.Errors.KeyInvalid,
            Field.Append => EventTraits.Errors.AppendInvalid,
            Field.Conflate => EventTraits.Errors.ConflateInvalid,
            _ => "field \"method\" must be a string of " + NameRule,
        };

        public static string Missing(Field field) => field switch
        {
            Field.Events => "missing field \"events\": an array of 1 to 256 event names, or [\"*\"] for every event",
            Field.Since => "missing field \"since\": the last seq you have, an integer of 0 or more",
            Field.Event => "missing field \"event\": the event name, a string of " + NameRule,
            Field.Token => "missing field \"token\": a non-empty string (a JWT)",
            _ => "missing field \"method\": a string of " + NameRule,
        };
    }
}
