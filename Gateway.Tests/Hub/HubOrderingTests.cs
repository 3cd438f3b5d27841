using Gateway.Hub;
using Gateway.Log;
using Gateway.Sessions;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Protocol;

namespace Gateway.Tests.Hub;

/// <summary>
/// The hub's ordering, table-tested: scripts of appends, feed deliveries (late, twice, lost, out of
/// order), joins, resumes, leaves, held reads, resyncs, deletes and final events in; every
/// member's stream out, checked gapless, in order and ending at the session's end, plus what each
/// row is about.
/// </summary>
[TestFixture]
public sealed class HubOrderingTests
{
    private const int Capacity = 8;

    [TestCaseSource(nameof(Scripts))]
    [CancelAfter(20_000)]
    public async Task Every_member_gets_each_event_once_in_order(int historyCapacity, int readLimit, Step[] steps)
    {
        using var script = new HubScript(historyCapacity, readLimit);
        foreach (Step step in steps)
        {
            await step.Run(script);
        }

        await script.SettleAsync();
        List<string> faults = script.Faults(drained: true);
        Assert.That(faults, Is.Empty, $"after {string.Join("; ", steps.Select(s => s.ToString()))}\n{script.Describe()}");
    }

    private static TestCaseData Row(string name, params Step[] steps) => Row(name, Capacity, steps);

    private static TestCaseData Row(string name, int historyCapacity, params Step[] steps) => Row(name, historyCapacity, historyCapacity, steps);

    /// <summary>A script over a history of <paramref name="historyCapacity"/> events, read at most <paramref name="readLimit"/> at once.</summary>
    private static TestCaseData Row(string name, int historyCapacity, int readLimit, params Step[] steps) =>
        new TestCaseData(historyCapacity, readLimit, steps).SetArgDisplayNames(name);

