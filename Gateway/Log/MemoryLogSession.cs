using System.Runtime.InteropServices;
using Gateway.Hub;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Log;

/// <summary>
/// One session held in memory. A single lock orders seq assignment, history, state (keyed and
/// assembled texts included) and idempotency keys, and the hand-over of each batch to the feed: the
/// hub sees every batch in seq order, with no gap, before the append returns.
/// </summary>
internal sealed class MemoryLogSession(string name, SessionSettings settings, SessionLimits limits, HistoryBudget budget, long createdAt)
{
    private readonly Lock _gate = new();
    private readonly EventHistory _history = new(name, settings.HistoryMaxEvents, settings.HistoryMaxBytes);

    // The latest event of each name; while history holds it, the same bytes as history's.
    private readonly Dictionary<string, HeldEvent> _state = new(StringComparer.Ordinal);

    // The latest event of each name and key, and the texts appends assembled (spec section 19).
    private readonly KeyedState _keyed = new(limits.MaxKeys, limits.MaxAssembledBytes);

    // Idempotency keys of the events history holds, so that a retried publish finds its seq.
    private readonly Dictionary<JsonScalar, long> _ids = [];

    private long _seq;
    private string? _lastEventName;

    // Clients counted in by joins on this node, less those that left.
    private int _clients;
    private long _idleSince = createdAt;
    private long _completedAt;
    private DateTimeOffset? _lastEventAt;
    private bool _complete;
    private bool _removed;

    // What this session's events hold of the history budget.
    private long _retained;

    public string Name { get; } = name;

    /// <summary>Its profile's settings (spec section 20), resolved once when the session was created.</summary>
    public SessionSettings Settings { get; } = settings;

    /// <summary>This life of the session: a session held in memory is new in each process, and after each delete or expiry.</summary>
    public string Epoch { get; } = SessionEpoch.New();

