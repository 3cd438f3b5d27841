using Gateway.Connections;

namespace Gateway.Tests.Connections;

/// <summary>
/// The lag accounting on its own (spec section 4): bytes in as frames are queued and out as their
/// writes complete, the age of the oldest unsent frame as marks date them, and the verdict. Time is
/// in plain ticks: a bound of 1000 bytes and 100 ticks, marks merged within 10.
/// </summary>
public sealed class LagMeterTests
{
    private static readonly LagLimits Limits = new(MaxBytes: 1000, MaxAge: 100, Granularity: 10);

    private static IEnumerable<TestCaseData> Steps()
    {
        // Steps: "queue <bytes>" (a live frame queued), "mark <now>" (the send loop or the scan
        // dates what is queued), "sent <frames> <bytes>" (the writes carrying the oldest completed).
        // Then the meter at "at": unsent bytes, unsent frames, the oldest frame's age, the verdict.
        yield return Case("nothing queued: no lag and no age", [], at: 1000, bytes: 0, frames: 0, age: 0, LagVerdict.Within);
        yield return Case("bytes in as frames are queued", ["queue 100", "queue 250"], at: 0, bytes: 350, frames: 2, age: 0, LagVerdict.Within);
        yield return Case("bytes out as their writes complete", ["queue 100", "queue 250", "sent 1 100"], at: 0, bytes: 250, frames: 1, age: 0, LagVerdict.Within);
        yield return Case("frames not marked yet have no known age", ["queue 100"], at: 500, bytes: 100, frames: 1, age: 0, LagVerdict.Within);
        yield return Case("a mark dates every frame queued before it", ["queue 100", "queue 100", "mark 10"], at: 60, bytes: 200, frames: 2, age: 50, LagVerdict.Within);
        yield return Case("a frame queued after the mark does not make the oldest younger", ["queue 100", "mark 10", "queue 100", "mark 40"], at: 60, bytes: 200, frames: 2, age: 50, LagVerdict.Within);
        yield return Case("once the oldest is sent, the next mark dates the rest", ["queue 100", "mark 10", "queue 100", "mark 40", "sent 1 100"], at: 60, bytes: 100, frames: 1, age: 20, LagVerdict.Within);
        yield return Case("everything sent: no age and no marks", ["queue 100", "mark 10", "queue 100", "mark 40", "sent 2 200"], at: 500, bytes: 0, frames: 0, age: 0, LagVerdict.Within);
        yield return Case("a mark with nothing newly queued keeps the older date", ["queue 100", "mark 10", "mark 50"], at: 60, bytes: 100, frames: 1, age: 50, LagVerdict.Within);
        yield return Case("marks within the granularity merge, understating the age by less than it", ["queue 100", "mark 10", "queue 100", "mark 15"], at: 60, bytes: 200, frames: 2, age: 45, LagVerdict.Within);
        yield return Case("a write in flight still counts, and ages", ["queue 100", "mark 0"], at: 90, bytes: 100, frames: 1, age: 90, LagVerdict.Within);
        yield return Case("exactly the age bound is within", ["queue 100", "mark 0"], at: 100, bytes: 100, frames: 1, age: 100, LagVerdict.Within);
        yield return Case("past the age bound: too old", ["queue 100", "mark 0"], at: 101, bytes: 100, frames: 1, age: 101, LagVerdict.TooOld);
        yield return Case("too old even though little is unsent", ["queue 1", "mark 0", "queue 1", "mark 200"], at: 201, bytes: 2, frames: 2, age: 201, LagVerdict.TooOld);
        yield return Case("a client that catches up is judged by what it still has", ["queue 100", "mark 0", "queue 100", "mark 150", "sent 1 100"], at: 200, bytes: 100, frames: 1, age: 50, LagVerdict.Within);
        yield return Case("marks kept in a ring that wraps, each dropped with its frames",
            ["queue 1", "mark 0", "queue 1", "mark 20", "queue 1", "mark 40", "sent 1 1", "queue 1", "mark 60", "queue 1", "mark 80", "queue 1", "mark 100", "sent 1 1"],
            at: 120, bytes: 4, frames: 4, age: 80, LagVerdict.Within);
        yield return Case("exactly the byte bound is within", ["queue 600", "queue 400"], at: 0, bytes: 1000, frames: 2, age: 0, LagVerdict.Within);
        yield return Case("past the byte bound: too many bytes", ["queue 600", "queue 401"], at: 0, bytes: 1001, frames: 2, age: 0, LagVerdict.TooManyBytes);
        yield return Case("bytes are judged before age", ["queue 1001", "mark 0"], at: 500, bytes: 1001, frames: 1, age: 500, LagVerdict.TooManyBytes);
    }

