using Gateway.Protocol.Json;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

[TestFixture]
public sealed class JsonCompactionTests
{
    [TestCaseSource(nameof(Cases))]
    public void Compacts_in_place(byte[] input, byte[] expected)
    {
        byte[] buffer = input.ToArray();
        int length = JsonCompaction.CompactInPlace(buffer);
        Assert.Multiple(() =>
        {
            Assert.That(length, Is.EqualTo(expected.Length));
            Assert.That(Hex(buffer.AsSpan(0, length)), Is.EqualTo(Hex(expected)));
        });
    }

    [TestCaseSource(nameof(Cases))]
    public void Compacting_twice_changes_nothing(byte[] input, byte[] expected)
    {
        byte[] buffer = expected.ToArray();
        int length = JsonCompaction.CompactInPlace(buffer);
        Assert.That(Hex(buffer.AsSpan(0, length)), Is.EqualTo(Hex(expected)));
    }

    private static TestCaseData Case(string name, string input, string expected) =>
        new TestCaseData(Utf8(input), Utf8(expected)).SetArgDisplayNames(name);

    private static IEnumerable<TestCaseData> Cases()
    {
        yield return Case("empty", "", "");
        yield return Case("no whitespace", """{"a":[1,2,{"b":null}]}""", """{"a":[1,2,{"b":null}]}""");
        yield return Case("spaces around an empty object", " { } ", "{}");
        yield return Case("every whitespace byte", "\t{\r\n \"a\"\t:\r1 ,\n\"b\" : [ true , false ] }\n", """{"a":1,"b":[true,false]}""");
        yield return Case("string with spaces", "\"a b  c\"", "\"a b  c\"");
        yield return Case("whitespace-only string", "[ \"   \" ]", "[\"   \"]");
        yield return Case("escaped quote inside a string", """[ " \"x y\" " , 1 ]""", """[" \"x y\" ",1]""");
        yield return Case("escaped backslash ends a string", """{ "p" : "c:\\dir\\" , "q" : "r s" }""", """{"p":"c:\\dir\\","q":"r s"}""");
        yield return Case("backslash then escaped quote", """[ "\\\" a" , " b" ]""", """["\\\" a"," b"]""");
        yield return Case("escapes kept verbatim", """[ "\n" , "\u0020" , "\t" ]""", """["\n","\u0020","\t"]""");
        yield return Case("multi-byte text kept", "[ \"é ü\" , \"€ 𝄞\" ]", "[\"é ü\",\"€ 𝄞\"]");
        yield return Case("string that looks like JSON", """{ "j" : "{ \"k\" : [ 1 , 2 ] }" }""", """{"j":"{ \"k\" : [ 1 , 2 ] }"}""");
        yield return Case("number", " -1.5e+3 ", "-1.5e+3");
        yield return Case("nested", "[ [ [ ] ] , { } ]", "[[[]],{}]");
    }
}
