using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;

namespace Gateway.Bench.Micro;

/// <summary>
/// Serializing one event into its WebSocket text frame: done once per event, whatever the
/// number of recipients. The frame itself is the one allocation expected.
/// </summary>
[MemoryDiagnoser]
[MicroJob]
public class EncodeBenchmarks
{
    private readonly DateTimeOffset _timestamp = Timestamps.TruncateToMilliseconds(DateTimeOffset.UtcNow);
    private long _seq = 1_000;

    /// <summary>An <c>event</c> message with a 128-byte data object, as a complete frame.</summary>
    [Benchmark]
    public byte[] EventFrame() =>
        ServerFrames.CreateTextFrame(new EventMessage("session-42", "step_update", ++_seq, _timestamp, Samples.Data128));
}
