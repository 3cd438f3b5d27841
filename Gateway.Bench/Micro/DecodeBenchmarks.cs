using System.Buffers;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;

namespace Gateway.Bench.Micro;

/// <summary>
/// <see cref="ClientMessageDecoder"/> on one message of each type, as the receive loop hands it
/// over: a single-segment sequence, and once a publish that straddles two pipe buffers.
/// </summary>
[MemoryDiagnoser]
[MicroJob]
public class DecodeBenchmarks
{
    private static readonly string Token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + new string('a', 180) + "." + new string('b', 43);

    private readonly ReadOnlySequence<byte> _ping = Message("""{"type":"ping","id":1,"ts":1735689600000}""");
    private readonly ReadOnlySequence<byte> _subscribe = Message("""{"type":"subscribe","id":"s1","events":["step_update","build_progress"]}""");
    private readonly ReadOnlySequence<byte> _unsubscribe = Message("""{"type":"unsubscribe","id":"u1","events":["build_progress"]}""");
    private readonly ReadOnlySequence<byte> _status = Message("""{"type":"status","id":"st1"}""");
    private readonly ReadOnlySequence<byte> _resume = Message("""{"type":"resume","id":"r1","since":1234}""");
    private readonly ReadOnlySequence<byte> _publish = new(PublishBytes());
    private readonly ReadOnlySequence<byte> _auth = Message($$"""{"type":"auth","token":"{{Token}}"}""");
    private readonly ReadOnlySequence<byte> _rpc = Message("""{"type":"rpc","id":"c1","method":"get_job","data":{"job":"42","verbose":true}}""");

    // Cut inside the data, as when the message crosses the end of a pipe buffer.
    private readonly ReadOnlySequence<byte> _publishSegmented = Samples.Segmented(PublishBytes(), 80);

    /// <summary><c>ping</c> with a numeric id and ts.</summary>
    [Benchmark]
    public ClientMessage? Ping() => Decode(_ping);

    /// <summary><c>subscribe</c> to two names.</summary>
    [Benchmark]
    public ClientMessage? Subscribe() => Decode(_subscribe);

    /// <summary><c>unsubscribe</c> from one name.</summary>
    [Benchmark]
    public ClientMessage? Unsubscribe() => Decode(_unsubscribe);

    /// <summary><c>status</c>.</summary>
    [Benchmark]
    public ClientMessage? Status() => Decode(_status);

    /// <summary><c>resume</c> after a seq.</summary>
    [Benchmark]
    public ClientMessage? Resume() => Decode(_resume);

    /// <summary><c>publish</c> with a 128-byte data object, in one segment.</summary>
    [Benchmark]
    public ClientMessage? Publish() => Decode(_publish);

    /// <summary>The same <c>publish</c>, in two segments.</summary>
    [Benchmark]
    public ClientMessage? PublishMultiSegment() => Decode(_publishSegmented);

    /// <summary><c>auth</c> with a JWT-sized token.</summary>
    [Benchmark]
    public ClientMessage? Auth() => Decode(_auth);

    /// <summary><c>rpc</c> with a small data object.</summary>
    [Benchmark]
    public ClientMessage? Rpc() => Decode(_rpc);

    private static ClientMessage? Decode(in ReadOnlySequence<byte> message) =>
        ClientMessageDecoder.TryDecode(message, out ClientMessage? result, out ProtocolError error)
            ? result
            : throw new InvalidOperationException(error.Message);

    private static ReadOnlySequence<byte> Message(string json) => new(Samples.Utf8(json));

    private static byte[] PublishBytes() =>
        [.. """{"type":"publish","id":"p1","event":"step_update","data":"""u8, .. Samples.Data128, .. "}"u8];
}
