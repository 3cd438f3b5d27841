using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Gateway.Log.Redis;

/// <summary>
/// The session log in Redis, one server or a Redis Cluster, shared by every node pointed at it
/// (spec section 7). Redis assigns seqs and holds history, state and idempotency keys, each change
/// one Lua script on the session's own keys (one hash slot); every event goes out on the session's
/// sharded pub/sub channel, which the nodes with members in the session subscribe to: that is
/// this log's feed, and each node's hub orders what it hears and reads history to fill any gap.
/// Client counts are kept per node in Redis, and a node that stops refreshing its liveness stops
/// being counted.
/// </summary>
internal sealed partial class RedisLog : BackgroundService, ISessionLog
{
    /// <summary>
    /// How long a node counts as alive after its last visit (it visits three times as often), at
    /// most: a dead node's clients stop counting, and its presence members leave, within this and
    /// one more visit.
    /// </summary>
    private static readonly TimeSpan MaxNodeLiveness = TimeSpan.FromSeconds(15);

    /// <summary>The shortest liveness: a few Redis round trips on a busy machine, so that a live node is not taken for dead.</summary>
    private static readonly TimeSpan MinNodeLiveness = TimeSpan.FromMilliseconds(300);

    /// <summary>How long a check waits before it believes a session behind: an event's channel message may be a moment behind its write.</summary>
    private static readonly TimeSpan CheckGrace = TimeSpan.FromSeconds(1);

    /// <summary>How many sessions' positions one check reads at once (pipelined on the multiplexer).</summary>
    private const int CheckBatch = 1000;

    private static readonly RedisValue[] SeqAndEpoch = ["seq", "epoch"];

    /// <summary>
    /// How long a dead node stays in the nodes' set, with the time its liveness ran out: the
    /// session scripts learn it is dead from the copy each node hands them, and drop its counts
    /// and members whenever they next run, which an hour leaves ample time for.
    /// </summary>
    private static readonly TimeSpan DeadNodeMemory = TimeSpan.FromHours(1);

    // Names of the set of sessions looked at per sweep: bounds the calls of one sweep.
    private const int SweepPage = 200;

    /// <summary>
    /// The SHA1 of the publish script, which runs once per publish, and of the read script, once
    /// per join or read: called by digest (EVALSHA), because the client library's call by text
    /// finds the script's digest by hashing its whole text (about 11 KB) on every call, a cost the
    /// node's profile showed on every publish.
    /// </summary>
    private static readonly byte[] PublishDigest = SHA1.HashData(Encoding.UTF8.GetBytes(RedisScripts.Publish));

    private static readonly byte[] ReadDigest = SHA1.HashData(Encoding.UTF8.GetBytes(RedisScripts.Read));

