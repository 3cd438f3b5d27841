using System.Collections.Concurrent;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hooks;
using Gateway.Log;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Hub;

/// <summary>
/// This node's sessions, over any session log: members join at an exact seam between their
/// replay and live events, get every event in seq order once, are closed when their session
/// completes or is deleted; long pollers wait here for the next event. Written once for every
/// log: the log only appends, reads and feeds (<see cref="ISessionLog"/>), and the ordering
/// itself, gaps and repeats included, is <see cref="HubSession"/>'s.
/// </summary>
/// <remarks>
/// The memory log's feed is synchronous and gapless, so a publish there is one pass: the log's
/// lock, then this session's, then the senders woken. Redis's feed is its pub/sub channel, which
/// may skip (a reconnection) or run ahead of a read; a session that sees a gap reads the log
/// after what it has delivered (a catch-up) while later events wait parked.
/// </remarks>
internal sealed partial class SessionHub : ILogFeed
{
    private readonly ConcurrentDictionary<string, HubSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, HubSession>.AlternateLookup<ReadOnlySpan<char>> _sessionsBySpan;
    private readonly Lock _sessionsGate = new();
    private readonly ISessionLog _log;
    private readonly TimeProvider _time;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<SessionHub> _logger;
    private readonly int _readLimit;
    private readonly TimeSpan _operationTimeout;
    private readonly SessionProfiles _profiles;

    // The backend's session_occupied and session_vacated notifications, when it wants them: the
    // log's counts across nodes say when a session got its first client and lost its last.
    private readonly HookOutbox? _hooks;
    private readonly Action<string, long>? _onLeft;

    public SessionHub(
        ISessionLog log, IOptions<HistoryOptions> history, IOptions<BackplaneOptions> backplane, IOptions<PresenceOptions> presence,
        TimeProvider time, GatewayMetrics metrics, ILogger<SessionHub> logger, HookOutbox? hooks = null, SessionProfiles? profiles = null)
    {
        // Without profiles (a test or benchmark building its parts by hand), every session takes the globals.
        _profiles = profiles ?? SessionProfiles.Of(history.Value, new SessionsOptions(), presence.Value);
        _hooks = hooks is { Enabled: true } ? hooks : null;
        _onLeft = _hooks?.OnLeft;
        _maxListed = presence.Value.MaxListed;
        _presence = new PresenceContext(time, metrics);
        metrics.ObservePresence(() => _presence.LocalMembers);
        _log = log;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        // One read must be able to cover any session's whole history, the longest profile's too.
        _readLimit = _profiles.LongestHistory;
        _operationTimeout = backplane.Value.OperationTimeout;
        _sessionsBySpan = _sessions.GetAlternateLookup<ReadOnlySpan<char>>();
        log.Attach(this);
    }

    /// <summary>Sessions with members, pollers, joins or catch-ups on this node.</summary>
    public int Sessions => _sessions.Count;

    /// <summary>False while the log's store cannot be reached: see <see cref="ISessionLog.IsAvailable"/>.</summary>
    public bool IsAvailable => _log.IsAvailable;

    /// <summary>
    /// True when <paramref name="session"/> exists or may be created (the session limit is not
    /// reached): checked before a connection is accepted, without waiting on the log.
    /// </summary>
    public bool CanAdmit(string session) => _sessions.ContainsKey(session) || _log.CanCreate(session);

