using Gateway.Hub;
using Gateway.Log;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Tests.Hub;

/// <summary>
/// A session log for the hub's table tests. Its sessions are real (seqs, a history that lets old
/// events go, an epoch per life, completion, delete), but its feed is the test's: every appended
/// batch and every delete is queued, and the test delivers it, delivers it twice, drops it, or
/// delivers a later one first. Reads answer from the sessions at once, unless the test holds them:
/// a held read waits until the test releases it, answered as the store stood when it was asked or
/// as it stands at the release, so that the feed can move while a join's or a catch-up's read is
/// in flight.
/// </summary>
/// <remarks>It does not keep idempotency ids or limits: the hub never sees them.</remarks>
internal sealed class ScriptedLog(int historyCapacity, Signal changes) : ISessionLog
{
    private static readonly byte[] Data = "{}"u8.ToArray();

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Life> _sessions = new(StringComparer.Ordinal);
    private readonly List<FeedItem> _queue = [];
    private readonly List<HeldRead> _held = [];
    private readonly Dictionary<SessionEvent, string> _epochs = new(ReferenceEqualityComparer.Instance);
    private int _lives;
    private int _holdNext;
    private bool _answerAtRelease;
    private ILogFeed? _feed;

    /// <summary>Items appended or deleted but not yet delivered to the hub.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Reads waiting for the test to release them.</summary>
    public int Held
    {
        get
        {
            lock (_gate)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>How many reads the hub has made.</summary>
    public int Reads { get; private set; }

    public bool IsAvailable => true;

    public void Attach(ILogFeed feed) => _feed = feed;

    public bool CanCreate(string session) => true;

    /// <summary>The current life of <paramref name="session"/>, or null when it does not exist.</summary>
    public Life? Current(string session)
    {
        lock (_gate)
        {
            return _sessions.GetValueOrDefault(session);
        }
    }

    /// <summary>The epoch of the life <paramref name="sessionEvent"/> was appended in.</summary>
    public string EpochOf(SessionEvent sessionEvent)
    {
        lock (_gate)
        {
            return _epochs.TryGetValue(sessionEvent, out string? epoch) ? epoch : "(not from this log)";
        }
    }

    public ValueTask<PublishResult> AppendAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken)
    {
        var seqs = new long[events.Count];
        var duplicate = new bool[events.Count];
        PublishResult result;
        lock (_gate)
        {
            Life life = _sessions.TryGetValue(session, out Life? existing) ? existing : Create(session);
            if (life.Complete)
            {
                return ValueTask.FromResult(new PublishResult(PublishStatus.SessionComplete, seqs, duplicate, life.Seq));
            }

            var appended = new SessionEvent[events.Count];
            for (int i = 0; i < events.Count; i++)
            {
                PublishRequest request = events[i];
                long seq = ++life.Seq;
                var e = new SessionEvent(session, request.Event, seq, DateTimeOffset.UnixEpoch, request.Data, [], request.Id, request.Final);
                life.History.Add(e, out _);
                life.Complete |= request.Final;
                _epochs[e] = life.Epoch;
                appended[i] = e;
                seqs[i] = seq;
            }

            _queue.Add(new FeedItem(session, life.Epoch, appended));
            result = new PublishResult(PublishStatus.Accepted, seqs, duplicate, life.Seq);
        }

        changes.Pulse();
        return ValueTask.FromResult(result);
    }

    /// <summary>Appends <paramref name="count"/> events, the last one final when <paramref name="final"/>.</summary>
    public static PublishRequest[] Events(int count, bool final = false) =>
        [.. Enumerable.Range(0, count).Select(i => new PublishRequest("step", Data, Final: final && i == count - 1))];

    public ValueTask<LogRead> ReadAsync(string session, long after, int limit, ReadIntent intent, CancellationToken cancellationToken)
    {
        HeldRead? held = null;
        LogRead? answer = null;
        lock (_gate)
        {
            Reads++;
            if (_holdNext > 0)
            {
                _holdNext--;
                held = new HeldRead(session, after, limit, intent, _answerAtRelease ? null : Execute(session, after, limit, intent));
                _held.Add(held);
            }
            else
            {
                answer = Execute(session, after, limit, intent);
            }
        }

        changes.Pulse();
        return held is null ? ValueTask.FromResult(answer!) : new ValueTask<LogRead>(held.Reply.Task);
    }

    public void Left(string session, Action<string, long>? remaining = null)
    {
        long left = -1;
        lock (_gate)
        {
            if (_sessions.TryGetValue(session, out Life? life))
            {
                life.Clients = Math.Max(0, life.Clients - 1);
                left = life.Clients;
            }
        }

        if (left >= 0)
        {
            remaining?.Invoke(session, left);
        }
    }

    /// <summary>One node: the hub's own members are the whole presence.</summary>
    public ValueTask<PresenceRead> ReadPresenceAsync(string session, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(new PresenceRead(_sessions.ContainsKey(session), Members: null));
        }
    }

    public void PresenceChanged(string session, PresenceChange change)
    {
    }

