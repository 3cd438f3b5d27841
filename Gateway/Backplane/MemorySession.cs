using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Backplane;

/// <summary>
/// One session held in memory. A single lock orders everything: seq assignment, history, state,
/// idempotency keys and the hand-over to members happen together, so that every member sees
/// events in seq order, and a joining or resuming member gets its replay at an exact seam between
/// two live events.
/// </summary>
internal sealed class MemorySession(string name, int historyCapacity, int maxEventNames, HistoryBudget budget, long createdAt)
{
    private readonly Lock _gate = new();
    private readonly EventHistory _history = new(historyCapacity);
    private readonly Dictionary<string, SessionEvent> _state = new(StringComparer.Ordinal);

    // Idempotency keys of the events history holds, so that a retried publish finds its seq.
    private readonly Dictionary<JsonScalar, long> _ids = [];

    private readonly MemberList _members = new();
    private long _seq;
    private long _idleSince = createdAt;
    private long _completedAt;
    private DateTimeOffset? _lastEventAt;
    private bool _complete;
    private bool _removed;

    // What this session's events hold of the history budget.
    private long _retained;

    // Completed by the next publish (or the session's end) for pollers waiting on new events.
    private TaskCompletionSource? _nextEvent;

    public string Name { get; } = name;

    /// <summary>This life of the session: a session held in memory is new in each process, and after each delete or expiry.</summary>
    public string Epoch { get; } = SessionEpoch.New();

    /// <summary>
    /// Publishes under the lock. Returns null when the session was removed meanwhile (the caller
    /// retries on a new one). Members that the final event completes are handed to <paramref name="closed"/>.
    /// </summary>
    public PublishResult? TryPublish(IReadOnlyList<PublishRequest> requests, DateTimeOffset now, long timestamp, List<ISessionMember> closed)
    {
        var seqs = new long[requests.Count];
        var duplicate = new bool[requests.Count];
        SenderWakeup? idle = null;
        try
        {
            return TryPublishLocked(requests, now, timestamp, closed, seqs, duplicate, ref idle);
        }
        finally
        {
            // Outside the lock: the members whose senders were idle.
            if (idle is not null)
            {
                idle.Start();
            }
        }
    }

    private PublishResult? TryPublishLocked(
        IReadOnlyList<PublishRequest> requests, DateTimeOffset now, long timestamp, List<ISessionMember> closed,
        long[] seqs, bool[] duplicate, ref SenderWakeup? idle)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            if (_removed)
            {
                return null;
            }

            // Retries of events already in history are answered first; anything new after a final
            // event is refused whole, before any of it is published.
            bool anyNew = false;
            for (int i = 0; i < requests.Count; i++)
            {
                if (requests[i].Id is { } id && _ids.TryGetValue(id, out long original))
                {
                    seqs[i] = original;
                    duplicate[i] = true;
                }
                else
                {
                    anyNew = true;
                }
            }

            if (anyNew && _complete)
            {
                return new PublishResult(PublishStatus.SessionComplete, seqs, duplicate, _seq);
            }

            if (anyNew && TooManyNames(requests, duplicate))
            {
                return new PublishResult(PublishStatus.TooManyEventNames, seqs, duplicate, _seq);
            }

            long estimate = 0;
            for (int i = 0; i < requests.Count; i++)
            {
                estimate += duplicate[i] ? 0 : HistoryBudget.Estimate(Name, requests[i]);
            }

            if (!budget.TryReserve(estimate))
            {
                return new PublishResult(PublishStatus.MemoryFull, seqs, duplicate, _seq);
            }

            long cost = 0;
            for (int i = 0; i < requests.Count; i++)
            {
                if (duplicate[i])
                {
                    continue;
                }

                PublishRequest request = requests[i];
                if (request.Id is { } id && _ids.TryGetValue(id, out long earlier))
                {
                    // The same id twice in one batch: the second is a retry of the first.
                    seqs[i] = earlier;
                    duplicate[i] = true;
                    continue;
                }

                seqs[i] = Append(request, now, timestamp, ref cost, ref idle);
            }

            // The reservation was an estimate; keep what the events really cost.
            budget.Release(estimate - cost);
            _retained += cost;

            if (anyNew)
            {
                _lastEventAt = now;
                _idleSince = timestamp;
                if (_complete)
                {
                    _completedAt = timestamp;
                    _members.TakeAll(closed);
                }
            }

