using BenchmarkDotNet.Attributes;
using System.Globalization;
using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Bench.Micro;

/// <summary>
/// Compress once (permessage-deflate): the cost of an event's one compressed frame, by event size,
/// which every compressing recipient then shares; and the per-recipient cost after it, a lookup
/// of the frame already made. Beside them, inflating a client message of the same size.
/// </summary>
/// <remarks>
/// <see cref="CompressEvent"/> makes a new <see cref="SessionEvent"/> each time (its compressed
/// frame is built once per event, so a reused one would measure the lookup). The ratio is written
/// to the console at setup: compressed payload bytes over plain.
/// </remarks>
[MemoryDiagnoser]
[MicroJob]
public class CompressionBenchmarks
{
    private SessionEvent _shared = null!;
    private byte[] _frame = [];
    private byte[] _data = [];
    private byte[] _compressed = [];
    private MessageInflater _inflater = null!;
    private DateTimeOffset _now;

    /// <summary>The event's data, in bytes of JSON (the frame adds about 100 bytes of envelope).</summary>
    [Params(128, 2048, 65536)]
    public int EventBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _now = Timestamps.TruncateToMilliseconds(DateTimeOffset.UtcNow);
        _data = ProgressJson(EventBytes);
        _frame = Gateway.Protocol.Framing.ServerFrames.CreateTextFrame(new EventMessage(Samples.Session, Samples.EventName, 1, _now, _data));
        _shared = NewEvent();
        _ = _shared.DeflatedFrame(out _);
        ReadOnlySpan<byte> payload = WebSocketFrameWriter.GetPayload(_frame).Span;
        _compressed = PerMessageDeflate.Compress(payload);
        _inflater = new MessageInflater();
        Console.WriteLine($"// {EventBytes} B of data: frame payload {payload.Length} B, compressed {_compressed.Length} B ({100.0 * _compressed.Length / payload.Length:0.0}%)");
    }

    /// <summary>An event's compressed frame, made: once per event, whatever the number of compressing recipients.</summary>
    [Benchmark(Baseline = true)]
    public byte[] CompressEvent() => NewEvent().DeflatedFrame(out _);

    /// <summary>What each further compressing recipient pays: the frame already made.</summary>
    [Benchmark]
    public byte[] SharedFrame() => _shared.DeflatedFrame(out _);

    /// <summary>A client message of the same size inflated (no context takeover), into a pooled buffer.</summary>
    [Benchmark]
    public int InflateMessage()
    {
        _inflater.Inflate(_compressed, int.MaxValue - 1, out byte[]? output, out int length);
        System.Buffers.ArrayPool<byte>.Shared.Return(output!);
        return length;
    }

    /// <summary>
    /// About <paramref name="size"/> bytes of JSON shaped like a training run's progress: records of
    /// the same keys with varying numbers, which compress as real events do (a run of one letter
    /// would flatter the ratio and the time).
    /// </summary>
    private static byte[] ProgressJson(int size)
    {
        var json = new StringBuilder("[");
        for (int i = 0; json.Length < size - 64; i++)
        {
            json.Append(CultureInfo.InvariantCulture, $"{{\"step\":{1000 + i},\"loss\":{0.5 + (((i * 7919) % 1000) / 10000.0):0.0000},\"lr\":0.0003,\"phase\":\"train\"}},");
        }

        json.Length--;
        return Encoding.UTF8.GetBytes(json.Append(']').ToString());
    }

    private SessionEvent NewEvent() => new(Samples.Session, Samples.EventName, 1, _now, _data, _frame, id: null, final: false);
}
