using Gateway.Log;
using Gateway.Protocol.Framing;
using Gateway.Sessions;

namespace Gateway.Hub;

/// <summary>
/// What a session's lock collected for after the lock: senders to wake, members to close, pollers
/// to release. Members are told outside every lock: the hub's, and the log's that fed it.
/// </summary>
internal sealed class HubOutbox(SessionHub hub, string session)
{
    public SenderWakeup? Idle;

    public List<ISessionMember>? Completed;

    public long CompletedAt;

    public List<ISessionMember>? Dropped;

    public List<ISessionMember>? Departed;

    public string DropReason = "";

    public ushort DropCode;

    public TaskCompletionSource? Pollers;

    public TaskCompletionSource? Moved;

    /// <summary>
    /// Wakes the senders, closes the members, leaves for the members the session let go of,
    /// releases the pollers; once the caller holds no lock.
    /// </summary>
    public void Flush()
    {
        Idle?.Start();

        foreach (ISessionMember member in Departed ?? [])
        {
            // Closing already (a slow consumer, or a close under way): out of the session's count now.
            member.Membership?.Leave();
        }

        if (Completed is { } completed)
        {
            // The final event is queued ahead of the close in every member's queue.
            foreach (ISessionMember member in completed)
            {
                member.OnSessionClosed(CloseCodes.Normal, "session complete");
                member.Membership?.Leave();
            }

            hub.Completed(session, CompletedAt, completed.Count);
        }

        if (Dropped is { } dropped)
        {
            foreach (ISessionMember member in dropped)
            {
                member.OnSessionClosed(DropCode, DropReason);
                member.Membership?.Leave();
            }

            hub.Dropped(session, dropped.Count, DropReason);
        }

        Pollers?.TrySetResult();
        Moved?.TrySetResult();
    }
}

/// <summary>
/// A session as this node sees it: its local members, and the seq up to which they have been
/// handed events. Events reach it from the log's feed, normally in seq order; one that arrives
/// ahead of a missing one is parked while the missing ones are read from the log, so that members
/// always get events in seq order, each once, with no gap. No I/O here: <see cref="SessionHub"/>
/// does the reads and hands their results in, which is what lets the ordering be table-tested.
/// </summary>
internal sealed class HubSession(string name, SessionSettings settings)
{
    // Events parked ahead of a gap. Only an optimisation: a catch-up reads anything missing from
    // history, so past this many, arrivals are dropped rather than parked.
    private const int MaxParked = 4096;

    private readonly Lock _gate = new();
    private readonly MemberList _members = new();
    private readonly SortedDictionary<long, SessionEvent> _parked = [];

    // The seq up to which members have been handed events; -1 until the first member joins
    // (that join's read decides where this node's stream of the session starts).
    private long _delivered = -1;

    // The life of the session this node's stream belongs to, as its reads have shown it.
    private string? _epoch;
    private int _joining;
    private bool _deletedWhileJoining;
    private bool _catchingUp;

    // A resync (or an event of another life) came while a catch-up's read was in flight: that read
    // may have been answered before what the feed lost, so the catch-up reads once more.
    private bool _readAgain;
    private TaskCompletionSource? _nextEvent;

    // The life the parked events belong to.
    private string? _parkedEpoch;

    // Completed when this node's stream moves, for joins and replays waiting to read again.
    private TaskCompletionSource? _moved;
    private SessionPresence? _presence;

    public string Name { get; } = name;

    /// <summary>Its profile's settings (spec section 20), resolved once when this node took the session up.</summary>
    public SessionSettings Settings { get; } = settings;

    /// <summary>The session's presence here, once a member has taken part in it; null before.</summary>
    public SessionPresence? Presence => Volatile.Read(ref _presence);

    /// <summary>The session's presence here, made on first use.</summary>
    public SessionPresence PresenceIn(PresenceContext context)
    {
        if (Volatile.Read(ref _presence) is { } presence)
        {
            return presence;
        }

        Interlocked.CompareExchange(ref _presence, new SessionPresence(Name, context), null);
        return _presence;
    }