    private static TestCaseData Case(string name, string[] steps, long at, long bytes, long frames, long age, LagVerdict verdict) =>
        new TestCaseData(steps, at, bytes, frames, age, verdict.ToString()).SetName(name);

    [TestCaseSource(nameof(Steps))]
    public void The_meter_after_these_steps(string[] steps, long at, long bytes, long frames, long age, string verdict)
    {
        var meter = new LagMeter();
        foreach (string step in steps)
        {
            string[] words = step.Split(' ');
            switch (words[0])
            {
                case "queue": meter.Queued(int.Parse(words[1])); break;
                case "mark": meter.Mark(long.Parse(words[1]), Limits.Granularity); break;
                case "sent": meter.Sent(int.Parse(words[1]), long.Parse(words[2])); break;
                default: throw new ArgumentException($"no step {step}");
            }
        }

        Assert.That(meter.UnsentBytes, Is.EqualTo(bytes), "unsent bytes");
        Assert.That(meter.UnsentFrames, Is.EqualTo(frames), "unsent frames");
        Assert.That(meter.OldestUnsentAge(at), Is.EqualTo(age), "age of the oldest unsent frame");
        Assert.That(meter.Judge(at, Limits).ToString(), Is.EqualTo(verdict));
    }

    [TestCase(999, 1, false)]
    [TestCase(999, 2, true)]
    [TestCase(0, 1000, false)]
    [TestCase(0, 1001, true)]
    public void A_frame_would_exceed_the_bound_only_past_it(int unsent, int next, bool exceeds)
    {
        var meter = new LagMeter();
        meter.Queued(unsent);
        Assert.That(meter.WouldExceed(next, Limits.MaxBytes), Is.EqualTo(exceeds));
    }

    [Test]
    public void A_long_stall_holds_a_bounded_handful_of_marks_and_keeps_the_oldest_date()
    {
        // A frame and a mark every tick for ten bounds' worth of time, nothing sent: only a
        // granularity's worth of marks apiece (plus one), however many frames wait.
        var meter = new LagMeter();
        for (long now = 0; now < 10 * Limits.MaxAge; now++)
        {
            meter.Queued(1);
            meter.Mark(now, Limits.Granularity);
        }

        // The first frames' mark took in those of the next ticks, within a granularity.
        Assert.That(meter.Marks, Is.LessThanOrEqualTo(4 * LagLimits.MarksPerMaxAge));
        Assert.That(meter.OldestUnsentAge(10 * Limits.MaxAge), Is.EqualTo((10 * Limits.MaxAge) - (Limits.Granularity - 1)));

        // Sent, all of it: the marks go with the frames.
        meter.Sent((int)meter.UnsentFrames, meter.UnsentBytes);
        Assert.That(meter.Marks, Is.Zero);
        Assert.That(meter.UnsentBytes, Is.Zero);
    }

    [Test]
    public void The_default_bounds_are_sixteen_mebibytes_and_thirty_seconds_marked_to_a_sixteenth()
    {
        LagLimits limits = LagLimits.From(16L * 1024 * 1024, TimeSpan.FromSeconds(30), timestampFrequency: 1000);
        Assert.That(limits, Is.EqualTo(new LagLimits(MaxBytes: 16L * 1024 * 1024, MaxAge: 30_000, Granularity: 30_000 / 16)));
    }

