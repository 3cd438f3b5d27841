using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Backplane.Redis;

/// <summary>
/// Sessions in Redis, shared by every node pointed at it (spec section 7). Redis assigns seqs and
/// holds history, state and idempotency keys, each change one Lua script; every event goes out on
/// one pub/sub channel that all nodes subscribe to, and each node hands it to its own members in
/// seq order (<see cref="RedisSessionChannel"/>), reading history to fill any gap. Client counts are
/// kept per node in Redis, and a node that stops refreshing its liveness key stops being counted.
/// </summary>
internal sealed partial class RedisBackplane : BackgroundService, IBackplane
{
    /// <summary>How long a node counts as alive after its last visit; it visits three times as often.</summary>
    private static readonly TimeSpan NodeLiveness = TimeSpan.FromSeconds(15);

    // Names of the set of sessions looked at per sweep: bounds the calls of one sweep.
    private const int SweepPage = 200;

    private readonly ConcurrentDictionary<string, RedisSessionChannel> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RedisSessionChannel>.AlternateLookup<ReadOnlySpan<char>> _channelsBySpan;
    private readonly Lock _channelsGate = new();
    private readonly RedisLink _link;
    private readonly RedisChannel _eventsChannel;
    private readonly RedisKeys _keys;
    private readonly string _nodeId;
    private readonly TimeProvider _time;
    private readonly GatewayMetrics _metrics;
    private readonly Counter<long> _backplaneEvents;
    private readonly ILogger<RedisBackplane> _logger;
    private readonly int _historyCapacity;
    private readonly int _maxSessions;
    private readonly int _maxEventNames;
    private readonly long _idleTtlMs;
    private readonly long _completedTtlMs;
    private readonly TimeSpan _touchPeriod;
    private readonly TimeSpan _operationTimeout;
    private RedisValue _sweepCursor = 0;
    private long _knownSessions;

    public RedisBackplane(
        IOptions<BackplaneOptions> backplane, IOptions<HistoryOptions> history, IOptions<SessionsOptions> sessions,
        TimeProvider time, GatewayMetrics metrics, ILogger<RedisBackplane> logger)
    {
        _keys = new RedisKeys(backplane.Value.KeyPrefix);
        _nodeId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray(), 0, 8);
        _link = new RedisLink(backplane.Value, _nodeId, logger);
        _eventsChannel = RedisChannel.Literal(_keys.EventsChannel);
        _operationTimeout = backplane.Value.OperationTimeout;
        _historyCapacity = history.Value.MaxEvents;
        _maxSessions = sessions.Value.MaxSessions;
        _maxEventNames = sessions.Value.MaxEventNames;
        _idleTtlMs = (long)sessions.Value.IdleTimeout.TotalMilliseconds;
        _completedTtlMs = (long)sessions.Value.CompletedRetention.TotalMilliseconds;