            wake = _nextEvent;
            _nextEvent = null;
        }

        wake?.TrySetResult();
        return new PublishResult(PublishStatus.Accepted, seqs, duplicate, seqs.Length > 0 ? seqs[^1] : 0);
    }

    /// <summary>
    /// Adds a member, and hands it its replay; null when the session was removed meanwhile. A
    /// complete session gets no new members: the joiner gets its welcome and replay, then closes.
    /// </summary>
    public JoinState? TryJoin(ISessionMember member, ResumePoint? from)
    {
        lock (_gate)
        {
            if (_removed)
            {
                return null;
            }

            var state = new JoinState(_seq, _complete, from is { } point ? ReplayAfter(point) : null, Epoch);
            if (_complete)
            {
                member.SessionSlot = -1;
                member.OnJoined(state);
                return state;
            }

            _members.Add(member);
            member.OnJoined(state);
            return state;
        }
    }

    /// <summary>Hands <paramref name="deliver"/> the replay after <paramref name="from"/>, between two live events.</summary>
    public void Replay(ResumePoint from, Action<Replay> deliver)
    {
        lock (_gate)
        {
            deliver(ReplayAfter(from));
        }
    }

    public void Leave(ISessionMember member, long timestamp)
    {
        lock (_gate)
        {
            _members.Remove(member);
            if (_members.Count == 0)
            {
                _idleSince = timestamp;
            }
        }
    }

    public SessionSummary Summary()
    {
        lock (_gate)
        {
            return new SessionSummary(Name, _seq, _members.Count, _lastEventAt, _complete);
        }
    }

    public SessionSnapshot Snapshot()
    {
        lock (_gate)
        {
            var state = new StateEntry[_state.Count];
            int i = 0;
            foreach (SessionEvent e in _state.Values)
            {
                state[i++] = e.ToStateEntry();
            }

            Array.Sort(state, static (a, b) => a.Seq.CompareTo(b.Seq));
            return new SessionSnapshot(Name, _seq, Epoch, _members.Count, _lastEventAt, _complete, state);
        }
    }

    /// <summary>
    /// A page of the events after <paramref name="from"/>; or, when there are none yet and the
    /// session is not complete, null and a task that completes at the next publish. Null and no
    /// task: the session was removed meanwhile. <paramref name="seq"/> is the latest seq.
    /// </summary>
    public EventPage? TryPoll(ResumePoint from, int limit, out Task? next, out long seq)
    {
        lock (_gate)
        {
            next = null;
            seq = _seq;
            long since = from.SinceIn(Epoch);
            if (_removed)
            {
                return null;
            }

            // A poller ahead of the session (it was deleted and began again) is answered at once.
            if (since != _seq || _complete)
            {
                List<SessionEvent> events = _history.After(since, _seq, limit, out bool complete);
                bool more = events.Count > 0 && events[^1].Seq < _seq;
                return new EventPage(events, _seq, complete && from.IsIn(Epoch), more, _complete, Epoch);
            }

            _nextEvent ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            next = _nextEvent.Task;
            return null;
        }
    }

    /// <summary>
    /// Marks the session removed when it has had no member and no publish for <paramref name="idleFor"/>,
    /// or, once complete, when <paramref name="retainCompleted"/> has passed since it completed.
    /// </summary>
    public bool TryExpire(long now, TimeSpan idleFor, TimeSpan retainCompleted, TimeProvider time)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            bool expired = _complete
                ? time.GetElapsedTime(_completedAt, now) >= retainCompleted
                : _members.Count == 0 && time.GetElapsedTime(_idleSince, now) >= idleFor;
            if (_removed || !expired)
            {
                return false;
            }

            _removed = true;
            ReleaseAll();
            wake = _nextEvent;
            _nextEvent = null;
        }

        wake?.TrySetResult();
        return true;
    }

    /// <summary>Marks the session removed and hands over its members, who are no longer members.</summary>
    public void Remove(List<ISessionMember> members)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            _removed = true;
            ReleaseAll();
            _members.TakeAll(members);
            wake = _nextEvent;
            _nextEvent = null;
        }

        wake?.TrySetResult();
    }

    private long Append(PublishRequest request, DateTimeOffset now, long timestamp, ref long cost, ref SenderWakeup? idle)
    {
        long seq = ++_seq;
        byte[] frame = ServerFrames.CreateTextFrame(new EventMessage(Name, request.Event, seq, now, request.Data));
        var sessionEvent = new SessionEvent(Name, request.Event, seq, now, request.Data, frame, request.Id, request.Final, timestamp);
        cost += HistoryBudget.Cost(sessionEvent);
        if (_history.Add(sessionEvent) is { } evicted)
        {
            if (evicted.Id is { } evictedId && _ids.TryGetValue(evictedId, out long mapped) && mapped == evicted.Seq)
            {
                // The key leaves with its event: idempotency holds within history, as the spec says.
                _ids.Remove(evictedId);
            }

            // An event the state still shows stays in memory; it is paid for until the state moves on.
            if (!(_state.TryGetValue(evicted.Name, out SessionEvent? shown) && ReferenceEquals(shown, evicted)))
            {
                Free(evicted);
            }
        }

        if (request.Id is { } id)
        {
            _ids[id] = seq;
        }

        if (_state.TryGetValue(request.Event, out SessionEvent? previous) && previous.Seq < _history.OldestSeq)
        {
            // History had already let it go; only the state held it.
            Free(previous);
        }

        _state[request.Event] = sessionEvent;
        _complete |= request.Final;
        _members.FanOut(sessionEvent, ref idle);
        return seq;
    }

    private void Free(SessionEvent e)
    {
        long cost = HistoryBudget.Cost(e);
        _retained -= cost;
        budget.Release(cost);
    }

    /// <summary>True when the new events would take the session past <c>Sessions:MaxEventNames</c> names.</summary>
    private bool TooManyNames(IReadOnlyList<PublishRequest> requests, bool[] duplicate)
    {
        int names = _state.Count;
        HashSet<string>? added = null;
        for (int i = 0; i < requests.Count; i++)
        {
            string name = requests[i].Event;
            if (!duplicate[i] && !_state.ContainsKey(name) && (added ??= new HashSet<string>(StringComparer.Ordinal)).Add(name))
            {
                names++;
            }
        }

        return names > maxEventNames;
    }

    /// <summary>The replay after <paramref name="from"/>: from this life's start, and incomplete, when its epoch is of another life.</summary>
    private Replay ReplayAfter(ResumePoint from)
    {
        List<SessionEvent> events = _history.After(from.SinceIn(Epoch), _seq, int.MaxValue, out bool complete);
        return new Replay(from.Seq, events, complete && from.IsIn(Epoch), Epoch);
    }

    /// <summary>The session is gone: everything it held goes back to the budget.</summary>
    private void ReleaseAll()
    {
        budget.Release(_retained);
        _retained = 0;
    }
}