    /// <summary>Members, pollers, joins and catch-ups in progress that hold this session; kept by the hub's table, under its lock.</summary>
    public int Users { get; set; }

    public int MemberCount
    {
        get
        {
            lock (_gate)
            {
                return _members.Count;
            }
        }
    }

    /// <summary>True when <paramref name="seq"/> has been handed to members already: the feed's copy can be dropped undecoded.</summary>
    public bool HasDelivered(long seq) => seq <= Volatile.Read(ref _delivered);

    /// <summary>A join starts: until it completes, events that arrive are parked for it.</summary>
    public void BeginJoin()
    {
        lock (_gate)
        {
            _joining++;
        }
    }

    /// <summary>A join that failed before <see cref="TryJoin"/> gives up its claim.</summary>
    public void AbandonJoin()
    {
        lock (_gate)
        {
            _joining = Math.Max(0, _joining - 1);
        }
    }

    /// <summary>Completes at the next event or change of this session seen here: a long-poller then reads again.</summary>
    public Task NextEventAsync()
    {
        lock (_gate)
        {
            _nextEvent ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _nextEvent.Task;
        }
    }

    /// <summary>
    /// Completes when this node's stream of the session next moves (events handed out, a
    /// catch-up's read applied or given up, a delete): a join or a replay that could not meet it
    /// waits on this before it reads again.
    /// </summary>
    public Task StreamMovedAsync()
    {
        lock (_gate)
        {
            _moved ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _moved.Task;
        }
    }

    /// <summary>
    /// Events from the feed, in seq order within the call, of the life <paramref name="epoch"/>.
    /// True when a catch-up must start: a gap was found, or the events are of another life than
    /// this node's stream.
    /// </summary>
    public bool Receive(ReadOnlySpan<SessionEvent> events, string epoch, HubOutbox outbox)
    {
        lock (_gate)
        {
            if (IsOtherLife(epoch))
            {
                // The log lost the session and it began again while this node held it (Redis
                // restarted without persistence), or these are late events of a life a join has
                // just left behind. Their seqs would look like repeats, or worse, like the next
                // ones; the catch-up resets the stream instead (or finds it already of the new
                // life). Checked under the lock: a join may be setting the life this very moment.
                return StartOrRereadCatchUp();
            }

            TakeWaiters(outbox);
            if (_delivered < 0)
            {
                // No stream here yet (or it ended with a delete): a join's read will say which
                // life it follows, so what arrives meanwhile is parked with its life, and parked
                // events of another life are let go (a catch-up reads anything they were).
                if (_joining > 0)
                {
                    if (!string.Equals(_parkedEpoch, epoch, StringComparison.Ordinal))
                    {
                        _parked.Clear();
                        _parkedEpoch = epoch;
                    }

                    foreach (SessionEvent e in events)
                    {
                        Park(e);
                    }
                }

                return false;
            }

            foreach (SessionEvent e in events)
            {
                if (e.Seq == _delivered + 1 && _parked.Count == 0)
                {
                    // The fast path: the next event, nothing parked.
                    Deliver(e, outbox);
                }
                else if (e.Seq > _delivered)
                {
                    Park(e);
                    DrainParked(outbox);
                }
            }

            // Whatever is still parked waits behind a gap.
            return _parked.Count > 0 && StartCatchUp();
        }
    }

