using Gateway.Protocol.Framing;
using Gateway.Sessions;

namespace Gateway.Backplane.Redis;

/// <summary>What a read of a session in Redis found (see <see cref="RedisScripts.Read"/>).</summary>
/// <param name="Found">1: the session exists; 0: it does not; -1: the session limit forbade creating it.</param>
/// <param name="Seq">The session's latest seq.</param>
/// <param name="Complete">True when a final event completed the session.</param>
/// <param name="Held">False when history no longer held every event after the read's seq.</param>
/// <param name="More">True when the read's limit cut the events short.</param>
/// <param name="Epoch">The session's life (empty when it was not found).</param>
/// <param name="Events">The held events after the read's seq, oldest first.</param>
internal sealed record RedisRead(int Found, long Seq, bool Complete, bool Held, bool More, string Epoch, IReadOnlyList<SessionEvent> Events);

/// <summary>
/// What a session's lock collected for after the lock: senders to wake, members to close, pollers
/// to release. Members are told outside the lock, as the memory backplane does.
/// </summary>
internal sealed class ChannelOutbox
{
    public SenderWakeup? Idle;

    public List<ISessionMember>? Completed;

    public List<ISessionMember>? Dropped;

    public string DropReason = "";

    public ushort DropCode;

    public TaskCompletionSource? Pollers;

    public void Flush()
    {
        Idle?.Start();

        foreach (ISessionMember member in Completed ?? [])
        {
            member.OnSessionClosed(CloseCodes.Normal, "session complete");
        }

        foreach (ISessionMember member in Dropped ?? [])
        {
            member.OnSessionClosed(DropCode, DropReason);
        }

        Pollers?.TrySetResult();
    }
}

