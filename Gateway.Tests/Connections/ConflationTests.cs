using System.Text;
using System.Text.Json;
using Gateway.Connections;
using Gateway.Hub;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Gateway.Security;

namespace Gateway.Tests.Connections;

/// <summary>
/// Conflation in a send queue on its own (spec section 12), without a socket: frames go in, the
/// send loop's takes come out, and what a client would be sent is read off them. The policy is
/// <c>Sessions:Conflate</c> = <c>progress</c>, <c>stage.*</c>; any name may be marked conflatable.
/// </summary>
public sealed class ConflationTests
{
    private static readonly ConflationPolicy Policy = new(NamePatterns.Of(["progress", "stage.*"]));

    private static readonly LagLimits Roomy = new(MaxBytes: 1 << 20, MaxAge: 1000, Granularity: 10);

    private static IEnumerable<TestCaseData> Interleavings()
    {
        // Steps: an event is "name", "name:key", with "+c" for "conflate": true or "+a" for an
        // append; "replay <event>" queues it as asked for by a resume; "pong" is a reply, not an
        // event; "take <n>" is the send loop taking up to n places out; "|" marks where a take
        // went. Events get seqs 1, 2, ... in the order they are queued. Out: what the client is
        // sent, in order, as name[:key]#seq, with xN when it replaced N older ones; everything
        // left is taken at the end.
        yield return Case("one event into an empty queue goes out as it is", ["progress"], "progress#1");
        yield return Case("a newer progress behind an older one replaces it", ["progress", "progress"], "progress#2x1");
        yield return Case("three in a row: the newest says it replaced two", ["progress", "progress", "progress"], "progress#3x2");
        yield return Case("the newer sits at its own later place; what was between keeps its order",
            ["progress", "log", "progress"], "log#2 progress#3x1");
        yield return Case("other names are never skipped", ["log", "log", "log"], "log#1 log#2 log#3");
        yield return Case("each key is its own group",
            ["progress:a", "progress:b", "progress:a"], "progress:b#2 progress:a#3x1");
        yield return Case("no key is a group of its own, apart from every key",
            ["progress", "progress:a", "progress"], "progress:a#2 progress#3x1");
        yield return Case("two keys interleaved: each newest counts its own",
            ["progress:a", "progress:b", "progress:a", "progress:b", "progress:a"], "progress:b#4x1 progress:a#5x2");
        yield return Case("a name listed by prefix conflates, per name",
            ["stage.build", "stage.test", "stage.build"], "stage.test#2 stage.build#3x1");
        yield return Case("a name marked by its publisher conflates though not listed",
            ["tick+c", "log", "tick+c"], "log#2 tick#3x1");
        yield return Case("an unmarked event of that name does not replace, nor is replaced",
            ["tick+c", "tick", "tick+c"], "tick#2 tick#3x1");
        yield return Case("appends are never conflated, even under a listed name",
            ["progress:k+a", "progress:k+a", "chunk:k+a", "chunk:k+a"], "progress:k#1 progress:k#2 chunk:k#3 chunk:k#4");
        yield return Case("an append and a plain event of the same key do not replace each other",
            ["progress:k", "progress:k+a", "progress:k"], "progress:k#2 progress:k#3x1");
        yield return Case("counts add up: a newer one replacing one that had replaced two says three",
            ["progress", "progress", "log", "progress", "progress"], "log#3 progress#5x3");
        yield return Case("a frame the send loop took cannot be taken back",
            ["progress", "log", "take 1", "progress"], "progress#1 | log#2 progress#3");
        yield return Case("what the send loop took is not counted by the next",
            ["progress", "progress", "take 2", "progress", "progress"], "progress#2x1 | progress#4x1");
        yield return Case("a replaced place taken alone leaves the newer one waiting, and still replaceable",
            ["progress", "progress", "take 1", "progress", "progress"], " | progress#4x3");
        yield return Case("a take of only the place of a replaced frame sends nothing",
            ["progress", "log", "progress", "take 1"], " | log#2 progress#3x1");
        yield return Case("a queue that emptied starts again from nothing",
            ["progress", "take 8", "progress", "progress"], "progress#1 | progress#3x1");
        yield return Case("replies and control frames are never skipped and keep their places",
            ["pong", "progress", "pong", "progress", "pong"], "pong pong progress#2x1 pong");
        yield return Case("replays are what the client asked for: never replaced",
            ["replay progress", "replay progress", "progress"], "progress#1 progress#2 progress#3");
        yield return Case("a live event behind a replay replaces only the live one before it",
            ["progress", "replay progress", "progress"], "progress#2 progress#3x1");
        yield return Case("a replay does not replace a live one",
            ["progress", "replay progress"], "progress#1 progress#2");
        yield return Case("a conflatable event behind others that are not indexes them once, finding the one to replace",
            ["log", "progress", "log", "log", "progress"], "log#1 log#3 log#4 progress#5x1");
        yield return Case("seqs stay in order on the connection",
            ["progress:a", "log", "progress:b", "progress:a", "log", "progress:b", "progress:a"],
            "log#2 log#5 progress:b#6x1 progress:a#7x2");
        yield return Case("seqs stay in order across takes",
            ["progress:a", "log", "progress:b", "take 2", "progress:a", "log", "progress:b", "progress:a"],
            "progress:a#1 log#2 | log#5 progress:b#6x1 progress:a#7x1");
    }

