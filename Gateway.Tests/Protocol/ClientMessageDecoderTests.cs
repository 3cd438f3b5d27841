using System.Buffers;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using static Gateway.Tests.Protocol.TestBuffers;
using E = Gateway.Tests.Protocol.ExpectedErrors.Client;
using T = Gateway.Tests.Protocol.ExpectedErrors.Traits;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class ClientMessageDecoderTests
{
    private const string Name64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";
    private const string Name65 = Name64 + "-";

    /// <summary>Decodes <paramref name="input"/> given in <paramref name="shape"/> and renders the outcome.</summary>
    private static string Decode(byte[] input, BufferShape shape, int seed = 1)
    {
        bool decoded;
        ClientMessage? message;
        ProtocolError error;
        if (shape == BufferShape.Span)
        {
            decoded = ClientMessageDecoder.TryDecode(new ReadOnlySpan<byte>(input), out message, out error);
        }
        else
        {
            ReadOnlySequence<byte> sequence = ToSequence(input, shape, seed);
            decoded = ClientMessageDecoder.TryDecode(in sequence, out message, out error);
        }

        if (decoded)
        {
            Assert.That(message, Is.Not.Null);
            return MessageText.Render(message!);
        }

        Assert.That(message, Is.Null, "a failed decode must not return a message");
        return MessageText.Render(error);
    }

    /// <summary>Decodes the same bytes in every shape (three random splits) and checks every outcome.</summary>
    private static void AssertDecodesInEveryShape(byte[] input, string expected)
    {
        Assert.Multiple(() =>
        {
            foreach (BufferShape shape in AllShapes)
            {
                int seeds = shape == BufferShape.RandomSegments ? 3 : 1;
                for (int seed = 1; seed <= seeds; seed++)
                {
                    Assert.That(Decode(input, shape, seed), Is.EqualTo(expected), $"shape {shape}, seed {seed}");
                }
            }
        });
    }

    [TestCaseSource(nameof(ValidCases))]
    public void Decodes_valid_message(byte[] input, string expected) => AssertDecodesInEveryShape(input, expected);

    [TestCaseSource(nameof(InvalidCases))]
    public void Refuses_invalid_message(byte[] input, string expected) => AssertDecodesInEveryShape(input, expected);

    [TestCaseSource(nameof(CompactionCases))]
    public void Data_comes_out_compact(byte[] input, byte[] expectedData)
    {
        Assert.Multiple(() =>
        {
            foreach (BufferShape shape in AllShapes)
            {
                ReadOnlyMemory<byte> data = DecodeData(input, shape);
                Assert.That(Hex(data.Span), Is.EqualTo(Hex(expectedData)), $"shape {shape}");
            }
        });
    }

    [Test]
    public void Data_does_not_point_into_the_input([Values] BufferShape shape)
    {
        byte[] input = Utf8("""{"type":"publish","event":"e","data":{"k":"value"}}""");
        ReadOnlyMemory<byte> data = DecodeData(input, shape);
        input.AsSpan().Fill((byte)'x');
        Assert.That(Hex(data.Span), Is.EqualTo(Hex(Utf8("""{"k":"value"}"""))));
    }

    [Test]
    public void Absent_data_is_the_json_null([Values("publish", "rpc")] string type)
    {
        string field = type == "publish" ? "event" : "method";
        byte[] input = Utf8($$"""{"type":"{{type}}","{{field}}":"e"}""");
        Assert.That(Hex(DecodeData(input, BufferShape.Span).Span), Is.EqualTo(Hex("null"u8)));
    }

    private static ReadOnlyMemory<byte> DecodeData(byte[] input, BufferShape shape)
    {
        ClientMessage? message;
        if (shape == BufferShape.Span)
        {
            Assert.That(ClientMessageDecoder.TryDecode(new ReadOnlySpan<byte>(input), out message, out ProtocolError error), Is.True, error.Message);
        }
        else
        {
            ReadOnlySequence<byte> sequence = ToSequence(input, shape);
            Assert.That(ClientMessageDecoder.TryDecode(in sequence, out message, out ProtocolError error), Is.True, error.Message);
        }

        return message switch
        {
            PublishMessage publish => publish.Data,
            RpcRequest rpc => rpc.Data,
            _ => throw new AssertionException($"expected a message with data, got {message}"),
        };
    }

    private static TestCaseData Case(string name, string json, string expected) => Case(name, Utf8(json), expected);

    private static TestCaseData Case(string name, byte[] input, string expected) =>
        new TestCaseData(input, expected).SetArgDisplayNames(name);

    private static TestCaseData Bad(string name, string json, ErrorCode code, string message, string id = "-") =>
        Case(name, Utf8(json), MessageText.Error(code, message, id));

    private static TestCaseData Bad(string name, byte[] input, ErrorCode code, string message, string id = "-") =>
        Case(name, input, MessageText.Error(code, message, id));

    private static string Nest(string open, string close, int depth) =>
        string.Concat(Enumerable.Repeat(open, depth)) + string.Concat(Enumerable.Repeat(close, depth));

    /// <summary><c>{"a":{"a":...{}...}}</c>, <paramref name="depth"/> objects deep.</summary>
    private static string NestObjects(int depth) =>
        string.Concat(Enumerable.Repeat("{\"a\":", depth - 1)) + "{}" + new string('}', depth - 1);

    private static string NameList(int count) => string.Join(",", Enumerable.Range(0, count).Select(i => $"\"e{i}\""));

    private static IEnumerable<TestCaseData> ValidCases()
    {
        // ping: every combination of id and ts, ids and ts as strings and numbers.
        yield return Case("ping", """{"type":"ping"}""", "ping id=- ts=-");
        yield return Case("ping, string id", """{"type":"ping","id":"a1"}""", """ping id="a1" ts=-""");
        yield return Case("ping, number id", """{"type":"ping","id":42}""", "ping id=42 ts=-");
        yield return Case("ping, number id kept as sent", """{"type":"ping","id":-1.50e+3}""", "ping id=-1.50e+3 ts=-");
        yield return Case("ping, number ts", """{"type":"ping","ts":1700000000000}""", "ping id=- ts=1700000000000");
        yield return Case("ping, string ts", """{"type":"ping","ts":"2026-11-22T05:26:25.123Z"}""", """
            ping id=- ts="2026-11-22T05:26:25.123Z"
            """);
        yield return Case("ping, id and ts", """{"type":"ping","id":"x","ts":5}""", """ping id="x" ts=5""");
        yield return Case("ping, type last", """{"ts":5,"id":7,"type":"ping"}""", "ping id=7 ts=5");
        yield return Case("ping, empty string id", """{"type":"ping","id":""}""", """ping id="" ts=-""");
        yield return Case("ping, 64-character id", $$"""{"type":"ping","id":"{{Name64}}"}""", $"""ping id="{Name64}" ts=-""");
        yield return Case("ping, 64 two-byte characters id", $$"""{"type":"ping","id":"{{new string('é', 64)}}"}""", $"""ping id="{new string('é', 64)}" ts=-""");
        yield return Case("ping, 64-digit number id", $$"""{"type":"ping","id":{{new string('7', 64)}}}""", $"ping id={new string('7', 64)} ts=-");
        yield return Case("ping, escaped id", """{"type":"ping","id":"a\"b\u00e9\\"}""", """ping id="a"bé\" ts=-""");
        yield return Case("ping, whitespace everywhere", " \r\n\t{ \"type\" : \"ping\" , \"id\" : 1 } \n", "ping id=1 ts=-");

        // Unknown fields are skipped, whatever they hold; fields of other types are ignored even when malformed.
        yield return Case("unknown fields skipped", """{"x":{"nested":[1,{"type":"status"}]},"type":"ping","y":null,"z":"s"}""", "ping id=- ts=-");
        yield return Case("unknown field given twice", """{"type":"ping","x":1,"x":2}""", "ping id=- ts=-");
        yield return Case("names are case-sensitive", """{"type":"ping","ID":{},"Ts":[]}""", "ping id=- ts=-");
        yield return Case("fields of other types ignored", """{"type":"ping","events":5,"since":-1,"event":"a b","final":"x","token":"","method":7}""", "ping id=- ts=-");
        yield return Case("data ignored on ping", """{"type":"ping","data":{"a":[1,2]}}""", "ping id=- ts=-");

        // Escaped property names and values.
        yield return Case("escaped property name", """{"\u0074ype":"ping"}""", "ping id=- ts=-");
        yield return Case("escaped type value", """{"type":"\u0070ing"}""", "ping id=- ts=-");
        yield return Case("escaped names and values", """{"typ\u0065":"publish","\u0065vent":"a\u002Db","d\u0061ta":1,"\u0069d":"\u00e9t\u00e9"}""", """publish id="été" event=a-b final=false data=1""");

        // subscribe / unsubscribe.
        yield return Case("subscribe", """{"type":"subscribe","events":["a","b.c","X_1:-"]}""", "subscribe id=- events=[a,b.c,X_1:-] all=false");
        yield return Case("subscribe all", """{"type":"subscribe","id":"s","events":["*"]}""", """subscribe id="s" events=[*] all=true""");
        yield return Case("subscribe, type last", """{"events":["a"],"id":1,"type":"subscribe"}""", "subscribe id=1 events=[a] all=false");
        yield return Case("subscribe, 64-character name", $$"""{"type":"subscribe","events":["{{Name64}}"]}""", $"subscribe id=- events=[{Name64}] all=false");
        yield return Case("subscribe, escaped name", """{"type":"subscribe","events":["\u0061"]}""", "subscribe id=- events=[a] all=false");
        yield return Case(
            "subscribe, 256 names",
            $$"""{"type":"subscribe","events":[{{NameList(256)}}]}""",
            $"subscribe id=- events=[{string.Join(",", Enumerable.Range(0, 256).Select(i => $"e{i}"))}] all=false");
        yield return Case("unsubscribe", """{"type":"unsubscribe","id":"u","events":["a","b"]}""", """unsubscribe id="u" events=[a,b]""");
        yield return Case("unsubscribe, type last", """{"events":["a"],"type":"unsubscribe"}""", "unsubscribe id=- events=[a]");

        // status / resume.
        yield return Case("status", """{"type":"status"}""", "status id=-");
        yield return Case("status with id", """{"id":9,"type":"status"}""", "status id=9");
        yield return Case("resume from 0", """{"type":"resume","since":0}""", "resume id=- since=0");
        yield return Case("resume, type last", """{"since":17,"id":"r","type":"resume"}""", """resume id="r" since=17""");
        yield return Case("resume from the largest seq", """{"type":"resume","since":9223372036854775807}""", "resume id=- since=9223372036854775807");
        yield return Case("resume with an epoch", """{"type":"resume","id":"r","since":3,"epoch":"3f9a2c41b7e0"}""", """resume id="r" since=3 epoch=3f9a2c41b7e0""");
        yield return Case("resume, epoch first", """{"epoch":"A1","since":0,"type":"resume"}""", "resume id=- since=0 epoch=A1");
        yield return Case("resume, epoch of 32 characters", """{"type":"resume","since":1,"epoch":"0123456789abcdefABCDEF0123456789"}""", "resume id=- since=1 epoch=0123456789abcdefABCDEF0123456789");
        yield return Case("epoch on another type is ignored", """{"type":"status","epoch":"x"}""", "status id=-");

        // publish, with data of every JSON kind.
        yield return Case("publish, no data", """{"type":"publish","event":"e"}""", "publish id=- event=e final=false data=null");
        yield return Case("publish, data null", """{"type":"publish","event":"e","data":null}""", "publish id=- event=e final=false data=null");
        yield return Case("publish, data true", """{"type":"publish","event":"e","data":true}""", "publish id=- event=e final=false data=true");
        yield return Case("publish, data false", """{"type":"publish","event":"e","data":false}""", "publish id=- event=e final=false data=false");
        yield return Case("publish, data 0", """{"type":"publish","event":"e","data":0}""", "publish id=- event=e final=false data=0");
        yield return Case("publish, data number", """{"type":"publish","event":"e","data":-12.5e-3}""", "publish id=- event=e final=false data=-12.5e-3");
        yield return Case("publish, data string", """{"type":"publish","event":"e","data":"  two  spaces "}""", """
            publish id=- event=e final=false data="  two  spaces "
            """);
        yield return Case("publish, data escaped string", """{"type":"publish","event":"e","data":"\u00e9\n\"q\""}""", """
            publish id=- event=e final=false data="\u00e9\n\"q\""
            """);
        yield return Case("publish, data empty array", """{"type":"publish","event":"e","data":[]}""", "publish id=- event=e final=false data=[]");
        yield return Case("publish, data empty object", """{"type":"publish","event":"e","data":{}}""", "publish id=- event=e final=false data={}");
        yield return Case("publish, data array", """{"type":"publish","event":"e","data":[1,"a",null,{"b":[true]}]}""", """publish id=- event=e final=false data=[1,"a",null,{"b":[true]}]""");
        yield return Case("publish, data object", """{"type":"publish","event":"e","data":{"a":{"b":{"c":1}}}}""", """publish id=- event=e final=false data={"a":{"b":{"c":1}}}""");
        yield return Case("publish, data with spaces", """{"type":"publish","event":"e","data": { "a" : [ 1 , 2 ] } }""", """publish id=- event=e final=false data={"a":[1,2]}""");
        yield return Case("publish, multi-byte data", """{"type":"publish","event":"e","data":"héllo € 𝄞"}""", """
            publish id=- event=e final=false data="héllo € 𝄞"
            """);
        yield return Case("publish, data objects nested 31 levels", $$"""{"type":"publish","event":"e","data":{{NestObjects(31)}}}""", $"publish id=- event=e final=false data={NestObjects(31)}");
        yield return Case("publish, data nested 31 levels", $$"""{"type":"publish","event":"e","data":{{Nest("[", "]", 31)}}}""", $"publish id=- event=e final=false data={Nest("[", "]", 31)}");
        yield return Case("publish, final true", """{"type":"publish","event":"done","data":{"ok":true},"final":true}""", """publish id=- event=done final=true data={"ok":true}""");
        yield return Case("publish, final false", """{"type":"publish","event":"e","final":false}""", "publish id=- event=e final=false data=null");
        yield return Case("publish, type last", """{"data":[1],"final":true,"event":"e","id":"p","type":"publish"}""", """publish id="p" event=e final=true data=[1]""");
        yield return Case("publish, key", """{"type":"publish","event":"message","key":"room-1","data":"hi"}""", """publish id=- event=message final=false data="hi" key=room-1""");
        yield return Case("publish, append", """{"type":"publish","event":"m","data":"lo","append":true,"key":"a:1"}""", """publish id=- event=m final=false data="lo" key=a:1 append""");
        yield return Case("publish, conflate", """{"type":"publish","event":"cursor","conflate":true,"data":{"x":1}}""", """publish id=- event=cursor final=false data={"x":1} conflate""");
        yield return Case("publish, 64-character event", $$"""{"type":"publish","event":"{{Name64}}"}""", $"publish id=- event={Name64} final=false data=null");

        // auth / rpc.
        yield return Case("auth", """{"type":"auth","token":"eyJhbGciOi.x.y"}""", "auth id=- token=eyJhbGciOi.x.y");
        yield return Case("auth, type last", """{"token":"t","id":3,"type":"auth"}""", "auth id=3 token=t");
        yield return Case("rpc", """{"type":"rpc","id":"r1","method":"chat.send","data":{"text":"hi there"}}""", """rpc id="r1" method=chat.send data={"text":"hi there"}""");
        yield return Case("rpc, no data", """{"type":"rpc","method":"m"}""", "rpc id=- method=m data=null");
        yield return Case("rpc, type last", """{"data":[ 1 ],"method":"m","type":"rpc"}""", "rpc id=- method=m data=[1]");

        // presence.
        yield return Case("presence", """{"type":"presence"}""", "presence id=-");
        yield return Case("presence with id", """{"type":"presence","id":"p1"}""", "presence id=\"p1\"");
        yield return Case("presence, type last, other fields ignored", """{"id":4,"events":"not names","since":-1,"type":"presence"}""", "presence id=4");
    }

    private static IEnumerable<TestCaseData> InvalidCases()
    {
        const ErrorCode json = ErrorCode.InvalidJson;
        const ErrorCode invalid = ErrorCode.InvalidMessage;
        const ErrorCode unknown = ErrorCode.UnknownType;

        // Empty, not JSON.
        yield return Bad("empty", "", json, E.Empty);
        yield return Bad("blank", " \r\n\t ", json, E.Empty);
        yield return Bad("word", "hello", json, E.NotJson);
        yield return Bad("open brace", "{", json, E.NotJson);
        yield return Bad("unterminated object", """{"type":"ping" """, json, E.NotJson);
        yield return Bad("unterminated string", """{"type":"ping""", json, E.NotJson);
        yield return Bad("missing value", """{"type":}""", json, E.NotJson);
        yield return Bad("missing colon", """{"type" "ping"}""", json, E.NotJson);
        yield return Bad("single quotes", "{'type':'ping'}", json, E.NotJson);
        yield return Bad("unquoted name", """{type:"ping"}""", json, E.NotJson);
        yield return Bad("bad literal", "nul", json, E.NotJson);
        yield return Bad("leading zero", """{"type":"resume","since":01}""", json, E.NotJson);
        yield return Bad("NaN", """{"type":"ping","ts":NaN}""", json, E.NotJson);
        yield return Bad("raw newline in string", "{\"type\":\"pi\nng\"}", json, E.NotJson);
        yield return Bad("invalid escape", """{"type":"\x"}""", json, E.NotJson);
        yield return Bad("short unicode escape", """{"type":"ping","id":"\u12"}""", json, E.NotJson);
        yield return Bad("broken after id", """{"id":"a","type":"ping","x":[}""", json, E.NotJson, "\"a\"");
        yield return Bad("unterminated array", "[1,", json, E.NotJson);
        yield return Bad("unterminated string value", "\"abc", json, E.NotJson);
        yield return Bad("byte order mark", Concat([0xEF, 0xBB, 0xBF], Utf8("""{"type":"ping"}""")), json, E.NotJson);

        // Trailing garbage.
        yield return Bad("trailing word", """{"type":"ping"} x""", json, E.NotJson);
        yield return Bad("two objects", """{"type":"ping"}{"type":"ping"}""", json, E.NotJson);
        yield return Bad("trailing comma after object", """{"type":"ping"},""", json, E.NotJson);
        yield return Bad("trailing bracket", """{"type":"ping"}]""", json, E.NotJson);
        yield return Bad("trailing quote, id known", """{"type":"ping","id":7}" """, json, E.NotJson, "7");
        yield return Bad("trailing invalid byte", Concat(Utf8("""{"type":"ping"}"""), [0xFF]), json, E.NotJson);
        yield return Bad("array then garbage", "[] x", json, E.NotJson);

        // Not an object.
        yield return Bad("empty array", "[]", invalid, E.NotAnObject);
        yield return Bad("array of a message", """[{"type":"ping"}]""", invalid, E.NotAnObject);
        yield return Bad("string", "\"ping\"", invalid, E.NotAnObject);
        yield return Bad("number", "42", invalid, E.NotAnObject);
        yield return Bad("negative number", " -1.5 ", invalid, E.NotAnObject);
        yield return Bad("null", "null", invalid, E.NotAnObject);
        yield return Bad("true", "true", invalid, E.NotAnObject);

        // type.
        yield return Bad("missing type", "{}", invalid, E.TypeMissing);
        yield return Bad("missing type, id", """{"id":"a"}""", invalid, E.TypeMissing, "\"a\"");
        yield return Bad("type in other case", """{"Type":"ping"}""", invalid, E.TypeMissing);
        yield return Bad("type a number", """{"type":1}""", invalid, E.TypeNotAString);
        yield return Bad("type null", """{"type":null}""", invalid, E.TypeNotAString);
        yield return Bad("type true", """{"type":true}""", invalid, E.TypeNotAString);
        yield return Bad("type an array", """{"type":["ping"]}""", invalid, E.TypeNotAString);
        yield return Bad("type an object, id", """{"id":3,"type":{"ping":1}}""", invalid, E.TypeNotAString, "3");
        yield return Bad("unknown type", """{"type":"pong"}""", unknown, E.UnknownType);
        yield return Bad("type in upper case", """{"type":"PING"}""", unknown, E.UnknownType);
        yield return Bad("type empty", """{"type":""}""", unknown, E.UnknownType);
        yield return Bad("type with a space", """{"type":"ping "}""", unknown, E.UnknownType);
        yield return Bad("server type, id", """{"type":"welcome","id":"w"}""", unknown, E.UnknownType, "\"w\"");
        yield return Bad("unknown type, bad fields", """{"type":"nope","since":-1,"events":5}""", unknown, E.UnknownType);

        // id: too long or of the wrong type (refused before anything else, and not echoed).
        yield return Bad("id of 65 characters", $$"""{"type":"ping","id":"{{Name65}}"}""", invalid, E.IdInvalid);
        yield return Bad("id of 65 two-byte characters", $$"""{"type":"ping","id":"{{new string('é', 65)}}"}""", invalid, E.IdInvalid);
        yield return Bad("id of 400 characters", $$"""{"type":"ping","id":"{{new string('a', 400)}}"}""", invalid, E.IdInvalid);
        yield return Bad("id of 65 escaped characters", $$"""{"type":"ping","id":"{{string.Concat(Enumerable.Repeat("\\u0041", 65))}}"}""", invalid, E.IdInvalid);
        yield return Bad("id a 65-digit number", $$"""{"type":"ping","id":{{new string('7', 65)}}}""", invalid, E.IdInvalid);
        yield return Bad("id true", """{"type":"ping","id":true}""", invalid, E.IdInvalid);
        yield return Bad("id null", """{"type":"ping","id":null}""", invalid, E.IdInvalid);
        yield return Bad("id an object", """{"type":"status","id":{}}""", invalid, E.IdInvalid);
        yield return Bad("id an array", """{"type":"status","id":["a"]}""", invalid, E.IdInvalid);
        yield return Bad("id invalid, type unknown", """{"type":"nope","id":false}""", invalid, E.IdInvalid);
        yield return Bad("id invalid, type missing", """{"id":[]}""", invalid, E.IdInvalid);

        // ping.
        yield return Bad("ts true", """{"type":"ping","id":1,"ts":true}""", invalid, E.TsInvalid, "1");
        yield return Bad("ts null", """{"type":"ping","ts":null}""", invalid, E.TsInvalid);
        yield return Bad("ts an object", """{"type":"ping","ts":{"t":1}}""", invalid, E.TsInvalid);
        yield return Bad("ts of 65 characters", $$"""{"type":"ping","ts":"{{Name65}}"}""", invalid, E.TsInvalid);

        // subscribe.
        yield return Bad("subscribe, no events", """{"type":"subscribe","id":"s"}""", invalid, E.EventsMissing, "\"s\"");
        yield return Bad("subscribe, events a string", """{"type":"subscribe","events":"a"}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, events null", """{"type":"subscribe","events":null}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, events an object", """{"type":"subscribe","events":{"a":1}}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, events empty", """{"type":"subscribe","events":[]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, 257 names", $$"""{"type":"subscribe","id":2,"events":[{{NameList(257)}}]}""", invalid, E.EventsInvalid, "2");
        yield return Bad("subscribe, name with a space", """{"type":"subscribe","events":["a b"]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, empty name", """{"type":"subscribe","events":["a",""]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, 65-character name", $$"""{"type":"subscribe","events":["{{Name65}}"]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, non-ASCII name", """{"type":"subscribe","events":["é"]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, name with a slash", """{"type":"subscribe","events":["a/b"]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, name a number", """{"type":"subscribe","events":[5]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, name null", """{"type":"subscribe","events":[null]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, nested array", """{"type":"subscribe","events":["a",["b"]],"id":"later"}""", invalid, E.EventsInvalid, "\"later\"");
        yield return Bad("subscribe, * then a name", """{"type":"subscribe","events":["*","a"]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, a name then *", """{"type":"subscribe","events":["a","*"]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, * twice", """{"type":"subscribe","events":["*","*"]}""", invalid, E.EventsInvalid);
        yield return Bad("subscribe, * in a name", """{"type":"subscribe","events":["a*"]}""", invalid, E.EventsInvalid);

        // unsubscribe.
        yield return Bad("unsubscribe, no events", """{"type":"unsubscribe"}""", invalid, E.EventsMissing);
        yield return Bad("unsubscribe, events empty", """{"type":"unsubscribe","events":[]}""", invalid, E.EventsInvalid);
        yield return Bad("unsubscribe *", """{"type":"unsubscribe","id":"u","events":["*"]}""", invalid, E.UnsubscribeAll, "\"u\"");
        yield return Bad("unsubscribe * and a name", """{"type":"unsubscribe","events":["*","a"]}""", invalid, E.EventsInvalid);
        yield return Bad("unsubscribe, invalid name", """{"type":"unsubscribe","events":["a b"]}""", invalid, E.EventsInvalid);

        // resume.
        yield return Bad("resume, no since", """{"type":"resume","id":1}""", invalid, E.SinceMissing, "1");
        yield return Bad("resume, since negative", """{"type":"resume","since":-1}""", invalid, E.SinceInvalid);
        yield return Bad("resume, since fractional", """{"type":"resume","since":1.5}""", invalid, E.SinceInvalid);
        yield return Bad("resume, since 1e30", """{"type":"resume","since":1e30}""", invalid, E.SinceInvalid);
        yield return Bad("resume, since 99999999999999999999", """{"type":"resume","since":99999999999999999999}""", invalid, E.SinceInvalid);
        yield return Bad("resume, since 2^63", """{"type":"resume","since":9223372036854775808}""", invalid, E.SinceInvalid);
        yield return Bad("resume, since a string", """{"type":"resume","since":"5"}""", invalid, E.SinceInvalid);
        yield return Bad("resume, since null", """{"type":"resume","since":null}""", invalid, E.SinceInvalid);
        yield return Bad("resume, epoch a number", """{"type":"resume","id":"r","since":1,"epoch":7}""", invalid, E.EpochInvalid, "\"r\"");
        yield return Bad("resume, epoch empty", """{"type":"resume","since":1,"epoch":""}""", invalid, E.EpochInvalid);
        yield return Bad("resume, epoch with a colon", """{"type":"resume","since":1,"epoch":"a:b"}""", invalid, E.EpochInvalid);
        yield return Bad("resume, epoch of 33 characters", """{"type":"resume","since":1,"epoch":"0123456789abcdefABCDEF0123456789x"}""", invalid, E.EpochInvalid);
        yield return Bad("resume, epoch null", """{"type":"resume","since":1,"epoch":null}""", invalid, E.EpochInvalid);
        yield return Bad("resume, epoch but no since", """{"type":"resume","epoch":"a"}""", invalid, E.SinceMissing);

        // publish.
        yield return Bad("publish, no event", """{"type":"publish","id":"p","data":1}""", invalid, E.EventMissing, "\"p\"");
        yield return Bad("publish, event empty", """{"type":"publish","event":""}""", invalid, E.EventInvalid);
        yield return Bad("publish, event with a space", """{"type":"publish","event":"a b"}""", invalid, E.EventInvalid);
        yield return Bad("publish, event with a slash", """{"type":"publish","event":"a/b"}""", invalid, E.EventInvalid);
        yield return Bad("publish, event *", """{"type":"publish","event":"*"}""", invalid, E.EventInvalid);
        yield return Bad("publish, 65-character event", $$"""{"type":"publish","event":"{{Name65}}"}""", invalid, E.EventInvalid);
        yield return Bad("publish, event a number", """{"type":"publish","event":5}""", invalid, E.EventInvalid);
        yield return Bad("publish, event null", """{"type":"publish","event":null}""", invalid, E.EventInvalid);
        yield return Bad("publish, event an array", """{"type":"publish","event":["a"]}""", invalid, E.EventInvalid);
        yield return Bad("publish, final a string", """{"type":"publish","event":"e","final":"true"}""", invalid, E.FinalInvalid);
        yield return Bad("publish, final 1", """{"type":"publish","event":"e","final":1}""", invalid, E.FinalInvalid);
        yield return Bad("publish, final null", """{"type":"publish","id":4,"event":"e","final":null}""", invalid, E.FinalInvalid, "4");
        yield return Bad("publish, key empty", """{"type":"publish","event":"e","key":""}""", invalid, T.KeyInvalid);
        yield return Bad("publish, key a number", """{"type":"publish","event":"e","key":1}""", invalid, T.KeyInvalid);
        yield return Bad("publish, key of 129 characters", $$"""{"type":"publish","event":"e","key":"{{new string('k', 129)}}"}""", invalid, T.KeyInvalid);
        yield return Bad("publish, key twice", """{"type":"publish","event":"e","key":"a","key":"b"}""", invalid, E.Duplicate("key"));
        yield return Bad("publish, append null", """{"type":"publish","event":"e","key":"k","append":null,"data":"x"}""", invalid, T.AppendInvalid);
        yield return Bad("publish, append without key", """{"type":"publish","id":"c","event":"e","append":true,"data":"x"}""", invalid, T.AppendWithoutKey, "\"c\"");
        yield return Bad("publish, append of a number", """{"type":"publish","event":"e","key":"k","append":true,"data":5}""", invalid, T.AppendNotString);
        yield return Bad("publish, append without data", """{"type":"publish","event":"e","key":"k","append":true}""", invalid, T.AppendNotString);
        yield return Bad("publish, append and conflate", """{"type":"publish","event":"e","key":"k","append":true,"conflate":true,"data":"x"}""", invalid, T.AppendConflate);
        yield return Bad("publish, conflate a string", """{"type":"publish","event":"e","conflate":"true"}""", invalid, T.ConflateInvalid);
        yield return Bad("publish, conflate twice", """{"type":"publish","event":"e","conflate":true,"conflate":true}""", invalid, E.Duplicate("conflate"));
        yield return Bad("publish, event checked before final", """{"type":"publish","final":"x","event":"a b"}""", invalid, E.EventInvalid);

        // auth.
        yield return Bad("auth, no token", """{"type":"auth"}""", invalid, E.TokenMissing);
        yield return Bad("auth, token empty", """{"type":"auth","token":""}""", invalid, E.TokenInvalid);
        yield return Bad("auth, token a number", """{"type":"auth","id":"a","token":5}""", invalid, E.TokenInvalid, "\"a\"");
        yield return Bad("auth, token null", """{"type":"auth","token":null}""", invalid, E.TokenInvalid);

        // rpc.
        yield return Bad("presence, bad id", """{"type":"presence","id":{"a":1}}""", invalid, E.IdInvalid);
        yield return Bad("presence, type twice", """{"type":"presence","type":"presence"}""", invalid, E.Duplicate("type"));
        yield return Bad("Presence capitalised", """{"type":"Presence"}""", ErrorCode.UnknownType, E.UnknownType);
        yield return Bad("rpc, no method", """{"type":"rpc","data":{}}""", invalid, E.MethodMissing);
        yield return Bad("rpc, method with a space", """{"type":"rpc","method":"a b"}""", invalid, E.MethodInvalid);
        yield return Bad("rpc, method empty", """{"type":"rpc","method":""}""", invalid, E.MethodInvalid);
        yield return Bad("rpc, 65-character method", $$"""{"type":"rpc","method":"{{Name65}}"}""", invalid, E.MethodInvalid);
        yield return Bad("rpc, method a number", """{"type":"rpc","id":8,"method":5}""", invalid, E.MethodInvalid, "8");

        // Duplicate fields: refused for every known field, whatever the type.
        yield return Bad("type twice", """{"type":"ping","type":"status"}""", invalid, E.Duplicate("type"));
        yield return Bad("type twice, once escaped", """{"type":"ping","\u0074ype":"ping"}""", invalid, E.Duplicate("type"));
        yield return Bad("id twice", """{"id":"a","type":"ping","id":"b"}""", invalid, E.Duplicate("id"), "\"a\"");
        yield return Bad("ts twice", """{"type":"ping","ts":1,"ts":2}""", invalid, E.Duplicate("ts"));
        yield return Bad("events twice", """{"type":"subscribe","events":["a"],"events":["b"]}""", invalid, E.Duplicate("events"));
        yield return Bad("since twice", """{"type":"resume","since":1,"since":2}""", invalid, E.Duplicate("since"));
        yield return Bad("epoch twice", """{"type":"resume","since":1,"epoch":"a","epoch":"b"}""", invalid, E.Duplicate("epoch"));
        yield return Bad("event twice", """{"type":"publish","event":"a","event":"b"}""", invalid, E.Duplicate("event"));
        yield return Bad("data twice", """{"type":"publish","id":6,"event":"a","data":1,"data":2}""", invalid, E.Duplicate("data"), "6");
        yield return Bad("final twice", """{"type":"publish","event":"a","final":true,"final":true}""", invalid, E.Duplicate("final"));
        yield return Bad("token twice", """{"type":"auth","token":"a","token":"b"}""", invalid, E.Duplicate("token"));
        yield return Bad("method twice", """{"type":"rpc","method":"a","method":"b"}""", invalid, E.Duplicate("method"));
        yield return Bad("unused field twice", """{"type":"ping","since":1,"since":2}""", invalid, E.Duplicate("since"));

        // Deep nesting.
        yield return Bad("data nested 32 levels", $$"""{"type":"publish","id":"d","event":"e","data":{{Nest("[", "]", 32)}}}""", invalid, E.TooDeep, "\"d\"");
        yield return Bad("data objects nested 32 levels", $$"""{"type":"publish","event":"e","data":{{NestObjects(32)}}}""", invalid, E.TooDeep);
        yield return Bad("unknown field nested 1000 levels", $$"""{"type":"ping","x":{{Nest("[", "]", 1000)}}}""", invalid, E.TooDeep);
        yield return Bad("syntax error at the deepest array level", $$"""{"type":"publish","event":"e","data":{{new string('[', 31)}}x}""", json, E.NotJson);
        yield return Bad("syntax error after a value at the deepest level", $$"""{"type":"publish","event":"e","data":{{new string('[', 31)}}1 []}""", json, E.NotJson);
        yield return Bad("missing colon at the deepest object level", $$"""{"type":"publish","event":"e","data":{{string.Concat(Enumerable.Repeat("{\"a\":", 30))}}{"a" []}""", json, E.NotJson);
        yield return Bad("events nested 40 levels", $$"""{"type":"subscribe","events":{{Nest("[", "]", 40)}}}""", invalid, E.TooDeep);

        // Invalid UTF-8 inside string values that are read.
        yield return Bad("invalid UTF-8 in id", Concat(Utf8("""{"type":"ping","id":"a"""), [0xFF], Utf8("\"}")), json, E.NotUtf8);
        yield return Bad("invalid UTF-8 in ts", Concat(Utf8("""{"type":"ping","ts":"a"""), [0xC3], Utf8("\"}")), json, E.NotUtf8);
        yield return Bad("invalid UTF-8 in event", Concat(Utf8("""{"type":"publish","id":1,"event":"a"""), [0xC3], Utf8("\"}")), json, E.NotUtf8, "1");
        yield return Bad("invalid UTF-8 in events", Concat(Utf8("""{"type":"subscribe","events":["a"""), [0x80], Utf8("\"]}")), json, E.NotUtf8);
        yield return Bad("invalid UTF-8 in token", Concat(Utf8("""{"type":"auth","token":"a"""), [0xFE], Utf8("\"}")), json, E.NotUtf8);
        yield return Bad("invalid UTF-8 in method", Concat(Utf8("""{"type":"rpc","method":"a"""), [0xFE], Utf8("\"}")), json, E.NotUtf8);
        yield return Bad("invalid UTF-8 in data", Concat(Utf8("""{"type":"publish","id":1,"event":"e","data":"a"""), [0xFF], Utf8("\"}")), json, E.NotUtf8, "1");
        yield return Bad("overlong UTF-8 in data", Concat(Utf8("""{"type":"publish","event":"e","data":["""), [0x22, 0xC0, 0xAF, 0x22], Utf8("]}")), json, E.NotUtf8);
        yield return Bad("UTF-16 surrogate in data", Concat(Utf8("""{"type":"rpc","method":"m","data":{"""), [0x22, 0xED, 0xA0, 0x80, 0x22], Utf8(":1}}")), json, E.NotUtf8);
        yield return Bad("truncated character in data", Concat(Utf8("""{"type":"publish","event":"e","data":"""), [0x22, 0xE2, 0x82, 0x22], Utf8("}")), json, E.NotUtf8);

        // Comments and trailing commas are not JSON.
        yield return Bad("block comment", """{"type":"ping"/* c */}""", json, E.NotJson);
        yield return Bad("line comment before", "// c\n{\"type\":\"ping\"}", json, E.NotJson);
        yield return Bad("line comment after", "{\"type\":\"ping\"} // c", json, E.NotJson);
        yield return Bad("trailing comma in object", """{"type":"ping",}""", json, E.NotJson);
        yield return Bad("trailing comma in events", """{"type":"subscribe","events":["a",]}""", json, E.NotJson);
        yield return Bad("trailing comma in data", """{"type":"publish","event":"e","data":[1,]}""", json, E.NotJson);
    }

    private static IEnumerable<TestCaseData> CompactionCases()
    {
        static TestCaseData Data(string name, string data, string expected) =>
            new TestCaseData(Utf8($$"""{"type":"publish","event":"e","data":{{data}}}"""), Utf8(expected)).SetArgDisplayNames(name);

        yield return Data("already compact", """{"a":[1,2]}""", """{"a":[1,2]}""");
        yield return Data("spaces, tabs, newlines", "{ \"a\" :\t[ 1 ,\r\n 2 ] }", """{"a":[1,2]}""");
        yield return Data("whitespace inside strings kept", """{ "a b" : "c  d " }""", """{"a b":"c  d "}""");
        yield return Data("escaped quotes", """[ "say \"hi there\" " , 1 ]""", """["say \"hi there\" ",1]""");
        yield return Data("escaped backslash before a quote", """{ "path" : "c:\\dir\\" , "n" : 1 }""", """{"path":"c:\\dir\\","n":1}""");
        yield return Data("escaped backslash and quote", """[ "\\\" x" , "y" ]""", """["\\\" x","y"]""");
        yield return Data("escapes kept as sent", """[ "\u0020" , "\n" ]""", """["\u0020","\n"]""");
        yield return Data("multi-byte text", """[ "é ü" , "€ 𝄞" ]""", """["é ü","€ 𝄞"]""");
        yield return Data("string only", "\"  \"", "\"  \"");
        yield return Data("scalar", " 12.5 ", "12.5");
    }
}