    private static IEnumerable<TestCaseData> Scripts()
    {
        yield return Row("in-order feed", Join("A"), Append(3), DeliverAll(), Sees("A", 3), Delivered("A", 1, 2, 3));
        yield return Row("every batch twice", Join("A"), Append(2), Duplicate(), Deliver(), Append(1), Duplicate(), Duplicate(), Deliver(), Sees("A", 3), Delivered("A", 1, 2, 3));
        yield return Row("a batch delivered again after later ones", Join("A"), Append(1), Duplicate(), Append(1), Deliver(1), Deliver(0), Sees("A", 2), Delivered("A", 1, 2));
        yield return Row("a dropped batch is read by the catch-up", Join("A"), Append(1), Deliver(), Append(2), Drop(), Append(1), Deliver(), Sees("A", 4), Delivered("A", 1, 2, 3, 4));
        yield return Row("batches delivered in reverse", Join("A"), Append(1), Append(1), Append(1), Deliver(2), Deliver(1), Deliver(0), Sees("A", 3), Delivered("A", 1, 2, 3));
        yield return Row(
            "a catch-up's read held while the feed repairs the gap",
            Join("A"), Append(1), Deliver(), Append(1), Append(1), Hold(1), Deliver(1), AwaitHeld(), Deliver(0), Release(), Sees("A", 3), Delivered("A", 1, 2, 3));
        yield return Row(
            "a catch-up cut short by the read limit reads on",
            Capacity, 2, Join("A"), Append(1), Deliver(), Append(4), Drop(), Append(1), Deliver(), Sees("A", 6), Delivered("A", 1, 2, 3, 4, 5, 6));
        yield return Row(
            "join while batches are queued, before and after its read",
            Append(2), Join("A"), Append(1), DeliverAll(), JoinedAt("A", 2, "life1"), Sees("A", 3), Delivered("A", 3));
        yield return Row(
            "the first join's read held while events are fed, answered as it was asked",
            Hold(1), StartJoin("A"), AwaitHeld(), Append(2), DeliverAll(), Release(), Joined("A"), JoinedAt("A", 0, "life1"), Sees("A", 2), Delivered("A", 1, 2));
        yield return Row(
            "the first join's read held while events are fed, answered at its release",
            Hold(1, answerAtRelease: true), StartJoin("A"), AwaitHeld(), Append(2), DeliverAll(), Release(), Joined("A"), JoinedAt("A", 2, "life1"), Append(1), DeliverAll(), Sees("A", 3), Delivered("A", 3));
        yield return Row(
            "a second join's read held while the first member gets events",
            Join("A"), Append(2), DeliverAll(), Hold(1), StartJoin("B", 1), AwaitHeld(), Append(2), DeliverAll(), Release(), Joined("B"),
            JoinedAt("B", 4, "life1"), Replayed("B", complete: true, 2, 3, 4), Append(1), DeliverAll(), Sees("A", 5), Sees("B", 5), Delivered("B", 5));
        yield return Row(
            "a join's read held while a gap opens and is repaired",
            Join("A"), Append(1), Deliver(), Hold(1), StartJoin("B", 0), AwaitHeld(), Append(1), Drop(), Append(1), Deliver(), Release(), Joined("B"), Sees("A", 3), Sees("B", 3));
        yield return Row(
            "two members joining at different points",
            Join("A"), Append(3), DeliverAll(), Join("B"), Append(2), DeliverAll(), JoinedAt("B", 3, "life1"), Sees("A", 5), Sees("B", 5), Delivered("A", 1, 2, 3, 4, 5), Delivered("B", 4, 5));
        yield return Row(
            "a join that resumes replays exactly up to the live events",
            Append(4), DeliverAll(), Join("A", 1), Replayed("A", complete: true, 2, 3, 4), Append(1), DeliverAll(), Sees("A", 5), Delivered("A", 5));
        yield return Row(
            "resume from the middle",
            Join("A"), Append(5), DeliverAll(), Resume("A", 2), Replayed("A", complete: true, 3, 4, 5), Append(1), DeliverAll(), Sees("A", 6));
        yield return Row(
            "resume whose read is held while events are fed",
            Join("A"), Append(5), DeliverAll(), Hold(1), StartResume("A", 2), AwaitHeld(), Append(2), DeliverAll(), Release(), Resumed("A"),
            Replayed("A", complete: true, 3, 4, 5, 6, 7), Append(1), DeliverAll(), Sees("A", 8));
        yield return Row(
            "resume whose read is held while a feed event of another life resets the stream: the member let go gets no replay of the next life",
            Join("A"), Append(2), DeliverAll(), Lose(), Append(3), Hold(1), StartResume("A", 2, "life1"), AwaitHeld(), Deliver(),
            ClosedWith("A", 1001, "session reset; reconnect"), Release(), Resumed("A"), NotReplayed("A"));
        yield return Row(
            "resume from a point history no longer holds",
            3, Join("A"), Append(6), DeliverAll(), Resume("A", 1), Replayed("A", complete: false, 4, 5, 6), Sees("A", 6));
        yield return Row(
            "join resuming from another epoch",
            Append(3), DeliverAll(), Join("A", 2, "gone"), JoinedAt("A", 3, "life1"), Replayed("A", complete: false, 1, 2, 3), Append(1), DeliverAll(), Sees("A", 4));
        yield return Row(
            "resume from another epoch",
            Join("A"), Append(3), DeliverAll(), Resume("A", 2, "gone"), Replayed("A", complete: false, 1, 2, 3), Sees("A", 3));
        yield return Row(
            "join resuming ahead of the session",
            Append(3), DeliverAll(), Join("A", 7, "life1"), JoinedAt("A", 3, "life1"), Replayed("A", complete: false), Append(1), DeliverAll(), Sees("A", 4));
        yield return Row(
            "join resuming ahead of this node, which the read brings forward",
            Join("A"), Append(1), Deliver(), Append(2), Drop(), Join("B", 3), Sees("A", 3), JoinedAt("B", 3, "life1"), Replayed("B", complete: true), Append(1), DeliverAll(), Sees("B", 4), Delivered("B", 4));
        yield return Row(
            "join resuming ahead of this node, whose read is held while the feed parks later events behind the gap: the replay ends where the read does",
            Join("A"), Append(1), Deliver(), Append(2), Drop(), Hold(2), StartJoin("B", 3, "life1"), AwaitHeld(), Append(2), Deliver(), Release(), Joined("B"),
            JoinedAt("B", 3, "life1"), Replayed("B", complete: true), Sees("A", 5), Sees("B", 5), Delivered("A", 1, 2, 3, 4, 5), Delivered("B", 4, 5));
        yield return Row(
            "resume ahead of this node, whose read is held while the feed parks later events behind the gap: the replay ends where the read does",
            Join("A"), Append(1), Deliver(), Append(2), Drop(), Hold(2), StartResume("A", 3, "life1"), AwaitHeld(), Append(2), Deliver(), Release(), Resumed("A"),
            Replayed("A", complete: true), Sees("A", 5), Delivered("A", 1, 2, 3, 4, 5));
        yield return Row(
            "join resuming ahead of this node, whose read from the node's stream is held while the feed catches up, in a history that lost only events before the joiner's point: the replay is complete",
            3, Join("A"), Append(1), Deliver(), Append(4), Hold(1), StartJoin("B", 2, "life1"), AwaitHeld(), DeliverAll(), Release(), Joined("B"),
            JoinedAt("B", 5, "life1"), Replayed("B", complete: true, 3, 4, 5), Append(1), DeliverAll(), Sees("A", 6), Sees("B", 6), Delivered("B", 6));
        yield return Row(
            "resume ahead of this node, whose read from the node's stream is held while the feed catches up, in a history that lost only events before the point: the replay is complete",
            3, Join("A"), Append(1), Deliver(), Append(4), Hold(1), StartResume("A", 2, "life1"), AwaitHeld(), DeliverAll(), Release(), Resumed("A"),
            Replayed("A", complete: true, 3, 4, 5), Append(1), DeliverAll(), Sees("A", 6), Delivered("A", 1, 2, 3, 4, 5, 6));
        yield return Row(
            "join resuming ahead of this node, whose history lost what follows its stream: a catch-up first, no reading in circles",
            3, Join("A"), Append(1), Deliver(), Append(5), Drop(), Join("B", 6), ClosedWith("A", 1001, "events were missed; reconnect with since"),
            JoinedAt("B", 6, "life1"), Replayed("B", complete: true), Append(1), DeliverAll(), Sees("B", 7), Delivered("B", 7));
        yield return Row(
            "a member leaves in the middle",
            Join("A"), Join("B"), Append(2), DeliverAll(), Leave("A"), Append(2), DeliverAll(), Sees("B", 4), Delivered("A", 1, 2), Delivered("B", 1, 2, 3, 4));
        yield return Row(
            "history overflows during a gap",
            3, Join("A"), Join("B"), Append(1), Deliver(), Append(5), Drop(), Append(1), Deliver(),
            ClosedWith("A", 1001, "events were missed; reconnect with since"), ClosedWith("B", 1001, "events were missed; reconnect with since"),
            Join("C"), JoinedAt("C", 7, "life1"), Append(1), DeliverAll(), Sees("C", 8), Delivered("C", 8));
        yield return Row(
            "delete, then a new life",
            Join("A"), Append(2), DeliverAll(), Delete(), DeliverAll(), ClosedWith("A", 1001, "session closed"), Append(1), Join("B"), JoinedAt("B", 1, "life2"),
            Append(1), DeliverAll(), Sees("B", 2), Delivered("B", 2), Join("C", 2, "life1"), Replayed("C", complete: false, 1, 2));
        yield return Row(
            "a delete the feed never told, then a new life",
            Join("A"), Append(2), DeliverAll(), Delete(), Drop(), Append(1), Deliver(), ClosedWith("A", 1001, "session reset; reconnect"),
            Join("B"), JoinedAt("B", 1, "life2"), Append(1), DeliverAll(), Sees("B", 2));
        yield return Row(
            "a join of the next life while the old life's events and its delete are still on the feed",
            Join("A"), Append(2), DeliverAll(), Append(1), Delete(), Append(1), Join("B"), ClosedWith("A", 1001, "session reset; reconnect"),
            JoinedAt("B", 1, "life2"), DeliverAll(), Append(1), DeliverAll(), Sees("B", 2), Delivered("B", 2));
        yield return Row(
            "a feed event of another life resets the stream",
            Join("A"), Append(2), DeliverAll(), Lose(), Append(3), Deliver(), ClosedWith("A", 1001, "session reset; reconnect"),
            Join("B", 1, "life1"), JoinedAt("B", 3, "life2"), Replayed("B", complete: false, 1, 2, 3), Append(1), DeliverAll(), Sees("B", 4));
        yield return Row(
            "resync after a reconnection that lost batches",
            Join("A"), Join("B"), Append(1), Deliver(), Append(2), Drop(), Append(1), Drop(), Resync(), Sees("A", 4), Sees("B", 4), Delivered("A", 1, 2, 3, 4));
        yield return Row(
            "resync while a catch-up's read of before the reconnection is in flight",
            Join("A"), Append(1), Deliver(), Append(1), Drop(), Append(1), Hold(1), Deliver(), AwaitHeld(), Append(1), Drop(), Resync(), Release(), Sees("A", 4));
        yield return Row(
            "a final event closes every member with 1000",
            Join("A"), Join("B"), Append(2), Final(), DeliverAll(), ClosedWith("A", 1000, "session complete"), ClosedWith("B", 1000, "session complete"),
            Join("C", 1), JoinedComplete("C", 3), Replayed("C", complete: true, 2, 3), NoMembers());
        yield return Row(
            "a final event read by the catch-up",
            Join("A"), Append(1), Deliver(), Append(1), Final(), Drop(), Deliver(), ClosedWith("A", 1000, "session complete"), Delivered("A", 1, 2, 3), NoMembers());
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task A_long_poll_returns_when_the_feed_brings_an_event()
    {
        using var script = new HubScript(Capacity);
        await script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(2), TestClient.Deadline);
        script.Log.DeliverAll();

        ValueTask<EventPage?> poll = script.Hub.PollAsync(HubScript.Session, new ResumePoint(2, "life1"), 10, TimeSpan.FromMinutes(1), TestClient.Deadline);
        Assert.That(poll.IsCompleted, Is.False, "nothing after seq 2 yet");

        await script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(2), TestClient.Deadline);
        Assert.That(poll.IsCompleted, Is.False, "the feed has not told the hub yet");
        script.Log.Deliver();