    private static TestCaseData Case(string name, string[] steps, string expected) =>
        new TestCaseData(steps, expected).SetName(name);

    [TestCaseSource(nameof(Interleavings))]
    public void What_is_sent_after_these_steps(string[] steps, string expected)
    {
        var queue = new OutboundQueue(Roomy, Policy, new CountingForm());
        long seq = 0;
        var takes = new List<string>();
        foreach (string step in steps)
        {
            if (step.StartsWith("take ", StringComparison.Ordinal))
            {
                takes.Add(Take(queue, int.Parse(step[5..], System.Globalization.CultureInfo.InvariantCulture)));
            }
            else if (step == "pong")
            {
                Assert.That(queue.TryEnqueue(new OutboundFrame("pong"u8.ToArray()), out _), Is.EqualTo(EnqueueResult.Enqueued));
            }
            else
            {
                bool replayed = step.StartsWith("replay ", StringComparison.Ordinal);
                SessionEvent e = Short(replayed ? step[7..] : step, ++seq);
                Assert.That(queue.TryEnqueue(new OutboundFrame(e.Frame, e, replayed), out _), Is.EqualTo(EnqueueResult.Enqueued));
            }
        }

        takes.Add(Take(queue, 1000));
        Assert.That(string.Join(" | ", takes).Trim(), Is.EqualTo(expected.Trim()));
        Assert.That(queue.UnsentBytes, Is.Zero, "every frame's bytes left the lag, sent or replaced");
        Assert.That(queue.Count, Is.Zero);
    }

    [Test]
    public void A_replaced_frame_leaves_the_lag_at_once_so_a_progress_stream_never_fills_a_queue_that_other_events_fill()
    {
        int size = Short("progress", 1).Frame.Length;
        var limits = new LagLimits(MaxBytes: 3 * size, MaxAge: 1000, Granularity: 10);

        var conflating = new OutboundQueue(limits, Policy, new CountingForm());
        for (int i = 1; i <= 100; i++)
        {
            SessionEvent e = Short("progress", i);
            Assert.That(conflating.TryEnqueue(new OutboundFrame(e.Frame, e), out _), Is.EqualTo(EnqueueResult.Enqueued), $"progress {i}");
        }

        Assert.That(conflating.UnsentBytes, Is.EqualTo(Short("progress", 100).Frame.Length), "only the newest counts");
        Assert.That(Take(conflating, 1000), Is.EqualTo("progress#100x99"));

        // The same events where nothing conflates: the fourth would pass the bound.
        var plain = new OutboundQueue(limits, ConflationPolicy.MarkedOnly, new CountingForm());
        for (int i = 1; i <= 3; i++)
        {
            SessionEvent e = Short("progress", i);
            Assert.That(plain.TryEnqueue(new OutboundFrame(e.Frame, e), out _), Is.EqualTo(EnqueueResult.Enqueued));
        }

        SessionEvent fourth = Short("progress", 4);
        Assert.That(plain.TryEnqueue(new OutboundFrame(fourth.Frame, fourth), out _), Is.EqualTo(EnqueueResult.Full));
    }

