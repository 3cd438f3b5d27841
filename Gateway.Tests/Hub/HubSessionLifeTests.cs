using Gateway.Configuration;
using Gateway.Hub;
using Gateway.Log;
using Gateway.Sessions;

namespace Gateway.Tests.Hub;

/// <summary>
/// <see cref="HubSession"/> alone, with no log and no threads: which feed events reach members when
/// they are of a life other than the one this node's stream follows. The feed's news and a join
/// setting the stream's life can meet on two threads; the session decides under its own lock, so
/// these calls, in this order, are every way the two can meet.
/// </summary>
[TestFixture]
public sealed class HubSessionLifeTests
{
    private const string Session = "s";
    private static readonly byte[] Data = "{}"u8.ToArray();

    private static SessionEvent Event(long seq) => new(Session, "step", seq, DateTimeOffset.UnixEpoch, Data, [], null, final: false);

    private static SessionEvent[] Events(params long[] seqs) => [.. seqs.Select(Event)];

    private static LogRead Read(string epoch, long seq, params long[] events) =>
        new(LogReadFound.Found, seq, Complete: false, Held: true, More: false, epoch, Events(events));

    /// <summary>One feed call: its life and seqs, what members get, and whether a catch-up must start.</summary>
    public sealed record Arrival(string Epoch, long[] Seqs, long[] Delivered, bool CatchUp)
    {
        public override string ToString() => $"{Epoch} ({string.Join(",", Seqs)}) → ({string.Join(",", Delivered)}){(CatchUp ? " and a catch-up" : "")}";
    }

    private static Arrival Feed(string epoch, long[] seqs, long[] delivered, bool catchUp) => new(epoch, seqs, delivered, catchUp);

    private static IEnumerable<TestCaseData> Arrivals()
    {
        TestCaseData Row(string name, params Arrival[] arrivals) => new TestCaseData((object)arrivals).SetArgDisplayNames(name);

        yield return Row("the stream's own life, in order", Feed("life2", [3, 4], [3, 4], false));
        yield return Row("a late event of the life before, at the next seq", Feed("life1", [3], [], true));
        yield return Row("late events of the life before, then the stream's own", Feed("life1", [3, 4, 5], [], true), Feed("life2", [3], [3], false));
        yield return Row("a later life", Feed("life3", [1], [], true), Feed("life2", [3], [3], false));
        yield return Row(
            "another life while the catch-up it started runs: no second catch-up",
            Feed("life1", [3], [], true), Feed("life1", [4], [], false), Feed("life3", [1], [], false));
        yield return Row("a gap in the stream's life, then another life", Feed("life2", [4], [], true), Feed("life1", [3], [], false), Feed("life2", [3], [3, 4], false));
    }

    [TestCaseSource(nameof(Arrivals))]
    public void Feed_events_of_another_life_never_reach_the_members_of_this_one(Arrival[] arrivals)
    {
        using var script = new HubScript(historyCapacity: 8);
        var hub = new HubSession(Session, SessionProfiles.Of(new HistoryOptions(), new SessionsOptions()).For(Session));
        var member = new RecordingMember("A", script.Changes);

        // A joins life2 at seq 2: the stream follows life2 from there.
        hub.BeginJoin();
        (bool Added, bool CatchUp)? joined = hub.TryJoin(member, null, -1, Read("life2", 2, 1, 2), new HubOutbox(script.Hub, Session), out _);
        Assert.That(joined, Is.EqualTo((true, false)));

        foreach (Arrival arrival in arrivals)
        {
            long[] before = member.Delivered;
            bool catchUp = hub.Receive(Events(arrival.Seqs), arrival.Epoch, new HubOutbox(script.Hub, Session));
            Assert.That(member.Delivered[before.Length..], Is.EqualTo(arrival.Delivered), arrival.ToString());
            Assert.That(catchUp, Is.EqualTo(arrival.CatchUp), arrival.ToString());
        }
    }