/// <summary>
/// A session as one node sees it with the Redis backplane: its local members, and the seq up to
/// which they have been handed events. Events reach it from the events channel, normally in seq
/// order; one that arrives ahead of a missing one waits while the missing ones are read from
/// Redis history, so that members always get events in seq order, each once, with no gap.
/// </summary>
internal sealed class RedisSessionChannel(string name)
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
    private TaskCompletionSource? _nextEvent;

    public string Name { get; } = name;

    /// <summary>Members, pollers and joins in progress that hold this channel; kept by the backplane's channel table, under its lock.</summary>
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

    /// <summary>True when <paramref name="seq"/> has been handed to members already: the channel's copy can be dropped undecoded.</summary>
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

    /// <summary>An event from the events channel. True when a gap was found and a catch-up must start.</summary>
    public bool Receive(SessionEvent sessionEvent, ChannelOutbox outbox)
    {
        lock (_gate)
        {
            TakePollers(outbox);
            if (_delivered < 0)
            {
                if (_joining > 0)
                {
                    Park(sessionEvent);
                }

                return false;
            }

            if (sessionEvent.Seq <= _delivered)
            {
                return false;
            }

            if (sessionEvent.Seq > _delivered + 1)
            {
                Park(sessionEvent);
                return StartCatchUp();
            }

            Deliver(sessionEvent, outbox);
            return DrainParked(outbox) && StartCatchUp();
        }
    }

    /// <summary>
    /// Adds <paramref name="member"/> at an exact seam: its replay ends where live events begin.
    /// <paramref name="read"/> was made after the join began, of the events after
    /// <paramref name="readFrom"/> (<see cref="ReadFrom"/>). Returns null when this node has
    /// already handed out events past the read, or has not yet reached the joiner's seq in
    /// <paramref name="from"/> (the caller reads again); otherwise whether the member was added
    /// (not when the session is complete) and whether a catch-up must start (also when the read
    /// shows a new life of the session: the catch-up then resets this node's stream of it).
    /// </summary>
    public (bool Added, bool CatchUp)? TryJoin(ISessionMember member, ResumePoint? from, long readFrom, RedisRead read, ChannelOutbox outbox)
    {
        // The caller read after this seq: the joiner's own, or 0 when its epoch is of another life.
        long? since = from?.SinceIn(read.Epoch);
        lock (_gate)
        {
            TakePollers(outbox);
            if (_deletedWhileJoining)
            {
                // The read may show the session as it was before it was deleted: read it again.
                _deletedWhileJoining = false;
                return null;
            }

            if (_delivered < 0)
            {
                _delivered = read.Seq;
            }
            else if (_delivered > read.Seq && !read.Complete)
            {
                // Events after the read reached this node first; they would be missing from the replay.
                return null;
            }
            else if (since is { } claimed && !ReachSince(claimed, readFrom, read, outbox))
            {
                // The joiner has seen more than this node has handed out (it came from another
                // node), and the read could not bring this node up to it: read again.
                return null;
            }

            _joining = Math.Max(0, _joining - 1);
            bool newLife = _epoch is { Length: > 0 } known && read.Epoch.Length > 0 && known != read.Epoch;
            if (string.IsNullOrEmpty(_epoch))
            {
                _epoch = read.Epoch;
            }

            // A complete session gets no member: the joiner is sent everything up to the final
            // event, and closes. Otherwise it gets what this node has handed out so far; later
            // events come live, so the replay stops there.
            long seq = read.Complete ? read.Seq : _delivered;
            Replay? replay = from is { } point && since is { } after
                ? new Replay(point.Seq, Between(read.Events, after, seq), (read.Held || after >= seq) && point.IsIn(read.Epoch), read.Epoch)
                : null;
            var state = new JoinState(seq, read.Complete, replay, read.Epoch);
            if (read.Complete)
            {
                member.SessionSlot = -1;
                member.OnJoined(state);
                return (false, false);
            }

            _members.Add(member);
            member.OnJoined(state);
            return (true, (DrainParked(outbox) | newLife) && StartCatchUp());
        }
    }

    /// <summary>
    /// Hands a member its resume replay at a seam between two live events; false when this node
    /// has already handed out events past the read (the caller reads again).
    /// </summary>
    public bool TryReplay(ResumePoint from, long readFrom, RedisRead read, Action<Replay> deliver, ChannelOutbox outbox)
    {
        long since = from.SinceIn(read.Epoch);
        lock (_gate)
        {
            if (_delivered > read.Seq || !ReachSince(since, readFrom, read, outbox))
            {
                return false;
            }

            deliver(new Replay(from.Seq, Between(read.Events, since, _delivered), (read.Held || since >= _delivered) && from.IsIn(read.Epoch), read.Epoch));
            return true;
        }
    }

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
    /// <see cref="_delivered"/> still follows on: live events moved the stream while Redis was
    /// read, and the read holds them too.
    /// </summary>
    private bool ReachSince(long since, long readFrom, RedisRead read, ChannelOutbox outbox)
    {
        if (since <= _delivered)
        {
            return true;
        }

        if (readFrom > _delivered || read.Found != 1 || !read.Held || read.Seq < _delivered)
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

        DrainParked(outbox);
        return _delivered >= Math.Min(since, read.Seq);
    }

    /// <summary>
    /// The events read from history after <see cref="_delivered"/>, during a catch-up. True when
    /// another read is needed (the read was cut short, or events are still missing); false when
    /// the catch-up is over.
    /// </summary>
    public bool ApplyCatchUp(long from, RedisRead read, ChannelOutbox outbox)
    {
        lock (_gate)
        {
            TakePollers(outbox);
            if (_delivered < 0 || _delivered != from)
            {
                // Nothing to catch up yet, or the stream moved on (or was reset) while Redis was read.
                return EndCatchUp(_parked.Count > 0 && _delivered >= 0 && _delivered != from);
            }

            if (read.Found != 1 || read.Seq < _delivered || (_epoch is { Length: > 0 } known && known != read.Epoch))
            {
                // The session was deleted, expired, or lost with Redis's data, and may have begun
                // again (a new epoch says so even when the new life has gone past the old seq):
                // members' positions mean nothing any more. They reconnect and start over.
                DropMembers(outbox, CloseCodes.GoingAway, "session reset; reconnect");
                _delivered = read.Found == 1 ? read.Seq : 0;
                _epoch = read.Found == 1 ? read.Epoch : null;
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
    public void OnDeleted(ChannelOutbox outbox)
    {
        lock (_gate)
        {
            TakePollers(outbox);
            DropMembers(outbox, CloseCodes.GoingAway, "session closed");
            if (_delivered >= 0)
            {
                _delivered = 0;
            }

            // The next life has an epoch of its own, which the next read shows.
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

    /// <summary>Marks a catch-up started (after a reconnect); false when one is running already or there is nothing to catch up.</summary>
    public bool TryStartCatchUp(out long from)
    {
        lock (_gate)
        {
            from = _delivered;
            return _delivered >= 0 && StartCatchUp();
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

    /// <summary>A catch-up could not read Redis: the next reconnection or gap starts another.</summary>
    public void CancelCatchUp()
    {
        lock (_gate)
        {
            _catchingUp = false;
        }
    }

    /// <summary>
    /// True when an event from the channel carries an epoch other than the life this node's stream
    /// of the session belongs to: Redis lost the session and it began again while this node stayed
    /// connected. Its seqs would look like repeats, or worse, like the next ones; a catch-up resets
    /// the stream instead.
    /// </summary>
    public bool IsOtherLife(ReadOnlySpan<byte> epoch)
    {
        string? known = Volatile.Read(ref _epoch);
        if (string.IsNullOrEmpty(known))
        {
            return false;
        }

        if (known.Length != epoch.Length)
        {
            return true;
        }

        for (int i = 0; i < epoch.Length; i++)
        {
            if (known[i] != epoch[i])
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The seq a running catch-up reads after.</summary>
    public long Delivered => Volatile.Read(ref _delivered);

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

    private void Deliver(SessionEvent sessionEvent, ChannelOutbox outbox)
    {
        Volatile.Write(ref _delivered, sessionEvent.Seq);
        _members.FanOut(sessionEvent, ref outbox.Idle);
        if (sessionEvent.Final)
        {
            _members.TakeAll(outbox.Completed ??= []);
        }
    }

    /// <summary>Hands over parked events that now follow on; true when some are still parked behind a gap.</summary>
    private bool DrainParked(ChannelOutbox outbox)
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

    private bool EndCatchUp(bool again)
    {
        _catchingUp = again;
        return again;
    }

    private void DropMembers(ChannelOutbox outbox, ushort code, string reason)
    {
        if (_members.Count == 0)
        {
            return;
        }

        outbox.DropCode = code;
        outbox.DropReason = reason;
        _members.TakeAll(outbox.Dropped ??= []);
    }

    private void TakePollers(ChannelOutbox outbox)
    {
        outbox.Pollers = _nextEvent;
        _nextEvent = null;
    }
}