    [Test]
    public void At_the_byte_bound_an_event_that_replaces_one_of_its_size_still_fits()
    {
        SessionEvent log = Short("log", 1);
        SessionEvent progress = Short("progress", 2);
        var queue = new OutboundQueue(new LagLimits(MaxBytes: log.Frame.Length + progress.Frame.Length, MaxAge: 1000, Granularity: 10), Policy, new CountingForm());
        Assert.That(queue.TryEnqueue(new OutboundFrame(log.Frame, log), out _), Is.EqualTo(EnqueueResult.Enqueued));
        Assert.That(queue.TryEnqueue(new OutboundFrame(progress.Frame, progress), out _), Is.EqualTo(EnqueueResult.Enqueued));

        SessionEvent newer = Short("progress", 3);
        Assert.That(queue.TryEnqueue(new OutboundFrame(newer.Frame, newer), out _), Is.EqualTo(EnqueueResult.Enqueued));
        SessionEvent other = Short("log", 4);
        Assert.That(queue.TryEnqueue(new OutboundFrame(other.Frame, other), out _), Is.EqualTo(EnqueueResult.Full));
    }

    [Test]
    public void A_close_that_discards_leaves_nothing_counted_replaced_places_included()
    {
        var queue = new OutboundQueue(Roomy, Policy, new CountingForm());
        var frames = new OutboundFrame[4];
        for (int i = 1; i <= 3; i++)
        {
            SessionEvent e = Short(i == 2 ? "log" : "progress", i);
            queue.TryEnqueue(new OutboundFrame(e.Frame, e), out _);
        }

        // The send loop holds the first place (replaced) while the rest is dropped by a 4001.
        Assert.That(queue.Dequeue(frames.AsSpan(0, 1), now: 0), Is.EqualTo(1));
        Assert.That(frames[0].IsSkipped, Is.True);
        queue.Complete(null, discardPending: true);
        queue.Written(1, 0);
        Assert.That(queue.CheckLag(now: 5000, out long bytes, out long age), Is.EqualTo(LagVerdict.Within));
        Assert.That((bytes, age), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public void The_age_is_that_of_the_oldest_frame_still_to_send()
    {
        // Marks date what waits; a replaced place counts only until the send loop passes it.
        var queue = new OutboundQueue(new LagLimits(MaxBytes: 1 << 20, MaxAge: 100, Granularity: 1), Policy, new CountingForm());
        var frames = new OutboundFrame[8];
        SessionEvent first = Short("progress", 1);
        queue.TryEnqueue(new OutboundFrame(first.Frame, first), out _);
        queue.CheckLag(now: 0, out _, out _);
        SessionEvent second = Short("progress", 2);
        queue.TryEnqueue(new OutboundFrame(second.Frame, second), out _);
        Assert.That(queue.CheckLag(now: 50, out _, out long age), Is.EqualTo(LagVerdict.Within));
        Assert.That(age, Is.EqualTo(50), "the place of the first still waits to be passed");

        // The send loop passes it and writes the second: nothing waits.
        Assert.That(queue.Dequeue(frames, now: 60), Is.EqualTo(2));
        queue.Written(2, second.Frame.Length);
        Assert.That(queue.CheckLag(now: 500, out long bytes, out age), Is.EqualTo(LagVerdict.Within));
        Assert.That((bytes, age), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public void The_send_loop_writes_a_replacing_event_with_its_count_and_every_other_frame_as_shared()
    {
        var queue = new OutboundQueue(Roomy, Policy, new WebSocketForm());
        SessionEvent older = Event("progress:a", 1);
        SessionEvent log = Event("log", 2);
        SessionEvent newer = Event("progress:a", 3);
        foreach (SessionEvent e in new[] { older, log, newer })
        {
            queue.TryEnqueue(new OutboundFrame(e.Frame, e), out _);
        }

        var frames = new OutboundFrame[8];
        Assert.That(queue.Dequeue(frames, now: 0), Is.EqualTo(3));
        Assert.That(queue.BytesToSend(frames[0]), Is.Empty);
        Assert.That(queue.BytesToSend(frames[1]), Is.SameAs(log.Frame), "not conflated: the shared frame, no copy");
        byte[] own = queue.BytesToSend(frames[2]);
        Assert.That(own, Is.Not.SameAs(newer.Frame));
        Assert.That(Encoding.UTF8.GetString(WebSocketFrameWriter.GetPayload(own).Span), Is.EqualTo(
            """{"type":"event","session":"s","event":"progress","seq":3,"ts":"2026-01-02T03:04:05.000Z","data":{"n":3},"key":"a","conflated":1}"""));
    }

    [Test]
    public void The_sse_form_of_a_replacing_event_is_the_shared_one_with_its_count()
    {
        SessionEvent e = Event("progress:a", 7);
        foreach (bool named in new[] { false, true })
        {
            string shared = Encoding.UTF8.GetString(e.ServerSentEvent("ep", named));
            string own = Encoding.UTF8.GetString(ConflatedFrames.ServerSentEvent(e, "ep", named, 4));
            Assert.That(own, Is.EqualTo(shared.Replace("\"key\":\"a\"}", "\"key\":\"a\",\"conflated\":4}", StringComparison.Ordinal)));
            Assert.That(own, Does.StartWith(named ? "id: ep:7\nevent: progress\ndata: {" : "id: ep:7\ndata: {").And.EndWith("}\n\n"));
        }
    }

    [TestCase("progress", false, false, true)]
    [TestCase("progress", false, true, false)]
    [TestCase("progressive", false, false, false)]
    [TestCase("stage.build", false, false, true)]
    [TestCase("stage", false, false, false)]
    [TestCase("log", true, false, true)]
    [TestCase("log", false, false, false)]
    [TestCase("chunk", false, true, false)]
    public void The_policy(string name, bool marked, bool append, bool conflatable)
    {
        SessionEvent e = Event(name + (append ? ":k+a" : "") + (marked ? "+c" : ""), 1);
        Assert.That(Policy.IsConflatable(e), Is.EqualTo(conflatable));
    }

    [TestCase("progress", true)]
    [TestCase("progress.*", true)]
    [TestCase("*", true)]
    [TestCase("", false)]
    [TestCase("pro*gress", false)]
    [TestCase("**", false)]
    [TestCase("a b", false)]
    public void A_pattern_is_valid(string pattern, bool valid) =>
        Assert.That(Gateway.Security.ClientPublishEvents.IsValid(pattern), Is.EqualTo(valid));

    /// <summary>Takes up to <paramref name="max"/> places, says each was written, and names what a client would be sent.</summary>
    private static string Take(OutboundQueue queue, int max)
    {
        var frames = new OutboundFrame[max];
        int count = queue.Dequeue(frames, now: 0);
        var sent = new List<string>();
        int live = 0;
        long liveBytes = 0;
        for (int i = 0; i < count; i++)
        {
            OutboundFrame frame = frames[i];
            if (!frame.Replayed)
            {
                live++;
                liveBytes += frame.Bytes.Length;
            }

            byte[] bytes = queue.BytesToSend(frame);
            if (bytes.Length > 0)
            {
                sent.Add(Encoding.UTF8.GetString(bytes));
            }
        }

        queue.Written(live, liveBytes);
        return string.Join(' ', sent);
    }

    /// <summary>An event from a step, <c>name[:key][+a][+c]</c>, with its real frame.</summary>
    private static SessionEvent Event(string step, long seq) => Build(step, seq, shortFrame: false);

    /// <summary>An event from a step whose frame is its short name (<c>name[:key]#seq</c>): what the tables read.</summary>
    private static SessionEvent Short(string step, long seq) => Build(step, seq, shortFrame: true);

    private static SessionEvent Build(string step, long seq, bool shortFrame)
    {
        bool append = step.Contains("+a", StringComparison.Ordinal);
        bool conflate = step.Contains("+c", StringComparison.Ordinal);
        string head = step.Split('+')[0];
        string name = head.Split(':')[0];
        string? key = head.Contains(':', StringComparison.Ordinal) ? head.Split(':')[1] : null;
        byte[] data = append ? JsonSerializer.SerializeToUtf8Bytes("x") : Encoding.UTF8.GetBytes($"{{\"n\":{seq}}}");
        var at = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        byte[] frame = shortFrame
            ? Encoding.UTF8.GetBytes($"{head}#{seq}")
            : ServerFrames.CreateTextFrame(new EventMessage("s", name, seq, at, data, null, key, append));
        return new SessionEvent("s", name, seq, at, data, frame, id: null, final: false, traits: new EventTraits(key, append, conflate));
    }

    /// <summary>Writes a replacing event as its short name with its count: what the tables read.</summary>
    private sealed class CountingForm : IConflatedForm
    {
        public byte[] ConflatedForm(SessionEvent e, int conflated) =>
            Encoding.UTF8.GetBytes($"{Encoding.UTF8.GetString(e.Frame)}x{conflated}");
    }

    /// <summary>The WebSocket connection's own form.</summary>
    private sealed class WebSocketForm : IConflatedForm
    {
        public byte[] ConflatedForm(SessionEvent e, int conflated) => ConflatedFrames.WebSocket(e, conflated);
    }
}