    /// <summary>
    /// Appends under the lock, and hands the new events to <paramref name="feed"/> before letting
    /// go of it; what the feed leaves to do is in <paramref name="aftermath"/>, for the caller to
    /// flush with no lock held. Returns null when the session was removed meanwhile (the caller
    /// retries on a new one).
    /// </summary>
    public PublishResult? TryAppend(IReadOnlyList<PublishRequest> requests, DateTimeOffset now, long timestamp, ILogFeed? feed, out HubOutbox? aftermath)
    {
        var seqs = new long[requests.Count];
        var duplicate = new bool[requests.Count];
        aftermath = null;
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
            if (anyNew)
            {
                KeyedCheck keyed = _keyed.Check(requests, NewEvents(requests, duplicate));
                if (keyed.Status != PublishStatus.Accepted)
                {
                    return new PublishResult(keyed.Status, seqs, duplicate, _seq, keyed.Refused);
                }

                estimate = keyed.Growth;
            }

            for (int i = 0; i < requests.Count; i++)
            {
                estimate += duplicate[i] ? 0 : HistoryBudget.Estimate(Name, requests[i]);
            }

            if (!budget.TryReserve(estimate))
            {
                return new PublishResult(PublishStatus.MemoryFull, seqs, duplicate, _seq);
            }

            long cost = 0;
            SessionEvent? single = null;
            List<SessionEvent>? appended = null;
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

                SessionEvent e = Append(request, now, timestamp, ref cost);
                seqs[i] = e.Seq;
                if (single is null)
                {
                    single = e;
                }
                else
                {
                    (appended ??= [single]).Add(e);
                }
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
                }
            }

            if (feed is not null && single is { } first)
            {
                aftermath = appended is null
                    ? feed.OnAppended(Name, Epoch, new ReadOnlySpan<SessionEvent>(in first))
                    : feed.OnAppended(Name, Epoch, CollectionsMarshal.AsSpan(appended));
            }
        }

        return new PublishResult(PublishStatus.Accepted, seqs, duplicate, seqs.Length > 0 ? seqs[^1] : 0);
    }

    /// <summary>
    /// Where the session stands and the held events after <paramref name="after"/> (none when it
    /// is negative); with <paramref name="join"/>, a client joins: it is counted (unless the
    /// session is complete) and the idle time starts again. Null when the session was removed
    /// meanwhile (the caller retries on a new one).
    /// </summary>
    public LogRead? TryRead(long after, int limit, bool join, long timestamp)
    {
        lock (_gate)
        {
            if (_removed)
            {
                return null;
            }

            long clients = 0;
            if (join && !_complete)
            {
                clients = ++_clients;
                _idleSince = timestamp;
            }

            if (after < 0 || after >= _seq)
            {
                return new LogRead(LogReadFound.Found, _seq, _complete, Held: true, More: false, Epoch, [], clients);
            }

            List<SessionEvent> events = _history.After(after, _seq, limit, out bool held);
            bool more = events.Count > 0 && events[^1].Seq < _seq;
            return new LogRead(LogReadFound.Found, _seq, _complete, held, more, Epoch, events, clients);
        }
    }

    /// <summary>
    /// Lets go of the events the latest read made for the reads after it to share (the memory
    /// log's sweep calls this, so that they are held for a sweep's period at most).
    /// </summary>
    public void ForgetReads()
    {
        lock (_gate)
        {
            _history.ForgetReads();
        }
    }

    /// <summary>A client counted by a join left. Returns the clients that remain, or -1 when none was counted.</summary>
    public long Left(long timestamp)
    {
        lock (_gate)
        {
            if (_clients == 0)
            {
                return -1;
            }

            if (--_clients == 0)
            {
                _idleSince = timestamp;
            }

            return _clients;
        }
    }

    public SessionSummary Summary()
    {
        lock (_gate)
        {
            return new SessionSummary(Name, _seq, _clients, _lastEventAt, _complete);
        }
    }

    public SessionSnapshot Snapshot()
    {
        lock (_gate)
        {
            var state = new StateEntry[_state.Count];
            int i = 0;
            foreach (HeldEvent e in _state.Values)
            {
                state[i++] = e.ToStateEntry();
            }

            Array.Sort(state, static (a, b) => a.Seq.CompareTo(b.Seq));
            return new SessionSnapshot(Name, _seq, Epoch, _clients, _lastEventAt, _complete, state, _keyed.Snapshot());
        }
    }

    /// <summary>
    /// Marks the session removed when it has had no member and no publish for its idle timeout,
    /// or, once complete, when its completed retention has passed since it completed.
    /// </summary>
    public bool TryExpire(long now, TimeProvider time, ILogFeed? feed, out HubOutbox? aftermath)
    {
        aftermath = null;
        lock (_gate)
        {
            bool expired = _complete
                ? time.GetElapsedTime(_completedAt, now) >= Settings.CompletedRetention
                : _clients == 0 && time.GetElapsedTime(_idleSince, now) >= Settings.IdleTimeout;
            if (_removed || !expired)
            {
                return false;
            }

            _removed = true;
            ReleaseAll();

            // Under the lock, so that the hub hears of this life's end before any event of the next.
            aftermath = feed?.OnDeleted(Name, Epoch);
            return true;
        }
    }

    /// <summary>
    /// Marks the session removed (what it held goes back to the budget) and tells
    /// <paramref name="feed"/>, under the lock as for an expiry. False when it was removed already.
    /// </summary>
    public bool Remove(ILogFeed? feed, out HubOutbox? aftermath)
    {
        aftermath = null;
        lock (_gate)
        {
            if (_removed)
            {
                return false;
            }

            _removed = true;
            ReleaseAll();
            aftermath = feed?.OnDeleted(Name, Epoch);
            return true;
        }
    }

    private SessionEvent Append(PublishRequest request, DateTimeOffset now, long timestamp, ref long cost)
    {
        long seq = ++_seq;
        EventTraits traits = request.Traits;
        byte[] frame = ServerFrames.CreateEventFrame(new EventMessage(Name, request.Event, seq, now, request.Data, request.From, traits.Key, traits.Append), out Range data);

        // The event goes out to the members as an object of its own; history keeps a copy of its
        // bytes (HeldEvent), and a run of events of one name shares the first one's string.
        string name = string.Equals(_lastEventName, request.Event, StringComparison.Ordinal) ? _lastEventName! : request.Event;
        _lastEventName = name;
        var sessionEvent = new SessionEvent(Name, name, seq, now, frame.AsMemory(data), frame, request.Id, request.Final, timestamp, request.From, traits);
        long oldestHeld = _history.OldestSeq;
        HeldEvent held = _history.Add(sessionEvent, out HeldEvent? evicted);
        cost += HistoryBudget.Cost(held);
        if (request.Id is { } id)
        {
            _ids[id] = seq;
        }

        _complete |= request.Final;
        if (traits.Key is not null)
        {
            // A keyed event lives under its name and key only (docs/protocol.md): its entry holds a
            // copy of what it shows, paid for apart from the event, which history alone holds.
            cost += _keyed.Apply(sessionEvent);
        }
        else
        {
            if (_state.TryGetValue(request.Event, out HeldEvent previous) && previous.Seq < oldestHeld)
            {
                // History had already let it go; only the state held it.
                Free(previous);
            }

            _state[request.Event] = held;
        }

        // Then what the new event pushed out of history (the state has moved on already).
        if (evicted is { } oldest)
        {
            Evicted(oldest);
        }

        while (_history.TrimOldest() is { } trimmed)
        {
            Evicted(trimmed);
        }

        return sessionEvent;
    }

    /// <summary>An event left history (its count or byte bound).</summary>
    private void Evicted(in HeldEvent evicted)
    {
        if (evicted.Id is { } evictedId && _ids.TryGetValue(evictedId, out long mapped) && mapped == evicted.Seq)
        {
            // The key leaves with its event: idempotency holds within history, as the spec says.
            _ids.Remove(evictedId);
        }

        // An event the state still shows stays in memory, paid for until the state moves on; it
        // takes its bytes along, so that history's shared buffer can go.
        if (_state.TryGetValue(evicted.Name, out HeldEvent shown) && shown.Seq == evicted.Seq)
        {
            _state[evicted.Name] = shown.Detached();
        }
        else
        {
            Free(evicted);
        }
    }

    private void Free(in HeldEvent e)
    {
        long cost = HistoryBudget.Cost(e);
        _retained -= cost;
        budget.Release(cost);
    }

    /// <summary>
    /// Which events of a batch would be appended: not retries of an id in history, nor repeats of an
    /// id earlier in the batch (which the append answers with that one's seq).
    /// </summary>
    private bool[] NewEvents(IReadOnlyList<PublishRequest> requests, bool[] duplicate)
    {
        var skip = new bool[requests.Count];
        HashSet<JsonScalar>? seen = null;
        for (int i = 0; i < requests.Count; i++)
        {
            skip[i] = duplicate[i] || (requests[i].Id is { } id && !(seen ??= []).Add(id));
        }

        return skip;
    }

    /// <summary>True when the new events would take the session past <c>Sessions:MaxEventNames</c> names.</summary>
    private bool TooManyNames(IReadOnlyList<PublishRequest> requests, bool[] duplicate)
    {
        int names = _state.Count;
        HashSet<string>? added = null;
        for (int i = 0; i < requests.Count; i++)
        {
            string name = requests[i].Event;
            if (!duplicate[i] && requests[i].Traits.Key is null && !_state.ContainsKey(name) && (added ??= new HashSet<string>(StringComparer.Ordinal)).Add(name))
            {
                names++;
            }
        }

        return names > limits.MaxEventNames;
    }

    /// <summary>The session is gone: everything it held, its keyed state included, goes back to the budget.</summary>
    private void ReleaseAll()
    {
        budget.Release(_retained);
        _retained = 0;
    }
}

/// <summary>What bounds one session held in memory: <c>Sessions:MaxEventNames</c>, <c>Sessions:MaxKeys</c>, <c>Limits:MaxAssembledBytes</c>.</summary>
internal readonly record struct SessionLimits(int MaxEventNames, int MaxKeys, int MaxAssembledBytes);
