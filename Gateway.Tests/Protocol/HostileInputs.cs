using System.Globalization;
using System.Text;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

/// <summary>The classes of hostile input in the campaign of <see cref="HostileInputTests"/>.</summary>
internal enum HostileInputKind
{
    /// <summary>Random bytes, half of the time drawn from JSON punctuation.</summary>
    RandomBytes,

    /// <summary>Valid messages cut short (or, now and then, missing their start).</summary>
    Truncation,

    /// <summary>Valid messages with one bit flipped, or two to eight.</summary>
    BitFlips,

    /// <summary>JSON tokens strung together at random, often after a real message head.</summary>
    TokenSoup,

    /// <summary>Numbers no integer or double holds, in id, ts, since, data and fields that want no number.</summary>
    HugeNumbers,

    /// <summary>Known and unknown fields repeated, plainly or with an escaped name.</summary>
    DuplicateKeys,

    /// <summary>Nesting around and far past <see cref="ClientMessageDecoder.MaxDepth"/>, in data and at the top.</summary>
    DeepNesting,

    /// <summary>Overlongs, lone continuation bytes, surrogates, truncated sequences: in strings and between tokens.</summary>
    InvalidUtf8,

    /// <summary>Strings at and far beyond every limit, up to and just past the 64 KiB message limit.</summary>
    OversizedStrings,

    /// <summary>Well-formed messages that break a rule: a field of the wrong type or out of range, a required field left out.</summary>
    WrongValues,
}

/// <summary>
/// Generators of hostile client messages (and publish bodies). An input is a function of its kind and
/// a seed alone, so a failure that prints the two can be made again with
/// <c>HostileInputs.Generate(kind, new Random(seed))</c>.
/// </summary>
internal static class HostileInputs
{
    /// <summary>The size of a message that the gateway's frame reader accepts at most (Gateway:Limits:MaxMessageBytes).</summary>
    public const int MaxMessageBytes = 64 * 1024;

    public static readonly HostileInputKind[] Kinds = Enum.GetValues<HostileInputKind>();

    private static readonly string[] Types = ["ping", "subscribe", "unsubscribe", "status", "resume", "publish", "auth", "rpc"];