    private static IEnumerable<TestCaseData> QueueSteps()
    {
        // The queue around the meter: "live <bytes>" and "replay <bytes>" enqueue a frame and show
        // the result, "take <n> <now>" is the send loop's dequeue, "written <frames> <bytes>" its
        // word that the writes completed, "close" a slow-consumer close that discards what is queued.
        yield return QueueCase("live frames count toward the lag", ["live 400", "live 500"], ["Enqueued", "Enqueued"], bytes: 900);
        yield return QueueCase("a live frame past the bound is refused: Full", ["live 600", "live 401"], ["Enqueued", "Full"], bytes: 600);
        yield return QueueCase("replayed frames do not count, however many", ["replay 900", "replay 900", "live 1000"], ["Enqueued", "Enqueued", "Enqueued"], bytes: 1000);
        yield return QueueCase("a dequeued batch counts until its writes complete", ["live 400", "live 500", "take 2 0"], ["Enqueued", "Enqueued", "2"], bytes: 900);
        yield return QueueCase("then it leaves the lag, and there is room again", ["live 400", "live 500", "take 2 0", "written 2 900", "live 1000"], ["Enqueued", "Enqueued", "2", "", "Enqueued"], bytes: 1000);
        yield return QueueCase("a close that discards takes what is queued out of the lag", ["live 400", "live 500", "take 1 0", "close", "written 1 400"], ["Enqueued", "Enqueued", "1", "", ""], bytes: 0);
        yield return QueueCase("a closed queue takes nothing", ["close", "live 10"], ["", "Closed"], bytes: 0);
    }

    private static TestCaseData QueueCase(string name, string[] steps, string[] results, long bytes) =>
        new TestCaseData(steps, results, bytes).SetName(name);

    [TestCaseSource(nameof(QueueSteps))]
    public void The_queue_after_these_steps(string[] steps, string[] results, long bytes)
    {
        var queue = new OutboundQueue(Limits);
        var taken = new OutboundFrame[16];
        var seen = new List<string>();
        foreach (string step in steps)
        {
            string[] words = step.Split(' ');
            seen.Add(words[0] switch
            {
                "live" => queue.TryEnqueue(new OutboundFrame(new byte[int.Parse(words[1])]), out _).ToString(),
                "replay" => queue.TryEnqueue(new OutboundFrame(new byte[int.Parse(words[1])], Replayed: true), out _).ToString(),
                "take" => queue.Dequeue(taken.AsSpan(0, int.Parse(words[1])), long.Parse(words[2])).ToString(),
                "written" => Do(() => queue.Written(int.Parse(words[1]), long.Parse(words[2]))),
                "close" => Do(() => queue.Complete(null, discardPending: true)),
                _ => throw new ArgumentException($"no step {step}"),
            });
        }

        Assert.That(seen, Is.EqualTo(results));
        Assert.That(queue.UnsentBytes, Is.EqualTo(bytes), "unsent bytes");
    }

    [Test]
    public void The_scan_dates_what_waits_and_judges_it_too_old_past_the_bound()
    {
        var queue = new OutboundQueue(Limits);
        queue.TryEnqueue(new OutboundFrame(new byte[10]), out _);
        Assert.That(queue.CheckLag(now: 5, out long bytes, out long age), Is.EqualTo(LagVerdict.Within));
        Assert.That((bytes, age), Is.EqualTo((10L, 0L)));
        Assert.That(queue.CheckLag(now: 105, out _, out _), Is.EqualTo(LagVerdict.Within));
        Assert.That(queue.CheckLag(now: 106, out _, out age), Is.EqualTo(LagVerdict.TooOld));
        Assert.That(age, Is.EqualTo(101));

        // A closing connection is past judging.
        queue.Complete(null, discardPending: false);
        Assert.That(queue.CheckLag(now: 1000, out _, out _), Is.EqualTo(LagVerdict.Within));
    }

    [Test]
    public void Replayed_frames_neither_count_nor_age()
    {
        var queue = new OutboundQueue(Limits);
        queue.TryEnqueue(new OutboundFrame(new byte[5000], Replayed: true), out _);
        Assert.That(queue.CheckLag(now: 0, out _, out _), Is.EqualTo(LagVerdict.Within));
        Assert.That(queue.CheckLag(now: 10_000, out long bytes, out long age), Is.EqualTo(LagVerdict.Within));
        Assert.That((bytes, age), Is.EqualTo((0L, 0L)));
    }

    private static string Do(Action action)
    {
        action();
        return string.Empty;
    }
}
