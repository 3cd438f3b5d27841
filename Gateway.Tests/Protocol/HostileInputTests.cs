using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using static Gateway.Tests.Protocol.TestBuffers;

namespace Gateway.Tests.Protocol;

/// <summary>
/// The hostile-input campaign, seeded and repeatable: over 100,000 generated and mutated messages of
/// every <see cref="HostileInputKind"/> go through the decoders, from one span and from many segments,
/// and most of them also as masked client frames through the frame reader first. Nothing may throw or
/// hang, the buffer shapes and the frame path must agree with each other, and every error must be
/// one of the documented ones.
/// </summary>
[TestFixture]
public sealed class HostileInputTests
{
    private const int Seed = 20261122;

    /// <summary>11,000 of each of the ten kinds: 110,000 inputs.</summary>
    private const int InputsPerKind = 11_000;

    /// <summary>
    /// A campaign takes a few seconds on two cores in Debug. The bound is well above that, so that a slow
    /// runner passes, and still fails a test that hangs.
    /// </summary>
    private const int TimeLimitMilliseconds = 60_000;

    private const int MaxMessageBytes = HostileInputs.MaxMessageBytes;

    private static readonly ErrorCode[] ClientCodes = [ErrorCode.InvalidJson, ErrorCode.InvalidMessage, ErrorCode.UnknownType];

    private static int TotalInputs => InputsPerKind * HostileInputs.Kinds.Length;

    [Test]
    [CancelAfter(TimeLimitMilliseconds)]
    public async Task Client_messages_survive_hostile_input_directly_and_in_frames(CancellationToken cancellationToken)
    {
        string[] codes = ClientCodes.Select(c => c.ToWireName()).ToArray();
        var table = new OutcomeTable("kind", ["inputs", "decoded", .. codes, "framed", "text", "too_large", "invalid_utf8"]);
        Dictionary<HostileInputKind, HashSet<string>> outcomes = HostileInputs.Kinds.ToDictionary(k => k, _ => new HashSet<string>());
        var framings = new Dictionary<string, int>();
        await RunBoundedAsync(
            progress =>
            {
                foreach (HostileInput input in Inputs(cancellationToken))
                {
                    progress.Current = input;
                    try
                    {
                        string row = HostileInputs.Describe(input.Kind);
                        string direct = CheckClientDecoder(input, out ClientMessage? message, out ProtocolError error);
                        table.Add(row, "inputs");
                        table.Add(row, message is null ? error.Code.ToWireName() : "decoded");
                        outcomes[input.Kind].Add(message is null ? error.Message : "ok");

                        // Three in four inputs also arrive as frames: enough to count, and the rest keeps the run short.
                        if (input.Random.Next(4) != 0)
                        {
                            table.Add(row, "framed");
                            table.Add(row, CheckFramed(input, direct, framings));
                        }
                    }
                    catch (Exception e) when (e is not AssertionException)
                    {
                        Assert.Fail($"{input} threw {e.GetType().Name}: {e.Message}\n{Sample(input.Bytes)}");
                    }
                }
            },
            cancellationToken);

        HashSet<string> distinct = [.. outcomes.Values.SelectMany(o => o)];
        table.WriteTo(TestContext.Out);
        TestContext.Out.WriteLine(
            $"framed: {framings.GetValueOrDefault("fragmented"):N0} in 2-32 fragments, {framings.GetValueOrDefault("interleaved"):N0} with control frames around them; " +
            $"{distinct.Count} distinct outcomes");

        // The generator must reach deep into the decoder and the reader, not only their first checks.
        Assert.Multiple(() =>
        {
            Assert.That(table.Total("inputs"), Is.GreaterThanOrEqualTo(100_000), "inputs");
            Assert.That(table.Total("framed"), Is.GreaterThan(table.Total("inputs") / 2), "inputs sent as frames");
            Assert.That(table.Total("decoded"), Is.GreaterThan(15_000), "client messages decoded");
            Assert.That(distinct, Is.EquivalentTo(ExpectedErrors.Client.All.Append("ok")), "every documented error, and success");
            Assert.That(table.Total("too_large"), Is.GreaterThan(300), "messages over the limit");
            Assert.That(framings.GetValueOrDefault("fragmented"), Is.GreaterThan(10_000), "fragmented messages");
            Assert.That(framings.GetValueOrDefault("interleaved"), Is.GreaterThan(10_000), "messages with control frames around their fragments");
            foreach (HostileInputKind kind in HostileInputs.Kinds)
            {
                string row = HostileInputs.Describe(kind);
                Assert.That(table.Get(row, "inputs"), Is.EqualTo(InputsPerKind), row);

                // A cut message is empty or not JSON, and nothing else; random bytes rarely get past "not JSON".
                int least = kind switch { HostileInputKind.Truncation => 2, HostileInputKind.RandomBytes => 3, _ => 4 };
                Assert.That(outcomes[kind], Has.Count.GreaterThanOrEqualTo(least), $"{row}: distinct outcomes");
                if (kind == HostileInputKind.InvalidUtf8)
                {
                    Assert.That(table.Get(row, "invalid_utf8"), Is.EqualTo(table.Get(row, "framed")), $"{row}: every framed one refused by the reader");
                }
                else
                {
                    Assert.That(table.Get(row, "text"), Is.GreaterThan(table.Get(row, "framed") / 3), $"{row}: through the reader to the decoder");
                }

                // Random bytes, cut messages and token soup are almost never valid; every other kind keeps some messages whole.
                if (kind is not (HostileInputKind.RandomBytes or HostileInputKind.Truncation or HostileInputKind.TokenSoup))
                {
                    Assert.That(table.Get(row, "decoded"), Is.GreaterThan(InputsPerKind / 50), $"{row}: decoded");
                }
            }
        });
    }