    private static readonly string[] Samples =
    [
        """{"type":"ping"}""",
        """{"type":"ping","id":"abc","ts":1700000000000}""",
        """{"type":"subscribe","id":1,"events":["a","b.c","d_e:f-g"]}""",
        """{"type":"subscribe","events":["*"]}""",
        """{"type":"unsubscribe","events":["a"]}""",
        """{"type":"status","id":"s"}""",
        """{"type":"resume","since":42}""",
        """{"type":"publish","id":"p","event":"step_update","data":{"loss":0.25,"step":[1,2,{"x":"y z"}]},"final":true}""",
        """{"type":"auth","token":"eyJhbGciOiJIUzI1NiJ9.e30.sig"}""",
        """{"type":"rpc","id":9,"method":"chat.send","data":"hello \"there\""}""",
        """{"event":"build_progress","data":{"pct":50},"id":"k1"}""",
        """[{"event":"a","data":1},{"event":"b","data":[true,null],"final":false}]""",
    ];

    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ",", ":", " ", "\n", "\"", "\\", "\"type\"", "\"ping\"", "\"publish\"", "\"subscribe\"",
        "\"resume\"", "\"id\"", "\"ts\"", "\"events\"", "\"since\"", "\"event\"", "\"data\"", "\"final\"", "\"token\"",
        "\"method\"", "\"*\"", "\"a\"", "\"a b\"", "\"\\u0074ype\"", "\"\\uD800\"", "\"\\u00\"", "0", "-1", "1.5", "1e30",
        "99999999999999999999", "true", "false", "null", "nul", "/*", "*/", "//", "\"é\"", "\u00ff", "NaN",
    ];

    // Valid string content, as it appears between the quotes: plain, escaped, two- and four-byte characters.
    private static readonly string[] TextUnits =
    [
        "a", "Z", "0", " ", "-", "é", "𝄞", "\\\"", "\\\\", "\\n", "\\/", "\\u0041", "\\uD834\\uDD1E", "€",
    ];

    private static readonly string[] NumbersBeyondRange =
    [
        "1e400", "-1e400", "1E+400", "1e-400", "-1e-400", "-0", "-0.0", "0e0", "-0e-0", "0.0",
        "123456789012345678901234567890", "-123456789012345678901234567890", "100000000000000000000000000000",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "18446744073709551615", "18446744073709551616", "1.7976931348623157e308", "1.7976931348623157e309",
        "4.9e-324", "2.4e-324", "1e99999", "1e-99999", "0." + new string('0', 400) + "1", "1" + new string('0', 400),
        new string('9', 64), new string('9', 65), "-" + new string('9', 63), "-" + new string('9', 64),
    ];

    // Number-like text that is not JSON, for the reader's own number rules.
    private static readonly string[] NotNumbers = ["01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "0x10", "Infinity", "-Infinity", "NaN", "1_000"];

    private static readonly string[] WrongValueSamples =
    [
        "null", "true", "false", "0", "-1", "1.5", "1e3", "\"\"", "\"*\"", "\"a b\"", "\"é\"", "\"a\\u0000\"", "\"true\"", "\"1\"",
        "[]", "{}", "[\"*\"]", "[\"*\",\"a\"]", "[\"a\",\"*\"]", "[\"a b\"]", "[\"\"]", "[1]", "[null]", "[[\"a\"]]", "{\"a\":1}",
    ];

    private static readonly byte[][] InvalidSequences =
    [
        // Overlong encodings, among them of '"', '\' and '/'.
        [0xC0, 0x80], [0xC0, 0xA2], [0xC1, 0x9C], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x80, 0xAF],
        [0xE0, 0x9F, 0xBF], [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],

        // Continuation bytes with no lead.
        [0x80], [0xBF], [0x80, 0x80], [0xBF, 0xBF, 0xBF, 0xBF],

        // UTF-16 surrogates encoded as if they were characters, alone and as a pair (CESU-8).
        [0xED, 0xA0, 0x80], [0xED, 0xAF, 0xBF], [0xED, 0xB0, 0x80], [0xED, 0xBF, 0xBF], [0xED, 0xA0, 0xBD, 0xED, 0xB2, 0xA9],

        // Sequences cut short.
        [0xC3], [0xE2], [0xE2, 0x82], [0xF0], [0xF0, 0x9F], [0xF0, 0x9F, 0x98],

        // Bytes that never occur, and code points past U+10FFFF.
        [0xFE], [0xFF], [0xF5, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ];

    public static string Describe(HostileInputKind kind) => kind switch
    {
        HostileInputKind.RandomBytes => "random bytes",
        HostileInputKind.Truncation => "truncations",
        HostileInputKind.BitFlips => "bit flips",
        HostileInputKind.TokenSoup => "token soup",
        HostileInputKind.HugeNumbers => "huge numbers",
        HostileInputKind.DuplicateKeys => "duplicate keys",
        HostileInputKind.DeepNesting => "deep nesting",
        HostileInputKind.InvalidUtf8 => "invalid UTF-8",
        HostileInputKind.OversizedStrings => "oversized strings",
        HostileInputKind.WrongValues => "wrong values",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>One input of <paramref name="kind"/>, drawn from <paramref name="random"/>.</summary>
    public static byte[] Generate(HostileInputKind kind, Random random) => kind switch
    {
        HostileInputKind.RandomBytes => RandomBytes(random),
        HostileInputKind.Truncation => Truncation(random),
        HostileInputKind.BitFlips => BitFlips(random),
        HostileInputKind.TokenSoup => Utf8(TokenSoup(random)),
        HostileInputKind.HugeNumbers => Utf8(HugeNumbers(random)),
        HostileInputKind.DuplicateKeys => Utf8(DuplicateKeys(random)),
        HostileInputKind.DeepNesting => Utf8(DeepNesting(random)),
        HostileInputKind.InvalidUtf8 => InvalidUtf8(random),
        HostileInputKind.OversizedStrings => Utf8(OversizedStrings(random)),
        HostileInputKind.WrongValues => Utf8(WrongValues(random)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(8) == 0 ? random.Next(0, 1000) : random.Next(0, 80)];
        random.NextBytes(bytes);
        if (random.Next(2) == 0)
        {
            const string punctuation = "{}[]\",:\\ 0aetn-";
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)punctuation[bytes[i] % punctuation.Length];
            }
        }

        return bytes;
    }

    private static byte[] Truncation(Random random)
    {
        byte[] valid = Utf8(ValidMessage(random));
        int cut = random.Next(0, valid.Length);

        // Mostly the end is missing; a reader that joined the stream late would miss the start instead.
        return random.Next(5) == 0 ? valid[(cut + 1)..] : valid[..cut];
    }

    private static byte[] BitFlips(Random random)
    {
        byte[] valid = Utf8(ValidMessage(random));
        int flips = random.Next(2) == 0 ? 1 : random.Next(2, 9);
        for (; flips > 0; flips--)
        {
            valid[random.Next(valid.Length)] ^= (byte)(1 << random.Next(8));
        }

        return valid;
    }

    private static string TokenSoup(Random random)
    {
        var text = new StringBuilder();
        if (random.Next(2) == 0)
        {
            text.Append("{\"type\":\"").Append(Pick(random, Types)).Append("\",");
        }

        for (int n = random.Next(1, 30); n > 0; n--)
        {
            text.Append(Pick(random, Tokens));
        }

        return text.ToString();
    }

    private static string HugeNumbers(Random random)
    {
        string number = HugeNumber(random);
        List<Member> members;
        switch (random.Next(8))
        {
            case 0:
                members = ValidMembers(random, Pick(random, Types));
                Set(members, "id", number);
                break;
            case 1:
                members = ValidMembers(random, "ping");
                Set(members, "ts", number);
                break;
            case 2:
                members = ValidMembers(random, "resume");
                Set(members, "since", number);
                break;
            case 3:
                members = ValidMembers(random, random.Next(2) == 0 ? "publish" : "rpc");
                Set(members, "data", random.Next(4) switch
                {
                    0 => number,
                    1 => $"[{number},{HugeNumber(random)}]",
                    2 => $$$"""{"n":{{{number}}},"m":{"k":[{{{HugeNumber(random)}}}]}}""",
                    _ => $$"""{"n":{{number}}}""",
                });
                break;
            case 4:
                // Fields that want no number at all.
                string type = Pick(random, Types);
                members = ValidMembers(random, type);
                Set(members, Pick(random, ["type", "events", "final", "event", "method", "token"]), random.Next(2) == 0 ? number : $"[{number}]");
                break;
            case 5:
                // A publish body.
                members = [new("event", Quote(EventName(random))), new("data", number)];
                if (random.Next(2) == 0)
                {
                    members.Add(new("id", HugeNumber(random)));
                }

                break;
            case 6:
                return random.Next(2) == 0 ? number : $" {number} ";
            default:
                // Every number field of a message at once.
                members = ValidMembers(random, Pick(random, ["ping", "resume", "publish", "rpc"]));
                Set(members, "id", number);
                Set(members, "ts", HugeNumber(random));
                Set(members, "since", HugeNumber(random));
                Set(members, "data", HugeNumber(random));
                break;
        }

        return ObjectJson(Shuffled(members, random), random);
    }

    private static string HugeNumber(Random random)
    {
        switch (random.Next(10))
        {
            case < 6:
                return Pick(random, NumbersBeyondRange);
            case < 9:
                {
                    // Many digits, with a fraction and an exponent now and then: around the 64-character limit of id and ts.
                    var number = new StringBuilder();
                    if (random.Next(3) == 0)
                    {
                        number.Append('-');
                    }

                    number.Append((char)('1' + random.Next(9)));
                    for (int n = random.Next(0, 100); n > 0; n--)
                    {
                        number.Append((char)('0' + random.Next(10)));
                    }

                    if (random.Next(3) == 0)
                    {
                        number.Append('.').Append(random.Next(1000));
                    }

                    if (random.Next(3) == 0)
                    {
                        number.Append(random.Next(2) == 0 ? "e" : "E-").Append(random.Next(100_000));
                    }

                    return number.ToString();
                }

            default:
                return Pick(random, NotNumbers);
        }
    }

    private static string DuplicateKeys(Random random)
    {
        string type = Pick(random, Types);
        List<Member> members = ValidMembers(random, type);
        switch (random.Next(7))
        {
            case 0:
                {
                    // A field repeated as it was.
                    Member member = Pick(random, members);
                    members.Insert(random.Next(members.Count + 1), member);
                    break;
                }

            case 1:
                {
                    // A field repeated with another value of its kind.
                    Member member = Pick(random, members);
                    List<Member> other = ValidMembers(random, type);
                    Member again = other.Find(m => m.Name == member.Name);
                    members.Insert(random.Next(members.Count + 1), again.Name is null ? member : again);
                    break;
                }

            case 2:
                {
                    // A known field twice, whether or not the type reads it.
                    string name = Pick(random, ExpectedErrors.Client.Fields);
                    Remove(members, name);
                    members.Insert(random.Next(members.Count + 1), new(name, Value(random, 1)));
                    members.Insert(random.Next(members.Count + 1), new(name, Value(random, 1)));
                    break;
                }

            case 3:
                {
                    // A known field repeated under an escaped spelling of its name.
                    Member member = Pick(random, members);
                    members.Insert(random.Next(members.Count + 1), member with { Name = EscapeOne(member.Name, random) });
                    break;
                }

            case 4:
                {
                    // An unknown field, two to five times: allowed.
                    string name = Pick(random, ["x", "Type", "ids", "data2", "ty\\u0070", "é"]);
                    for (int n = random.Next(2, 6); n > 0; n--)
                    {
                        members.Insert(random.Next(members.Count + 1), new(name, Value(random, 1)));
                    }

                    break;
                }

            case 5:
                // Repeated keys inside data and inside an unknown field: raw JSON, allowed.
                Set(members, random.Next(2) == 0 ? "data" : "x", """{"k":1,"k":[2],"k":{"k":3,"k":4}}""");
                if (type is not ("publish" or "rpc"))
                {
                    Set(members, "type", Quote(random.Next(2) == 0 ? "publish" : "rpc"));
                    Set(members, "event", Quote(EventName(random)));
                    Set(members, "method", Quote(EventName(random)));
                }

                break;
            default:
                {
                    // A publish body with a repeated field.
                    List<Member> item = PublishBodyMembers(random);
                    Member member = Pick(random, item);
                    item.Insert(random.Next(item.Count + 1), random.Next(2) == 0 ? member : member with { Name = EscapeOne(member.Name, random) });
                    return random.Next(2) == 0 ? ObjectJson(item, random) : $"[{ObjectJson(PublishBodyMembers(random), random)},{ObjectJson(item, random)}]";
                }
        }

        return ObjectJson(members, random);
    }

    private static string DeepNesting(Random random)
    {
        const int limit = ClientMessageDecoder.MaxDepth;
        int depth = random.Next(10) switch
        {
            < 5 => limit + random.Next(-3, 4),
            < 8 => random.Next(0, 80),
            _ => random.Next(100, 5000),
        };

        var open = new StringBuilder();
        var close = new char[depth];
        for (int level = 0; level < depth; level++)
        {
            bool array = random.Next(2) == 0;
            open.Append(array ? "[" : "{\"k\":");
            close[depth - 1 - level] = array ? ']' : '}';
        }

        string inner = open.Length > 0 && open[^1] == ':' ? "1" : random.Next(2) == 0 ? "" : "1";
        string closing = new(close);

        // A tenth of the values do not close properly: one closer short, or one too many.
        if (random.Next(10) == 0)
        {
            closing = random.Next(2) == 0 && closing.Length > 0 ? closing[..^1] : closing + "]";
        }

        string value = open + inner + closing;
        return random.Next(6) switch
        {
            0 => $$"""{"type":"publish","event":"e","data":{{value}}}""",
            1 => $$"""{"type":"rpc","method":"m","id":7,"data":{{value}}}""",
            2 => $$"""{"type":"ping","x":{{value}}}""",
            3 => $$"""{"type":"subscribe","events":{{value}}}""",
            4 => $$"""[{"event":"e","data":{{value}}}]""",
            _ => value,
        };
    }

    private static byte[] InvalidUtf8(Random random)
    {
        byte[] valid = Utf8(ValidMessage(random));
        byte[] bad = Pick(random, InvalidSequences);
        var inside = new List<int>();
        var outside = new List<int>();
        FindInsertionPoints(valid, inside, outside);

        int at = random.Next(5) switch
        {
            < 3 when inside.Count > 0 => Pick(random, inside),
            3 => Pick(random, outside),
            _ => random.Next(2) == 0 ? 0 : valid.Length,
        };

        // Sometimes the bad bytes take the place of the character that was there, all of its bytes: a lead
        // byte alone replaced by a lead byte would leave a valid character.
        int end = at;
        if (random.Next(4) == 0 && at < valid.Length && inside.Contains(at) && valid[at] is not ((byte)'"' or (byte)'\\'))
        {
            for (end++; end < valid.Length && (valid[end] & 0xC0) == 0x80; end++)
            {
            }
        }

        return Concat(valid[..at], bad, valid[end..]);
    }

    /// <summary>
    /// The positions where bytes can be inserted into <paramref name="json"/>: character boundaries
    /// inside string contents (not inside an escape), and everywhere else.
    /// </summary>
    private static void FindInsertionPoints(byte[] json, List<int> inside, List<int> outside)
    {
        bool inString = false;
        for (int i = 0; i <= json.Length; i++)
        {
            if (i == json.Length)
            {
                outside.Add(i);
                break;
            }

            byte b = json[i];
            if ((b & 0xC0) != 0x80)
            {
                (inString ? inside : outside).Add(i);
            }

            if (!inString)
            {
                inString = b == (byte)'"';
            }
            else if (b == (byte)'\\')
            {
                i += json[i + 1] == (byte)'u' ? 5 : 1;
            }
            else if (b == (byte)'"')
            {
                inString = false;
            }
        }
    }

    private static string OversizedStrings(Random random)
    {
        string unit = Pick(random, TextUnits);
        int unitBytes = Encoding.UTF8.GetByteCount(unit);
        int units = random.Next(8) switch
        {
            // Around the 64-character limit of names, ids and ts.
            < 2 => random.Next(60, 70),

            // Around the longest raw text that may still unescape to 64 characters (six bytes each).
            2 => (384 + random.Next(-12, 13)) / unitBytes,

            // Log-uniform up to a little past the 64 KiB message limit.
            < 7 => (int)(64 * Math.Exp(random.NextDouble() * Math.Log(70_000.0 / 64))) / unitBytes,
            _ => -1,
        };

        string target = Pick(random, ["id", "ts", "event", "events", "unsubscribe", "token", "method", "type", "name", "value", "data", "key", "body", "list"]);
        int layout = random.Next();
        if (units < 0)
        {
            // The whole message within a few bytes of the frame limit, on either side.
            string empty = Oversized(layout, target, string.Empty);
            units = Math.Max(0, MaxMessageBytes + random.Next(-4, 5) - Encoding.UTF8.GetByteCount(empty));
            unit = "a";
        }

        return Oversized(layout, target, string.Concat(Enumerable.Repeat(unit, units)));
    }

    private static string WrongValues(Random random)
    {
        string type = Pick(random, Types);
        List<Member> members = ValidMembers(random, type);
        if (random.Next(4) == 0)
        {
            // A required field left out, the type among them.
            Remove(members, Pick(random, ["type", "events", "since", "event", "token", "method"]));
            return ObjectJson(members, random);
        }

        if (type == "publish" && random.Next(4) == 0)
        {
            // An append made wrong by what else it carries: data that is not text, or conflate.
            Set(members, "key", Quote(EventName(random)));
            Set(members, "append", "true");
            Set(members, random.Next(2) == 0 ? "conflate" : "data", Pick(random, WrongValueSamples));
            return ObjectJson(members, random);
        }

        // Mostly a field that the type reads; now and then one it ignores, which must then not matter.
        string name = random.Next(3) != 0
            ? Pick(random, members.Select(m => m.Name).Where(n => ExpectedErrors.Client.Fields.Contains(n)).ToList())
            : Pick(random, ExpectedErrors.Client.Fields);
        string value = random.Next(8) == 0
            ? Names(random, random.Next(2) == 0 ? 0 : EventFilterNames.MaxNames + 1)
            : Pick(random, WrongValueSamples);
        Set(members, name, value);
        return ObjectJson(members, random);
    }

    /// <summary>A message with <paramref name="text"/> as the content of the string that <paramref name="target"/> names.</summary>
    private static string Oversized(int layout, string target, string text)
    {
        // The same choices whatever the text, so that a message can be sized by building it empty first.
        var fixedRandom = new Random(layout);
        string value = Quote(text);
        (string type, string name, string json) = target switch
        {
            "id" => (Pick(fixedRandom, Types), "id", value),
            "ts" => ("ping", "ts", value),
            "event" => ("publish", "event", value),
            "events" => ("subscribe", "events", $"[\"a\",{value}]"),
            "unsubscribe" => ("unsubscribe", "events", $"[{value}]"),
            "token" => ("auth", "token", value),
            "method" => ("rpc", "method", value),
            "type" => ("ping", "type", value),
            "name" => ("ping", text, "1"),
            "value" => (Pick(fixedRandom, Types), "x", value),
            "data" => (fixedRandom.Next(2) == 0 ? "publish" : "rpc", "data", value),
            "key" => ("publish", "data", $"{{{value}:[{value}]}}"),
            "list" => ("subscribe", "events", Names(fixedRandom, EventFilterNames.MaxNames - 6 + (text.Length % 12))),
            _ => ("", "event", value),
        };

        if (type.Length == 0)
        {
            return ObjectJson([new("event", value), new("data", "1")], fixedRandom);
        }

        List<Member> members = ValidMembers(fixedRandom, type);
        Set(members, name, json);
        return ObjectJson(members, fixedRandom);
    }

    /// <summary>A valid message, or now and then a valid publish body.</summary>
    public static string ValidMessage(Random random) => random.Next(8) switch
    {
        0 => Pick(random, Samples),
        1 => random.Next(2) == 0
            ? ObjectJson(PublishBodyMembers(random), random)
            : "[" + string.Join(",", Enumerable.Range(0, random.Next(1, 4)).Select(_ => ObjectJson(PublishBodyMembers(random), random))) + "]",
        _ => ObjectJson(ValidMembers(random, Pick(random, Types)), random),
    };

    /// <summary>The members of a valid message of <paramref name="type"/>, in a random order.</summary>
    private static List<Member> ValidMembers(Random random, string type)
    {
        var members = new List<Member> { new("type", Quote(type)) };
        if (random.Next(2) == 0)
        {
            members.Add(new("id", Scalar(random)));
        }

        switch (type)
        {
            case "ping" when random.Next(2) == 0:
                members.Add(new("ts", Scalar(random)));
                break;
            case "subscribe":
                members.Add(new("events", random.Next(4) == 0 ? "[\"*\"]" : Names(random, random.Next(1, 5))));
                break;
            case "unsubscribe":
                members.Add(new("events", Names(random, random.Next(1, 5))));
                break;
            case "resume":
                members.Add(new("since", (random.Next(2) == 0 ? random.Next(100) : random.NextInt64(0, long.MaxValue)).ToString(CultureInfo.InvariantCulture)));
                break;
            case "publish":
                members.Add(new("event", Quote(EventName(random))));
                bool keyed = random.Next(3) == 0, append = keyed && random.Next(2) == 0;
                if (keyed)
                {
                    members.Add(new("key", Quote(EventName(random))));
                }

                if (append)
                {
                    // An append's data is the text to add: a string, always there.
                    members.Add(new("append", "true"));
                    members.Add(new("data", Quote(Text(random, random.Next(0, 8)))));
                }
                else if (random.Next(3) != 0)
                {
                    members.Add(new("data", Value(random, 3)));
                }

                if (!append && random.Next(4) == 0)
                {
                    members.Add(new("conflate", random.Next(2) == 0 ? "true" : "false"));
                }

                if (random.Next(3) == 0)
                {
                    members.Add(new("final", random.Next(2) == 0 ? "true" : "false"));
                }

                break;
            case "auth":
                members.Add(new("token", Quote(string.Concat(Enumerable.Range(0, random.Next(1, 60)).Select(_ => (char)('a' + random.Next(26)))))));
                break;
            case "rpc":
                members.Add(new("method", Quote(EventName(random))));
                if (random.Next(2) == 0)
                {
                    members.Add(new("data", Value(random, 3)));
                }

                break;
        }

        if (random.Next(4) == 0)
        {
            members.Add(new(Pick(random, ["x", "extra", "Type", "\\u00e9"]), Value(random, 2)));
        }

        return Shuffled(members, random);
    }

    private static List<Member> PublishBodyMembers(Random random)
    {
        var members = new List<Member> { new("event", Quote(EventName(random))), new("data", Value(random, 3)) };
        if (random.Next(2) == 0)
        {
            members.Add(new("id", Scalar(random)));
        }

        if (random.Next(3) == 0)
        {
            members.Add(new("final", random.Next(2) == 0 ? "true" : "false"));
        }

        return Shuffled(members, random);
    }

    /// <summary>A JSON value of at most <paramref name="depth"/> levels.</summary>
    private static string Value(Random random, int depth)
    {
        switch (random.Next(depth > 0 ? 9 : 6))
        {
            case 0 or 1:
                return random.Next(3) switch
                {
                    0 => random.Next(-1000, 1000).ToString(CultureInfo.InvariantCulture),
                    1 => (random.NextDouble() * 100).ToString("R", CultureInfo.InvariantCulture),
                    _ => $"{random.Next(10)}e{random.Next(-20, 20)}",
                };
            case 2 or 3:
                return Quote(Text(random, random.Next(0, 10)));
            case 4:
                return random.Next(2) == 0 ? "true" : "false";
            case 5:
                return "null";
            case 6 or 7:
                return "[" + string.Join(Separator(random, ","), Enumerable.Range(0, random.Next(0, 4)).Select(_ => Value(random, depth - 1))) + "]";
            default:
                return ObjectJson(Enumerable.Range(0, random.Next(0, 4)).Select(_ => new Member(Text(random, random.Next(0, 4)), Value(random, depth - 1))).ToList(), random);
        }
    }

    private static string Scalar(Random random) => random.Next(3) switch
    {
        0 => random.Next(0, 100_000).ToString(CultureInfo.InvariantCulture),
        1 => Quote(Text(random, random.Next(0, 12))),
        _ => Quote(EventName(random)),
    };

    private static string Text(Random random, int units) => string.Concat(Enumerable.Range(0, units).Select(_ => Pick(random, TextUnits)));

    private static string EventName(Random random)
    {
        const string alphabet = "abcxyzABCXYZ0189._:-";
        return string.Concat(Enumerable.Range(0, random.Next(1, 17)).Select(_ => alphabet[random.Next(alphabet.Length)]));
    }

    private static string Names(Random random, int count) =>
        "[" + string.Join(",", Enumerable.Range(0, count).Select(_ => Quote(EventName(random)))) + "]";

    private static string Quote(string content) => "\"" + content + "\"";

    /// <summary>An object from members, with insignificant whitespace now and then.</summary>
    private static string ObjectJson(List<Member> members, Random random) =>
        "{" + string.Join(Separator(random, ","), members.Select(m => Quote(m.Name) + Separator(random, ":") + m.Value)) + "}";

    private static string Separator(Random random, string separator) => random.Next(8) switch
    {
        0 => " " + separator + " ",
        1 => separator + "\n\t",
        _ => separator,
    };

    /// <summary>The name with one character written as a <c>\u00XX</c> escape; names stay equal to readers that unescape.</summary>
    private static string EscapeOne(string name, Random random)
    {
        if (name.Length == 0 || name.Contains('\\', StringComparison.Ordinal) || name.Any(c => c > 0x7F))
        {
            return name;
        }

        int at = random.Next(name.Length);
        string escape = ((int)name[at]).ToString(random.Next(2) == 0 ? "x4" : "X4", CultureInfo.InvariantCulture);
        return name[..at] + "\\u" + escape + name[(at + 1)..];
    }

    private static void Set(List<Member> members, string name, string value)
    {
        int at = members.FindIndex(m => m.Name == name);
        if (at < 0)
        {
            members.Add(new(name, value));
        }
        else
        {
            members[at] = new(name, value);
        }
    }

    private static void Remove(List<Member> members, string name) => members.RemoveAll(m => m.Name == name);

    private static List<Member> Shuffled(List<Member> members, Random random)
    {
        Member[] array = [.. members];
        random.Shuffle(array);
        return [.. array];
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>One member of an object being built: the name as it appears between quotes, and the raw value.</summary>
    private readonly record struct Member(string Name, string Value);
}