    /// <summary>What a check of the log finds (its latest seq and life), after what the stream has delivered, and whether the session is behind.</summary>
    [TestCase(new long[0], 2, "life2", false, TestName = "IsBehind: the log at the stream's seq and life")]
    [TestCase(new long[0], 1, "life2", false, TestName = "IsBehind: the log behind the stream (a read that overtook nothing)")]
    [TestCase(new long[0], 3, "life2", true, TestName = "IsBehind: the log one event ahead, the last of the stream lost")]
    [TestCase(new long[] { 3, 4 }, 4, "life2", false, TestName = "IsBehind: events that came through the channel catch the stream up with the log")]
    [TestCase(new long[] { 3 }, 5, "life2", true, TestName = "IsBehind: some came, the last did not")]
    [TestCase(new long[0], 2, "life3", true, TestName = "IsBehind: another life at the same seq")]
    [TestCase(new long[0], 1, "life3", true, TestName = "IsBehind: another life, behind the stream's seq")]
    [TestCase(new long[0], 0, null, true, TestName = "IsBehind: the session gone from the log")]
    [TestCase(new long[0], 2, "", false, TestName = "IsBehind: a life with no name, at the stream's seq: the seq alone tells")]
    [TestCase(new long[0], 3, "", true, TestName = "IsBehind: a life with no name, one ahead")]
    public void IsBehind_compares_the_stream_with_the_logs_latest_seq_and_life(long[] received, long seq, string? epoch, bool behind)
    {
        using var script = new HubScript(historyCapacity: 8);
        var hub = new HubSession(Session, SessionProfiles.Of(new HistoryOptions(), new SessionsOptions()).For(Session));
        var member = new RecordingMember("A", script.Changes);
        hub.BeginJoin();
        hub.TryJoin(member, null, -1, Read("life2", 2, 1, 2), new HubOutbox(script.Hub, Session), out _);
        if (received.Length > 0)
        {
            Assert.That(hub.Receive(Events(received), "life2", new HubOutbox(script.Hub, Session)), Is.False);
        }

        Assert.That(hub.IsBehind(seq, epoch), Is.EqualTo(behind));
    }

    [Test]
    public void IsBehind_is_false_for_a_session_whose_stream_no_join_has_started()
    {
        var hub = new HubSession(Session, SessionProfiles.Of(new HistoryOptions(), new SessionsOptions()).For(Session));
        Assert.That(hub.IsBehind(5, "life2"), Is.False);
        Assert.That(hub.IsBehind(0, null), Is.False);
    }

    [Test]
    public void The_catch_up_asked_to_read_again_by_another_life_reads_again_and_resets_the_stream_to_it()
    {
        using var script = new HubScript(historyCapacity: 8);
        var hub = new HubSession(Session, SessionProfiles.Of(new HistoryOptions(), new SessionsOptions()).For(Session));
        var member = new RecordingMember("A", script.Changes);
        hub.BeginJoin();
        hub.TryJoin(member, null, -1, Read("life2", 2, 1, 2), new HubOutbox(script.Hub, Session), out _);

        // A gap starts a catch-up; while its read is out, an event of life3 comes.
        Assert.That(hub.Receive(Events(4), "life2", new HubOutbox(script.Hub, Session)), Is.True);
        Assert.That(hub.Receive(Events(1), "life3", new HubOutbox(script.Hub, Session)), Is.False, "the running catch-up is told to read again");

        // The catch-up's read, made before life3 began, fills the gap; it is then told to read again.
        Assert.That(hub.ApplyCatchUp(2, Read("life2", 4, 3, 4), new HubOutbox(script.Hub, Session)), Is.True);
        Assert.That(member.Delivered, Is.EqualTo(new long[] { 3, 4 }));

        // Its next read shows life3: the stream is reset to it, and A, of life2, is let go.
        var outbox = new HubOutbox(script.Hub, Session);
        Assert.That(hub.ApplyCatchUp(4, Read("life3", 1, 1), outbox), Is.False);
        Assert.That(outbox.Dropped, Is.EqualTo(new[] { member }));
        Assert.That(outbox.DropReason, Is.EqualTo("session reset; reconnect"));
        Assert.That(hub.Delivered, Is.EqualTo(1));
        Assert.That(hub.Receive(Events(2), "life3", new HubOutbox(script.Hub, Session)), Is.False, "life3 is the stream's life now");
        Assert.That(member.Delivered, Is.EqualTo(new long[] { 3, 4 }), "A was let go before life3's events");
    }
}