    private readonly RedisLink _link;
    private readonly RedisKeys _keys;
    private readonly Lock _subscriptionsGate = new();
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);

    /// <summary>
    /// Sessions this node created in a cluster while the shard that holds the set of sessions was
    /// unreachable: named in the set by the next visit that reaches it.
    /// </summary>
    private readonly ConcurrentDictionary<string, byte> _unnamed = new(StringComparer.Ordinal);
    private readonly string _nodeId;
    private readonly TimeProvider _time;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<RedisLog> _logger;
    private readonly SessionProfiles _profiles;
    private readonly int _maxSessions;
    private readonly int _maxEventNames;
    private readonly int _maxKeys;
    private readonly int _maxAssembledBytes;
    private readonly int _waitReplicas;
    private readonly TimeSpan _touchPeriod;
    private readonly TimeSpan _operationTimeout;
    private readonly TimeSpan _checkInterval;
    private readonly TimeSpan _liveness;
    private RedisValue _sweepCursor = 0;
    private bool _seenAlive;
    private long _knownSessions;
    private ILogFeed _feed = NoFeed.Instance;
    private string _lastEpoch = "";
    private string _nodes = "";
    private long _nodesRead;

    public RedisLog(
        IOptions<BackplaneOptions> backplane, IOptions<HistoryOptions> history, IOptions<SessionsOptions> sessions, IOptions<LimitsOptions> limits,
        IOptions<HeartbeatOptions> heartbeat, TimeProvider time, GatewayMetrics metrics, ILogger<RedisLog> logger,
        SessionProfiles? profiles = null)
    {
        // Without profiles (a test building its parts by hand), every session takes the globals.
        _profiles = profiles ?? SessionProfiles.Of(history.Value, sessions.Value);
        // A dead node's presence members must leave within Heartbeat:Timeout (spec section 17), as
        // a dead client does: liveness runs out within half of it, and the next visit of a
        // surviving node (a sixth) finds it.
        _liveness = TimeSpan.FromTicks(Math.Clamp(heartbeat.Value.Timeout.Ticks / 2, MinNodeLiveness.Ticks, MaxNodeLiveness.Ticks));
        _keys = new RedisKeys(backplane.Value.KeyPrefix, backplane.Value.IsPerSlot);
        _nodeId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray(), 0, 8);
        _link = new RedisLink(backplane.Value, _nodeId, logger);
        _operationTimeout = backplane.Value.OperationTimeout;
        _maxSessions = sessions.Value.MaxSessions;
        _maxEventNames = sessions.Value.MaxEventNames;
        _maxKeys = sessions.Value.MaxKeys;
        _maxAssembledBytes = limits.Value.MaxAssembledBytes;
        _waitReplicas = backplane.Value.WaitReplicas;
        _checkInterval = backplane.Value.CheckInterval;

        // Often enough that a session with clients never reaches its idle timeout between visits,
        // the shortest of any profile's included.
        _touchPeriod = TimeSpan.FromTicks(Math.Clamp(_profiles.ShortestIdleTimeout.Ticks / 4, TimeSpan.TicksPerSecond / 4, TimeSpan.TicksPerMinute));
        _time = time;
        _metrics = metrics;
        _logger = logger;
        metrics.ObserveSessions(() => _feed.Sessions, historyBytes: null);
        metrics.ObserveBackplane(() => _link.IsUp ? 1 : 0);
    }

    /// <summary>A session's idle timeout (its profile's, or <c>Sessions:IdleTimeout</c>), as Redis takes a TTL.</summary>
    private static long IdleTtlMs(SessionSettings settings) => (long)settings.IdleTimeout.TotalMilliseconds;

    private long IdleTtlMs(string session) => IdleTtlMs(_profiles.For(session));

    /// <summary>This node's id in Redis (its client counts and liveness key).</summary>
    public string NodeId => _nodeId;

    public bool IsAvailable => _link.IsUp;

    public void Attach(ILogFeed feed) => _feed = feed;

    /// <summary>
    /// Against every node's sessions, as last counted (at most a few seconds old): admission is
    /// decided before the upgrade, without a round trip to Redis. Appends check the limit exactly.
    /// </summary>
    public bool CanCreate(string session) => Interlocked.Read(ref _knownSessions) < _maxSessions;

    public async ValueTask<PublishResult> AppendAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken)
    {
        var seqs = new long[events.Count];
        var duplicate = new bool[events.Count];
        SessionSettings settings = _profiles.For(session);
        var values = new RedisValue[9 + (6 * events.Count) + 3];
        values[0] = session;
        values[1] = _keys.Channel(session);
        values[2] = settings.HistoryMaxEvents;
        values[3] = _maxEventNames;
        values[4] = IdleTtlMs(settings);
        values[5] = (long)settings.CompletedRetention.TotalMilliseconds;
        // An existing session needs no place in the set of sessions: only a missing one takes it first.
        values[6] = "0";
        values[7] = events.Count;
        values[8] = SessionEpoch.New();
        for (int i = 0; i < events.Count; i++)
        {
            PublishRequest e = events[i];
            values[9 + (6 * i)] = e.Id is { } id ? IdKey(id) : "";
            values[10 + (6 * i)] = e.Event;
            values[11 + (6 * i)] = e.Data.ToArray();
            values[12 + (6 * i)] = RedisEntry.Flags(e);
            values[13 + (6 * i)] = e.From?.ToJson() ?? [];
            values[14 + (6 * i)] = e.Traits.Key ?? "";
        }

        // Last, where the script finds them counting from the end.
        values[^3] = _maxKeys;
        values[^2] = _maxAssembledBytes;
        values[^1] = settings.HistoryMaxBytes;

        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await EvaluateAsync(RedisScripts.Publish, PublishDigest, _keys.Of(session), values))!;
            if ((string?)result[0] == "missing")
            {
                if (!await ReserveAsync(session))
                {
                    return new PublishResult(PublishStatus.SessionLimit, seqs, duplicate, 0);
                }

                values[6] = "1";
                result = (RedisResult[])(await EvaluateAsync(RedisScripts.Publish, PublishDigest, _keys.Of(session), values))!;
            }

            if ((string?)result[0] == "ok" && (long)result[2] == 1)
            {
                await NameAsync(session);
            }

            if ((string?)result[0] == "ok" && _waitReplicas > 0)
            {
                long confirmed = await _link.WaitReplicasAsync(_keys.Meta(session), _waitReplicas);
                if (confirmed < _waitReplicas)
                {
                    throw new BackplaneUnavailableException($"{confirmed} of the {_waitReplicas} replicas (Gateway:Backplane:WaitReplicas) confirmed the publish in time");
                }
            }
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
            case "complete":
                return new PublishResult(PublishStatus.SessionComplete, seqs, duplicate, seq);
            case "names":
                return new PublishResult(PublishStatus.TooManyEventNames, seqs, duplicate, seq);
            case "keys":
                return new PublishResult(PublishStatus.TooManyKeys, seqs, duplicate, seq);
            case "assembled":
                return new PublishResult(PublishStatus.AssembledTooLarge, seqs, duplicate, seq, (int)(long)result[2]);
        }

        for (int i = 0; i < events.Count; i++)
        {
            long assigned = (long)result[3 + i];
            duplicate[i] = assigned < 0;
            seqs[i] = Math.Abs(assigned);
        }

        return new PublishResult(PublishStatus.Accepted, seqs, duplicate, seqs.Length > 0 ? seqs[^1] : seq);
    }

    public async ValueTask<LogRead> ReadAsync(string session, long after, int limit, ReadIntent intent, CancellationToken cancellationToken)
    {
        bool join = intent == ReadIntent.Join;
        if (intent != ReadIntent.Look)
        {
            // Before the read: every event appended after what it finds reaches this node.
            await SubscribeAsync(session);
        }

        // A joining client was admitted already: its session is created even at the limit. A long
        // poll creates it only when it takes a place in the set of sessions.
        RedisValue[] values = [session, after, limit, join ? _nodeId : "", IdleTtlMs(session), join ? "1" : "0", join ? "1" : "0", SessionEpoch.New(), Nodes()];
        var result = (RedisResult[])(await EvaluateAsync(RedisScripts.Read, ReadDigest, _keys.Of(session), values))!;
        if ((long)result[0] == 0 && intent == ReadIntent.Create)
        {
            if (!await ReserveAsync(session))
            {
                return LogRead.Refused;
            }

            values[5] = "1";
            result = (RedisResult[])(await EvaluateAsync(RedisScripts.Read, ReadDigest, _keys.Of(session), values))!;
        }

        if ((long)result[0] == 2)
        {
            await NameAsync(session);
        }

        var found = (long)result[0] switch
        {
            1 or 2 => LogReadFound.Found,
            _ => LogReadFound.Missing,
        };
        var events = new List<SessionEvent>(result.Length - 7);
        DateTimeOffset now = _time.GetUtcNow();
        for (int i = 7; i < result.Length; i++)
        {
            if (RedisEntry.TryDecode(session, (byte[])result[i]!, 0, now, _time) is { } e)
            {
                events.Add(e);
            }
        }

        return new LogRead(found, (long)result[1], (long)result[2] == 1, (long)result[3] == 1, (long)result[4] == 1, (string)result[5]!, events, (long)result[6]);
    }

    /// <summary>
    /// Runs <paramref name="script"/> by its <paramref name="digest"/>; by its text when this Redis
    /// does not have it (a restart, a failover to a replica that never ran it, <c>SCRIPT FLUSH</c>),
    /// which loads it again. A script that Redis does not have did not run, so running it then is
    /// running it once.
    /// </summary>
    private async Task<RedisResult> EvaluateAsync(string script, byte[] digest, RedisKey[] keys, RedisValue[] values)
    {
        try
        {
            return await _link.CallAsync(database => database.ScriptEvaluateAsync(digest, keys, values));
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await _link.EvaluateAsync(script, keys, values);
        }
    }

    /// <summary>
    /// A client of this node left: its count goes down, without waiting (a reconnection restates
    /// every count). With <paramref name="remaining"/>, the script's answer is awaited off the
    /// caller's path and handed on; a failure to reach Redis is not news (the count is restated).
    /// </summary>
    public void Left(string session, Action<string, long>? remaining = null)
    {
        if (remaining is null)
        {
            _link.Send(RedisScripts.Leave, _keys.Of(session), [_nodeId, Nodes()]);
            return;
        }

        _ = LeftAsync(session, remaining);
    }

    private async Task LeftAsync(string session, Action<string, long> remaining)
    {
        try
        {
            long left = (long)(await _link.EvaluateAsync(RedisScripts.Leave, _keys.Of(session), [_nodeId, Nodes()]));
            if (left >= 0)
            {
                remaining(session, left);
            }
        }
        catch (BackplaneUnavailableException)
        {
            // Unknown: the count is restated when the link is back, and nobody hears of this leave.
        }
    }

    public async ValueTask<SessionSnapshot?> SnapshotAsync(string session, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await _link.EvaluateAsync(RedisScripts.Snapshot, _keys.Of(session), [session, "1", Nodes()]))!;
        if ((long)result[0] != 1)
        {
            return null;
        }

        DateTimeOffset now = _time.GetUtcNow();
        int stateCount = result.Length > 6 ? (int)(long)result[6] : 0;
        var state = new List<StateEntry>(stateCount);
        for (int i = 7; i < 7 + stateCount; i++)
        {
            if (RedisEntry.TryDecode(session, (byte[])result[i]!, 0, now, _time) is { } e)
            {
                state.Add(e.ToStateEntry());
            }
        }

        var keyed = new List<KeyedEntry>(Math.Max(0, result.Length - 7 - stateCount));
        for (int i = 7 + stateCount; i < result.Length; i++)
        {
            if (RedisEntry.TryDecodeKeyed(session, (byte[])result[i]!, now, _time) is { } entry)
            {
                keyed.Add(entry);
            }
        }

        state.Sort(static (a, b) => a.Seq.CompareTo(b.Seq));
        keyed.Sort(static (a, b) => string.CompareOrdinal(a.Event, b.Event) is var byName and not 0 ? byName : a.Seq.CompareTo(b.Seq));
        return new SessionSnapshot(session, (long)result[1], (string)result[5]!, (int)(long)result[4], LastEventAt((long)result[3]), (long)result[2] == 1, state, keyed);
    }

    public async ValueTask<IReadOnlyList<SessionSummary>> ListAsync(CancellationToken cancellationToken)
    {
        RedisValue[] names = await _link.CallAsync(database => database.SetMembersAsync(_keys.Sessions));

        // One script per session, each with its own keys (on its own shard), sent together: one round trip's wait.
        string nodes = Nodes();
        RedisResult[][] rows = await Task.WhenAll(names.Select(async name =>
            (RedisResult[])(await _link.EvaluateAsync(RedisScripts.Snapshot, _keys.Of(name!), [name, "0", nodes]))!));
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

    public async ValueTask<bool> DeleteAsync(string session, CancellationToken cancellationToken)
    {
        // Every node, this one included, closes the session's clients when the channel tells it.
        bool deleted = (long)(await _link.EvaluateAsync(RedisScripts.Delete, _keys.Of(session), [session, _keys.Channel(session)])) == 1;
        if (deleted)
        {
            _unnamed.TryRemove(session, out _);
            try
            {
                await ForgetNameAsync(session);
            }
            catch (BackplaneUnavailableException) when (_link.IsCluster)
            {
                // The set's shard is down, the session's was not: its name stays until a sweep finds it without keys.
            }

            Log.SessionDeleted(_logger, session);
        }

        return deleted;
    }

    /// <summary>Completes once the link to Redis is up (for tests and tools).</summary>
    public Task WhenAvailableAsync(CancellationToken cancellationToken) => _link.WhenAsync(up: true, cancellationToken);

    /// <summary>Completes once this node has found Redis gone (for tests and tools).</summary>
    public Task WhenUnavailableAsync(CancellationToken cancellationToken) => _link.WhenAsync(up: false, cancellationToken);

    /// <summary>True once connected to a Redis Cluster rather than one server (for tests and tools).</summary>
    public bool IsCluster => _link.IsCluster;

    /// <summary>
    /// Takes a place in the set of sessions for <paramref name="session"/>, which a script is about
    /// to create; false when <c>Sessions:MaxSessions</c> are held already. Exact: every creation
    /// takes its place in the one set first, but for one case. In a cluster the set lives on a
    /// shard of its own, which may be down while the session's shard is up (the caller's script
    /// has just run there): the session is then created without the check, rather than every new
    /// session of every shard answering 503, and named in the set once its shard is back.
    /// </summary>
    private async Task<bool> ReserveAsync(string session)
    {
        try
        {
            return (long)await _link.EvaluateAsync(RedisScripts.Reserve, [_keys.Sessions], [session, _maxSessions]) == 1;
        }
        catch (BackplaneUnavailableException e) when (_link.IsCluster)
        {
            Log.SetUnreachable(_logger, session, e.Message);
            _unnamed.TryAdd(session, 0);
            return true;
        }
    }

    /// <summary>
    /// Names a session a script has just created in the set of sessions (again: a sweep may have
    /// taken its reserved place away between the reservation and the creation). In a cluster
    /// whose set's shard is unreachable, the name waits for a later visit; one whose reservation
    /// found it unreachable a moment ago is left to that visit, rather than waiting on the shard a
    /// second time.
    /// </summary>
    private async Task NameAsync(string session)
    {
        if (_unnamed.ContainsKey(session))
        {
            return;
        }

        try
        {
            await _link.CallAsync(database => database.SetAddAsync(_keys.Sessions, session));
            _unnamed.TryRemove(session, out _);
        }
        catch (BackplaneUnavailableException) when (_link.IsCluster)
        {
            _unnamed.TryAdd(session, 0);
        }
    }

    /// <summary>
    /// Names the sessions created while the set's shard was unreachable, all at once. A name whose
    /// session is gone meanwhile is taken out again by a later sweep.
    /// </summary>
    private async Task NameUnnamedAsync()
    {
        string[] names = [.. _unnamed.Keys];
        if (names.Length == 0)
        {
            return;
        }

        await _link.CallAsync(database => database.SetAddAsync(_keys.Sessions, [.. names.Select(n => (RedisValue)n)]));
        foreach (string name in names)
        {
            _unnamed.TryRemove(name, out _);
        }
    }

    /// <summary>
    /// Takes a session whose keys are gone out of the set of sessions. The set lives in another
    /// slot than the session, so this is not atomic with the keys: the name is removed, then put
    /// back when the session exists again meanwhile (a creation names it after its keys exist, so
    /// one of the two always sees the other).
    /// </summary>
    private async Task ForgetNameAsync(string session)
    {
        await _link.CallAsync(database => database.SetRemoveAsync(_keys.Sessions, session));
        if (await _link.CallAsync(database => database.KeyExistsAsync(_keys.Meta(session))))
        {
            await NameAsync(session);
        }
    }

    /// <summary>
    /// This node's copy of the nodes' liveness, for the session scripts (<c>id=until,...</c>): none
    /// (every node taken for alive) once it is older than half a liveness period, so that a copy
    /// gone stale while this node was stalled never takes a live node for dead.
    /// </summary>
    private string Nodes() =>
        _time.GetElapsedTime(Interlocked.Read(ref _nodesRead)) < _liveness / 2 ? Volatile.Read(ref _nodes) : "";

    /// <summary>
    /// Subscribes the session's channel unless this node has it subscribed already, and completes
    /// once it is: from then on every event of the session reaches this node's feed.
    /// </summary>
    private Task SubscribeAsync(string session)
    {
        lock (_subscriptionsGate)
        {
            if (!_subscriptions.TryGetValue(session, out Subscription? subscription))
            {
                subscription = new Subscription();
                _subscriptions[session] = subscription;
            }

            if (!subscription.Wanted)
            {
                subscription.Wanted = true;
                subscription.Tail = SubscribeAfterAsync(subscription, subscription.Tail, session);
            }

            return subscription.Tail;
        }
    }

    private async Task SubscribeAfterAsync(Subscription subscription, Task before, string session)
    {
        // In order with the session's earlier subscribe or unsubscribe, whatever became of it.
        await before.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            await _link.SubscribeAsync(_keys.Channel(session), session);
        }
        catch
        {
            lock (_subscriptionsGate)
            {
                // The next join tries again.
                subscription.Wanted = false;
            }

            throw;
        }
    }

    private async Task UnsubscribeAfterAsync(Task before, string session)
    {
        await before.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        await _link.UnsubscribeAsync(_keys.Channel(session), session);
    }

    /// <summary>
    /// Unsubscribes the channels of sessions this node's hub no longer holds (no member, poller or
    /// join left): a publish then reaches only the nodes that use it.
    /// </summary>
    private void ReleaseSubscriptions()
    {
        lock (_subscriptionsGate)
        {
            List<string>? done = null;
            foreach ((string session, Subscription subscription) in _subscriptions)
            {
                if (subscription.Wanted && !_feed.Wants(session, long.MaxValue))
                {
                    subscription.Wanted = false;
                    subscription.Tail = UnsubscribeAfterAsync(subscription.Tail, session);
                }
                else if (!subscription.Wanted && subscription.Tail.IsCompleted)
                {
                    (done ??= []).Add(session);
                }
            }

            foreach (string session in done ?? [])
            {
                _subscriptions.Remove(session);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Task link = _link.RunAsync(OnMessage, OnConnectedAsync, stoppingToken);
        Task check = CheckPositionsAsync(stoppingToken);

        // Three visits per liveness period, and never rarer than the sessions need touching.
        TimeSpan period = TimeSpan.FromTicks(Math.Min(_liveness.Ticks / 3, _touchPeriod.Ticks));
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

                // First: it needs no Redis, and a shard that is down must not keep channels subscribed.
                ReleaseSubscriptions();
                try
                {
                    // Apart: its shard may be up while the nodes' set's shard, which the rest needs, is down.
                    await NameUnnamedAsync();
                }
                catch (BackplaneUnavailableException)
                {
                }

                try
                {
                    bool touchSessions = _time.GetElapsedTime(lastTouch) >= _touchPeriod;
                    await TouchAsync(touchSessions ? Snapshot(withoutClients: false) : [], setCounts: false);
                    lastTouch = touchSessions ? _time.GetTimestamp() : lastTouch;
                    await ReapPresenceAsync();
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
        await check;
    }

    /// <summary>
    /// Every <c>Backplane:CheckInterval</c>, reads each followed session's latest seq and life from
    /// Redis, and has a session that is still behind a moment later catch up: what its channel lost
    /// with no event after it to show the gap (the end of a stream published while a failover or a
    /// moving slot had Redis drop the channel's subscribers).
    /// </summary>
    private async Task CheckPositionsAsync(CancellationToken stoppingToken)
    {
        if (_checkInterval <= TimeSpan.Zero)
        {
            return;
        }

        // Long enough for an event just published to come through the channel, which a read can overtake.
        TimeSpan grace = TimeSpan.FromTicks(Math.Min(_checkInterval.Ticks / 2, CheckGrace.Ticks));
        var sessions = new List<(string Session, int Members)>();
        var behind = new List<(string Session, long Seq, string? Epoch)>();
        using var timer = new PeriodicTimer(_checkInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!_link.IsUp)
                {
                    // Coming back up catches every session up anyway.
                    continue;
                }

                try
                {
                    await CheckPositionsOnceAsync(sessions, behind, grace, stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.CheckFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task CheckPositionsOnceAsync(
        List<(string Session, int Members)> sessions, List<(string Session, long Seq, string? Epoch)> behind, TimeSpan grace, CancellationToken stoppingToken)
    {
        sessions.Clear();
        behind.Clear();
        _feed.CountMembers(sessions, includeEmpty: true);
        for (int start = 0; start < sessions.Count; start += CheckBatch)
        {
            (string Session, long Seq, string? Epoch)?[] positions = await Task.WhenAll(
                sessions.Skip(start).Take(CheckBatch).Select(s => ReadPositionAsync(s.Session)));
            foreach ((string Session, long Seq, string? Epoch)? position in positions)
            {
                if (position is { } p && _feed.IsBehind(p.Session, p.Seq, p.Epoch))
                {
                    behind.Add(p);
                }
            }
        }

        if (behind.Count == 0)
        {
            return;
        }

        await Task.Delay(grace, _time, stoppingToken);
        int caughtUp = 0;
        foreach ((string session, long seq, string? epoch) in behind)
        {
            if (_feed.IsBehind(session, seq, epoch))
            {
                _feed.CatchUp(session);
                caughtUp++;
            }
        }

        if (caughtUp > 0)
        {
            // The events they read count as catch-up, as any other.
            Log.FoundBehind(_logger, caughtUp);
        }
    }

    /// <summary>A session's latest seq and life in Redis (life null: the session is gone); null when its shard did not answer.</summary>
    private async Task<(string Session, long Seq, string? Epoch)?> ReadPositionAsync(string session)
    {
        try
        {
            RedisValue[] meta = await _link.CallAsync(database => database.HashGetAsync(_keys.Meta(session), SeqAndEpoch));
            if (meta[0].IsNull)
            {
                return (session, 0, null);
            }

            // A life with no name (written by a node of before lives were named) compares by seq alone.
            return (session, (long)meta[0], meta[1].IsNull ? "" : (string)meta[1]!);
        }
        catch (BackplaneUnavailableException)
        {
            // That shard is failing over or away; the link catches its sessions up once it is back.
            return null;
        }
    }

    /// <summary>After each (re)connection: this node's counts afresh, then every local session caught up.</summary>
    private async Task OnConnectedAsync(bool reconnect)
    {
        await TouchAsync(Snapshot(withoutClients: true), setCounts: true);
        await RestatePresenceAsync();
        await SweepAsync();
        if (!reconnect)
        {
            return;
        }

        _metrics.BackplaneEvents("reconnect", 1);
        _feed.OnResync();
    }

    /// <summary>A message of a session's channel, to the feed: <c>session \n epoch \n entry</c>, or <c>session \n #deleted</c>.</summary>
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

            // Decode nothing the hub would not use: most messages are for sessions with no client here.
            Span<char> name = stackalloc char[newline];
            if (Encoding.ASCII.GetChars(bytes.AsSpan(0, newline), name) != newline)
            {
                return;
            }

            ReadOnlySpan<byte> rest = bytes.AsSpan(newline + 1);
            if (rest.StartsWith(PresenceMarker))
            {
                OnPresenceMessage(name, rest[PresenceMarker.Length..]);
                return;
            }

            if (rest.StartsWith(RedisEntry.DeletedMarker))
            {
                // #deleted, then the life it ended (absent from nodes of before lives were named).
                ReadOnlySpan<byte> after = rest[RedisEntry.DeletedMarker.Length..];
                string? epoch = after.Length > 1 && after[0] == (byte)'\n' ? Encoding.ASCII.GetString(after[1..]) : null;
                if (_feed.Wants(name, long.MaxValue))
                {
                    _feed.OnDeleted(new string(name), epoch)?.Flush();
                }

                return;
            }

            int epochEnd = rest.IndexOf((byte)'\n');
            int entryStart = newline + 1 + epochEnd + 1;
            if (epochEnd <= 0 || !RedisEntry.TryReadSeq(bytes.AsSpan(entryStart), out long seq))
            {
                Log.Malformed(_logger, new string(name));
                return;
            }

            if (!_feed.Wants(name, seq))
            {
                return;
            }

            string session = new(name);
            if (RedisEntry.TryDecode(session, bytes, entryStart, _time.GetUtcNow(), _time) is not { } sessionEvent)
            {
                Log.Malformed(_logger, session);
                return;
            }

            _feed.OnAppended(session, EpochOf(rest[..epochEnd]), new ReadOnlySpan<SessionEvent>(in sessionEvent))?.Flush();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.MessageFailed(_logger, e);
        }
    }

    /// <summary>What follows <c>session \n</c> on the channel for a presence change (no epoch begins with <c>#</c>).</summary>
    private static ReadOnlySpan<byte> PresenceMarker => "#presence\n"u8;

    /// <summary>A presence change on the channel, after its marker: <c>+|- \n connection \n member</c>.</summary>
    private void OnPresenceMessage(ReadOnlySpan<char> name, ReadOnlySpan<byte> rest)
    {
        if (rest.Length < 2 || rest[0] is not ((byte)'+' or (byte)'-') || rest[1] != (byte)'\n')
        {
            Log.Malformed(_logger, new string(name));
            return;
        }

        bool joined = rest[0] == (byte)'+';
        rest = rest[2..];
        int end = rest.IndexOf((byte)'\n');
        if (end <= 0 || !TryDecodeMember(Encoding.UTF8.GetString(rest[..end]), rest[(end + 1)..], out string node, out PresenceMember? member))
        {
            Log.Malformed(_logger, new string(name));
            return;
        }

        // This node told its own watchers as it happened; a dead node's leaves come from whoever found it dead.
        if (node != _nodeId && _feed.Wants(name, long.MaxValue))
        {
            _feed.OnPresence(new string(name), new PresenceChange(joined, member));
        }
    }

    /// <summary>A presence member as the hash holds it: <c>node \n since(ms) \n user \n info</c> (empty user or info: none).</summary>
    private static bool TryDecodeMember(string connection, ReadOnlySpan<byte> value, out string node, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PresenceMember? member)
    {
        node = "";
        member = null;
        int first = value.IndexOf((byte)'\n');
        if (first <= 0)
        {
            return false;
        }

        node = Encoding.ASCII.GetString(value[..first]);
        value = value[(first + 1)..];
        int second = value.IndexOf((byte)'\n');
        if (second <= 0 || !System.Buffers.Text.Utf8Parser.TryParse(value[..second], out long since, out int used) || used != second)
        {
            return false;
        }

        value = value[(second + 1)..];
        int third = value.IndexOf((byte)'\n');
        if (third < 0 || since < 0 || since > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return false;
        }

        string? user = third == 0 ? null : Encoding.UTF8.GetString(value[..third]);
        byte[]? info = value.Length == third + 1 ? null : value[(third + 1)..].ToArray();
        member = new PresenceMember(connection, user, info, DateTimeOffset.FromUnixTimeMilliseconds(since));
        return true;
    }

    /// <summary>The hash's value for <paramref name="member"/> of this node.</summary>
    private byte[] EncodeMember(PresenceMember member)
    {
        // A user never holds a newline when it came from user= (no control characters); a token's
        // sub might, and would break the record apart: it becomes a space here.
        string user = member.User?.Replace('\n', ' ') ?? "";
        byte[] head = Encoding.UTF8.GetBytes($"{_nodeId}\n{member.Since.ToUnixTimeMilliseconds()}\n{user}\n");
        byte[] info = member.Info ?? [];
        byte[] value = new byte[head.Length + info.Length];
        head.CopyTo(value, 0);
        info.CopyTo(value, head.Length);
        return value;
    }

    public async ValueTask<PresenceRead> ReadPresenceAsync(string session, CancellationToken cancellationToken)
    {
        var result = (RedisResult[])(await _link.EvaluateAsync(RedisScripts.PresenceRead, _keys.Of(session), [Nodes()]))!;
        var members = new List<PresenceMember>((result.Length - 1) / 2);
        for (int i = 1; i + 1 < result.Length; i += 2)
        {
            if (TryDecodeMember((string)result[i]!, (byte[])result[i + 1]!, out _, out PresenceMember? member))
            {
                members.Add(member);
            }
        }

        return new PresenceRead((long)result[0] == 1, members);
    }

    public void PresenceChanged(string session, PresenceChange change)
    {
        string connection = change.Member.Connection;
        if (change.Joined)
        {
            _link.Send(RedisScripts.PresenceJoin, _keys.Of(session), [session, _keys.Channel(session), connection, EncodeMember(change.Member), IdleTtlMs(session)]);
        }
        else
        {
            _link.Send(RedisScripts.PresenceLeave, _keys.Of(session), [session, _keys.Channel(session), connection]);
        }
    }

    /// <summary>This node's presence members of every local session, stated afresh: what was lost while the link was down, or taken from a node thought dead.</summary>
    private async Task RestatePresenceAsync()
    {
        var sessions = new List<(string Session, List<PresenceMember> Members, bool Watched)>();
        _feed.ListPresence(sessions);
        await Task.WhenAll(sessions.Select(s =>
        {
            var values = new RedisValue[5 + (2 * s.Members.Count)];
            values[0] = s.Session;
            values[1] = _keys.Channel(s.Session);
            values[2] = _nodeId;
            values[3] = IdleTtlMs(s.Session);
            values[4] = s.Members.Count;
            for (int i = 0; i < s.Members.Count; i++)
            {
                values[5 + (2 * i)] = s.Members[i].Connection;
                values[6 + (2 * i)] = EncodeMember(s.Members[i]);
            }

            return _link.EvaluateAsync(RedisScripts.PresenceRestate, _keys.Of(s.Session), values);
        }));
    }

    /// <summary>
    /// Drops dead nodes' presence members from the sessions watched here, so that watchers get
    /// their leaves; elsewhere a read leaves them out, and the hash expires with its session.
    /// </summary>
    private async Task ReapPresenceAsync()
    {
        var sessions = new List<(string Session, List<PresenceMember> Members, bool Watched)>();
        _feed.ListPresence(sessions);
        await Task.WhenAll(sessions.Where(s => s.Watched).Select(s =>
            _link.EvaluateAsync(RedisScripts.PresenceReap, _keys.Of(s.Session), [s.Session, _keys.Channel(s.Session), Nodes()])));
    }

    /// <summary>The epoch a message carries, as the last one when it is the same (it nearly always is): no string per message.</summary>
    private string EpochOf(ReadOnlySpan<byte> bytes)
    {
        string last = Volatile.Read(ref _lastEpoch);
        if (last.Length == bytes.Length)
        {
            bool same = true;
            for (int i = 0; i < bytes.Length && same; i++)
            {
                same = last[i] == bytes[i];
            }

            if (same)
            {
                return last;
            }
        }

        string epoch = Encoding.ASCII.GetString(bytes);
        Volatile.Write(ref _lastEpoch, epoch);
        return epoch;
    }

    /// <summary>This node's client counts per session; with <paramref name="withoutClients"/>, every local session.</summary>
    private List<(string Session, int Clients)> Snapshot(bool withoutClients)
    {
        var sessions = new List<(string, int)>(_feed.Sessions);
        _feed.CountMembers(sessions, withoutClients);
        return sessions;
    }

    private async Task TouchAsync(List<(string Session, int Clients)> sessions, bool setCounts)
    {
        var alive = (RedisResult[])(await _link.EvaluateAsync(RedisScripts.Alive, [_keys.Nodes], [_nodeId, (long)_liveness.TotalMilliseconds, (long)DeadNodeMemory.TotalMilliseconds]))!;
        bool added = (long)alive[0] == 1;
        var nodes = new StringBuilder();
        for (int i = 2; i + 1 < alive.Length; i += 2)
        {
            nodes.Append(nodes.Length > 0 ? "," : "").Append((string)alive[i]!).Append('=').Append((long)(double)alive[i + 1]);
        }

        Volatile.Write(ref _nodes, nodes.ToString());
        Interlocked.Exchange(ref _nodesRead, _time.GetTimestamp());
        if (added && _seenAlive && !setCounts)
        {
            // This node had been taken for dead (a long pause), and its presence members were
            // dropped by the others: state them again. Its counts are written again below.
            Log.TakenForDead(_logger);
            setCounts = true;
            sessions = Snapshot(withoutClients: true);
            await RestatePresenceAsync();
        }

        _seenAlive = true;
        await Task.WhenAll(sessions.Select(s =>
            _link.EvaluateAsync(RedisScripts.Touch, _keys.Of(s.Session), [_nodeId, IdleTtlMs(s.Session), setCounts ? "1" : "0", s.Clients])));
    }

    private async Task SweepAsync()
    {
        var page = (RedisResult[])(await _link.CallAsync(database => database.ExecuteAsync("SSCAN", _keys.Sessions, _sweepCursor, "COUNT", SweepPage)))!;
        _sweepCursor = (RedisValue)page[0];
        var names = (RedisValue[])page[1]!;
        await Task.WhenAll(names.Select(async name =>
        {
            if (!await _link.CallAsync(database => database.KeyExistsAsync(_keys.Meta(name!))))
            {
                await ForgetNameAsync(name!);
            }
        }));
        Interlocked.Exchange(ref _knownSessions, await _link.CallAsync(database => database.SetLengthAsync(_keys.Sessions)));
    }

    /// <summary>An idempotency key: its JSON type and text, so that "1" and 1 stay different ids, as in memory.</summary>
    private static string IdKey(JsonScalar id) => (id.IsString ? "s:" : "n:") + id.Text;

    private static DateTimeOffset? LastEventAt(long milliseconds) =>
        milliseconds > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(milliseconds) : null;

    /// <summary>
    /// A session's channel on this node: whether it is wanted (subscribed, or being subscribed),
    /// and the last subscribe or unsubscribe sent for it, which the next one waits for. Both
    /// change under the log's subscriptions lock only.
    /// </summary>
    private sealed class Subscription
    {
        /// <summary>True from the subscribe that a read asked for until the unsubscribe of a release.</summary>
        public bool Wanted { get; set; }

        /// <summary>The latest subscribe or unsubscribe of the channel, in order after the ones before.</summary>
        public Task Tail { get; set; } = Task.CompletedTask;
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

        [LoggerMessage(EventId = 517, Level = LogLevel.Warning, Message = "This node had been taken for dead (its liveness in Redis ran out); its client counts and presence members are stated again")]
        public static partial void TakenForDead(ILogger logger);

        [LoggerMessage(EventId = 519, Level = LogLevel.Warning, Message = "The set of sessions is unreachable ({Reason}): session {Session} is created without the Sessions:MaxSessions check, and named in the set once its shard is back")]
        public static partial void SetUnreachable(ILogger logger, string session, string reason);

        [LoggerMessage(EventId = 520, Level = LogLevel.Information, Message = "{Count} sessions were behind their log in Redis: their channel lost events (as it does while a shard fails over or a slot moves) and no later event showed it; they catch up from history")]
        public static partial void FoundBehind(ILogger logger, int count);

        [LoggerMessage(EventId = 521, Level = LogLevel.Error, Message = "Checking the sessions against their log in Redis failed; the check runs again at the next Backplane:CheckInterval")]
        public static partial void CheckFailed(ILogger logger, Exception exception);
    }
}

/// <summary>The feed of a log that no hub has attached to yet: it wants nothing.</summary>
internal sealed class NoFeed : ILogFeed
{
    public static readonly NoFeed Instance = new();

    public int Sessions => 0;

    public bool Wants(ReadOnlySpan<char> session, long seq) => false;

    public HubOutbox? OnAppended(string session, string epoch, ReadOnlySpan<SessionEvent> events) => null;

    public HubOutbox? OnDeleted(string session, string? epoch) => null;

    public void OnResync()
    {
    }

    public bool IsBehind(string session, long seq, string? epoch) => false;

    public void CatchUp(string session)
    {
    }

    public void CountMembers(List<(string Session, int Members)> into, bool includeEmpty)
    {
    }

    public void OnPresence(string session, PresenceChange change)
    {
    }

    public void ListPresence(List<(string Session, List<PresenceMember> Members, bool Watched)> into)
    {
    }
}