    /// <summary>
    /// Adds <paramref name="member"/> at an exact seam: its replay ends where live events begin.
    /// <paramref name="read"/> was made after the join began, of the events after
    /// <paramref name="readFrom"/> (<see cref="ReadFrom"/>). Returns null when this node has
    /// already handed out events past the read, or has not yet reached the joiner's seq in
    /// <paramref name="from"/> (the caller reads again); otherwise whether the member was added
    /// (not when the session is complete) and whether a catch-up must start (also when the read
    /// shows a new life of the session: the catch-up then resets this node's stream of it). With
    /// null, <paramref name="catchUpFirst"/> is true when reading again cannot help until a
    /// catch-up has moved this node's stream (the caller starts it, and reads again once the
    /// stream has moved: <see cref="StreamMovedAsync"/>).
    /// </summary>
    public (bool Added, bool CatchUp)? TryJoin(ISessionMember member, ResumePoint? from, long readFrom, LogRead read, HubOutbox outbox, out bool catchUpFirst)
    {
        // The caller read after this seq: the joiner's own, or 0 when its epoch is of another life.
        long? since = from?.SinceIn(read.Epoch);
        catchUpFirst = false;
        lock (_gate)
        {
            TakePollers(outbox);
            if (_deletedWhileJoining)
            {
                // The read may show the session as it was before it was deleted: read it again,
                // at once (the delete is what moved the stream).
                _deletedWhileJoining = false;
                TakeWaiters(outbox);
                return null;
            }

            if (_delivered < 0)
            {
                _delivered = read.Seq;
                if (!string.Equals(_parkedEpoch, read.Epoch, StringComparison.Ordinal))
                {
                    // Parked while no life was known, and of another life than the read's.
                    _parked.Clear();
                }
            }
            else if (!FollowsOn(read))
            {
                // The read is of another life than this node's stream (the session began again
                // under it): a member of the new life must not be handed what the feed still
                // brings of the old one. A catch-up resets the stream (closing the old life's
                // members); the joiner reads again after it.
                catchUpFirst = StartCatchUp();
                return null;
            }
            else if (_delivered > read.Seq && !read.Complete)
            {
                // Events after the read reached this node first; they would be missing from the
                // replay: read again.
                return null;
            }
            else if (since is { } claimed && !ReachSince(claimed, readFrom, read, outbox))
            {
                // The joiner has seen more than this node has handed out (it came from another
                // node), and the read could not bring this node up to it: history lost what
                // follows this node's stream, or the session began again. A catch-up settles
                // that (closing the members who missed events); the joiner reads again after it.
                // No seam is made here, so parked events that now follow on can go out.
                DrainParked(outbox);
                catchUpFirst = StartCatchUp();
                return null;
            }

            _joining = Math.Max(0, _joining - 1);
            _epoch = read.Epoch;

            // A complete session gets no member: the joiner is sent everything up to the final
            // event, and closes. Otherwise it gets what this node has handed out so far; later
            // events come live, so the replay stops there.
            long seq = read.Complete ? read.Seq : _delivered;
            Replay? replay = from is { } point && since is { } after
                ? new Replay(point.Seq, Between(read.Events, after, seq), Whole(after, seq, read, point), read.Epoch)
                : null;
            var state = new JoinState(seq, read.Complete, replay, read.Epoch);
            if (read.Complete)
            {
                member.SessionSlot = -1;
                member.OnJoined(state);
                return (false, DrainParked(outbox) && StartCatchUp());
            }

            // Parked events go out only now, past the seam: they are not in the read, so the
            // replay could not hold them (see ReachSince).
            _members.Add(member);
            member.OnJoined(state);
            return (true, DrainParked(outbox) && StartCatchUp());
        }
    }

