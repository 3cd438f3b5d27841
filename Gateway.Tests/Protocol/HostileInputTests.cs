using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

/// <summary>
/// Seeded, repeatable hostile input: the decoders and the frame reader must never throw, must agree
/// with themselves across buffer shapes, and must only ever report documented errors.
/// </summary>
[TestFixture]
public sealed class HostileInputTests
{
    private const int Seed = 20261122;
    private const int Inputs = 20_000;

    private static readonly string[] ValidMessages =
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

    private static readonly HashSet<ErrorCode> ClientCodes = [ErrorCode.InvalidJson, ErrorCode.InvalidMessage, ErrorCode.UnknownType];

    [Test]
    public void Decoders_survive_hostile_input()
    {
        var random = new Random(Seed);
        var clientOutcomes = new Dictionary<string, int>();
        var publishOutcomes = new Dictionary<string, int>();
        for (int i = 0; i < Inputs; i++)
        {
            int kind = i % 6;
            byte[] input = Generate(random, kind);
            try
            {
                Count(clientOutcomes, CheckClientDecoder(input, random.Next()));
                Count(publishOutcomes, CheckPublishDecoder(input, random.Next()));
            }
            catch (Exception e) when (e is not AssertionException)
            {
                Assert.Fail($"input {i} (kind {kind}) threw {e.GetType().Name}: {e.Message}\n{Hex(input.AsSpan(0, Math.Min(input.Length, 400)))}");
            }
        }

        foreach (var (outcome, count) in clientOutcomes.Concat(publishOutcomes).OrderByDescending(p => p.Value))
        {
            TestContext.Out.WriteLine($"{count,6} {outcome}");
        }

        // The generator must reach deep into both decoders, not only their first checks.
        Assert.Multiple(() =>
        {
            Assert.That(clientOutcomes.GetValueOrDefault("client: ok"), Is.GreaterThan(500), "client messages decoded");
            Assert.That(publishOutcomes.GetValueOrDefault("publish: ok"), Is.GreaterThan(200), "publish bodies decoded");
            Assert.That(clientOutcomes, Has.Count.GreaterThanOrEqualTo(18), "distinct client outcomes");
            Assert.That(publishOutcomes, Has.Count.GreaterThanOrEqualTo(10), "distinct publish outcomes");
        });
    }

    private static void Count(Dictionary<string, int> outcomes, string outcome) =>
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;

    /// <summary>Checks one input; returns what came out, for the statistics.</summary>
    private static string CheckClientDecoder(byte[] input, int seed)
    {
        string fromSpan = Outcome(input, BufferShape.Span, seed, out ClientMessage? message, out ProtocolError error);
        string fromSegments = Outcome(input, BufferShape.RandomSegments, seed, out _, out _);
        if (fromSpan != fromSegments)
        {
            Assert.Fail($"span and segments disagree:\n{fromSpan}\n{fromSegments}\n{Hex(input)}");
        }

        if (message is null)
        {
            if (!ClientCodes.Contains(error.Code) || !ExpectedErrors.Client.All.Contains(error.Message))
            {
                Assert.Fail($"undocumented error {MessageText.Render(error)} for {Hex(input)}");
            }

            return "client: " + error.Message;
        }

        if (message switch { PublishMessage p => p.Data, RpcRequest r => r.Data, _ => (ReadOnlyMemory<byte>?)null } is { } data)
        {
            CheckData(data, input);
        }

        return "client: ok";
    }

    private static string Outcome(byte[] input, BufferShape shape, int seed, out ClientMessage? message, out ProtocolError error)
    {
        bool decoded;
        if (shape == BufferShape.Span)
        {
            decoded = ClientMessageDecoder.TryDecode(new ReadOnlySpan<byte>(input), out message, out error);
        }
        else
        {
            ReadOnlySequence<byte> sequence = ToSequence(input, shape, seed);
            decoded = ClientMessageDecoder.TryDecode(in sequence, out message, out error);
        }

        return decoded ? MessageText.Render(message!) : MessageText.Render(error);
    }

