using BenchmarkDotNet.Attributes;
using Gateway.Hub;
using Gateway.Connections;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Bench.Micro;

/// <summary>
/// One event to every recipient: the enqueue of one shared frame into <see cref="Recipients"/>
/// real <see cref="OutboundQueue"/>s, and a whole publish through the memory log and <see cref="SessionHub"/>
/// with that many members. The allocated bytes must not grow with <see cref="Recipients"/>: the
/// fan-out allocates nothing per recipient.
/// </summary>
/// <remarks>
/// Each iteration runs <see cref="FramesPerIteration"/> fan-outs, then the queues are drained
/// outside the measurement, as a send loop would; the queues' rings are sized in the setup, so
/// what is measured is the steady state of connections that keep up. Iterations are short
/// (milliseconds), so there are more of them than the job's: the fan-out loop is still being
/// re-jitted (tiering, dynamic PGO) for the first few hundred milliseconds.
/// </remarks>
[MemoryDiagnoser]
[MicroJob]
[InvocationCount(FramesPerIteration)]
[WarmupCount(20)]
[IterationCount(15)]
public class FanOutBenchmarks
{
    // As many as fit in the ring a drained queue keeps (64), far below the lag bound:
    // iterations of a few milliseconds rather than a fraction of one.
    private const int FramesPerIteration = 64;

    private const int HistoryCapacity = 100;

    private readonly OutboundFrame[] _drained = new OutboundFrame[FramesPerIteration];
    private OutboundQueue[] _queues = [];
    private SessionEvent _event = null!;
    private SessionHub _hub = null!;
    private PublishRequest[] _publish = [];
    private DateTimeOffset _now;

    /// <summary>How many queues, or session members, get the event.</summary>
    [Params(1_000, 10_000)]
    public int Recipients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _now = Timestamps.TruncateToMilliseconds(DateTimeOffset.UtcNow);
        _event = Samples.StepEvent(_now);
        _publish = [new PublishRequest(Samples.EventName, Samples.Data128)];

        _queues = new OutboundQueue[Recipients];
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new OutboundQueue(LagLimits.Default);
        }

        // History full, so that each publish evicts one event rather than growing the ring.
        _hub = Samples.NewHub(HistoryCapacity);
        for (int i = 0; i < 2 * HistoryCapacity; i++)
        {
            Publish();
        }

        foreach (OutboundQueue queue in _queues)
        {
            Samples.Join(_hub, new QueueMember(queue));
        }

        // Grow every ring to the size an iteration needs, then empty it.
        for (int i = 0; i < FramesPerIteration; i++)
        {
            EnqueueToQueues();
        }

        Drain();
    }

    /// <summary>One shared frame into every queue: the loop at the heart of the fan-out.</summary>
    [Benchmark]
    public int EnqueueToQueues()
    {
        var frame = new OutboundFrame(_event.Frame, _event);
        int enqueued = 0;
        foreach (OutboundQueue queue in _queues)
        {
            enqueued += queue.TryEnqueue(frame) == EnqueueResult.Enqueued ? 1 : 0;
        }

        return enqueued;
    }

    /// <summary>
    /// One event published into a session with <see cref="Recipients"/> members: seq, frame,
    /// history and state in the memory log, then the hub's fan-out into every member's queue.
    /// </summary>
    [Benchmark]
    public long PublishToSession() => Publish();

    [IterationCleanup]
    public void Drain()
    {
        foreach (OutboundQueue queue in _queues)
        {
            QueueDrain.DrainAll(queue, _drained);
        }

        Array.Clear(_drained);
    }

    private long Publish() => Samples.Publish(_hub, _publish);
}
