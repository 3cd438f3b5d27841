using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Backplane;

/// <summary>The default backplane: every session in this process's memory. Nothing to install.</summary>
internal sealed partial class MemoryBackplane : IBackplane
{
    private readonly ConcurrentDictionary<string, MemorySession> _sessions = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<MemoryBackplane> _logger;
    private readonly HistoryBudget _budget;
    private readonly int _historyCapacity;
    private readonly int _maxSessions;
    private readonly int _maxEventNames;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeSpan _completedRetention;

    public MemoryBackplane(IOptions<HistoryOptions> history, IOptions<SessionsOptions> sessions, TimeProvider time, GatewayMetrics metrics, ILogger<MemoryBackplane> logger)
    {
        _budget = new HistoryBudget(history);
        _historyCapacity = history.Value.MaxEvents;
        _maxSessions = sessions.Value.MaxSessions;
        _maxEventNames = sessions.Value.MaxEventNames;
        _idleTimeout = sessions.Value.IdleTimeout;
        _completedRetention = sessions.Value.CompletedRetention;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        metrics.ObserveSessions(() => _sessions.Count, () => _budget.Used);
    }

    public int SessionCount => _sessions.Count;

    public bool IsAvailable => true;

    /// <summary>The bytes all sessions' events hold now, against <see cref="HistoryOptions.MaxTotalBytes"/>.</summary>
    public long HistoryBytes => _budget.Used;

    public bool CanAdmit(string session) => _sessions.ContainsKey(session) || _sessions.Count < _maxSessions;