    public ValueTask<SessionSnapshot?> SnapshotAsync(string session, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_sessions.TryGetValue(session, out Life? life)
                ? new SessionSnapshot(session, life.Seq, life.Epoch, life.Clients, null, life.Complete, [], [])
                : null);
        }
    }

    public ValueTask<IReadOnlyList<SessionSummary>> ListAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<SessionSummary>>(
                [.. _sessions.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new SessionSummary(s.Key, s.Value.Seq, s.Value.Clients, null, s.Value.Complete))]);
        }
    }

    public ValueTask<bool> DeleteAsync(string session, CancellationToken cancellationToken)
    {
        bool deleted;
        lock (_gate)
        {
            deleted = _sessions.Remove(session, out Life? life);
            if (deleted)
            {
                _queue.Add(new FeedItem(session, life!.Epoch, null));
            }
        }

        changes.Pulse();
        return ValueTask.FromResult(deleted);
    }

    /// <summary>The store loses the session without a word on the feed (Redis restarted empty); the next append begins a new life.</summary>
    public void Lose(string session)
    {
        lock (_gate)
        {
            _sessions.Remove(session);
        }
    }

    /// <summary>The next <paramref name="count"/> reads wait for <see cref="Release"/>.</summary>
    public void HoldReads(int count, bool answerAtRelease)
    {
        lock (_gate)
        {
            _holdNext = count;
            _answerAtRelease = answerAtRelease;
        }
    }

    /// <summary>Answers held read <paramref name="index"/> (0 is the oldest); the reader's continuation runs on this thread.</summary>
    public HeldRead Release(int index = 0)
    {
        HeldRead held;
        LogRead answer;
        lock (_gate)
        {
            held = _held[index];
            _held.RemoveAt(index);
            answer = held.Answer ?? Execute(held.Session, held.After, held.Limit, held.Intent);
        }

        held.Reply.TrySetResult(answer);
        changes.Pulse();
        return held;
    }

    /// <summary>Holds no more reads, and answers every held one.</summary>
    public void ReleaseAll()
    {
        HoldReads(0, false);
        while (Held > 0)
        {
            Release();
        }
    }

    /// <summary>Describes queued item <paramref name="index"/>.</summary>
    public FeedItem Peek(int index)
    {
        lock (_gate)
        {
            return _queue[index];
        }
    }

    /// <summary>Hands queued item <paramref name="index"/> to the hub; with <paramref name="keep"/> it stays queued, to be delivered again.</summary>
    public FeedItem Deliver(int index = 0, bool keep = false)
    {
        FeedItem item;
        lock (_gate)
        {
            item = _queue[index];
            if (!keep)
            {
                _queue.RemoveAt(index);
            }
        }

        // As a log must: the hub's aftermath runs once no lock is held.
        HubOutbox? outbox = item.Events is { } events
            ? _feed!.OnAppended(item.Session, item.Epoch!, events)
            : _feed!.OnDeleted(item.Session, item.Epoch);
        outbox?.Flush();
        changes.Pulse();
        return item;
    }

    /// <summary>Loses queued item <paramref name="index"/>: the hub never hears of it.</summary>
    public FeedItem Drop(int index = 0)
    {
        lock (_gate)
        {
            FeedItem item = _queue[index];
            _queue.RemoveAt(index);
            return item;
        }
    }

    /// <summary>Delivers every queued item, oldest first.</summary>
    public void DeliverAll()
    {
        while (Queued > 0)
        {
            Deliver();
        }
    }

    /// <summary>The feed came back after a reconnection: the hub may have missed anything.</summary>
    public void Resync()
    {
        _feed!.OnResync();
        changes.Pulse();
    }

    private Life Create(string session)
    {
        var life = new Life(session, $"life{++_lives}", historyCapacity);
        _sessions[session] = life;
        return life;
    }

    private LogRead Execute(string session, long after, int limit, ReadIntent intent)
    {
        if (!_sessions.TryGetValue(session, out Life? life))
        {
            if (intent == ReadIntent.Look)
            {
                return LogRead.Missing;
            }

            life = Create(session);
        }

        if (intent == ReadIntent.Join && !life.Complete)
        {
            life.Clients++;
        }

        if (after < 0 || after >= life.Seq)
        {
            return new LogRead(LogReadFound.Found, life.Seq, life.Complete, Held: true, More: false, life.Epoch, []);
        }

        List<SessionEvent> events = life.History.After(after, life.Seq, limit, out bool held);
        foreach (SessionEvent e in events)
        {
            // History makes each event again for its reader: the copies are of this life too.
            _epochs[e] = life.Epoch;
        }

        bool more = events.Count > 0 && events[^1].Seq < life.Seq;
        return new LogRead(LogReadFound.Found, life.Seq, life.Complete, held, more, life.Epoch, events);
    }

    /// <summary>One life of a session in the log.</summary>
    internal sealed class Life(string session, string epoch, int historyCapacity)
    {
        public string Epoch { get; } = epoch;

        public long Seq { get; set; }

        public bool Complete { get; set; }

        public int Clients { get; set; }

        public EventHistory History { get; } = new(session, historyCapacity);

        /// <summary>True when history still holds event <paramref name="seq"/>.</summary>
        public bool Holds(long seq) => seq >= History.OldestSeq && seq <= Seq;
    }

    /// <summary>What the feed would tell the hub: a batch appended in a life, or (no events) a delete.</summary>
    internal sealed record FeedItem(string Session, string? Epoch, SessionEvent[]? Events)
    {
        public override string ToString() => Events is { } events
            ? $"{events[0].Seq}..{events[^1].Seq} of {Epoch}"
            : "delete";
    }

    /// <summary>A read waiting for the test; <see cref="Answer"/> is null when it is answered at its release.</summary>
    internal sealed class HeldRead(string session, long after, int limit, ReadIntent intent, LogRead? answer)
    {
        public string Session { get; } = session;

        public long After { get; } = after;

        public int Limit { get; } = limit;

        public ReadIntent Intent { get; } = intent;

        public LogRead? Answer { get; } = answer;

        // Not asynchronous on purpose: the reader's continuation runs inside Release, so a script
        // knows what the hub did with the answer when Release returns.
        public TaskCompletionSource<LogRead> Reply { get; } = new();

        public override string ToString() => $"{Intent} after {After}";
    }
}

/// <summary>Wakes whoever waits for the next change of a script's state.</summary>
internal sealed class Signal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="Pulse"/>.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    public void Pulse() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