    /// <summary>
    /// Hands <paramref name="member"/> its resume replay at a seam between two live events; false
    /// when this node has already handed out events past the read (the caller reads again), with
    /// <paramref name="catchUpFirst"/> as for <see cref="TryJoin"/>.
    /// </summary>
    public bool TryReplay(ISessionMember member, ResumePoint from, long readFrom, LogRead read, Action<Replay> deliver, HubOutbox outbox, out bool catchUpFirst)
    {
        long since = from.SinceIn(read.Epoch);
        catchUpFirst = false;
        lock (_gate)
        {
            if (member.SessionSlot < 0)
            {
                // The session let the member go while it read (a reset or a delete closes it with
                // 1001, a slow consumer is closing): a replay now could be of the session's next
                // life, which the member never followed, and might reach it before its close.
                return true;
            }

            if (_delivered < 0)
            {
                // No stream here any more: the session was deleted or reset under the member,
                // which was let go and is closing with 1001. It reconnects; nothing to replay now.
                return true;
            }

            if (!FollowsOn(read))
            {
                // The read is of another life than this node's stream (or found no session): a
                // replay of it would not join on to the member's live events. The catch-up resets
                // the stream first, closing the members, this one included, who then reconnect.
                catchUpFirst = StartCatchUp();
                return false;
            }

            if (_delivered > read.Seq)
            {
                return false;
            }

            if (!ReachSince(since, readFrom, read, outbox))
            {
                DrainParked(outbox);
                catchUpFirst = StartCatchUp();
                return false;
            }

            deliver(new Replay(from.Seq, Between(read.Events, since, _delivered), Whole(since, _delivered, read, from), read.Epoch));

            // After the seam, as live events (see ReachSince).
            DrainParked(outbox);
            return true;
        }
    }

    /// <summary>True when <paramref name="read"/> is of the life this node's stream follows (or the stream has none yet).</summary>
    private bool FollowsOn(LogRead read) =>
        read.Found == LogReadFound.Found && (string.IsNullOrEmpty(_epoch) || string.Equals(_epoch, read.Epoch, StringComparison.Ordinal));

    /// <summary>
    /// Where a read for a joiner or a replay after <paramref name="since"/> starts: from what this
    /// node has handed out, when that is behind the joiner (so the read can bring it forward).
    /// </summary>
    public long ReadFrom(long since)
    {
        long delivered = Volatile.Read(ref _delivered);
        return delivered >= 0 && since > delivered ? delivered : since;
    }

    /// <summary>
    /// Brings this node's stream up to <paramref name="since"/> (or to the session's end, if the
    /// joiner claims more), so that a joiner from another node, ahead of this node, is not handed
    /// live events it has seen: members get the events of <paramref name="read"/> (made after
    /// <paramref name="readFrom"/>) that follow what they have had. False when the node is still
    /// behind: the read does not follow on from <see cref="_delivered"/> (the session was reset,
    /// or history lost events) or did not reach far enough. A read from before
    /// <see cref="_delivered"/> still follows on: live events moved the stream while the log was
    /// read, and the read holds them too. Only the read's events are handed out here, never parked
    /// ones: the caller's replay ends at <see cref="_delivered"/> and is cut from the read, so a
    /// parked event past the read's end handed out now would be missing from a replay flagged
    /// complete (the read was answered before the feed brought it). The caller drains the parked
    /// events once the seam is made.
    /// </summary>
    private bool ReachSince(long since, long readFrom, LogRead read, HubOutbox outbox)
    {
        if (since <= _delivered)
        {
            return true;
        }

        if (readFrom > _delivered || read.Found != LogReadFound.Found || !read.Held || read.Seq < _delivered)
        {
            return false;
        }

        foreach (SessionEvent e in read.Events)
        {
            if (e.Seq == _delivered + 1)
            {
                Deliver(e, outbox);
            }
        }

        return _delivered >= Math.Min(since, read.Seq);
    }