        // Often enough that a session with clients never reaches its idle timeout between visits.
        _touchPeriod = TimeSpan.FromTicks(Math.Clamp(sessions.Value.IdleTimeout.Ticks / 4, TimeSpan.TicksPerSecond / 4, TimeSpan.TicksPerMinute));
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _channelsBySpan = _channels.GetAlternateLookup<ReadOnlySpan<char>>();
        metrics.ObserveSessions(() => _channels.Count, historyBytes: null);
        _backplaneEvents = metrics.ObserveBackplane(() => _link.IsUp ? 1 : 0);
    }

    /// <summary>This node's id in Redis (its client counts and liveness key).</summary>
    public string NodeId => _nodeId;

    public int SessionCount => _channels.Count;

    public bool IsAvailable => _link.IsUp;

    /// <summary>
    /// Against every node's sessions, as last counted (at most a few seconds old): admission is
    /// decided before the upgrade, without a round trip to Redis. Publishes check the limit exactly.
    /// </summary>
    public bool CanAdmit(string session) => _channels.ContainsKey(session) || Interlocked.Read(ref _knownSessions) < _maxSessions;

    public async ValueTask<PublishResult> PublishAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken)
    {
        var seqs = new long[events.Count];
        var duplicate = new bool[events.Count];
        var values = new RedisValue[9 + (4 * events.Count)];
        values[0] = session;
        values[1] = _keys.EventsChannel;
        values[2] = _historyCapacity;
        values[3] = _maxEventNames;
        values[4] = _idleTtlMs;
        values[5] = _completedTtlMs;
        values[6] = _maxSessions;
        values[7] = events.Count;
        values[8] = SessionEpoch.New();
        for (int i = 0; i < events.Count; i++)
        {
            PublishRequest e = events[i];
            values[9 + (4 * i)] = e.Id is { } id ? IdKey(id) : "";
            values[10 + (4 * i)] = e.Event;
            values[11 + (4 * i)] = e.Data.ToArray();
            values[12 + (4 * i)] = e.Final ? "1" : "0";
        }

        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await _link.EvaluateAsync(RedisScripts.Publish, _keys.Of(session), values))!;
        }
        catch (BackplaneUnavailableException e)
        {
            // Thrown like every other outage, saying what a publisher needs to know to retry safely.
            Log.Unavailable(_logger, "publish", session, e.Message);
            throw new BackplaneUnavailableException("Redis did not confirm the publish: the events may or may not be stored", e);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("OOM", StringComparison.Ordinal))
        {
            // Redis is at its maxmemory: the same answer as a full history budget in memory.
            return new PublishResult(PublishStatus.MemoryFull, seqs, duplicate, 0);
        }

        long seq = (long)result[1];
        switch ((string?)result[0])
        {
            case "limit":
                return new PublishResult(PublishStatus.SessionLimit, seqs, duplicate, seq);
            case "complete":
                return new PublishResult(PublishStatus.SessionComplete, seqs, duplicate, seq);
            case "names":
                return new PublishResult(PublishStatus.TooManyEventNames, seqs, duplicate, seq);
        }

        int published = 0;
        for (int i = 0; i < events.Count; i++)
        {
            long assigned = (long)result[3 + i];
            duplicate[i] = assigned < 0;
            seqs[i] = Math.Abs(assigned);
            published += duplicate[i] ? 0 : 1;
        }

        _metrics.EventsPublished(published);
        return new PublishResult(PublishStatus.Accepted, seqs, duplicate, seqs.Length > 0 ? seqs[^1] : seq);
    }

    public async ValueTask<SessionMembership> JoinAsync(string session, ISessionMember member, ResumePoint? from, CancellationToken cancellationToken)
    {
        RedisSessionChannel channel = Acquire(session);
        channel.BeginJoin();
        bool counted = false;
        try
        {
            long started = _time.GetTimestamp();

            // The joiner's seq is trusted until a read shows the session's life; a seq of another
            // life means reading again from the start.
            long? since = from?.Seq;
            for (int attempt = 0; ; attempt++)
            {
                // Only the first read counts the client and restarts the session's idle time.
                long readFrom = since is { } seq ? channel.ReadFrom(seq) : -1;
                RedisRead read = await ReadAsync(session, readFrom, _historyCapacity, count: attempt == 0, create: true, touch: attempt == 0);
                counted |= attempt == 0 && !read.Complete;
                if (from is { } point && point.SinceIn(read.Epoch) != since)
                {
                    since = point.SinceIn(read.Epoch);
                    continue;
                }

                var outbox = new ChannelOutbox();
                (bool Added, bool CatchUp)? joined = channel.TryJoin(member, from, readFrom, read, outbox);
                outbox.Flush();
                if (joined is { } done)
                {
                    if (done.CatchUp)
                    {
                        StartCatchUp(channel, channel.Delivered);
                    }

                    if (counted && !done.Added)
                    {
                        Uncount(session);
                        counted = false;
                    }

                    return new Membership(this, channel, member, counted);
                }

                ThrowIfOutpaced(started);
            }
        }
        catch
        {
            channel.AbandonJoin();
            Release(channel);
            if (counted)
            {
                Uncount(session);
            }

            throw;
        }
    }

    public async ValueTask<EventPage?> PollAsync(string session, ResumePoint from, int limit, TimeSpan wait, CancellationToken cancellationToken)
    {
        RedisSessionChannel channel = Acquire(session);
        try
        {
            long started = _time.GetTimestamp();
            long since = from.Seq;
            while (true)
            {
                // Listen before reading, so that an event published between the read and the wait wakes it.
                Task next = channel.NextEventAsync();
                RedisRead read = await ReadAsync(session, since, limit, count: false, create: true, touch: false);
                if (read.Found < 0)
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
            Release(channel);
        }
    }

    public async ValueTask<SessionSnapshot?> GetSessionAsync(string session, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await _link.EvaluateAsync(RedisScripts.Snapshot, _keys.Of(session), [session, "1"]))!;
        if ((long)result[0] != 1)
        {
            return null;
        }

        DateTimeOffset now = _time.GetUtcNow();
        var state = new List<StateEntry>(result.Length - 6);
        for (int i = 6; i < result.Length; i++)
        {
            if (RedisEntry.TryDecode(session, (byte[])result[i]!, 0, now, _time) is { } e)
            {
                state.Add(e.ToStateEntry());
            }
        }

        state.Sort(static (a, b) => a.Seq.CompareTo(b.Seq));
        return new SessionSnapshot(session, (long)result[1], (string)result[5]!, (int)(long)result[4], LastEventAt((long)result[3]), (long)result[2] == 1, state);
    }

    public async ValueTask<IReadOnlyList<SessionSummary>> ListSessionsAsync(CancellationToken cancellationToken)
    {
        RedisValue[] names = await _link.CallAsync(database => database.SetMembersAsync(_keys.Sessions));

        // One script per session, each with its own keys, sent together: one round trip's wait.
        RedisResult[][] rows = await Task.WhenAll(names.Select(async name =>
            (RedisResult[])(await _link.EvaluateAsync(RedisScripts.Snapshot, _keys.Of(name!), [name, "0"]))!));
        var list = new List<SessionSummary>(rows.Length);
        for (int i = 0; i < rows.Length; i++)
        {
            RedisResult[] row = rows[i];
            if ((long)row[0] == 1)
            {
                list.Add(new SessionSummary((string)names[i]!, (long)row[1], (int)(long)row[4], LastEventAt((long)row[3]), (long)row[2] == 1));
            }
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.Session, b.Session));
        return list;
    }

    public async ValueTask<bool> DeleteSessionAsync(string session, CancellationToken cancellationToken)
    {
        // Every node, this one included, closes the session's clients when the channel tells it.
        bool deleted = (long)(await _link.EvaluateAsync(RedisScripts.Delete, _keys.Of(session), [session, _keys.EventsChannel])) == 1;
        if (deleted)
        {
            Log.SessionDeleted(_logger, session);
        }

        return deleted;
    }

    /// <summary>Completes once the link to Redis is up (for tests and tools).</summary>
    public Task WhenAvailableAsync(CancellationToken cancellationToken) => _link.WhenAsync(up: true, cancellationToken);

    /// <summary>Completes once this node has found Redis gone (for tests and tools).</summary>
    public Task WhenUnavailableAsync(CancellationToken cancellationToken) => _link.WhenAsync(up: false, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Task link = _link.RunAsync(_eventsChannel, OnMessage, OnConnectedAsync, stoppingToken);

        // Three visits per liveness period, and never rarer than the sessions need touching.
        TimeSpan period = TimeSpan.FromTicks(Math.Min(NodeLiveness.Ticks / 3, _touchPeriod.Ticks));
        long lastTouch = _time.GetTimestamp();
        using var timer = new PeriodicTimer(period, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!_link.IsUp)
                {
                    continue;
                }

                try
                {
                    bool touchSessions = _time.GetElapsedTime(lastTouch) >= _touchPeriod;
                    await TouchAsync(touchSessions ? Snapshot(withoutClients: false) : [], setCounts: false);
                    lastTouch = touchSessions ? _time.GetTimestamp() : lastTouch;
                    await SweepAsync();
                }
                catch (BackplaneUnavailableException)
                {
                    // The link is reconnecting; its reconnection touches everything afresh.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await link;
    }

    /// <summary>After each (re)connection: this node's counts afresh, then every local session caught up.</summary>
    private async Task OnConnectedAsync(bool reconnect)
    {
        await TouchAsync(Snapshot(withoutClients: true), setCounts: true);
        await SweepAsync();
        if (!reconnect)
        {
            return;
        }

        _backplaneEvents.Add(1, new KeyValuePair<string, object?>("kind", "reconnect"));
        foreach (RedisSessionChannel channel in _channels.Values)
        {
            channel.WakePollers();
            if (channel.TryStartCatchUp(out long from))
            {
                StartCatchUp(channel, from);
            }
        }
    }

    /// <summary>A message of the events channel: <c>session \n epoch \n entry</c>, or <c>session \n #deleted</c>.</summary>
    private void OnMessage(RedisChannel _, RedisValue message)
    {
        try
        {
            byte[] bytes = message!;
            int newline = Array.IndexOf(bytes, (byte)'\n');
            if (newline <= 0 || newline > Protocol.Names.MaxSessionNameLength)
            {
                return;
            }

            // Find the local session without allocating its name: most messages are for sessions
            // with no client here.
            Span<char> name = stackalloc char[newline];
            if (Encoding.ASCII.GetChars(bytes.AsSpan(0, newline), name) != newline
                || !_channelsBySpan.TryGetValue(name, out RedisSessionChannel? channel))
            {
                return;
            }

            var outbox = new ChannelOutbox();
            ReadOnlySpan<byte> rest = bytes.AsSpan(newline + 1);
            if (rest.SequenceEqual(RedisEntry.DeletedMarker))
            {
                channel.OnDeleted(outbox);
                outbox.Flush();
                return;
            }

            int epochEnd = rest.IndexOf((byte)'\n');
            if (epochEnd <= 0)
            {
                Log.Malformed(_logger, channel.Name);
                return;
            }

            if (channel.IsOtherLife(rest[..epochEnd]))
            {
                if (channel.TryStartCatchUp(out long from))
                {
                    StartCatchUp(channel, from);
                }

                return;
            }

            int entryStart = newline + 1 + epochEnd + 1;
            if (!RedisEntry.TryReadSeq(bytes.AsSpan(entryStart), out long seq) || channel.HasDelivered(seq))
            {
                return;
            }

            if (RedisEntry.TryDecode(channel.Name, bytes, entryStart, _time.GetUtcNow(), _time) is not { } sessionEvent)
            {
                Log.Malformed(_logger, channel.Name);
                return;
            }

            bool gap = channel.Receive(sessionEvent, outbox);
            outbox.Flush();
            if (gap)
            {
                StartCatchUp(channel, channel.Delivered);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.MessageFailed(_logger, e);
        }
    }

    /// <summary>
    /// Reads what a channel is missing from history, after <paramref name="from"/>, until it has
    /// caught up; in the background. The channel has marked its catch-up started.
    /// </summary>
    private void StartCatchUp(RedisSessionChannel channel, long from)
    {
        lock (_channelsGate)
        {
            // Held while it runs, so that it is the channel members use that catches up.
            channel.Users++;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                long next = from;
                while (true)
                {
                    RedisRead read = await ReadAsync(channel.Name, next, _historyCapacity, count: false, create: false, touch: false);
                    _backplaneEvents.Add(read.Events.Count, new KeyValuePair<string, object?>("kind", "catchup"));
                    var outbox = new ChannelOutbox();
                    bool again = channel.ApplyCatchUp(next, read, outbox);
                    if (outbox.Dropped is { Count: > 0 } dropped)
                    {
                        _backplaneEvents.Add(dropped.Count, new KeyValuePair<string, object?>("kind", "dropped"));
                        Log.MembersDropped(_logger, channel.Name, dropped.Count, outbox.DropReason);
                    }

                    outbox.Flush();
                    if (!again)
                    {
                        return;
                    }

                    next = channel.Delivered;
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Unavailable: the reconnection starts a new catch-up. Anything else is a bug, logged.
                if (e is not BackplaneUnavailableException)
                {
                    Log.CatchUpFailed(_logger, channel.Name, e);
                }

                channel.CancelCatchUp();
            }
            finally
            {
                Release(channel);
            }
        });
    }

    /// <summary>
    /// A join or a replay reads Redis again while live events keep overtaking its read; past the
    /// operation timeout (from <paramref name="started"/>) it gives up, as for a Redis that does not answer.
    /// </summary>
    private void ThrowIfOutpaced(long started)
    {
        if (_time.GetElapsedTime(started) > _operationTimeout)
        {
            throw new BackplaneUnavailableException("events reached this node faster than it could read the session from Redis; retry");
        }
    }

    private async Task<RedisRead> ReadAsync(string session, long since, int limit, bool count, bool create, bool touch)
    {
        var result = (RedisResult[])(await _link.EvaluateAsync(RedisScripts.Read, _keys.Of(session),
        [
            session, since, limit, count ? _nodeId : "", _idleTtlMs, create ? _maxSessions : -1, touch ? "1" : "0", SessionEpoch.New(),
        ]))!;

        int found = (int)(long)result[0];
        var events = new List<SessionEvent>(result.Length - 6);
        DateTimeOffset now = _time.GetUtcNow();
        for (int i = 6; i < result.Length; i++)
        {
            if (RedisEntry.TryDecode(session, (byte[])result[i]!, 0, now, _time) is { } e)
            {
                events.Add(e);
            }
        }

        return new RedisRead(found, (long)result[1], (long)result[2] == 1, (long)result[3] == 1, (long)result[4] == 1, (string)result[5]!, events);
    }

    /// <summary>A client of this node left: its count goes down (without waiting; a reconnection restates every count).</summary>
    private void Uncount(string session) => _link.Send(RedisScripts.Leave, _keys.Of(session), [_nodeId]);

    /// <summary>Sessions with clients here, and their counts; with <paramref name="withoutClients"/>, every local session.</summary>
    private List<(string Session, int Clients)> Snapshot(bool withoutClients)
    {
        var sessions = new List<(string, int)>(_channels.Count);
        foreach (RedisSessionChannel channel in _channels.Values)
        {
            int clients = channel.MemberCount;
            if (clients > 0 || withoutClients)
            {
                sessions.Add((channel.Name, clients));
            }
        }

        return sessions;
    }

    private async Task TouchAsync(List<(string Session, int Clients)> sessions, bool setCounts)
    {
        await _link.EvaluateAsync(RedisScripts.Alive, [_keys.Nodes], [_nodeId, (long)NodeLiveness.TotalMilliseconds]);
        await Task.WhenAll(sessions.Select(s =>
            _link.EvaluateAsync(RedisScripts.Touch, _keys.Of(s.Session), [_nodeId, _idleTtlMs, setCounts ? "1" : "0", s.Clients])));
    }

    private async Task SweepAsync()
    {
        var page = (RedisResult[])(await _link.CallAsync(database => database.ExecuteAsync("SSCAN", _keys.Sessions, _sweepCursor, "COUNT", SweepPage)))!;
        _sweepCursor = (RedisValue)page[0];
        var names = (RedisValue[])page[1]!;
        await Task.WhenAll(names.Select(name => _link.EvaluateAsync(RedisScripts.Forget, _keys.Of(name!), [name])));
        Interlocked.Exchange(ref _knownSessions, await _link.CallAsync(database => database.SetLengthAsync(_keys.Sessions)));
    }

    private RedisSessionChannel Acquire(string session)
    {
        lock (_channelsGate)
        {
            RedisSessionChannel channel = _channels.GetOrAdd(session, static name => new RedisSessionChannel(name));
            channel.Users++;
            return channel;
        }
    }

    private void Release(RedisSessionChannel channel)
    {
        lock (_channelsGate)
        {
            if (--channel.Users == 0)
            {
                _channels.TryRemove(KeyValuePair.Create(channel.Name, channel));
            }
        }
    }

    /// <summary>An idempotency key: its JSON type and text, so that "1" and 1 stay different ids, as in memory.</summary>
    private static string IdKey(JsonScalar id) => (id.IsString ? "s:" : "n:") + id.Text;

    private static DateTimeOffset? LastEventAt(long milliseconds) =>
        milliseconds > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(milliseconds) : null;

    private sealed class Membership(RedisBackplane owner, RedisSessionChannel channel, ISessionMember member, bool counted) : SessionMembership
    {
        private int _left;

        public override async ValueTask ReplayAsync(ResumePoint from, Action<Replay> deliver, CancellationToken cancellationToken)
        {
            long started = owner._time.GetTimestamp();
            long since = from.Seq;
            while (true)
            {
                long readFrom = channel.ReadFrom(since);
                RedisRead read = await owner.ReadAsync(channel.Name, readFrom, owner._historyCapacity, count: false, create: false, touch: false);
                if (from.SinceIn(read.Epoch) != since)
                {
                    since = from.SinceIn(read.Epoch);
                    continue;
                }

                var outbox = new ChannelOutbox();
                bool replayed = channel.TryReplay(from, readFrom, read, deliver, outbox);
                outbox.Flush();
                if (replayed)
                {
                    return;
                }

                owner.ThrowIfOutpaced(started);
            }
        }

        public override void Leave()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                channel.Leave(member);
                owner.Release(channel);
                if (counted)
                {
                    owner.Uncount(channel.Name);
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 511, Level = LogLevel.Debug, Message = "Backplane unavailable for {Operation} on session {Session}: {Reason}")]
        public static partial void Unavailable(ILogger logger, string operation, string session, string reason);

        [LoggerMessage(EventId = 512, Level = LogLevel.Information, Message = "Session {Session} deleted; every node closes its clients with 1001")]
        public static partial void SessionDeleted(ILogger logger, string session);

        [LoggerMessage(EventId = 513, Level = LogLevel.Warning, Message = "An event of session {Session} on the backplane channel could not be read; dropped (a later gap makes the node read history)")]
        public static partial void Malformed(ILogger logger, string session);

        [LoggerMessage(EventId = 514, Level = LogLevel.Error, Message = "Handling a backplane message failed")]
        public static partial void MessageFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 515, Level = LogLevel.Warning, Message = "Session {Session}: {Count} clients on this node closed: {Reason}")]
        public static partial void MembersDropped(ILogger logger, string session, int count, string reason);

        [LoggerMessage(EventId = 516, Level = LogLevel.Error, Message = "Catching session {Session} up from Redis history failed")]
        public static partial void CatchUpFailed(ILogger logger, string session, Exception exception);
    }
}