    /// <summary>Checks one input; returns what came out, for the statistics.</summary>
    private static string CheckPublishDecoder(byte[] input, int seed)
    {
        var single = new ReadOnlySequence<byte>(input);
        ReadOnlySequence<byte> segmented = ToSequence(input, BufferShape.RandomSegments, seed);
        bool decoded = PublishRequestDecoder.TryDecode(in single, out IReadOnlyList<PublishRequest>? events, out bool isBatch, out ProtocolError error);
        bool decodedSegmented = PublishRequestDecoder.TryDecode(in segmented, out IReadOnlyList<PublishRequest>? segmentedEvents, out bool segmentedBatch, out ProtocolError segmentedError);

        string Render(bool ok, IReadOnlyList<PublishRequest>? list, bool batch, ProtocolError e) =>
            ok ? $"{batch}:{string.Join("|", list!.Select(MessageText.Render))}" : MessageText.Render(e);

        string a = Render(decoded, events, isBatch, error);
        string b = Render(decodedSegmented, segmentedEvents, segmentedBatch, segmentedError);
        if (a != b)
        {
            Assert.Fail($"publish: single and multi-segment disagree:\n{a}\n{b}\n{Hex(input)}");
        }

        if (!decoded)
        {
            if (error.Code != ErrorCode.InvalidMessage || !IsDocumentedPublishError(error.Message))
            {
                Assert.Fail($"publish: undocumented error {MessageText.Render(error)} for {Hex(input)}");
            }

            return "publish: " + error.Message;
        }

        if (events!.Count is 0 or > PublishRequestDecoder.MaxBatch)
        {
            Assert.Fail($"publish: {events.Count} events decoded from {Hex(input)}");
        }

        foreach (PublishRequest request in events)
        {
            CheckData(request.Data, input);
        }

        return "publish: ok";
    }

    private static bool IsDocumentedPublishError(string message)
    {
        if (ExpectedErrors.Publish.Whole.Contains(message) || ExpectedErrors.Publish.PerEvent.Contains(message))
        {
            return true;
        }

        // "events[i]: <text about one event>"
        int colon = message.IndexOf("]: ", StringComparison.Ordinal);
        return message.StartsWith("events[", StringComparison.Ordinal)
            && colon > 7
            && int.TryParse(message.AsSpan(7, colon - 7), out int index)
            && index is >= 0 and < PublishRequestDecoder.MaxBatch
            && ExpectedErrors.Publish.PerEvent.Contains(message[(colon + 3)..]);
    }

    /// <summary>Decoded data is valid UTF-8, one JSON value, and already compact.</summary>
    private static void CheckData(ReadOnlyMemory<byte> data, byte[] input)
    {
        if (!System.Text.Unicode.Utf8.IsValid(data.Span))
        {
            Assert.Fail($"data is not UTF-8 for {Hex(input)}");
        }

        var reader = new Utf8JsonReader(data.Span, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            reader.Read();
            reader.Skip();
            if (reader.Read() || reader.BytesConsumed != data.Length)
            {
                Assert.Fail($"data is not one JSON value for {Hex(input)}");
            }
        }
        catch (JsonException e)
        {
            Assert.Fail($"data is not JSON ({e.Message}) for {Hex(input)}");
        }

        byte[] again = data.ToArray();
        if (JsonCompaction.CompactInPlace(again) != data.Length)
        {
            Assert.Fail($"data is not compact for {Hex(input)}");
        }
    }

