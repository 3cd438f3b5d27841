using System.Buffers;
using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class ServerFramesTests
{
    private static readonly DateTimeOffset Ts = new(2026, 11, 22, 5, 26, 25, 123, TimeSpan.Zero);

    private static readonly ReadOnlyMemory<byte> PctData = """{"pct":50,"label":"a \"b\" c"}"""u8.ToArray();

    /// <summary>A message under test: a closed generic, so the generic serializers are called as the gateway calls them.</summary>
    public abstract class Sample
    {
        public abstract byte[] Json();

        public abstract byte[] Frame();

        public abstract byte[] Written();
    }

    private sealed class Sample<T>(T message) : Sample
        where T : IServerMessage
    {
        public override byte[] Json() => ServerFrames.CreateJson(message);

        public override byte[] Frame() => ServerFrames.CreateTextFrame(message);

        public override byte[] Written()
        {
            var writer = new ArrayBufferWriter<byte>();
            ServerFrames.WriteJson(message, writer);
            return writer.WrittenSpan.ToArray();
        }

        public override string ToString() => message.ToString() ?? typeof(T).Name;
    }

    private static TestCaseData Case<T>(string name, T message, string expectedJson)
        where T : IServerMessage =>
        new TestCaseData(new Sample<T>(message), expectedJson).SetArgDisplayNames(name);

    private static IEnumerable<TestCaseData> Messages()
    {
        yield return Case("welcome", new WelcomeMessage("build-42", "c7f3", 17, "3f9a2c41b7e0", 15000, 45000, Complete: false),
            """{"type":"welcome","session":"build-42","connection":"c7f3","seq":17,"epoch":"3f9a2c41b7e0","heartbeat":{"interval":15000,"timeout":45000},"protocol":1,"complete":false}""");
        yield return Case("welcome, complete", new WelcomeMessage("s", "c", 0, "e", 1, 2, Complete: true),
            """{"type":"welcome","session":"s","connection":"c","seq":0,"epoch":"e","heartbeat":{"interval":1,"timeout":2},"protocol":1,"complete":true}""");
        yield return Case("event", new EventMessage("build-42", "build_progress", 7, Ts, PctData),
            """{"type":"event","session":"build-42","event":"build_progress","seq":7,"ts":"2026-11-22T05:26:25.123Z","data":{"pct":50,"label":"a \"b\" c"}}""");
        yield return Case("event, data null", new EventMessage("s", "e", 1, Ts, PublishRequest.NullData),
            """{"type":"event","session":"s","event":"e","seq":1,"ts":"2026-11-22T05:26:25.123Z","data":null}""");
        yield return Case("event, sub-millisecond ticks dropped", new EventMessage("s", "e", 2, Ts.AddTicks(9999), "1"u8.ToArray()),
            """{"type":"event","session":"s","event":"e","seq":2,"ts":"2026-11-22T05:26:25.123Z","data":1}""");
        yield return Case("event, offset time in UTC", new EventMessage("s", "e", 3, new DateTimeOffset(2026, 11, 22, 7, 26, 25, 5, TimeSpan.FromHours(2)), "[]"u8.ToArray()),
            """{"type":"event","session":"s","event":"e","seq":3,"ts":"2026-11-22T05:26:25.005Z","data":[]}""");
        yield return Case("event from a client", new EventMessage("room", "chat.message", 4, Ts, "\"hi\""u8.ToArray(), new EventOrigin("c7f3", "alice \"a\"")),
            """{"type":"event","session":"room","event":"chat.message","seq":4,"ts":"2026-11-22T05:26:25.123Z","data":"hi","from":{"connection":"c7f3","user":"alice \"a\""}}""");
        yield return Case("event from a client without a user", new EventMessage("room", "chat.message", 5, Ts, "1"u8.ToArray(), new EventOrigin("c7f3", null)),
            """{"type":"event","session":"room","event":"chat.message","seq":5,"ts":"2026-11-22T05:26:25.123Z","data":1,"from":{"connection":"c7f3","user":null}}""");
        yield return Case("pong, string id and ts", new PongMessage(JsonScalar.FromString("p1"), JsonScalar.FromString("t"), 1763789185123),
            """{"type":"pong","id":"p1","ts":"t","serverTs":1763789185123}""");
        yield return Case("pong, number id and ts", new PongMessage(JsonScalar.FromNumber(42), new JsonScalar("1.5e3", IsString: false), 1),
            """{"type":"pong","id":42,"ts":1.5e3,"serverTs":1}""");
        yield return Case("pong, no id, no ts", new PongMessage(null, null, 0), """{"type":"pong","serverTs":0}""");
        yield return Case("subscribed", new SubscribedMessage(JsonScalar.FromString("s1"), ["a", "b.c"]),
            """{"type":"subscribed","id":"s1","events":["a","b.c"]}""");
        yield return Case("subscribed to all, no id", new SubscribedMessage(null, [EventFilterNames.All]), """{"type":"subscribed","events":["*"]}""");
        yield return Case("status with state", new StatusReply(JsonScalar.FromNumber(3), "build-42", 9, "3f9a2c41b7e0", 2, Complete: false,
            [
                new StateEntry("build_progress", 8, Ts, PctData),
                new StateEntry("document_status", 9, Ts.AddSeconds(1), "\"done\""u8.ToArray()),
            ]),
            """{"type":"status","id":3,"session":"build-42","seq":9,"epoch":"3f9a2c41b7e0","clients":2,"complete":false,"state":{"build_progress":{"seq":8,"ts":"2026-11-22T05:26:25.123Z","data":{"pct":50,"label":"a \"b\" c"}},"document_status":{"seq":9,"ts":"2026-11-22T05:26:26.123Z","data":"done"}},"keyed":{}}""");
        yield return Case("status, state of a client's event", new StatusReply(null, "room", 4, "E1", 2, Complete: false,
            [new StateEntry("chat.message", 4, Ts, "\"hi\""u8.ToArray(), new EventOrigin("c7f3", "alice"))]),
            """{"type":"status","session":"room","seq":4,"epoch":"E1","clients":2,"complete":false,"state":{"chat.message":{"seq":4,"ts":"2026-11-22T05:26:25.123Z","data":"hi","from":{"connection":"c7f3","user":"alice"}}},"keyed":{}}""");
        yield return Case("status, empty state, complete", new StatusReply(null, "s", 0, "E1", 0, Complete: true, []),
            """{"type":"status","session":"s","seq":0,"epoch":"E1","clients":0,"complete":true,"state":{},"keyed":{}}""");
        yield return Case("status with keyed state: an assembled text, a replaced entry, a client's", new StatusReply(null, "chat", 12, "E1", 1, Complete: false,
            [new StateEntry("typing", 2, Ts, "true"u8.ToArray())],
            [
                new KeyedEntry("message", "m1", 7, Ts, "{\"text\":\"Hello\"}"u8.ToArray()),
                new KeyedEntry("message", "m2", 12, Ts.AddSeconds(1), "\"Hel\\\"lo\""u8.ToArray(), Chunks: 2),
                new KeyedEntry("reaction", "m1", 9, Ts, "\"+1\""u8.ToArray(), From: new EventOrigin("c1", null)),
            ]),
            """{"type":"status","session":"chat","seq":12,"epoch":"E1","clients":1,"complete":false,"state":{"typing":{"seq":2,"ts":"2026-11-22T05:26:25.123Z","data":true}},"keyed":{"message":{"m1":{"seq":7,"ts":"2026-11-22T05:26:25.123Z","data":{"text":"Hello"}},"m2":{"seq":12,"ts":"2026-11-22T05:26:26.123Z","data":"Hel\"lo","chunks":2}},"reaction":{"m1":{"seq":9,"ts":"2026-11-22T05:26:25.123Z","data":"+1","from":{"connection":"c1","user":null}}}}}""");
        yield return Case("resumed after since=", new ResumedMessage(null, 5, 3, Complete: true, "3f9a2c41b7e0"),
            """{"type":"resumed","since":5,"replayed":3,"complete":true,"epoch":"3f9a2c41b7e0"}""");
        yield return Case("resumed, incomplete", new ResumedMessage(JsonScalar.FromString("r"), 0, 0, Complete: false, "a"),
            """{"type":"resumed","id":"r","since":0,"replayed":0,"complete":false,"epoch":"a"}""");
        yield return Case("resumed in a new life: its epoch, from the start", new ResumedMessage(null, 3, 8, Complete: false, "b71c0e2d9f44"),
            """{"type":"resumed","since":3,"replayed":8,"complete":false,"epoch":"b71c0e2d9f44"}""");
        yield return Case("ack", new AckMessage(JsonScalar.FromString("p"), 12), """{"type":"ack","id":"p","seq":12}""");
        yield return Case("ack, no id", new AckMessage(null, 9223372036854775807), """{"type":"ack","seq":9223372036854775807}""");
        yield return Case("error with quotes", new ErrorMessage(JsonScalar.FromString("e1"), ErrorCode.InvalidMessage, ExpectedErrors.Client.EventsMissing),
            """{"type":"error","id":"e1","code":"invalid_message","message":"missing field \"events\": an array of 1 to 256 event names, or [\"*\"] for every event"}""");
        yield return Case("error, no id", new ErrorMessage(null, ErrorCode.InvalidJson, ExpectedErrors.Client.NotJson),
            """{"type":"error","code":"invalid_json","message":"the message is not valid JSON; send one JSON object per text frame, for example {\"type\":\"ping\"}"}""");
        yield return Case("error, every character class", new ErrorMessage(JsonScalar.FromNumber(1), ErrorCode.Forbidden, "a\\b\n\t<tag>&'é€\u0001"),
            """{"type":"error","id":1,"code":"forbidden","message":"a\\b\n\t<tag>&'é€\u0001"}""");
        yield return Case("error, rate_limited", new ErrorMessage(null, ErrorCode.RateLimited, "slow down"), """{"type":"error","code":"rate_limited","message":"slow down"}""");
        yield return Case("error, unavailable", new ErrorMessage(null, ErrorCode.Unavailable, "x"), """{"type":"error","code":"unavailable","message":"x"}""");
        yield return Case("error, unknown_type", new ErrorMessage(null, ErrorCode.UnknownType, "x"), """{"type":"error","code":"unknown_type","message":"x"}""");
        yield return Case("error from a decoding error", ErrorMessage.From(new ProtocolError(ErrorCode.InvalidMessage, "m", JsonScalar.FromString("i"))),
            """{"type":"error","id":"i","code":"invalid_message","message":"m"}""");
        yield return Case("string id with quote, backslash, non-ASCII", new AckMessage(JsonScalar.FromString("a\"b\\c é"), 1), """{"type":"ack","id":"a\"b\\c é","seq":1}""");
        yield return Case("rpc_result", new RpcResultMessage(JsonScalar.FromString("r1"), """{"answer":42}"""u8.ToArray()), """{"type":"rpc_result","id":"r1","data":{"answer":42}}""");
        PresenceEntry ada = new("c1", "ada", """{"role":"editor","tags":["a"]}"""u8.ToArray(), Ts);
        PresenceEntry anonymous = new("c2", null, default, Ts.AddSeconds(1));
        yield return Case("presence", new PresenceReply(JsonScalar.FromString("p"), "doc:1", 3, 1, [ada, anonymous]),
            """{"type":"presence","id":"p","session":"doc:1","clients":3,"users":1,"members":[{"connection":"c1","user":"ada","info":{"role":"editor","tags":["a"]},"since":"2026-11-22T05:26:25.123Z"},{"connection":"c2","user":null,"info":null,"since":"2026-11-22T05:26:26.123Z"}]}""");
        yield return Case("presence, nobody, no id", new PresenceReply(null, "s", 0, 0, []), """{"type":"presence","session":"s","clients":0,"users":0,"members":[]}""");
        yield return Case("join", new JoinMessage("doc:1", ada), """{"type":"join","session":"doc:1","connection":"c1","user":"ada","info":{"role":"editor","tags":["a"]}}""");
        yield return Case("join, no user, no info", new JoinMessage("s", anonymous), """{"type":"join","session":"s","connection":"c2","user":null,"info":null}""");
        yield return Case("leave", new LeaveMessage("doc:1", ada), """{"type":"leave","session":"doc:1","connection":"c1","user":"ada"}""");
        yield return Case("presence_diff", new PresenceDiffMessage("doc:1", [ada, anonymous], [new PresenceEntry("c0", "bob \"b\"", default, Ts)]),
            """{"type":"presence_diff","session":"doc:1","joined":[{"connection":"c1","user":"ada","info":{"role":"editor","tags":["a"]}},{"connection":"c2","user":null,"info":null}],"left":[{"connection":"c0","user":"bob \"b\""}]}""");
        yield return Case("presence_diff, only leaves", new PresenceDiffMessage("s", [], [ada, anonymous]),
            """{"type":"presence_diff","session":"s","joined":[],"left":[{"connection":"c1","user":"ada"},{"connection":"c2","user":null}]}""");
        yield return Case("rpc_result, number id, string data", new RpcResultMessage(JsonScalar.FromNumber(7), "\"ok\""u8.ToArray()), """{"type":"rpc_result","id":7,"data":"ok"}""");
    }

    [TestCaseSource(nameof(Messages))]
    public void Writes_exact_json(Sample sample, string expectedJson)
    {
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(sample.Json()), Is.EqualTo(expectedJson));
            Assert.That(Hex(sample.Json()), Is.EqualTo(Hex(Utf8(expectedJson))), "bytes");
            Assert.That(Hex(sample.Written()), Is.EqualTo(Hex(Utf8(expectedJson))), "WriteJson");
            Assert.That(Encoding.UTF8.GetString(sample.Json()), Does.Not.Contain("\\u0022"), "quotes escaped as \\\"");
        });
    }

    [TestCaseSource(nameof(Messages))]
    public void Text_frame_holds_the_json(Sample sample, string expectedJson)
    {
        byte[] json = sample.Json();
        byte[] frame = sample.Frame();
        var header = new byte[14];
        int headerLength = WebSocketFrameWriter.WriteHeader(header, WebSocketOpcode.Text, json.Length);
        Assert.Multiple(() =>
        {
            Assert.That(Hex(frame.AsSpan(0, headerLength)), Is.EqualTo(Hex(header.AsSpan(0, headerLength))));
            Assert.That(Hex(WebSocketFrameWriter.GetPayload(frame).Span), Is.EqualTo(Hex(json)));
            Assert.That(Hex(json), Is.EqualTo(Hex(Utf8(expectedJson))));
        });
    }

    [TestCase(100)]
    [TestCase(200)]
    [TestCase(70_000)]
    [TestCase(100_000)]
    public void Long_messages_get_the_right_header_and_later_messages_stay_right(int length)
    {
        // Also checks the thread's reused buffer: a large message must not leave bytes behind for a small one.
        string text = new('m', length);
        var error = new ErrorMessage(null, ErrorCode.InvalidMessage, text);
        byte[] json = ServerFrames.CreateJson(error);
        byte[] frame = ServerFrames.CreateTextFrame(error);
        byte[] small = ServerFrames.CreateTextFrame(new AckMessage(null, 1));
        byte[] smallJson = ServerFrames.CreateJson(new AckMessage(null, 2));
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetString(json), Is.EqualTo($$"""{"type":"error","code":"invalid_message","message":"{{text}}"}"""));
            Assert.That(WebSocketFrameHeader.TryParse(frame.AsSpan(), out WebSocketFrameHeader header), Is.True);
            Assert.That(header, Is.EqualTo(new WebSocketFrameHeader(true, 0, WebSocketOpcode.Text, false, 0, (ulong)json.Length, WebSocketFrameWriter.GetHeaderLength(json.Length))));
            Assert.That(Hex(frame.AsSpan(header.HeaderLength)), Is.EqualTo(Hex(json)));
            Assert.That(Encoding.UTF8.GetString(WebSocketFrameWriter.GetPayload(small).Span), Is.EqualTo("""{"type":"ack","seq":1}"""));
            Assert.That(Encoding.UTF8.GetString(smallJson), Is.EqualTo("""{"type":"ack","seq":2}"""));
        });
    }

    private static IEnumerable<TestCaseData> Events()
    {
        TestCaseData Event(string name, EventMessage message) => new TestCaseData(message).SetArgDisplayNames(name);
        yield return Event("object with escaped quotes", new EventMessage("build-42", "build_progress", 7, Ts, PctData));
        yield return Event("null", new EventMessage("s", "e", 1, Ts, PublishRequest.NullData));
        yield return Event("a number, one byte", new EventMessage("s", "e", 1, Ts, "1"u8.ToArray()));
        yield return Event("a string of non-ASCII text", new EventMessage("s", "é", 1, Ts, Utf8("\"héllo € \\u0041\"")));
        yield return Event("names that hold the key's own text", new EventMessage("\"data\":", "data\":{", 9, Ts, "[\"data\"]"u8.ToArray()));
        yield return Event("a slice of a larger buffer", new EventMessage("s", "e", 1, Ts, Utf8("xx[1,2,3]yy").AsMemory(2, 7)));
        yield return Event("with from, key and append", new EventMessage("room", "chat.message", 4, Ts, "\"hi\""u8.ToArray(), new EventOrigin("c7f3", "alice"), "m1", Append: true));
        yield return Event("over 125 bytes of frame payload: a two-byte length", new EventMessage("s", "e", 1, Ts, Utf8($"\"{new string('a', 60)}\"")));
        yield return Event("over 64 KiB: an eight-byte length", new EventMessage("s", "e", 1, Ts, Utf8($"\"{new string('b', 70_000)}\"")));
    }

    [TestCaseSource(nameof(Events))]
    public void An_event_frame_is_the_text_frame_and_says_where_its_data_lies(EventMessage message)
    {
        byte[] frame = ServerFrames.CreateEventFrame(message, out Range data);
        byte[] plain = ServerFrames.CreateTextFrame(message);
        Assert.Multiple(() =>
        {
            Assert.That(Hex(frame), Is.EqualTo(Hex(plain)));
            Assert.That(Hex(frame.AsSpan(data)), Is.EqualTo(Hex(message.Data.Span)));
            Assert.That(data.End.GetOffset(frame.Length) - data.Start.GetOffset(frame.Length), Is.EqualTo(message.Data.Length));
        });
    }

    [Test]
    public void Frames_do_not_share_memory()
    {
        byte[] first = ServerFrames.CreateTextFrame(new AckMessage(null, 1));
        byte[] copy = first.ToArray();
        ServerFrames.CreateTextFrame(new AckMessage(null, 2));
        ServerFrames.CreateJson(new AckMessage(null, 3));
        Assert.That(Hex(first), Is.EqualTo(Hex(copy)));
    }

    [TestCase(ErrorCode.InvalidJson, "invalid_json")]
    [TestCase(ErrorCode.InvalidMessage, "invalid_message")]
    [TestCase(ErrorCode.UnknownType, "unknown_type")]
    [TestCase(ErrorCode.Forbidden, "forbidden")]
    [TestCase(ErrorCode.RateLimited, "rate_limited")]
    [TestCase(ErrorCode.Unavailable, "unavailable")]
    [TestCase(ErrorCode.Rejected, "rejected")]
    public void Error_codes_have_their_wire_names(ErrorCode code, string wireName)
    {
        Assert.That(code.ToWireName(), Is.EqualTo(wireName));
    }

    [Test]
    public void Every_error_code_has_a_wire_name_and_no_other_value_does()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Enum.GetValues<ErrorCode>(), Has.Length.EqualTo(7));
            Assert.That(() => ((ErrorCode)99).ToWireName(), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [TestCase(2026, 11, 22, 5, 26, 25, 123, "2026-11-22T05:26:25.123Z")]
    [TestCase(2026, 1, 2, 3, 4, 5, 6, "2026-01-02T03:04:05.006Z")]
    [TestCase(1, 1, 1, 0, 0, 0, 0, "0001-01-01T00:00:00.000Z")]
    [TestCase(9999, 12, 31, 23, 59, 59, 999, "9999-12-31T23:59:59.999Z")]
    public void Timestamps_are_rfc3339_utc_milliseconds(int year, int month, int day, int hour, int minute, int second, int ms, string expected)
    {
        var time = new DateTimeOffset(year, month, day, hour, minute, second, ms, TimeSpan.Zero);
        Assert.Multiple(() =>
        {
            Assert.That(Timestamps.ToRfc3339(time), Is.EqualTo(expected));
            Assert.That(Timestamps.ToRfc3339(time.AddTicks(9_999)), Is.EqualTo(expected), "sub-millisecond ticks are dropped, not rounded");
            Assert.That(Timestamps.TruncateToMilliseconds(time.AddTicks(9_999)), Is.EqualTo(time));
            Assert.That(Encoding.UTF8.GetString(ServerFrames.CreateJson(new EventMessage("s", "e", 1, time, "0"u8.ToArray()))), Does.Contain($"\"ts\":\"{expected}\""));
        });
    }
}