    [Test]
    [CancelAfter(TimeLimitMilliseconds)]
    public async Task Publish_bodies_survive_hostile_input(CancellationToken cancellationToken)
    {
        string invalid = ErrorCode.InvalidMessage.ToWireName();
        var table = new OutcomeTable("kind", "inputs", "decoded", invalid);
        var outcomes = new HashSet<string>();
        await RunBoundedAsync(
            progress =>
            {
                foreach (HostileInput input in Inputs(cancellationToken))
                {
                    progress.Current = input;
                    try
                    {
                        string row = HostileInputs.Describe(input.Kind);
                        string outcome = CheckPublishDecoder(input);
                        table.Add(row, "inputs");
                        table.Add(row, outcome == "ok" ? "decoded" : invalid);
                        outcomes.Add(outcome);
                    }
                    catch (Exception e) when (e is not AssertionException)
                    {
                        Assert.Fail($"{input} threw {e.GetType().Name}: {e.Message}\n{Sample(input.Bytes)}");
                    }
                }
            },
            cancellationToken);

        table.WriteTo(TestContext.Out);
        TestContext.Out.WriteLine($"{outcomes.Count} distinct outcomes");

        Assert.Multiple(() =>
        {
            Assert.That(table.Total("inputs"), Is.GreaterThanOrEqualTo(100_000), "inputs");
            Assert.That(table.Total("decoded"), Is.GreaterThan(2_000), "publish bodies decoded");
            Assert.That(outcomes, Has.Count.GreaterThanOrEqualTo(25), "distinct publish outcomes");
        });
    }

    private static void Count(Dictionary<string, int> outcomes, string outcome) =>
        outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;

    /// <summary>The campaign's inputs: the kinds in turn, each input made from a seed of its own.</summary>
    private static IEnumerable<HostileInput> Inputs(CancellationToken cancellationToken)
    {
        var seeds = new Random(Seed);
        for (int i = 0; i < TotalInputs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            HostileInputKind kind = HostileInputs.Kinds[i % HostileInputs.Kinds.Length];
            int seed = seeds.Next();
            var random = new Random(seed);
            yield return new HostileInput(i, kind, seed, random, HostileInputs.Generate(kind, random));
        }
    }