        EventPage? page = await poll;
        Assert.That(page, Is.Not.Null);
        Assert.That(page!.Events.Select(e => e.Seq), Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(page.Seq, Is.EqualTo(4));
        Assert.That(page.Complete, Is.True);
        Assert.That(page.Epoch, Is.EqualTo("life1"));
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task A_long_poll_is_released_by_a_resync_when_the_feed_lost_the_event()
    {
        using var script = new HubScript(Capacity);
        await script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(1), TestClient.Deadline);
        script.Log.DeliverAll();

        ValueTask<EventPage?> poll = script.Hub.PollAsync(HubScript.Session, new ResumePoint(1, "life1"), 10, TimeSpan.FromMinutes(1), TestClient.Deadline);
        await script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(1), TestClient.Deadline);
        script.Log.Drop();
        Assert.That(poll.IsCompleted, Is.False);
        script.Log.Resync();

        EventPage? page = await poll;
        Assert.That(page!.Events.Select(e => e.Seq), Is.EqualTo(new long[] { 2 }));
    }

    [Test]
    [CancelAfter(10_000)]
    public async Task A_long_poll_with_nothing_new_answers_empty_at_its_deadline()
    {
        using var script = new HubScript(Capacity);
        await script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(1), TestClient.Deadline);
        script.Log.DeliverAll();

        ValueTask<EventPage?> poll = script.Hub.PollAsync(HubScript.Session, new ResumePoint(1, "life1"), 10, TimeSpan.FromSeconds(30), TestClient.Deadline);
        await script.Time.WhenOneShotTimerScheduledAsync().WaitAsync(TestClient.Deadline);
        script.Time.Advance(TimeSpan.FromSeconds(30));

        EventPage? page = await poll;
        Assert.That(page!.Events, Is.Empty);
        Assert.That(page.Seq, Is.EqualTo(1));
        Assert.That(page.Complete, Is.True);
    }

    /// <summary>
    /// Random interleavings of every step, from fixed seeds; at the end the feed is drained and
    /// resynced until quiet, and every member's stream must hold. The order in which the hub's
    /// background catch-ups meet the script may differ between runs; the script itself is the seed's.
    /// </summary>
    [Test]
    [CancelAfter(120_000)]
    public async Task Random_interleavings_keep_every_stream_gapless_and_in_order()
    {
        // More seeds, or others, for a search by hand: dotnet test ... -- TestRunParameters.Parameter(name="firstSeed", value="1") (and "seeds").
        int first = TestContext.Parameters.Get("firstSeed", 1);
        int seeds = TestContext.Parameters.Get("seeds", 200);
        var table = new OutcomeTable("step", "steps");
        for (int seed = first; seed < first + seeds; seed++)
        {
            await RunRandomAsync(seed, table);
        }

        table.WriteTo(TestContext.Out);
    }

    private static async Task RunRandomAsync(int seed, OutcomeTable table)
    {
        var random = new Random(seed);

        // A seed that does not settle fails on its own, not by taking the whole run's time.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestClient.Deadline);
        deadline.CancelAfter(TimeSpan.FromSeconds(20));
        using var script = new HubScript(random.Next(3, 10), deadline: deadline.Token);
        var trace = new List<string>();
        int members = 0;
        for (int i = 0; i < 80; i++)
        {
            ScriptedLog.Life? life = script.Log.Current(HubScript.Session);
            long latest = life?.Seq ?? 0;
            RecordingMember[] open = [.. script.Members.Where(m => m.Membership is not null && m.Closed is null && !m.HasLeft && !script.IsBusy(m.Name))];
            int queued = script.Log.Queued;
            int roll = random.Next(100);
            string step;
            if (roll < 20)
            {
                int count = random.Next(1, 4);
                bool final = random.Next(60) == 0;
                await script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(count, final), script.Deadline);
                step = final ? "append with a final" : "append";
            }
            else if (roll < 38 && queued > 0)
            {
                script.Log.Deliver();
                step = "deliver the oldest";
            }
            else if (roll < 44 && queued > 0)
            {
                script.Log.Deliver(random.Next(queued));
                step = "deliver out of order";
            }
            else if (roll < 48 && queued > 0)
            {
                script.Log.Deliver(random.Next(queued), keep: true);
                step = "deliver twice";
            }
            else if (roll < 52 && queued > 0)
            {
                script.Log.Drop(random.Next(queued));
                step = "drop";
            }
            else if (roll < 60 && members < 8)
            {
                string name = $"m{members++}";
                int kind = random.Next(10);
                ResumePoint? from = kind < 5 ? null
                    : kind < 8 ? new ResumePoint(random.Next(0, (int)latest + 3), life?.Epoch)
                    : new ResumePoint(random.Next(0, (int)latest + 3), random.Next(2) == 0 ? "life1" : "gone");
                _ = script.JoinAsync(name, from);
                step = from is null ? "join" : "join resuming";
                trace.Add($"{step} {name} {from}");
                table.Add(step, "steps");
                continue;
            }
            else if (roll < 66 && open.Length > 0)
            {
                RecordingMember member = open[random.Next(open.Length)];
                long seen = Math.Max(0, member.Seq);
                var from = new ResumePoint(random.Next(0, (int)seen + 1), random.Next(8) == 0 ? "gone" : member.Joined!.Epoch);
                _ = script.ResumeAsync(member.Name, from);
                trace.Add($"resume {member.Name} {from}");
                table.Add("resume", "steps");
                continue;
            }
            else if (roll < 70 && open.Length > 0)
            {
                RecordingMember member = open[random.Next(open.Length)];
                member.Leave();
                trace.Add($"leave {member.Name}");
                table.Add("leave", "steps");
                continue;
            }
            else if (roll < 77)
            {
                script.Log.HoldReads(random.Next(1, 3), answerAtRelease: random.Next(2) == 0);
                step = "hold reads";
            }
            else if (roll < 86 && script.Log.Held > 0)
            {
                script.Log.Release(random.Next(script.Log.Held));
                step = "release a read";
            }
            else if (roll < 90)
            {
                script.Log.Resync();
                step = "resync";
            }
            else if (roll < 92)
            {
                await script.Hub.DeleteSessionAsync(HubScript.Session, script.Deadline);
                script.MayBeDropped = true;
                step = "delete";
            }
            else if (roll < 93)
            {
                script.Log.Lose(HubScript.Session);
                script.MayBeDropped = true;
                step = "lose the session";
            }
            else
            {
                continue;
            }

            trace.Add(step);
            table.Add(step, "steps");
        }

        try
        {
            await script.SettleAsync();
        }
        catch (AssertionException e)
        {
            Assert.Fail($"seed {seed}: {e.Message}\nsteps: {string.Join("; ", trace)}");
        }

        List<string> faults = script.Faults(drained: true);
        Assert.That(faults, Is.Empty, $"seed {seed}\nsteps: {string.Join("; ", trace)}\n{script.Describe()}");
    }

    private static Step Do(string text, Action<HubScript> run) => new(text, script =>
    {
        run(script);
        return Task.CompletedTask;
    });

    private static Step Append(int count) => new($"append {count}", script => script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(count), TestClient.Deadline).AsTask());

    private static Step Final() => new("append a final event", script => script.Hub.PublishAsync(HubScript.Session, ScriptedLog.Events(1, final: true), TestClient.Deadline).AsTask());

    private static Step Deliver(int index = 0) => Do($"deliver item {index}", script => script.Log.Deliver(index));

    private static Step Duplicate(int index = 0) => Do($"deliver item {index} and keep it", script => script.Log.Deliver(index, keep: true));

    private static Step Drop(int index = 0) => Do($"drop item {index}", script => script.Log.Drop(index));

    private static Step DeliverAll() => Do("deliver all", script => script.Log.DeliverAll());

    private static Step Resync() => Do("resync", script => script.Log.Resync());

    private static Step Lose() => Do("lose the session", script =>
    {
        script.Log.Lose(HubScript.Session);
        script.MayBeDropped = true;
    });

    private static Step Delete() => new("delete", async script =>
    {
        script.MayBeDropped = true;
        Assert.That(await script.Hub.DeleteSessionAsync(HubScript.Session, TestClient.Deadline), Is.True);
    });

    private static Step Hold(int count, bool answerAtRelease = false) =>
        Do($"hold {count} reads{(answerAtRelease ? ", answered at release" : "")}", script => script.Log.HoldReads(count, answerAtRelease));

    private static Step AwaitHeld() => new("await a held read", script => script.UntilAsync(() => script.Log.Held > 0, "a held read"));

    private static Step Release(int index = 0) => new($"release read {index}", async script =>
    {
        await script.UntilAsync(() => script.Log.Held > index, $"held read {index}");
        script.Log.Release(index);
    });

    private static Step StartJoin(string name, long? seq = null, string? epoch = null) =>
        Do($"start {name}'s join{(seq is { } s ? $" after {s} {epoch}" : "")}", script => script.JoinAsync(name, seq is { } s ? new ResumePoint(s, epoch) : null));

    private static Step Join(string name, long? seq = null, string? epoch = null) =>
        new($"join {name}{(seq is { } s ? $" after {s} {epoch}" : "")}", script => script.JoinAsync(name, seq is { } s ? new ResumePoint(s, epoch) : null));

    private static Step Joined(string name) => new($"{name}'s join returns", script => script.UntilAsync(() => script.Member(name).Membership is not null, $"{name}'s join"));

    private static Step StartResume(string name, long seq, string? epoch = null) =>
        Do($"start {name}'s resume after {seq}", script => script.ResumeAsync(name, new ResumePoint(seq, epoch)));

    private static Step Resume(string name, long seq, string? epoch = null) =>
        new($"resume {name} after {seq} {epoch}", script => script.ResumeAsync(name, new ResumePoint(seq, epoch)));

    private static Step Resumed(string name) => new($"{name}'s resume returns", script => script.UntilAsync(() => !script.IsBusy(name), $"{name}'s resume"));

    private static Step Leave(string name) => Do($"{name} leaves", script => script.Member(name).Leave());

    private static Step Sees(string name, long seq) => new($"{name} reaches {seq}", async script =>
    {
        RecordingMember member = script.Member(name);
        await script.UntilAsync(() => member.Seq >= seq || member.Closed is not null, $"{name} to reach {seq}");
        Assert.That(member.Seq, Is.EqualTo(seq), script.Describe());
        Assert.That(member.Closed, Is.Null, script.Describe());
    });

    private static Step Delivered(string name, params long[] seqs) =>
        Do($"{name} was delivered {string.Join(",", seqs)}", script => Assert.That(script.Member(name).Delivered, Is.EqualTo(seqs), script.Describe()));

    private static Step ClosedWith(string name, ushort code, string reason) => new($"{name} closed {code}", async script =>
    {
        RecordingMember member = script.Member(name);
        await script.UntilAsync(() => member.Closed is not null, $"{name}'s close");
        Assert.That(member.Closed, Is.EqualTo(((ushort, string)?)(code, reason)), script.Describe());
    });

    private static Step JoinedAt(string name, long seq, string epoch) => Do($"{name} joined at {seq} of {epoch}", script =>
    {
        JoinState? state = script.Member(name).Joined;
        Assert.That(state, Is.Not.Null, script.Describe());
        Assert.That((state!.Seq, state.Epoch, state.SessionComplete), Is.EqualTo((seq, epoch, false)), script.Describe());
    });

    private static Step JoinedComplete(string name, long seq) => Do($"{name} found the session complete at {seq}", script =>
    {
        JoinState? state = script.Member(name).Joined;
        Assert.That((state?.Seq, state?.SessionComplete), Is.EqualTo(((long?)seq, (bool?)true)), script.Describe());
    });

    private static Step Replayed(string name, bool complete, params long[] seqs) => Do($"{name}'s replay {string.Join(",", seqs)}", script =>
    {
        Replay? replay = script.Member(name).LastReplay;
        Assert.That(replay, Is.Not.Null, script.Describe());
        Assert.That(replay!.Events.Select(e => e.Seq), Is.EqualTo(seqs), script.Describe());
        Assert.That(replay.Complete, Is.EqualTo(complete), script.Describe());
    });

    private static Step NotReplayed(string name) =>
        Do($"{name} got no replay", script => Assert.That(script.Member(name).LastReplay, Is.Null, script.Describe()));

    private static Step NoMembers() => Do("no members are left", script =>
    {
        var counts = new List<(string Session, int Members)>();
        ((ILogFeed)script.Hub).CountMembers(counts, includeEmpty: false);
        Assert.That(counts, Is.Empty, script.Describe());
    });
}
