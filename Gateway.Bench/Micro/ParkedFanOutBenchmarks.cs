using BenchmarkDotNet.Attributes;
using Gateway.Hub;
using Gateway.Connections;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Bench.Micro;

/// <summary>
/// One event to <see cref="Recipients"/> queues whose send loops are parked in
/// <see cref="OutboundQueue.WaitAsync"/>, as idle connections' are: every enqueue also wakes its
/// loop. <see cref="PublishToParkedSession"/> is the gateway's path (a publish into a
/// session of the memory log, whose hub wakes the loops in chunks after its locks), and its
/// allocations must not grow with <see cref="Recipients"/>. <see cref="EnqueueToParkedQueues"/>
/// enqueues straight into each queue, which wakes its own loop with a thread-pool item apiece: the
/// path of a reply to one client, shown for comparison.
/// </summary>
/// <remarks>
/// One fan-out per iteration: before each, every loop has drained its queue and parked again.
/// The time includes the woken loops competing for the cores with the publisher, as they do in
/// the gateway; allocations are counted on every thread.
/// </remarks>
[MemoryDiagnoser]
[MicroJob]
[InvocationCount(1)]
[WarmupCount(20)]
[IterationCount(15)]
public class ParkedFanOutBenchmarks
{
    private OutboundQueue[] _queues = [];
    private Task[] _sendLoops = [];
    private readonly PublishRequest[] _publish = [new PublishRequest(Samples.EventName, Samples.Data128)];
    private readonly DateTimeOffset _now = Timestamps.TruncateToMilliseconds(DateTimeOffset.UtcNow);
    private SessionEvent _event = null!;
    private SessionHub _hub = null!;
    private int _parked;
    private long _rounds;

    /// <summary>How many queues get the event.</summary>
    [Params(1_000, 10_000)]
    public int Recipients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _event = Samples.StepEvent(_now);
        _queues = new OutboundQueue[Recipients];
        _sendLoops = new Task[Recipients];
        _hub = Samples.NewHub(historyCapacity: 100);
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new OutboundQueue(LagLimits.Default);
            _sendLoops[i] = SendLoopAsync(_queues[i]);
            Samples.Join(_hub, new QueueMember(_queues[i]));
        }
    }

    [IterationSetup]
    public void WaitUntilParked()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref _parked) != _queues.Length || !_queues.All(q => q.Dequeued == _rounds))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Volatile.Read(ref _parked)} of {_queues.Length} send loops parked");
            }

            Thread.Sleep(1);
        }
    }

    /// <summary>One shared frame into every queue, each waking its parked send loop.</summary>
    [Benchmark]
    public int EnqueueToParkedQueues()
    {
        _rounds++;
        var frame = new OutboundFrame(_event.Frame, _event);
        int enqueued = 0;
        foreach (OutboundQueue queue in _queues)
        {
            enqueued += queue.TryEnqueue(frame) == EnqueueResult.Enqueued ? 1 : 0;
        }

        return enqueued;
    }

    /// <summary>One event published into a session whose members' send loops are all parked.</summary>
    [Benchmark]
    public long PublishToParkedSession()
    {
        _rounds++;
        return Samples.Publish(_hub, _publish);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (OutboundQueue queue in _queues)
        {
            queue.Complete(null, discardPending: true);
        }

        Task.WaitAll(_sendLoops);
    }

    /// <summary>The shape of <c>SendLoop.RunAsync</c>, with no socket: wait, drain, repeat.</summary>
    private async Task SendLoopAsync(OutboundQueue queue)
    {
        var frames = new OutboundFrame[8];
        while (true)
        {
            ValueTask<bool> wait = queue.WaitAsync();
            bool parked = !wait.IsCompleted;
            if (parked)
            {
                Interlocked.Increment(ref _parked);
            }

            bool woken = await wait;
            if (parked)
            {
                Interlocked.Decrement(ref _parked);
            }

            QueueDrain.DrainAll(queue, frames);

            if (!woken || queue.TryTakeFinalFrame(out _))
            {
                return;
            }
        }
    }
}
