using System.Buffers;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using static Gateway.Tests.Protocol.TestBuffers;
using E = Gateway.Tests.Protocol.ExpectedErrors.Publish;
using T = Gateway.Tests.Protocol.ExpectedErrors.Traits;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class PublishRequestDecoderTests
{
    /// <summary>Decodes <paramref name="body"/> given in <paramref name="shape"/> and renders the outcome, one line per event.</summary>
    private static string Decode(byte[] body, BufferShape shape, int seed = 1)
    {
        ReadOnlySequence<byte> sequence = ToSequence(body, shape, seed);
        if (PublishRequestDecoder.TryDecode(in sequence, out IReadOnlyList<PublishRequest>? events, out bool isBatch, out ProtocolError error))
        {
            return (isBatch ? "batch" : "single") + string.Concat(events.Select(e => "\n" + MessageText.Render(e)));
        }

        Assert.That(events, Is.Null, "a failed decode must not return events");
        return MessageText.Render(error);
    }

    private static void AssertDecodesInEveryShape(byte[] body, string expected)
    {
        Assert.Multiple(() =>
        {
            // The span shape is the single-segment sequence here: the decoder takes sequences only.
            foreach (BufferShape shape in AllShapes.Where(s => s != BufferShape.Span))
            {
                int seeds = shape == BufferShape.RandomSegments ? 3 : 1;
                for (int seed = 1; seed <= seeds; seed++)
                {
                    Assert.That(Decode(body, shape, seed), Is.EqualTo(expected), $"shape {shape}, seed {seed}");
                }
            }
        });
    }

    [TestCaseSource(nameof(ValidCases))]
    public void Decodes_valid_body(byte[] body, string expected) => AssertDecodesInEveryShape(body, expected);

    [TestCaseSource(nameof(InvalidCases))]
    public void Refuses_invalid_body(byte[] body, string expected) => AssertDecodesInEveryShape(body, expected);

    [Test]
    public void Batch_of_exactly_1000_is_accepted([Values(BufferShape.SingleSegment, BufferShape.RandomSegments)] BufferShape shape)
    {
        byte[] body = Utf8("[" + string.Join(",", Enumerable.Range(0, 1000).Select(i => $$"""{"event":"e{{i % 7}}","data":{{i}},"id":"k{{i}}"}""")) + "]");
        ReadOnlySequence<byte> sequence = ToSequence(body, shape);
        Assert.That(PublishRequestDecoder.TryDecode(in sequence, out IReadOnlyList<PublishRequest>? events, out bool isBatch, out ProtocolError error), Is.True, error.Message);
        Assert.Multiple(() =>
        {
            Assert.That(isBatch, Is.True);
            Assert.That(events!.Select(MessageText.Render), Is.EqualTo(Enumerable.Range(0, 1000).Select(i => $"event=e{i % 7} id=\"k{i}\" final=false data={i}")));
        });
    }

    [Test]
    public void Batch_of_1001_is_refused([Values(BufferShape.SingleSegment, BufferShape.RandomSegments)] BufferShape shape)
    {
        byte[] body = Utf8("[" + string.Join(",", Enumerable.Repeat("""{"event":"e"}""", 1001)) + "]");
        Assert.That(Decode(body, shape), Is.EqualTo(MessageText.Error(ErrorCode.InvalidMessage, E.BatchTooLarge)));
    }

    [Test]
    public void Data_does_not_point_into_the_body()
    {
        byte[] body = Utf8("""{"event":"e","data":[ "x" ]}""");
        var sequence = new ReadOnlySequence<byte>(body);
        Assert.That(PublishRequestDecoder.TryDecode(in sequence, out IReadOnlyList<PublishRequest>? events, out _, out _), Is.True);
        body.AsSpan().Clear();
        Assert.That(Hex(events![0].Data.Span), Is.EqualTo(Hex("""["x"]"""u8)));
    }

    private static TestCaseData Case(string name, string body, string expected) => Case(name, Utf8(body), expected);

    private static TestCaseData Case(string name, byte[] body, string expected) =>
        new TestCaseData(body, expected).SetArgDisplayNames(name);

    private static TestCaseData Bad(string name, string body, string message) => Bad(name, Utf8(body), message);

    private static TestCaseData Bad(string name, byte[] body, string message) =>
        Case(name, body, MessageText.Error(ErrorCode.InvalidMessage, message));

    private static string Nest(string open, string close, int depth) =>
        string.Concat(Enumerable.Repeat(open, depth)) + string.Concat(Enumerable.Repeat(close, depth));

    private static IEnumerable<TestCaseData> ValidCases()
    {
        yield return Case("single event", """{"event":"build_progress","data":{"pct":50}}""", """
            single
            event=build_progress id=- final=false data={"pct":50}
            """);
        yield return Case("data absent is null", """{"event":"e"}""", """
            single
            event=e id=- final=false data=null
            """);
        yield return Case("data null", """{"event":"e","data":null}""", """
            single
            event=e id=- final=false data=null
            """);
        yield return Case("every field, any order", """{"final":true,"id":"k1","data":[1, 2],"event":"done"}""", """
            single
            event=done id="k1" final=true data=[1,2]
            """);
        yield return Case("number id, final false", """{"event":"e","id":12,"final":false,"data":"s"}""", """
            single
            event=e id=12 final=false data="s"
            """);
        yield return Case("unknown fields skipped", """{"x":{"event":"no"},"event":"e","session":"s","data":0,"y":[]}""", """
            single
            event=e id=- final=false data=0
            """);
        yield return Case("escaped names and values", """{"\u0065vent":"a\u002Db","d\u0061ta":"\u00e9"}""", """
            single
            event=a-b id=- final=false data="\u00e9"
            """);
        yield return Case("data compacted, strings kept", "{ \"event\" : \"e\" ,\n \"data\" : { \"a b\" : \"c \\\" d\" , \"n\" : [ 1 , 2 ] } }", """
            single
            event=e id=- final=false data={"a b":"c \" d","n":[1,2]}
            """);
        yield return Case("data nested 32 levels", $$"""{"event":"e","data":{{Nest("[", "]", 32)}}}""", $"single\nevent=e id=- final=false data={Nest("[", "]", 32)}");
        yield return Case("batch of 1", """[{"event":"e"}]""", """
            batch
            event=e id=- final=false data=null
            """);
        yield return Case("batch", """ [ {"event":"a","data":1} , {"event":"b","data":{"x":[true, null]},"id":"k"} , {"event":"c","final":true} ] """, """
            batch
            event=a id=- final=false data=1
            event=b id="k" final=false data={"x":[true,null]}
            event=c id=- final=true data=null
            """);
        yield return Case("key", """{"event":"message","key":"m-1.a:b_c","data":{"text":"hi"}}""", """
            single
            event=message id=- final=false data={"text":"hi"} key=m-1.a:b_c
            """);
        yield return Case("key of 128 characters", $$"""{"event":"e","key":"{{new string('k', 128)}}"}""", $"single\nevent=e id=- final=false data=null key={new string('k', 128)}");
        yield return Case("append a string chunk", """{"append":true,"event":"message_chunk","data":"Hel","key":"answer-7"}""", """
            single
            event=message_chunk id=- final=false data="Hel" key=answer-7 append
            """);
        yield return Case("append false, any data", """{"event":"e","key":"k","append":false,"data":1}""", """
            single
            event=e id=- final=false data=1 key=k
            """);
        yield return Case("conflate, with and without key", """[{"event":"p","conflate":true,"data":1},{"event":"p","key":"gpu0","conflate":true},{"event":"p","conflate":false}]""", """
            batch
            event=p id=- final=false data=1 conflate
            event=p id=- final=false data=null key=gpu0 conflate
            event=p id=- final=false data=null
            """);
        yield return Case("batch, data nested 31 levels", $$"""[{"event":"e","data":{{Nest("[", "]", 31)}}}]""", $"batch\nevent=e id=- final=false data={Nest("[", "]", 31)}");
    }

    private static IEnumerable<TestCaseData> InvalidCases()
    {
        yield return Bad("empty", "", E.Empty);
        yield return Bad("not JSON", "event=e", E.NotJson);
        yield return Bad("unterminated", """{"event":"e" """, E.NotJson);
        yield return Bad("trailing garbage", """{"event":"e"} x""", E.NotJson);
        yield return Bad("two objects", """{"event":"e"}{"event":"e"}""", E.NotJson);
        yield return Bad("trailing comma", """[{"event":"e"},]""", E.NotJson);
        yield return Bad("comment", """{"event":"e"/**/}""", E.NotJson);
        yield return Bad("broken after the first event", """[{"event":"e"},{"event":""" , E.NotJson);
        yield return Bad("not an object: number", "5", E.NotAnObject);
        yield return Bad("not an object: string", "\"e\"", E.NotAnObject);
        yield return Bad("not an object: null", "null", E.NotAnObject);
        yield return Bad("empty array", "[]", E.BatchEmpty);
        yield return Bad("empty array with spaces", " [ ] ", E.BatchEmpty);
        yield return Bad("item 0 not an object", "[1]", E.At(0, E.NotAnObject));
        yield return Bad("item 3 not an object", """[{"event":"a"},{"event":"b"},{"event":"c"},"d"]""", E.At(3, E.NotAnObject));
        yield return Bad("item 1 an array", """[{"event":"a"},[{"event":"b"}]]""", E.At(1, E.NotAnObject));
        yield return Bad("event missing", """{"data":1}""", E.EventMissing);
        yield return Bad("event missing in item 2", """[{"event":"a"},{"event":"b"},{"data":1}]""", E.At(2, E.EventMissing));
        yield return Bad("event empty", """{"event":""}""", E.EventInvalid);
        yield return Bad("event with a space", """{"event":"a b"}""", E.EventInvalid);
        yield return Bad("event with a slash", """[{"event":"a/b"}]""", E.At(0, E.EventInvalid));
        yield return Bad("event of 65 characters", $$"""{"event":"{{new string('e', 65)}}"}""", E.EventInvalid);
        yield return Bad("event a number", """{"event":1}""", E.EventInvalid);
        yield return Bad("event null", """{"event":null}""", E.EventInvalid);
        yield return Bad("event non-ASCII", """{"event":"é"}""", E.EventInvalid);
        yield return Bad("id true", """{"event":"e","id":true}""", E.IdInvalid);
        yield return Bad("id an object", """[{"event":"e"},{"event":"e","id":{}}]""", E.At(1, E.IdInvalid));
        yield return Bad("id of 65 characters", $$"""{"event":"e","id":"{{new string('i', 65)}}"}""", E.IdInvalid);
        yield return Bad("final a string", """{"event":"e","final":"yes"}""", E.FinalInvalid);
        yield return Bad("final null", """{"event":"e","final":null}""", E.FinalInvalid);
        yield return Bad("event twice", """{"event":"a","event":"b"}""", E.Duplicate("event"));
        yield return Bad("data twice", """{"event":"a","data":1,"data":2}""", E.Duplicate("data"));
        yield return Bad("id twice", """[{"event":"a","id":1,"id":2}]""", E.At(0, E.Duplicate("id")));
        yield return Bad("from given", """{"event":"e","from":{"connection":"c","user":"u"}}""", E.FromGiven);
        yield return Bad("from given as null", """{"from":null,"event":"e"}""", E.FromGiven);
        yield return Bad("from given in item 1", """[{"event":"a"},{"event":"b","data":1,"from":"x"}]""", E.At(1, E.FromGiven));
        yield return Bad("from escaped", """{"event":"e","\u0066rom":{}}""", E.FromGiven);
        yield return Bad("key empty", """{"event":"e","key":""}""", T.KeyInvalid);
        yield return Bad("key of 129 characters", $$"""{"event":"e","key":"{{new string('k', 129)}}"}""", T.KeyInvalid);
        yield return Bad("key with a slash", """{"event":"e","key":"a/b"}""", T.KeyInvalid);
        yield return Bad("key a number", """{"event":"e","key":7}""", T.KeyInvalid);
        yield return Bad("key null", """[{"event":"e","key":null}]""", E.At(0, T.KeyInvalid));
        yield return Bad("key twice", """{"event":"e","key":"a","key":"b"}""", E.Duplicate("key"));
        yield return Bad("append a string", """{"event":"e","key":"k","append":"yes","data":"x"}""", T.AppendInvalid);
        yield return Bad("append twice", """{"event":"e","key":"k","append":true,"append":true,"data":"x"}""", E.Duplicate("append"));
        yield return Bad("append without key", """{"event":"e","append":true,"data":"x"}""", T.AppendWithoutKey);
        yield return Bad("append of an object", """{"event":"e","key":"k","append":true,"data":{"t":"x"}}""", T.AppendNotString);
        yield return Bad("append without data", """{"event":"e","key":"k","append":true}""", T.AppendNotString);
        yield return Bad("append of null", """[{"event":"e"},{"event":"e","key":"k","append":true,"data":null}]""", E.At(1, T.AppendNotString));
        yield return Bad("append and conflate", """{"event":"e","key":"k","append":true,"conflate":true,"data":"x"}""", T.AppendConflate);
        yield return Bad("conflate a number", """{"event":"e","conflate":1}""", T.ConflateInvalid);
        yield return Bad("conflate twice", """{"event":"e","conflate":true,"conflate":false}""", E.Duplicate("conflate"));
        yield return Bad("invalid UTF-8 in key", Concat(Utf8("""{"event":"e","key":"a"""), [0xC3], Utf8("\"}")), E.NotUtf8);
        yield return Bad("final twice", """{"event":"a","final":true,"final":false}""", E.Duplicate("final"));
        yield return Bad("data nested 33 levels", $$"""{"event":"e","data":{{Nest("[", "]", 33)}}}""", E.TooDeep);
        yield return Bad("batch, data nested 32 levels", $$"""[{"event":"e","data":{{Nest("[", "]", 32)}}}]""", E.TooDeep);
        yield return Bad("array of arrays: item 0 is not an object", Nest("[", "]", 1000), E.At(0, E.NotAnObject));
        yield return Bad("unknown field nested 1000 levels", $$"""{"event":"e","x":{{Nest("[", "]", 1000)}}}""", E.TooDeep);
        yield return Bad("syntax error at the deepest level", $$"""{"event":"e","data":{{new string('[', 32)}}x}""", E.NotJson);
        yield return Bad("blank", " \r\n\t ", E.Empty);
        yield return Bad("invalid UTF-8 in data", Concat(Utf8("""{"event":"e","data":"a"""), [0xFF], Utf8("\"}")), E.NotUtf8);
        yield return Bad("invalid UTF-8 in data of item 1", Concat(Utf8("""[{"event":"e"},{"event":"e","data":["""), [0x22, 0xED, 0xA0, 0x80, 0x22], Utf8("]}]")), E.At(1, E.NotUtf8));
        yield return Bad("invalid UTF-8 in event", Concat(Utf8("""{"event":"a"""), [0xC3], Utf8("\"}")), E.NotUtf8);
    }
}
