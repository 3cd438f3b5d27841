using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;

namespace Gateway.Bench.Micro;

/// <summary>
/// <see cref="PublishRequestDecoder"/> on the body of <c>POST /api/sessions/{session}/events</c>
/// carrying a batch of 100 events, each with an idempotency id and a 128-byte data object.
/// </summary>
[MemoryDiagnoser]
[MicroJob]
public class PublishBodyBenchmarks
{
    private const int BatchSize = 100;

    private readonly ReadOnlySequence<byte> _body = new(Body());

    /// <summary>A batch of 100 events.</summary>
    [Benchmark]
    public IReadOnlyList<PublishRequest>? Batch100() =>
        PublishRequestDecoder.TryDecode(_body, out IReadOnlyList<PublishRequest>? events, out _, out ProtocolError error)
            ? events
            : throw new InvalidOperationException(error.Message);

    private static byte[] Body()
    {
        string data = Encoding.UTF8.GetString(Samples.Data128);
        var body = new StringBuilder("[");
        for (int i = 0; i < BatchSize; i++)
        {
            body.Append(i == 0 ? "" : ",")
                .Append("{\"event\":\"step_update\",\"id\":\"evt-")
                .Append(i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture))
                .Append("\",\"data\":")
                .Append(data)
                .Append('}');
        }

        return Samples.Utf8(body.Append(']').ToString());
    }
}