    private static byte[] Generate(Random random, int kind)
    {
        switch (kind)
        {
            case 0:
                {
                    // Random bytes, biased towards JSON punctuation half of the time.
                    var bytes = new byte[random.Next(0, 80)];
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

            case 1:
                {
                    // A valid message cut short.
                    byte[] valid = Utf8(ValidMessages[random.Next(ValidMessages.Length)]);
                    return valid[..random.Next(0, valid.Length)];
                }

            case 2:
                {
                    // A valid message with one bit flipped (sometimes two).
                    byte[] valid = Utf8(ValidMessages[random.Next(ValidMessages.Length)]);
                    for (int flips = random.Next(1, 3); flips > 0; flips--)
                    {
                        valid[random.Next(valid.Length)] ^= (byte)(1 << random.Next(8));
                    }

                    return valid;
                }

            case 3:
                {
                    // Token soup, often wrapped like a message.
                    var text = new StringBuilder();
                    if (random.Next(2) == 0)
                    {
                        text.Append("{\"type\":\"").Append(new[] { "ping", "publish", "subscribe", "rpc", "resume" }[random.Next(5)]).Append("\",");
                    }

                    for (int n = random.Next(1, 30); n > 0; n--)
                    {
                        text.Append(Tokens[random.Next(Tokens.Length)]);
                    }

                    return Utf8(text.ToString());
                }

            case 4:
                {
                    // Long strings in every field that reads strings.
                    string[] fields = ["id", "ts", "event", "token", "method", "type", "x"];
                    string field = fields[random.Next(fields.Length)];
                    string unit = new[] { "a", "é", "\\u0041", "\\\"", "𝄞", " " }[random.Next(6)];
                    string value = string.Concat(Enumerable.Repeat(unit, random.Next(0, 3000)));
                    string type = new[] { "ping", "publish", "auth", "rpc" }[random.Next(4)];
                    var members = new Dictionary<string, string> { ["type"] = type, ["event"] = "e", ["method"] = "m", ["token"] = "t" };
                    members[field] = value;
                    return Utf8("{" + string.Join(",", members.Select(m => $"\"{m.Key}\":\"{m.Value}\"")) + "}");
                }

            default:
                {
                    // Deep nesting around the limits, balanced or not, in data or elsewhere.
                    int depth = random.Next(0, 80);
                    string open = string.Concat(Enumerable.Range(0, depth).Select(_ => random.Next(2) == 0 ? "[" : "{\"k\":"));
                    string close = string.Concat(open.Reverse().Where(c => c is '[' or '{').Select(c => c == '[' ? "]" : "}"));
                    string inner = open.EndsWith(':') ? "1" : random.Next(2) == 0 ? "" : "1";
                    string value = open + inner + (random.Next(10) == 0 ? close[..Math.Max(0, close.Length - 1)] : close);
                    return random.Next(3) switch
                    {
                        0 => Utf8($$"""{"type":"publish","event":"e","data":{{value}}}"""),
                        1 => Utf8($$"""[{"event":"e","data":{{value}}}]"""),
                        _ => Utf8(value),
                    };
                }
        }
    }

    [Test]
    public void Frame_reader_survives_random_streams()
    {
        var random = new Random(Seed);
        var outcomes = new Dictionary<string, int>();
        for (int i = 0; i < 10_000; i++)
        {
            byte[] stream = RandomStream(random, i % 3);
            bool masked = random.Next(4) != 0;
            int limit = random.Next(1, 300);
            var harness = new ReaderHarness(limit, masked);
            try
            {
                foreach (byte[] chunk in SplitRandom(stream, random, 40))
                {
                    // Deliver bounds the calls per delivery: a reader that never needs more fails it.
                    harness.Deliver(chunk);
                }
            }
            catch (Exception e) when (e is not AssertionException)
            {
                Assert.Fail($"stream {i} threw {e.GetType().Name}: {e.Message}\n{Hex(stream)}");
            }

            foreach (string e in harness.Events)
            {
                Count(outcomes, e.Split(':')[0]);
                if (e.StartsWith("text:", StringComparison.Ordinal) && Encoding.UTF8.GetByteCount(e[5..]) > limit)
                {
                    Assert.Fail($"stream {i}: a text of more than {limit} bytes was delivered");
                }
            }

            if (harness.Broken && harness.Events[^1].Length <= "error:".Length)
            {
                Assert.Fail($"stream {i}: a protocol error without a problem");
            }
        }

        foreach (var (outcome, count) in outcomes.OrderByDescending(p => p.Value))
        {
            TestContext.Out.WriteLine($"{count,6} {outcome}");
        }

        // Every status must have come up, or the streams did not exercise the reader.
        Assert.That(outcomes.Keys, Is.SupersetOf(new[] { "text", "ping", "pong", "close", "binary", "toolarge", "invalidutf8", "error" }));
    }

    private static byte[] RandomStream(Random random, int kind)
    {
        if (kind == 0)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            return bytes;
        }

        // Mostly well-formed frames, some of them mutated.
        var frames = new List<byte[]>();
        for (int n = random.Next(1, 12); n > 0; n--)
        {
            var opcode = (WebSocketOpcode)new byte[] { 0, 1, 1, 1, 2, 8, 9, 10, 3, 11 }[random.Next(10)];
            var payload = new byte[random.Next(0, 160)];
            if (random.Next(2) == 0)
            {
                random.NextBytes(payload);
            }
            else
            {
                payload.AsSpan().Fill((byte)'a');
            }

            if (opcode == WebSocketOpcode.Close && payload.Length >= 2 && random.Next(2) == 0)
            {
                payload[0] = 0x03;
                payload[1] = 0xE8;
            }

            byte[] frame = WebSocketFrameWriter.CreateMaskedFrame(opcode, payload, (uint)random.Next(), fin: random.Next(3) != 0);
            if (kind == 2 && random.Next(3) == 0)
            {
                frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
            }

            frames.Add(frame);
        }

        return Concat([.. frames]);
    }
}