    /// <summary>
    /// The events read from history after <see cref="_delivered"/>, during a catch-up. True when
    /// another read is needed (the read was cut short, or events are still missing); false when
    /// the catch-up is over.
    /// </summary>
    public bool ApplyCatchUp(long from, LogRead read, HubOutbox outbox)
    {
        lock (_gate)
        {
            TakeWaiters(outbox);
            if (_delivered < 0 || _delivered != from)
            {
                // Nothing to catch up yet, or the stream moved on (or was reset) while the log was read.
                return EndCatchUp(_parked.Count > 0 && _delivered >= 0 && _delivered != from);
            }

            if (read.Found != LogReadFound.Found || read.Seq < _delivered || (_epoch is { Length: > 0 } known && known != read.Epoch))
            {
                // The session was deleted, expired, or lost with the store's data, and may have begun
                // again (a new epoch says so even when the new life has gone past the old seq):
                // members' positions mean nothing any more. They reconnect and start over.
                DropMembers(outbox, CloseCodes.GoingAway, "session reset; reconnect");
                // Not found: no stream until a join's read says which life comes next.
                _delivered = read.Found == LogReadFound.Found ? read.Seq : -1;
                _epoch = read.Found == LogReadFound.Found ? read.Epoch : null;
                _parked.Clear();
                return EndCatchUp(false);
            }

            if (!read.Held)
            {
                // History no longer holds what these members missed: they must resume themselves,
                // and learn from their replay that it is incomplete.
                DropMembers(outbox, CloseCodes.GoingAway, "events were missed; reconnect with since");
                _delivered = read.Events.Count > 0 ? read.Events[0].Seq - 1 : read.Seq;
            }

            foreach (SessionEvent e in read.Events)
            {
                if (e.Seq == _delivered + 1)
                {
                    Deliver(e, outbox);
                }
            }

            bool gap = DrainParked(outbox);
            bool progressed = _delivered > from;
            return EndCatchUp((read.More || gap) && progressed);
        }
    }

    /// <summary>The session was deleted: its members here are closed with 1001, and its stream starts over.</summary>
    public void OnDeleted(HubOutbox outbox, string? epoch)
    {
        lock (_gate)
        {
            TakeWaiters(outbox);
            if (epoch is { Length: > 0 } && _epoch is { Length: > 0 } && !string.Equals(epoch, _epoch, StringComparison.Ordinal))
            {
                // A late delete of an older life: this node's stream, and its members, are of a later one.
                return;
            }

            DropMembers(outbox, CloseCodes.GoingAway, "session closed");

            // No stream until a join's read shows the next life: events of this life the feed
            // still brings late must not pass for the next one's, and they cannot be told apart
            // before an epoch is known.
            _delivered = -1;
            _epoch = null;
            _deletedWhileJoining = _joining > 0;
            _parked.Clear();
        }
    }

    public void Leave(ISessionMember member)
    {
        lock (_gate)
        {
            _members.Remove(member);
        }
    }

    /// <summary>
    /// Marks a catch-up started (after a reconnect); false when there is nothing to catch up, or
    /// when one is running already (which then reads again before it ends).
    /// </summary>
    public bool TryStartCatchUp(out long from)
    {
        lock (_gate)
        {
            from = _delivered;
            return _delivered >= 0 && StartOrRereadCatchUp();
        }
    }

    /// <summary>
    /// True when this node follows the session's stream and the log has gone past it: the log's
    /// latest seq is beyond what was delivered, or the log holds another life than the one followed
    /// (<paramref name="epoch"/> null: the session is gone from the log; empty: its life has no
    /// name, and only the seq tells).
    /// </summary>
    public bool IsBehind(long seq, string? epoch)
    {
        lock (_gate)
        {
            return _delivered >= 0 && (epoch is null || seq > _delivered || (epoch.Length > 0 && IsOtherLife(epoch)));
        }
    }

    /// <summary>Releases long-pollers to read again (after a reconnection, events may have passed unheard).</summary>
    public void WakePollers()
    {
        TaskCompletionSource? pollers;
        lock (_gate)
        {
            pollers = _nextEvent;
            _nextEvent = null;
        }

        pollers?.TrySetResult();
    }

    /// <summary>A catch-up could not read the log: the next reconnection or gap starts another.</summary>
    public void CancelCatchUp()
    {
        TaskCompletionSource? moved;
        lock (_gate)
        {
            _catchingUp = false;
            _readAgain = false;
            moved = _moved;
            _moved = null;
        }

        // A join waiting on the catch-up reads again (and meets the same outage, or not).
        moved?.TrySetResult();
    }

    /// <summary>True when <paramref name="epoch"/> is not the life this node's stream follows (and it follows one); under the lock.</summary>
    private bool IsOtherLife(string epoch) =>
        !string.IsNullOrEmpty(_epoch) && !ReferenceEquals(_epoch, epoch) && !string.Equals(_epoch, epoch, StringComparison.Ordinal);

