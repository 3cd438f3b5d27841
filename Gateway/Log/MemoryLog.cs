using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Log;

/// <summary>
/// The default log: every session in this process's memory. Nothing to install. Its feed is
/// called under the session's lock, so the hub gets every batch in order and with no gap.
/// </summary>
internal sealed partial class MemoryLog : ISessionLog
{
    private readonly ConcurrentDictionary<string, MemoryLogSession> _sessions = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ILogger<MemoryLog> _logger;
    private readonly HistoryBudget _budget;
    private readonly SessionProfiles _profiles;
    private readonly int _maxSessions;
    private readonly SessionLimits _limits;
    private ILogFeed? _feed;

    // Without profiles (a benchmark building its parts by hand), every session takes the globals.
    public MemoryLog(
        IOptions<HistoryOptions> history, IOptions<SessionsOptions> sessions, IOptions<LimitsOptions> limits, TimeProvider time, GatewayMetrics metrics, ILogger<MemoryLog> logger,
        SessionProfiles? profiles = null)
    {
        _budget = new HistoryBudget(history);
        _profiles = profiles ?? SessionProfiles.Of(history.Value, sessions.Value);
        _maxSessions = sessions.Value.MaxSessions;
        _limits = new SessionLimits(sessions.Value.MaxEventNames, sessions.Value.MaxKeys, limits.Value.MaxAssembledBytes);
        _time = time;
        _logger = logger;
        metrics.ObserveSessions(() => _sessions.Count, () => _budget.Used);
    }

    public bool IsAvailable => true;

    /// <summary>The bytes all sessions' events hold now, against <see cref="HistoryOptions.MaxTotalBytes"/>.</summary>
    public long HistoryBytes => _budget.Used;

    public void Attach(ILogFeed feed) => _feed = feed;

    /// <summary>One process: the hub's members are the whole presence, and nobody else needs telling.</summary>
    public ValueTask<PresenceRead> ReadPresenceAsync(string session, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new PresenceRead(_sessions.ContainsKey(session), Members: null));

    public void PresenceChanged(string session, PresenceChange change)
    {
    }

    public bool CanCreate(string session) => _sessions.ContainsKey(session) || _sessions.Count < _maxSessions;

    public ValueTask<PublishResult> AppendAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken)
    {
        DateTimeOffset now = Timestamps.TruncateToMilliseconds(_time.GetUtcNow());
        while (true)
        {
            if (TryGetOrCreate(session) is not { } target)
            {
                return ValueTask.FromResult(new PublishResult(PublishStatus.SessionLimit, new long[events.Count], new bool[events.Count], 0));
            }

            if (target.TryAppend(events, now, _time.GetTimestamp(), _feed, out HubOutbox? aftermath) is { } result)
            {
                aftermath?.Flush();
                return ValueTask.FromResult(result);
            }

            ForgetRemoved(target);
        }
    }

    public ValueTask<LogRead> ReadAsync(string session, long after, int limit, ReadIntent intent, CancellationToken cancellationToken)
    {
        while (true)
        {
            MemoryLogSession? target = intent switch
            {
                // A joining client was admitted already: its session is created even at the limit.
                ReadIntent.Join => GetOrCreate(session),
                ReadIntent.Create => TryGetOrCreate(session),
                _ => _sessions.GetValueOrDefault(session),
            };
            if (target is null)
            {
                return ValueTask.FromResult(intent == ReadIntent.Create ? LogRead.Refused : LogRead.Missing);
            }

            if (target.TryRead(after, limit, intent == ReadIntent.Join, _time.GetTimestamp()) is { } read)
            {
                return ValueTask.FromResult(read);
            }

            ForgetRemoved(target);
        }
    }

    public void Left(string session, Action<string, long>? remaining = null)
    {
        // Told outside the session's lock: whoever listens may take locks of its own.
        if (_sessions.TryGetValue(session, out MemoryLogSession? target) && target.Left(_time.GetTimestamp()) is >= 0 and long left)
        {
            remaining?.Invoke(session, left);
        }
    }

    public ValueTask<SessionSnapshot?> SnapshotAsync(string session, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_sessions.TryGetValue(session, out MemoryLogSession? s) ? s.Snapshot() : null);

    public ValueTask<IReadOnlyList<SessionSummary>> ListAsync(CancellationToken cancellationToken)
    {
        var list = new List<SessionSummary>(_sessions.Count);
        foreach (MemoryLogSession session in _sessions.Values)
        {
            list.Add(session.Summary());
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.Session, b.Session));
        return ValueTask.FromResult<IReadOnlyList<SessionSummary>>(list);
    }

    public ValueTask<bool> DeleteAsync(string session, CancellationToken cancellationToken)
    {
        if (!_sessions.TryGetValue(session, out MemoryLogSession? removed))
        {
            return ValueTask.FromResult(false);
        }

        // Removed under its lock first, so that a publish racing the delete starts the next life
        // only after the hub has closed this one's members.
        bool deleted = removed.Remove(_feed, out HubOutbox? aftermath);
        ForgetRemoved(removed);
        aftermath?.Flush();
        if (deleted)
        {
            Log.SessionDeleted(_logger, session);
        }

        return ValueTask.FromResult(deleted);
    }

    /// <summary>
    /// Forgets sessions idle past their idle timeout, and complete ones past their completed
    /// retention (their profile's, or <see cref="SessionsOptions"/>'); returns how many. The others
    /// let go of the events their latest read made (<see cref="MemoryLogSession.ForgetReads"/>).
    /// </summary>
    public int ExpireSessions()
    {
        long now = _time.GetTimestamp();
        int expired = 0;
        foreach (KeyValuePair<string, MemoryLogSession> entry in _sessions)
        {
            if (entry.Value.TryExpire(now, _time, _feed, out HubOutbox? aftermath))
            {
                _sessions.TryRemove(entry);
                aftermath?.Flush();
                expired++;
            }
            else
            {
                entry.Value.ForgetReads();
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
    private void ForgetRemoved(MemoryLogSession removed) => _sessions.TryRemove(KeyValuePair.Create(removed.Name, removed));

    /// <summary>The session, created when missing; connections have passed <see cref="CanCreate"/> before they get here.</summary>
    private MemoryLogSession GetOrCreate(string session) =>
        _sessions.GetOrAdd(session, static (name, self) => new MemoryLogSession(name, self._profiles.For(name), self._limits, self._budget, self._time.GetTimestamp()), this);

    /// <summary>The session, created when missing unless <see cref="SessionsOptions.MaxSessions"/> are held already.</summary>
    private MemoryLogSession? TryGetOrCreate(string session) =>
        _sessions.TryGetValue(session, out MemoryLogSession? existing) ? existing
        : _sessions.Count < _maxSessions ? GetOrCreate(session)
        : null;

    private static partial class Log
    {
        [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Session {Session} deleted; its clients are closed with 1001")]
        public static partial void SessionDeleted(ILogger logger, string session);

        [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "{Count} idle or completed sessions expired")]
        public static partial void SessionsExpired(ILogger logger, int count);
    }
}