    /// <summary>Appends to the log; its members here get the events through the feed.</summary>
    public async ValueTask<PublishResult> PublishAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken)
    {
        PublishResult result = await _log.AppendAsync(session, events, cancellationToken);
        if (result.Status == PublishStatus.Accepted)
        {
            int published = 0;
            foreach (bool duplicate in result.Duplicate)
            {
                published += duplicate ? 0 : 1;
            }

            _metrics.EventsPublished(published);
        }

        return result;
    }

    public ValueTask<SessionSnapshot?> GetSessionAsync(string session, CancellationToken cancellationToken) => _log.SnapshotAsync(session, cancellationToken);

    public ValueTask<IReadOnlyList<SessionSummary>> ListSessionsAsync(CancellationToken cancellationToken) => _log.ListAsync(cancellationToken);

    /// <summary>Deletes the session from the log; its members, on every node, are closed with 1001 through the feed.</summary>
    public ValueTask<bool> DeleteSessionAsync(string session, CancellationToken cancellationToken) => _log.DeleteAsync(session, cancellationToken);

    /// <summary>
    /// Adds a member to <paramref name="session"/>, creating the session when it does not exist.
    /// Its <see cref="ISessionMember.OnJoined"/> gets where the session stands and, with
    /// <paramref name="from"/>, the held events after it (the current life's from its start when
    /// its epoch is of another life), before any live event. A complete session takes no member:
    /// the joiner gets everything up to the final event and is closed.
    /// </summary>
    public async ValueTask<SessionMembership> JoinAsync(string session, ISessionMember member, ResumePoint? from, CancellationToken cancellationToken)
    {
        HubSession hub = Acquire(session);
        hub.BeginJoin();
        bool counted = false;
        try
        {
            long started = _time.GetTimestamp();

            // The joiner's seq is trusted until a read shows the session's life; a seq of another
            // life means reading again from the start.
            long? since = from?.Seq;
            for (int attempt = 0; ; attempt++)
            {
                // Taken before the read: if the read cannot be used, whatever moves the stream
                // after it lets the join read again.
                Task moved = hub.StreamMovedAsync();
                long readFrom = since is { } seq ? hub.ReadFrom(seq) : -1;

                // Only the first read counts the client and restarts the session's idle time.
                LogRead read = await _log.ReadAsync(session, readFrom, _readLimit, attempt == 0 ? ReadIntent.Join : ReadIntent.Create, cancellationToken);
                counted |= attempt == 0 && read.Found == LogReadFound.Found && !read.Complete;
                if (attempt == 0 && read.Clients == 1)
                {
                    _hooks?.Occupied(session);
                }

                if (from is { } point && point.SinceIn(read.Epoch) != since)
                {
                    since = point.SinceIn(read.Epoch);
                    continue;
                }

                var outbox = new HubOutbox(this, session);
                (bool Added, bool CatchUp)? joined = hub.TryJoin(member, from, readFrom, read, outbox, out bool catchUpFirst);
                outbox.Flush();
                if (joined is { } done)
                {
                    if (done.CatchUp)
                    {
                        StartCatchUp(hub, hub.Delivered);
                    }

                    if (counted && !done.Added)
                    {
                        _log.Left(session, _onLeft);
                        counted = false;
                    }

                    // Before the join returns, so before the member's sender starts: by the time
                    // the client reads its welcome, its join is on its way to the others.
                    bool present = done.Added && JoinPresence(hub, member);
                    return new Membership(this, hub, member, counted, present);
                }

                await ReadAgainAsync(hub, catchUpFirst, moved, started, cancellationToken);
            }
        }
        catch
        {
            hub.AbandonJoin();
            Release(hub);
            if (counted)
            {
                _log.Left(session, _onLeft);
            }

            throw;
        }
    }

    /// <summary>
    /// The held events after <paramref name="from"/> (the current life's from its start when its
    /// epoch is of another life), at most <paramref name="limit"/>. When there are none yet,
    /// waits up to <paramref name="wait"/> for the next publish. Creates the session when it does
    /// not exist, as a connection would; null when the session limit forbids that.
    /// </summary>
    public async ValueTask<EventPage?> PollAsync(string session, ResumePoint from, int limit, TimeSpan wait, CancellationToken cancellationToken)
    {
        HubSession hub = Acquire(session);
        try
        {
            long started = _time.GetTimestamp();
            long since = from.Seq;
            while (true)
            {
                // Listen before reading, so that an event appended between the read and the wait wakes it.
                Task next = hub.NextEventAsync();
                LogRead read = await _log.ReadAsync(session, since, limit, ReadIntent.Create, cancellationToken);
                if (read.Found == LogReadFound.Refused)
                {
                    return null;
                }

                if (from.SinceIn(read.Epoch) != since)
                {
                    // The poller's seq is of another life: this life's events from its start.
                    since = from.SinceIn(read.Epoch);
                    continue;
                }

                // A poller ahead of the session (it was deleted and began again) is answered at once.
                bool sameLife = from.IsIn(read.Epoch);
                if (since != read.Seq || read.Complete)
                {
                    return new EventPage(read.Events, read.Seq, read.Held && sameLife, read.More, read.Complete, read.Epoch);
                }

                TimeSpan left = wait - _time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    return new EventPage([], read.Seq, Complete: sameLife, More: false, SessionComplete: false, read.Epoch);
                }

                try
                {
                    await next.WaitAsync(left, _time, cancellationToken);
                }
                catch (TimeoutException)
                {
                    // Read once more: the answer is "nothing yet", unless an event slipped in at the deadline.
                    wait = TimeSpan.Zero;
                }
            }
        }
        finally
        {
            Release(hub);
        }
    }

    bool ILogFeed.Wants(ReadOnlySpan<char> session, long seq) =>
        _sessionsBySpan.TryGetValue(session, out HubSession? hub) && !hub.HasDelivered(seq);

    HubOutbox? ILogFeed.OnAppended(string session, string epoch, ReadOnlySpan<SessionEvent> events)
    {
        if (!_sessions.TryGetValue(session, out HubSession? hub))
        {
            return null;
        }

        var outbox = new HubOutbox(this, session);
        if (hub.Receive(events, epoch, outbox))
        {
            StartCatchUp(hub, hub.Delivered);
        }

        return outbox;
    }

    HubOutbox? ILogFeed.OnDeleted(string session, string? epoch)
    {
        if (!_sessions.TryGetValue(session, out HubSession? hub))
        {
            return null;
        }

        var outbox = new HubOutbox(this, session);
        hub.OnDeleted(outbox, epoch);
        return outbox;
    }

    void ILogFeed.OnResync()
    {
        foreach (HubSession hub in _sessions.Values)
        {
            ResyncPresence(hub);
            hub.WakePollers();
            CatchUp(hub);
        }
    }

    bool ILogFeed.IsBehind(string session, long seq, string? epoch) =>
        _sessions.TryGetValue(session, out HubSession? hub) && hub.IsBehind(seq, epoch);

    void ILogFeed.CatchUp(string session)
    {
        if (_sessions.TryGetValue(session, out HubSession? hub))
        {
            CatchUp(hub);
        }
    }

    /// <summary>Starts a catch-up of <paramref name="hub"/>, unless it follows no stream yet or one runs already (which then reads again).</summary>
    private void CatchUp(HubSession hub)
    {
        if (hub.TryStartCatchUp(out long from))
        {
            StartCatchUp(hub, from);
        }
    }

    void ILogFeed.CountMembers(List<(string Session, int Members)> into, bool includeEmpty)
    {
        foreach (HubSession hub in _sessions.Values)
        {
            int members = hub.MemberCount;
            if (members > 0 || includeEmpty)
            {
                into.Add((hub.Name, members));
            }
        }
    }

    /// <summary>Members were closed as their session completed (from <see cref="HubOutbox.Flush"/>).</summary>
    internal void Completed(string session, long seq, int members) => Log.SessionCompleted(_logger, session, seq, members);

    /// <summary>Members were closed as their session was deleted or reset (from <see cref="HubOutbox.Flush"/>).</summary>
    internal void Dropped(string session, int members, string reason) => Log.MembersClosed(_logger, session, members, reason);

    /// <summary>
    /// Reads what a session is missing from the log, after <paramref name="from"/>, until it has
    /// caught up; in the background. The session has marked its catch-up started.
    /// </summary>
    private void StartCatchUp(HubSession hub, long from)
    {
        lock (_sessionsGate)
        {
            // Held while it runs, so that it is the session members use that catches up.
            hub.Users++;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                long next = from;
                while (true)
                {
                    LogRead read = await _log.ReadAsync(hub.Name, next, _readLimit, ReadIntent.Look, CancellationToken.None);
                    _metrics.BackplaneEvents("catchup", read.Events.Count);
                    var outbox = new HubOutbox(this, hub.Name);
                    bool again = hub.ApplyCatchUp(next, read, outbox);
                    if (outbox.Dropped is { Count: > 0 } dropped)
                    {
                        _metrics.BackplaneEvents("dropped", dropped.Count);
                    }

                    outbox.Flush();
                    if (!again)
                    {
                        return;
                    }

                    next = hub.Delivered;
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Unavailable: the resync after the reconnection starts a new catch-up. Anything else is a bug, logged.
                if (e is not BackplaneUnavailableException)
                {
                    Log.CatchUpFailed(_logger, hub.Name, e);
                }

                hub.CancelCatchUp();
            }
            finally
            {
                Release(hub);
            }
        });
    }

    /// <summary>
    /// A join or a replay reads the log again while live events keep overtaking its read; past the
    /// operation timeout (from <paramref name="started"/>) it gives up, as for a store that does not answer.
    /// </summary>
    private void ThrowIfOutpaced(long started)
    {
        if (_time.GetElapsedTime(started) > _operationTimeout)
        {
            throw Outpaced();
        }
    }

    private static BackplaneUnavailableException Outpaced() =>
        new("events reached this node faster than it could read the session from the store; retry");

    /// <summary>
    /// Before a join or a replay reads again: when its read could not meet this node's stream
    /// until a catch-up moves it, starts that catch-up (<paramref name="catchUpFirst"/>) and waits
    /// for the stream to move (<paramref name="moved"/>, taken before the read), rather than read
    /// the same answer again and again. Past the operation timeout it gives up.
    /// </summary>
    private async ValueTask ReadAgainAsync(HubSession hub, bool catchUpFirst, Task moved, long started, CancellationToken cancellationToken)
    {
        ThrowIfOutpaced(started);
        if (catchUpFirst)
        {
            StartCatchUp(hub, hub.Delivered);
        }

        TimeSpan left = _operationTimeout - _time.GetElapsedTime(started);
        try
        {
            await moved.WaitAsync(left, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw Outpaced();
        }
    }

    private HubSession Acquire(string session)
    {
        lock (_sessionsGate)
        {
            HubSession hub = _sessions.GetOrAdd(session, static (name, profiles) => new HubSession(name, profiles.For(name)), _profiles);
            hub.Users++;
            return hub;
        }
    }

    private void Release(HubSession hub)
    {
        lock (_sessionsGate)
        {
            if (--hub.Users == 0)
            {
                _sessions.TryRemove(KeyValuePair.Create(hub.Name, hub));
            }
        }
    }

    private sealed class Membership(SessionHub owner, HubSession hub, ISessionMember member, bool counted, bool present) : SessionMembership
    {
        private int _left;

        public override async ValueTask ReplayAsync(ResumePoint from, Action<Replay> deliver, CancellationToken cancellationToken)
        {
            long started = owner._time.GetTimestamp();
            long since = from.Seq;
            while (true)
            {
                Task moved = hub.StreamMovedAsync();
                long readFrom = hub.ReadFrom(since);
                LogRead read = await owner._log.ReadAsync(hub.Name, readFrom, owner._readLimit, ReadIntent.Look, cancellationToken);
                if (from.SinceIn(read.Epoch) != since)
                {
                    since = from.SinceIn(read.Epoch);
                    continue;
                }

                var outbox = new HubOutbox(owner, hub.Name);
                bool replayed = hub.TryReplay(member, from, readFrom, read, deliver, outbox, out bool catchUpFirst);
                outbox.Flush();
                if (replayed)
                {
                    return;
                }

                await owner.ReadAgainAsync(hub, catchUpFirst, moved, started, cancellationToken);
            }
        }

        public override void Leave()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                hub.Leave(member);
                if (present)
                {
                    owner.LeavePresence(hub, (IPresenceParticipant)member);
                }

                owner.Release(hub);
                if (counted)
                {
                    owner._log.Left(hub.Name, owner._onLeft);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "Session {Session} completed at seq {Seq}; {Clients} clients here closed with 1000")]
        public static partial void SessionCompleted(ILogger logger, string session, long seq, int clients);

        [LoggerMessage(EventId = 515, Level = LogLevel.Information, Message = "Session {Session}: {Clients} clients here closed: {Reason}")]
        public static partial void MembersClosed(ILogger logger, string session, int clients, string reason);

        [LoggerMessage(EventId = 516, Level = LogLevel.Error, Message = "Catching session {Session} up from the log failed")]
        public static partial void CatchUpFailed(ILogger logger, string session, Exception exception);

        [LoggerMessage(EventId = 518, Level = LogLevel.Error, Message = "Reading the presence of session {Session} again after a reconnection failed")]
        public static partial void PresenceResyncFailed(ILogger logger, string session, Exception exception);
    }
}