    /// <summary>The seq a running catch-up reads after.</summary>
    public long Delivered => Volatile.Read(ref _delivered);

    /// <summary>
    /// True when a replay of the events after <paramref name="since"/> up to <paramref name="upTo"/>
    /// holds every one of them: the read's history reached back far enough (or there were none to
    /// replay), the resume point is of this life, and it is not ahead of the session (which began
    /// again after a delete, or is not the session the client saw).
    /// </summary>
    /// <remarks>
    /// A read for a joiner ahead of this node starts further back than the joiner's point (at what
    /// the node had handed out, <see cref="ReadFrom"/>), so its <see cref="LogRead.Held"/> speaks of
    /// more than the replay needs: history may have let go of events before the joiner's point yet
    /// hold every one after it, which its first event then shows.
    /// </remarks>
    private static bool Whole(long since, long upTo, LogRead read, ResumePoint from) =>
        since <= upTo && (read.Held || since == upTo || (read.Events.Count > 0 && read.Events[0].Seq <= since + 1)) && from.IsIn(read.Epoch);

    private static List<SessionEvent> Between(IReadOnlyList<SessionEvent> events, long after, long upTo)
    {
        var kept = new List<SessionEvent>(events.Count);
        foreach (SessionEvent e in events)
        {
            if (e.Seq > after && e.Seq <= upTo)
            {
                kept.Add(e);
            }
        }

        return kept;
    }

    private void Deliver(SessionEvent sessionEvent, HubOutbox outbox)
    {
        Volatile.Write(ref _delivered, sessionEvent.Seq);
        _members.FanOut(sessionEvent, outbox);
        if (sessionEvent.Final)
        {
            _members.TakeAll(outbox.Completed ??= []);
            outbox.CompletedAt = sessionEvent.Seq;
        }
    }

    /// <summary>Hands over parked events that now follow on; true when some are still parked behind a gap.</summary>
    private bool DrainParked(HubOutbox outbox)
    {
        while (_parked.Count > 0)
        {
            KeyValuePair<long, SessionEvent> first = _parked.First();
            if (first.Key > _delivered + 1)
            {
                return true;
            }

            _parked.Remove(first.Key);
            if (first.Key == _delivered + 1)
            {
                Deliver(first.Value, outbox);
            }
        }

        return false;
    }

    private void Park(SessionEvent sessionEvent)
    {
        if (_delivered >= 0)
        {
            _parkedEpoch = _epoch;
        }

        if (_parked.Count < MaxParked)
        {
            _parked[sessionEvent.Seq] = sessionEvent;
        }
    }

    private bool StartCatchUp()
    {
        if (_catchingUp)
        {
            return false;
        }

        _catchingUp = true;
        return true;
    }

    /// <summary>Starts a catch-up (true), or tells the running one to read once more before it ends (false).</summary>
    private bool StartOrRereadCatchUp()
    {
        if (_catchingUp)
        {
            _readAgain = true;
            return false;
        }

        return StartCatchUp();
    }

    private bool EndCatchUp(bool again)
    {
        again |= _readAgain;
        _readAgain = false;
        _catchingUp = again;
        return again;
    }

    private void DropMembers(HubOutbox outbox, ushort code, string reason)
    {
        if (_members.Count == 0)
        {
            return;
        }

        outbox.DropCode = code;
        outbox.DropReason = reason;
        _members.TakeAll(outbox.Dropped ??= []);
    }

    private void TakePollers(HubOutbox outbox)
    {
        outbox.Pollers = _nextEvent;
        _nextEvent = null;
    }

    /// <summary>The pollers, and the joins waiting for this node's stream to move.</summary>
    private void TakeWaiters(HubOutbox outbox)
    {
        TakePollers(outbox);
        outbox.Moved = _moved;
        _moved = null;
    }
}