    /// <summary>
    /// Runs <paramref name="campaign"/> on the thread pool and waits for it no longer than the test's
    /// [CancelAfter] bound. The campaign stops at the token between inputs; a decoder stuck inside one
    /// call never looks at it, so the wait gives up instead and names the input that never returned.
    /// </summary>
    private static async Task RunBoundedAsync(Action<Progress> campaign, CancellationToken cancellationToken)
    {
        var progress = new Progress();
        Task run = Task.Run(() => campaign(progress), CancellationToken.None);
        try
        {
            await run.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"the campaign did not end within {TimeLimitMilliseconds} ms; it was at {progress.Current}");
        }
    }

    /// <summary>Checks one input; returns what the decoder made of it, rendered.</summary>
    private static string CheckClientDecoder(HostileInput input, out ClientMessage? message, out ProtocolError error)
    {
        byte[] bytes = input.Bytes;
        string fromSpan = Render(ClientMessageDecoder.TryDecode(new ReadOnlySpan<byte>(bytes), out message, out error), message, error);
        ReadOnlySequence<byte> segments = Segmented(bytes, input.Random);
        string fromSegments = Render(ClientMessageDecoder.TryDecode(in segments, out ClientMessage? other, out ProtocolError otherError), other, otherError);
        if (fromSpan != fromSegments)
        {
            Assert.Fail($"{input}: span and segments disagree:\n{Trim(fromSpan)}\n{Trim(fromSegments)}\n{Sample(bytes)}");
        }

        if (message is null)
        {
            if (!ClientCodes.Contains(error.Code) || !ExpectedErrors.Client.All.Contains(error.Message))
            {
                Assert.Fail($"{input}: undocumented error {MessageText.Render(error)}\n{Sample(bytes)}");
            }
        }
        else if (message switch { PublishMessage p => p.Data, RpcRequest r => r.Data, _ => (ReadOnlyMemory<byte>?)null } is { } data)
        {
            CheckData(data, input);
        }

        return fromSpan;
    }

    private static string Render(bool decoded, ClientMessage? message, ProtocolError error) =>
        decoded ? MessageText.Render(message!) : MessageText.Render(error);

    /// <summary>
    /// The bytes in random segments: of 1 to 9 bytes for short inputs, and about 64 of them for long
    /// ones, so that strings and numbers still straddle segment ends without 64 KiB costing thousands.
    /// </summary>
    private static ReadOnlySequence<byte> Segmented(byte[] bytes, Random random) =>
        FromChunks(SplitRandom(bytes, random, Math.Max(9, bytes.Length / 32)));

    /// <summary>
    /// Sends the input as a client's text message: masked, in 1 to 32 fragments, sometimes with control
    /// frames around them, delivered in random chunks. The reader must report InvalidUtf8 exactly when
    /// the payload is not UTF-8 and TooLarge exactly when it exceeds the limit; otherwise the decoder
    /// must make of the payload it delivers what it made of the bytes directly (<paramref name="direct"/>).
    /// Returns the table column of what the reader reported.
    /// </summary>
    private static string CheckFramed(HostileInput input, string direct, Dictionary<string, int> framings)
    {
        Random random = input.Random;
        byte[] payload = input.Bytes;
        int fragments = random.Next(4) switch { < 2 => 1, 2 => random.Next(2, 5), _ => random.Next(5, 33) };
        int[] cuts = [0, .. Enumerable.Range(1, fragments - 1).Select(_ => random.Next(payload.Length + 1)).Order(), payload.Length];
        bool interleave = random.Next(3) == 0;
        var frames = new List<byte[]>();
        var expected = new List<string>();
        long sent = 0;
        for (int f = 0; f < fragments; f++)
        {
            if (interleave && random.Next(2) == 0)
            {
                frames.Add(ControlFrame(random, expected));
            }

            var part = payload.AsSpan(cuts[f], cuts[f + 1] - cuts[f]);
            var opcode = f == 0 ? WebSocketOpcode.Text : WebSocketOpcode.Continuation;
            frames.Add(WebSocketFrameWriter.CreateMaskedFrame(opcode, part, MaskKey(random), fin: f == fragments - 1));

            // The reader sees the message is too large at the header of the fragment that takes it past the limit.
            if (sent <= MaxMessageBytes && sent + part.Length > MaxMessageBytes)
            {
                expected.Add("toolarge");
            }

            sent += part.Length;
        }

        string status = sent > MaxMessageBytes ? "too_large" : IsUtf8(payload) ? "text" : "invalid_utf8";
        if (status != "too_large")
        {
            expected.Add(status == "text" ? "text:" + direct : "invalidutf8");
        }

        if (interleave)
        {
            frames.Add(ControlFrame(random, expected));
            Count(framings, "interleaved");
        }

        if (fragments > 1)
        {
            Count(framings, "fragmented");
        }

        var harness = new ReaderHarness(MaxMessageBytes, describeText: delivered => DecodeDelivered(delivered, payload));
        byte[] stream = Join(frames);
        int maxChunk = random.Next(3) switch
        {
            0 => stream.Length,
            1 => Math.Max(16, stream.Length / 8),
            _ => stream.Length <= 2048 ? 16 : Math.Max(16, stream.Length / 64),
        };

        foreach (byte[] chunk in SplitRandom(stream, random, maxChunk))
        {
            harness.Deliver(chunk);
        }

        List<string> actual = harness.Events;
        int differ = Enumerable.Range(0, Math.Max(actual.Count, expected.Count))
            .FirstOrDefault(i => i >= actual.Count || i >= expected.Count || actual[i] != expected[i], -1);
        if (differ >= 0 || harness.Pending != 0)
        {
            Assert.Fail(
                $"{input}: as {fragments} fragment(s) the reader reported {actual.Count} event(s), expected {expected.Count}; " +
                $"{harness.Pending} bytes left over; first difference at {differ}:\n" +
                $"expected {Trim(expected.ElementAtOrDefault(differ) ?? "nothing")}\n" +
                $"actual   {Trim(actual.ElementAtOrDefault(differ) ?? "nothing")}\n{Sample(payload)}");
        }

        return status;
    }

    /// <summary>What the decoder makes of a payload the reader delivered; it must be the bytes that were sent.</summary>
    private static string DecodeDelivered(ReadOnlySequence<byte> delivered, byte[] sent)
    {
        if (!delivered.ToArray().AsSpan().SequenceEqual(sent))
        {
            return "a payload other than the one sent";
        }

        return Render(ClientMessageDecoder.TryDecode(in delivered, out ClientMessage? message, out ProtocolError error), message, error);
    }

    /// <summary>A ping, pong or close frame with a random ASCII payload; what the reader must report is added to <paramref name="expected"/>.</summary>
    private static byte[] ControlFrame(Random random, List<string> expected)
    {
        switch (random.Next(5))
        {
            case < 2:
                {
                    string text = Letters(random, random.Next(0, 126));
                    expected.Add("ping:" + text);
                    return WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Ping, Utf8(text), MaskKey(random));
                }

            case < 4:
                {
                    string text = Letters(random, random.Next(0, 126));
                    expected.Add("pong:" + text);
                    return WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Pong, Utf8(text), MaskKey(random));
                }

            default:
                {
                    ushort code = new ushort[] { 1000, 1001, 1003, 1011, 3000, 4999 }[random.Next(6)];
                    string reason = Letters(random, random.Next(0, WebSocketFrameWriter.MaxCloseReasonBytes + 1));
                    expected.Add($"close:{code}:{reason}");
                    return WebSocketFrameWriter.CreateMaskedFrame(WebSocketOpcode.Close, Concat([(byte)(code >> 8), (byte)code], Utf8(reason)), MaskKey(random));
                }
        }
    }

    private static string Letters(Random random, int length) =>
        new(Enumerable.Range(0, length).Select(_ => (char)('a' + random.Next(26))).ToArray());

    private static uint MaskKey(Random random) => (uint)random.NextInt64(0, 1L << 32);

    private static byte[] Join(List<byte[]> parts)
    {
        var joined = new byte[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (byte[] part in parts)
        {
            part.CopyTo(joined, at);
            at += part.Length;
        }

        return joined;
    }

    /// <summary>UTF-8 validity decided one scalar at a time, apart from the <c>Utf8.IsValid</c> the reader uses.</summary>
    private static bool IsUtf8(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out _, out int consumed) != OperationStatus.Done)
            {
                return false;
            }

            bytes = bytes[consumed..];
        }

        return true;
    }

    /// <summary>Checks one input; returns the error text, or "ok".</summary>
    private static string CheckPublishDecoder(HostileInput input)
    {
        byte[] bytes = input.Bytes;
        var single = new ReadOnlySequence<byte>(bytes);
        ReadOnlySequence<byte> segmented = Segmented(bytes, input.Random);
        bool decoded = PublishRequestDecoder.TryDecode(in single, out IReadOnlyList<PublishRequest>? events, out bool isBatch, out ProtocolError error);
        bool decodedSegmented = PublishRequestDecoder.TryDecode(in segmented, out IReadOnlyList<PublishRequest>? segmentedEvents, out bool segmentedBatch, out ProtocolError segmentedError);

        string Render(bool ok, IReadOnlyList<PublishRequest>? list, bool batch, ProtocolError e) =>
            ok ? $"{batch}:{string.Join("|", list!.Select(MessageText.Render))}" : MessageText.Render(e);

        string a = Render(decoded, events, isBatch, error);
        string b = Render(decodedSegmented, segmentedEvents, segmentedBatch, segmentedError);
        if (a != b)
        {
            Assert.Fail($"{input}: single and multi-segment disagree:\n{Trim(a)}\n{Trim(b)}\n{Sample(bytes)}");
        }

        if (!decoded)
        {
            if (error.Code != ErrorCode.InvalidMessage || !IsDocumentedPublishError(error.Message))
            {
                Assert.Fail($"{input}: undocumented error {MessageText.Render(error)}\n{Sample(bytes)}");
            }

            return error.Message;
        }

        if (events!.Count is 0 or > PublishRequestDecoder.MaxBatch)
        {
            Assert.Fail($"{input}: {events.Count} events decoded\n{Sample(bytes)}");
        }

        foreach (PublishRequest request in events)
        {
            CheckData(request.Data, input);
        }

        return "ok";
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
    private static void CheckData(ReadOnlyMemory<byte> data, HostileInput input)
    {
        if (!System.Text.Unicode.Utf8.IsValid(data.Span))
        {
            Assert.Fail($"{input}: data is not UTF-8\n{Sample(input.Bytes)}");
        }

        var reader = new Utf8JsonReader(data.Span, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            reader.Read();
            reader.Skip();
            if (reader.Read() || reader.BytesConsumed != data.Length)
            {
                Assert.Fail($"{input}: data is not one JSON value\n{Sample(input.Bytes)}");
            }
        }
        catch (JsonException e)
        {
            Assert.Fail($"{input}: data is not JSON ({e.Message})\n{Sample(input.Bytes)}");
        }

        byte[] again = data.ToArray();
        if (JsonCompaction.CompactInPlace(again) != data.Length)
        {
            Assert.Fail($"{input}: data is not compact\n{Sample(input.Bytes)}");
        }
    }

    /// <summary>The start of a long input in hex, for a failure message.</summary>
    private static string Sample(byte[] bytes) =>
        bytes.Length <= 400 ? Hex(bytes) : $"{Hex(bytes.AsSpan(0, 400))}... ({bytes.Length} bytes)";

    private static string Trim(string text) => text.Length <= 400 ? text : $"{text[..400]}... ({text.Length} characters)";

    [Test]
    [CancelAfter(TimeLimitMilliseconds)]
    public async Task Frame_reader_survives_random_streams(CancellationToken cancellationToken)
    {
        string[] statuses = ["text", "ping", "pong", "close", "binary", "toolarge", "invalidutf8", "error"];
        string[] kinds = ["random bytes", "frames", "mutated frames"];
        var table = new OutcomeTable("kind", ["streams", .. statuses]);
        await RunBoundedAsync(
            progress =>
            {
                var random = new Random(Seed);
                for (int i = 0; i < 10_000; i++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    progress.Current = $"stream {i}";
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

                    table.Add(kinds[i % 3], "streams");
                    foreach (string e in harness.Events)
                    {
                        table.Add(kinds[i % 3], e.Split(':')[0]);
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
            },
            cancellationToken);

        table.WriteTo(TestContext.Out);

        // Every status must have come up, or the streams did not exercise the reader.
        Assert.That(statuses.Where(s => table.Total(s) == 0), Is.Empty, "statuses never reported");
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

    /// <summary>One input of the campaign; its text names what it takes to make it again.</summary>
    private sealed record HostileInput(int Index, HostileInputKind Kind, int Seed, Random Random, byte[] Bytes)
    {
        public override string ToString() =>
            $"input {Index} ({HostileInputs.Describe(Kind)}, {Bytes.Length} bytes; HostileInputs.Generate({nameof(HostileInputKind)}.{Kind}, new Random({Seed})))";
    }

    /// <summary>Where a campaign is, read by the test thread when the campaign does not end in time.</summary>
    private sealed class Progress
    {
        private object _current = "its start";

        public object Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }
    }
}
