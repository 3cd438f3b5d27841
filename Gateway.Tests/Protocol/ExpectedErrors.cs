namespace Gateway.Tests.Protocol;

/// <summary>
/// The exact error texts of the decoders, written out here rather than read from the library, so
/// that a changed text fails a test.
/// </summary>
internal static class ExpectedErrors
{
    private const string Types = "ping, subscribe, unsubscribe, status, resume, publish, auth, rpc, presence";
    private const string NameRule = "1-64 characters from A-Z a-z 0-9 . _ : -";

    /// <summary>Texts about <c>key</c>, <c>append</c> and <c>conflate</c>, the same from both decoders.</summary>
    public static class Traits
    {
        public const string KeyInvalid = "field \"key\" must be a key: a string of 1-128 characters from A-Z a-z 0-9 . _ : -";
        public const string AppendInvalid = "field \"append\" must be true or false";
        public const string ConflateInvalid = "field \"conflate\" must be true or false";
        public const string AppendWithoutKey = "field \"append\" needs a \"key\": an append adds its text to the text kept for its event name and key";
        public const string AppendNotString = "an append's \"data\" must be a JSON string: the text to add";
        public const string AppendConflate = "an append is never conflated: give \"append\" or \"conflate\", not both";

        public static readonly string[] All = [KeyInvalid, AppendInvalid, ConflateInvalid, AppendWithoutKey, AppendNotString, AppendConflate];
    }

    /// <summary>Texts of <c>ClientMessageDecoder</c>.</summary>
    public static class Client
    {
        public const string Empty = "the message is empty; send one JSON object with a string \"type\", for example {\"type\":\"ping\"}";
        public const string NotJson = "the message is not valid JSON; send one JSON object per text frame, for example {\"type\":\"ping\"}";
        public const string NotUtf8 = "the message is not valid UTF-8 text";
        public const string NotAnObject = "a message must be a JSON object with a string \"type\", for example {\"type\":\"ping\"}";
        public const string TooDeep = "the message nests deeper than 32 levels; \"data\" may nest at most 31 levels";
        public const string TypeMissing = "missing field \"type\": a string, one of " + Types;
        public const string TypeNotAString = "field \"type\" must be a string, one of " + Types;
        public const string UnknownType = "unknown message type; \"type\" must be one of " + Types;
        public const string IdInvalid = "field \"id\" must be a string or a number of at most 64 characters";
        public const string TsInvalid = "field \"ts\" must be a string or a number of at most 64 characters";
        public const string EventsInvalid = "field \"events\" must be an array of 1 to 256 event names (" + NameRule + "), or [\"*\"] alone for every event";
        public const string EventsMissing = "missing field \"events\": an array of 1 to 256 event names, or [\"*\"] for every event";
        public const string UnsubscribeAll = "field \"events\" of unsubscribe must name events; \"*\" cannot be unsubscribed, subscribe to the names you want instead";
        public const string SinceInvalid = "field \"since\" must be an integer seq of 0 or more";
        public const string SinceMissing = "missing field \"since\": the last seq you have, an integer of 0 or more";
        public const string EpochInvalid = "field \"epoch\" must be the session's epoch: a string of 1-32 characters from A-Z a-z 0-9, as the gateway sent it";
        public const string EventInvalid = "field \"event\" must be an event name: a string of " + NameRule;
        public const string EventMissing = "missing field \"event\": the event name, a string of " + NameRule;
        public const string FinalInvalid = "field \"final\" must be true or false";
        public const string TokenInvalid = "field \"token\" must be a non-empty string (a JWT)";
        public const string TokenMissing = "missing field \"token\": a non-empty string (a JWT)";
        public const string MethodInvalid = "field \"method\" must be a string of " + NameRule;
        public const string MethodMissing = "missing field \"method\": a string of " + NameRule;

        public static readonly string[] Fields = ["type", "id", "ts", "events", "since", "epoch", "event", "data", "final", "token", "method", "key", "append", "conflate"];

        /// <summary>Every text the decoder may produce.</summary>
        public static readonly HashSet<string> All =
        [
            Empty, NotJson, NotUtf8, NotAnObject, TooDeep, TypeMissing, TypeNotAString, UnknownType, IdInvalid,
            TsInvalid, EventsInvalid, EventsMissing, UnsubscribeAll, SinceInvalid, SinceMissing, EpochInvalid, EventInvalid,
            EventMissing, FinalInvalid, TokenInvalid, TokenMissing, MethodInvalid, MethodMissing,
            .. Fields.Select(Duplicate), .. Traits.All,
        ];

        public static string Duplicate(string field) => $"field \"{field}\" appears more than once; each field may appear once";
    }

    /// <summary>Texts of <c>PublishRequestDecoder</c>.</summary>
    public static class Publish
    {
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

        /// <summary>The texts that stand alone; the ones about one event may carry an <c>events[i]: </c> prefix.</summary>
        public static readonly HashSet<string> Whole = [Empty, NotJson, NotUtf8, TooDeep, BatchEmpty, BatchTooLarge];

        public static readonly HashSet<string> PerEvent =
        [
            NotAnObject, EventMissing, EventInvalid, IdInvalid, FinalInvalid, FromGiven, NotUtf8,
            Duplicate("event"), Duplicate("data"), Duplicate("id"), Duplicate("final"),
            Duplicate("key"), Duplicate("append"), Duplicate("conflate"), .. Traits.All,
        ];

        public static string Duplicate(string field) => $"field \"{field}\" appears more than once; each field may appear once";

        public static string At(int index, string text) => $"events[{index}]: {text}";
    }
}
