using Gateway.Connections;
using Gateway.Hub;

namespace Gateway.Tests.Connections;

/// <summary>
/// What an idle queue holds: its ring is given back once the heartbeat scan has found it empty
/// with nothing queued since its previous look, and kept while frames come and go between looks.
/// </summary>
public sealed class OutboundQueueRingTests
{
    private static readonly LagLimits Limits = new(MaxBytes: 1000, MaxAge: 100, Granularity: 10);

    [Test]
    public void An_empty_queue_untouched_between_two_scans_gives_its_ring_back_and_grows_one_again()
    {
        var queue = new OutboundQueue(Limits);
        Assert.That(queue.Capacity, Is.Zero, "a new queue");
        SendOne(queue, now: 1);
        Assert.That(queue.Capacity, Is.GreaterThan(0), "after a frame");

        queue.CheckLag(now: 2, out _, out _);
        Assert.That(queue.Capacity, Is.GreaterThan(0), "a frame came since the previous look");
        queue.CheckLag(now: 3, out _, out _);
        Assert.That(queue.Capacity, Is.Zero, "nothing came since the previous look");

        SendOne(queue, now: 4);
        Assert.That(queue.Capacity, Is.GreaterThan(0), "a frame after the ring was given back");
        Assert.That(queue.UnsentBytes, Is.Zero);
    }

    [Test]
    public void A_queue_with_frames_between_scans_keeps_its_ring()
    {
        var queue = new OutboundQueue(Limits);
        for (int scan = 0; scan < 5; scan++)
        {
            SendOne(queue, now: scan * 10);
            queue.CheckLag(now: (scan * 10) + 5, out _, out _);
            Assert.That(queue.Capacity, Is.GreaterThan(0), $"scan {scan}");
        }
    }

    [Test]
    public void A_queue_with_frames_waiting_keeps_them_through_any_number_of_scans()
    {
        var queue = new OutboundQueue(Limits);
        queue.TryEnqueue(new OutboundFrame(new byte[10]), out _);
        for (int scan = 0; scan < 3; scan++)
        {
            Assert.That(queue.CheckLag(now: scan, out long bytes, out _), Is.EqualTo(LagVerdict.Within));
            Assert.That(bytes, Is.EqualTo(10));
        }

        var taken = new OutboundFrame[4];
        Assert.That(queue.Dequeue(taken, now: 3), Is.EqualTo(1));
        Assert.That(taken[0].Bytes, Has.Length.EqualTo(10));
    }

    /// <summary>One frame through the queue as the send loop takes it: queued, taken out, written.</summary>
    private static void SendOne(OutboundQueue queue, long now)
    {
        Assert.That(queue.TryEnqueue(new OutboundFrame(new byte[10]), out _), Is.EqualTo(EnqueueResult.Enqueued));
        var taken = new OutboundFrame[4];
        Assert.That(queue.Dequeue(taken, now), Is.EqualTo(1));
        queue.Written(1, 10);
    }
}