    public ValueTask<PublishResult> PublishAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken)
    {
        DateTimeOffset now = Timestamps.TruncateToMilliseconds(_time.GetUtcNow());
        var completed = new List<ISessionMember>();
        while (true)
        {
            if (TryGetOrCreate(session) is not { } target)
            {
                return ValueTask.FromResult(new PublishResult(PublishStatus.SessionLimit, new long[events.Count], new bool[events.Count], 0));
            }

            if (target.TryPublish(events, now, _time.GetTimestamp(), completed) is { } result)
            {
                int published = result.Status == PublishStatus.Accepted ? result.Duplicate.Count(d => !d) : 0;
                _metrics.EventsPublished(published);
                if (completed.Count > 0)
                {
                    // The final event is queued ahead of the close in every member's queue.
                    foreach (ISessionMember member in completed)
                    {
                        member.OnSessionClosed(CloseCodes.Normal, "session complete");
                    }

                    Log.SessionCompleted(_logger, session, result.Seq, completed.Count);
                }

                return ValueTask.FromResult(result);
            }

            ForgetRemoved(target);
        }
    }

    public ValueTask<SessionMembership> JoinAsync(string session, ISessionMember member, ResumePoint? from, CancellationToken cancellationToken)
    {
        while (true)
        {
            MemorySession target = GetOrCreate(session);
            if (target.TryJoin(member, from) is not null)
            {
                return ValueTask.FromResult<SessionMembership>(new Membership(target, member, _time));
            }

            ForgetRemoved(target);
        }
    }

    public async ValueTask<EventPage?> PollAsync(string session, ResumePoint from, int limit, TimeSpan wait, CancellationToken cancellationToken)
    {
        long deadline = _time.GetTimestamp();
        while (true)
        {
            if (TryGetOrCreate(session) is not { } target)
            {
                return null;
            }

            EventPage? page = target.TryPoll(from, limit, out Task? next, out long seq);
            if (page is not null)
            {
                return page;
            }

            if (next is null)
            {
                ForgetRemoved(target);
                continue;
            }

            TimeSpan left = wait - _time.GetElapsedTime(deadline);
            if (left <= TimeSpan.Zero)
            {
                return new EventPage([], seq, Complete: from.IsIn(target.Epoch), More: false, SessionComplete: false, target.Epoch);
            }

            try
            {
                await next.WaitAsync(left, _time, cancellationToken);
            }
            catch (TimeoutException)
            {
                // Loop once more: the answer is "nothing yet", unless an event slipped in at the deadline.
                wait = TimeSpan.Zero;
            }
        }
    }

    public ValueTask<SessionSnapshot?> GetSessionAsync(string session, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_sessions.TryGetValue(session, out MemorySession? s) ? s.Snapshot() : null);

    public ValueTask<IReadOnlyList<SessionSummary>> ListSessionsAsync(CancellationToken cancellationToken)
    {
        var list = new List<SessionSummary>(_sessions.Count);
        foreach (MemorySession session in _sessions.Values)
        {
            list.Add(session.Summary());
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.Session, b.Session));
        return ValueTask.FromResult<IReadOnlyList<SessionSummary>>(list);
    }

    public ValueTask<bool> DeleteSessionAsync(string session, CancellationToken cancellationToken)
    {
        if (!_sessions.TryRemove(session, out MemorySession? removed))
        {
            return ValueTask.FromResult(false);
        }

        var members = new List<ISessionMember>();
        removed.Remove(members);
        foreach (ISessionMember member in members)
        {
            member.OnSessionClosed(CloseCodes.GoingAway, "session closed");
        }

        Log.SessionDeleted(_logger, session, members.Count);
        return ValueTask.FromResult(true);
    }

    /// <summary>
    /// Forgets sessions idle past <see cref="SessionsOptions.IdleTimeout"/>, and complete ones
    /// past <see cref="SessionsOptions.CompletedRetention"/>; returns how many.
    /// </summary>
    public int ExpireSessions()
    {
        long now = _time.GetTimestamp();
        int expired = 0;
        foreach (KeyValuePair<string, MemorySession> entry in _sessions)
        {
            if (entry.Value.TryExpire(now, _idleTimeout, _completedRetention, _time))
            {
                _sessions.TryRemove(entry);
                expired++;
            }
        }

        if (expired > 0)
        {
            Log.SessionsExpired(_logger, expired);
        }

        return expired;
    }

    /// <summary>
    /// A session expired or was deleted between lookup and lock: drop the stale entry (if the
    /// sweeper has not yet) so that the next lookup creates a fresh session.
    /// </summary>
    private void ForgetRemoved(MemorySession removed) => _sessions.TryRemove(KeyValuePair.Create(removed.Name, removed));

    /// <summary>The session, created when missing; connections have passed <see cref="CanAdmit"/> before they get here.</summary>
    private MemorySession GetOrCreate(string session) =>
        _sessions.GetOrAdd(session, static (name, self) => new MemorySession(name, self._historyCapacity, self._maxEventNames, self._budget, self._time.GetTimestamp()), this);

    /// <summary>The session, created when missing unless <see cref="SessionsOptions.MaxSessions"/> are held already.</summary>
    private MemorySession? TryGetOrCreate(string session) =>
        _sessions.TryGetValue(session, out MemorySession? existing) ? existing
        : _sessions.Count < _maxSessions ? GetOrCreate(session)
        : null;

    private sealed class Membership(MemorySession session, ISessionMember member, TimeProvider time) : SessionMembership
    {
        private int _left;

        public override ValueTask ReplayAsync(ResumePoint from, Action<Replay> deliver, CancellationToken cancellationToken)
        {
            session.Replay(from, deliver);
            return ValueTask.CompletedTask;
        }

        public override void Leave()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                session.Leave(member, time.GetTimestamp());
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Session {Session} deleted; {Clients} clients closed with 1001")]
        public static partial void SessionDeleted(ILogger logger, string session, int clients);

        [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "{Count} idle or completed sessions expired")]
        public static partial void SessionsExpired(ILogger logger, int count);

        [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Session {Session} completed at seq {Seq}; {Clients} clients closed with 1000")]
        public static partial void SessionCompleted(ILogger logger, string session, long seq, int clients);
    }
}
