using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
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
    private readonly int _historyCapacity;
    private readonly TimeSpan _idleTimeout;

    public MemoryBackplane(IOptions<HistoryOptions> history, IOptions<SessionsOptions> sessions, TimeProvider time, GatewayMetrics metrics, ILogger<MemoryBackplane> logger)
    {
        _historyCapacity = history.Value.MaxEvents;
        _idleTimeout = sessions.Value.IdleTimeout;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        metrics.ObserveSessions(() => _sessions.Count);
    }

    public int SessionCount => _sessions.Count;

    public ValueTask<PublishResult> PublishAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken)
    {
        var seqs = new long[events.Count];
        DateTimeOffset now = Protocol.Json.Timestamps.TruncateToMilliseconds(_time.GetUtcNow());
        while (true)
        {
            MemorySession target = GetOrCreate(session);
            if (target.TryPublish(events, now, _time.GetTimestamp(), seqs))
            {
                break;
            }

            ForgetRemoved(target);
        }

        _metrics.EventsPublished(events.Count);
        return ValueTask.FromResult(new PublishResult(seqs));
    }

    public ValueTask<SessionMembership> JoinAsync(string session, ISessionMember member, CancellationToken cancellationToken)
    {
        while (true)
        {
            MemorySession target = GetOrCreate(session);
            if (target.TryJoin(member, out long seq))
            {
                return ValueTask.FromResult<SessionMembership>(new Membership(target, member, seq, _time));
            }

            ForgetRemoved(target);
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

        ISessionMember[] members = removed.Remove();
        foreach (ISessionMember member in members)
        {
            member.OnSessionClosed(CloseCodes.GoingAway, "session closed");
        }

        Log.SessionDeleted(_logger, session, members.Length);
        return ValueTask.FromResult(true);
    }

    /// <summary>Forgets sessions idle past <see cref="SessionsOptions.IdleTimeout"/>; returns how many.</summary>
    public int ExpireIdleSessions()
    {
        long now = _time.GetTimestamp();
        int expired = 0;
        foreach (KeyValuePair<string, MemorySession> entry in _sessions)
        {
            if (entry.Value.TryExpire(now, _idleTimeout, _time))
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

    private MemorySession GetOrCreate(string session) =>
        _sessions.GetOrAdd(session, static (name, self) => new MemorySession(name, self._historyCapacity, self._time.GetTimestamp()), this);

    private sealed class Membership(MemorySession session, ISessionMember member, long seq, TimeProvider time) : SessionMembership
    {
        private int _left;

        public override long JoinedAtSeq => seq;

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

        [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "{Count} idle sessions expired")]
        public static partial void SessionsExpired(ILogger logger, int count);
    }
}
