using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.Configuration;
using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace Gateway.Log.Redis;

/// <summary>
/// This node's connection to Redis, one server or a Redis Cluster: one multiplexer for the node's
/// life, and the sharded channels of the sessions this node has members in. The client library
/// reconnects by itself, follows the cluster's slots and subscribes the channels again; this link
/// decides when the backplane is "up": once every channel is proven to deliver again (a probe sent
/// through each came back), so that the catch-up that follows reads history only after live
/// events flow. While it is down, every command fails at once with
/// <see cref="BackplaneUnavailableException"/> rather than queueing behind a dead socket.
/// </summary>
/// <remarks>
/// One server is down when its connection is. A cluster is down only when no primary is
/// reachable: a shard that fails (or fails over, or moves a slot) leaves the link up, its
/// sessions' commands fail on their own (503), and the link proves every channel again and has
/// the log catch up once the shard is back, without the other shards' sessions noticing.
/// </remarks>
internal sealed partial class RedisLink(BackplaneOptions options, string nodeId, ILogger logger)
{
    /// <summary>The first retry waits about this long; each one after, twice as long.</summary>
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Retries never wait longer than this, so a node is back within seconds of Redis.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    // How long a probe may take to come back before it is sent again: a round trip to a Redis on
    // the same network is well under a millisecond.
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, RedisChannel> _channels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _probes = new(StringComparer.Ordinal);
    private readonly Lock _holdersGate = new();
    private readonly Dictionary<string, Holders> _holders = new(StringComparer.Ordinal);
    private volatile ConnectionMultiplexer? _connection;
    private volatile bool _up;
    private volatile bool _clustered;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _restored = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action<RedisChannel, RedisValue> _onMessage = static (_, _) => { };
    private long _probeCount;

    public bool IsUp => _up;

    /// <summary>True when the server is a Redis Cluster (known once connected).</summary>
    public bool IsCluster => _clustered;

    /// <summary>Completes once the link is up (<paramref name="up"/>) or down.</summary>
    public async Task WhenAsync(bool up, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed = Volatile.Read(ref _changed).Task;
            if (IsUp == up)
            {
                return;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Keeps the link up until <paramref name="stopping"/>: <paramref name="onMessage"/> gets every
    /// message of every channel subscribed (<see cref="SubscribeAsync"/>); <paramref name="onConnected"/>
    /// runs each time the link comes up, or is repaired, once every channel delivers again.
    /// </summary>
    public async Task RunAsync(Action<RedisChannel, RedisValue> onMessage, Func<bool, Task> onConnected, CancellationToken stopping)
    {
        _onMessage = onMessage;
        ConfigurationOptions config = ConfigurationOptions.Parse(options.Redis);

        // Start without Redis and keep trying, with the library's backoff; fail commands at once while
        // disconnected rather than hold them in a backlog: a publisher is better told 503 now.
        config.AbortOnConnectFail = false;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ReconnectRetryPolicy = new ExponentialRetry((int)FirstRetryDelay.TotalMilliseconds, (int)MaxRetryDelay.TotalMilliseconds);
        config.ConnectTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        config.SyncTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        config.AsyncTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        config.ClientName ??= "gateway-" + nodeId;

        ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(config);
        connection.ConnectionFailed += (_, e) =>
        {
            if (e.FailureType == ConnectionFailureType.None)
            {
                return;
            }

            if (_clustered && HasPrimary(connection))
            {
                // One shard's: the others carry on; its channels are proven again once it is back.
                Repair();
            }
            else
            {
                MarkDown();
            }
        };
        connection.ConnectionRestored += (_, _) =>
        {
            Interlocked.Exchange(ref _restored, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            if (_clustered)
            {
                Repair();
            }
        };

        // A failover or a slot that moved: the library follows the slots and subscribes the moved
        // channels again on their new primary, but events published in between reach nobody.
        connection.ConfigurationChanged += (_, _) => RepairIfClustered();
        connection.HashSlotMoved += (_, _) => RepairIfClustered();
        _connection = connection;

        // Proving the channels may take a few tries after Redis is back (the library resubscribes
        // on its own time); Polly spaces them, with jitter so that many nodes do not probe in step.
        ResiliencePipeline retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = FirstRetryDelay,
                MaxDelay = MaxRetryDelay,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    Log.ConnectFailed(logger, args.AttemptNumber + 1, (long)args.RetryDelay.TotalMilliseconds, args.Outcome.Exception?.Message ?? "");
                    return default;
                },
            })
            .Build();

        try
        {
            bool reconnect = false;
            int failedCatchUps = 0;
            while (!stopping.IsCancellationRequested)
            {
                // Failures reported before the channels are proven are over (each connection reports
                // its own, sometimes after the other is back); one after it counts, and one that
                // slipped in between is caught by asking the connection itself.
                var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                try
                {
                    await retry.ExecuteAsync(
                        async token =>
                        {
                            lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                            Volatile.Write(ref _lost, lost);
                            await WhenConnectedAsync(connection, token);
                            _clustered = connection.GetServers().Any(static s => s.ServerType == ServerType.Cluster);
                            await ProveChannelsAsync(connection, token);
                        },
                        stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                if (!connection.IsConnected || (!_clustered && !AllSubscribed(connection)))
                {
                    continue;
                }

                bool wasUp = _up;
                SetUp(true);

                // The endpoints only: the configuration string may hold a password.
                string endpoints = string.Join(",", connection.GetEndPoints().Select(e => e.ToString()));
                if (wasUp)
                {
                    Log.Repaired(logger, endpoints);
                }
                else
                {
                    Log.Connected(logger, reconnect ? "reconnected to" : "connected to", endpoints);
                }

                bool caughtUp = true;
                try
                {
                    await onConnected(reconnect || wasUp);
                    failedCatchUps = 0;
                }
                catch (Exception e) when (e is BackplaneUnavailableException or RedisException)
                {
                    // The link failed again while catching up; the next time it comes up catches up instead.
                    caughtUp = false;
                    lost.TrySetResult();
                }

                try
                {
                    await lost.Task.WaitAsync(stopping);
                    if (!_up)
                    {
                        Log.Lost(logger);
                    }

                    if (!caughtUp)
                    {
                        // Redis answers the probe but not the catch-up (at its memory limit, say):
                        // back off rather than go round at once. One server is down meanwhile; a
                        // cluster stays up for the shards that answer.
                        if (!_clustered)
                        {
                            SetUp(false);
                        }

                        await Task.Delay(TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, FirstRetryDelay.Ticks << Math.Min(failedCatchUps++, 5))), stopping);
                    }
                }
                catch (OperationCanceledException)
                {
                }

                reconnect = true;
            }
        }
        finally
        {
            SetUp(false);
            _connection = null;
            await connection.CloseAsync(allowCommandsToComplete: false);
            await connection.DisposeAsync();
        }
    }

    /// <summary>
    /// Subscribes <paramref name="channel"/> for <paramref name="owner"/> (a session) and completes
    /// once the server has confirmed it: whatever is published on it after this reaches this node.
    /// A channel several sessions share (one per hash slot) is subscribed once, while any of them
    /// holds it. Throws <see cref="BackplaneUnavailableException"/> when that shard is unreachable
    /// (and <paramref name="owner"/> then does not hold it).
    /// </summary>
    /// <remarks>The calls of one owner come in order (subscribe, unsubscribe, subscribe...); those of different owners in any order.</remarks>
    public async Task SubscribeAsync(string channel, string owner)
    {
        Holders? holders;
        Task subscribed;
        lock (_holdersGate)
        {
            if (!_holders.TryGetValue(channel, out holders))
            {
                holders = new Holders();
                _holders[channel] = holders;
            }

            if (holders.Owners.Add(owner) && holders.Owners.Count == 1)
            {
                holders.Tail = ChangeAsync(holders, channel, subscribe: true);
            }

            subscribed = holders.Tail;
        }

        try
        {
            await subscribed;
        }
        catch
        {
            lock (_holdersGate)
            {
                holders.Owners.Remove(owner);
                Forget(channel, holders);
            }

            throw;
        }
    }

    /// <summary>
    /// Unsubscribes <paramref name="channel"/> for <paramref name="owner"/>: the channel itself once
    /// no owner holds it. Never throws (a connection that is gone has no subscription to drop).
    /// </summary>
    public Task UnsubscribeAsync(string channel, string owner)
    {
        lock (_holdersGate)
        {
            if (!_holders.TryGetValue(channel, out Holders? holders) || !holders.Owners.Remove(owner) || holders.Owners.Count > 0)
            {
                return Task.CompletedTask;
            }

            holders.Tail = ChangeAsync(holders, channel, subscribe: false);
            return holders.Tail;
        }
    }

    /// <summary>
    /// Subscribes or unsubscribes <paramref name="channel"/> after its previous change, whatever
    /// became of that (called under <see cref="_holdersGate"/>): one at a time, so that the library
    /// never holds the channel's handler twice, nor drops it after it was taken again.
    /// </summary>
    private async Task ChangeAsync(Holders holders, string channel, bool subscribe)
    {
        holders.Pending++;
        try
        {
            await holders.Tail.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
            if (subscribe)
            {
                await SubscribeOnceAsync(channel);
                return;
            }

            lock (_holdersGate)
            {
                if (holders.Owners.Count > 0)
                {
                    // Taken again meanwhile: the subscribe queued behind this finds it subscribed.
                    return;
                }
            }

            await UnsubscribeOnceAsync(channel);
        }
        finally
        {
            lock (_holdersGate)
            {
                holders.Pending--;
                Forget(channel, holders);
            }
        }
    }

    /// <summary>Drops the record of a channel nobody holds or changes (under <see cref="_holdersGate"/>).</summary>
    private void Forget(string channel, Holders holders)
    {
        if (holders.Owners.Count == 0 && holders.Pending == 0 && _holders.TryGetValue(channel, out Holders? current) && ReferenceEquals(current, holders))
        {
            _holders.Remove(channel);
        }
    }

    private async Task SubscribeOnceAsync(string channel)
    {
        if (_channels.ContainsKey(channel))
        {
            return;
        }

        ConnectionMultiplexer connection = (_up ? _connection : null)
            ?? throw new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting");
        RedisChannel sharded = RedisChannel.Sharded(channel);
        try
        {
            await connection.GetSubscriber().SubscribeAsync(sharded, OnChannelMessage).WaitAsync(options.OperationTimeout).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            _channels[channel] = sharded;
        }
        catch (TimeoutException e)
        {
            throw new BackplaneUnavailableException($"Redis did not confirm a subscription within {options.OperationTimeout.TotalMilliseconds:0} ms (Gateway:Backplane:OperationTimeout)", e);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or RedisServerException or ObjectDisposedException)
        {
            throw new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting", e);
        }
    }

    private async Task UnsubscribeOnceAsync(string channel)
    {
        if (!_channels.TryRemove(channel, out RedisChannel sharded) || _connection is not { } connection)
        {
            return;
        }

        try
        {
            await connection.GetSubscriber().UnsubscribeAsync(sharded, OnChannelMessage).WaitAsync(options.OperationTimeout);
        }
        catch (Exception e) when (e is TimeoutException or RedisException or ObjectDisposedException)
        {
            // The server forgets it with the connection; the library will not subscribe it again.
        }
    }

    /// <summary>Runs a script; throws <see cref="BackplaneUnavailableException"/> when Redis is down or does not answer in time.</summary>
    public Task<RedisResult> EvaluateAsync(string script, RedisKey[] keys, RedisValue[] values) =>
        CallAsync(database => database.ScriptEvaluateAsync(script, keys, values));

    /// <summary>Runs a command; throws <see cref="BackplaneUnavailableException"/> when Redis is down or does not answer in time.</summary>
    public async Task<T> CallAsync<T>(Func<IDatabase, Task<T>> command)
    {
        ConnectionMultiplexer connection = (_up ? _connection : null)
            ?? throw new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting");
        Task<T> call;
        try
        {
            call = command(connection.GetDatabase());
        }
        catch (RedisConnectionException e)
        {
            throw new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting", e);
        }

        try
        {
            // The library completes a reply's task on a thread-pool item of its own, never on the loop
            // that reads the connection (and delivers the sessions' channels, in order): the caller's
            // continuation runs there, with no second hop to the pool.
            return await call.WaitAsync(options.OperationTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            // The command may still complete; nobody waits for it, and its failure is not news.
            _ = call.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new BackplaneUnavailableException($"Redis did not answer within {options.OperationTimeout.TotalMilliseconds:0} ms (Gateway:Backplane:OperationTimeout)", e);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or ObjectDisposedException)
        {
            throw new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting", e);
        }
        catch (RedisServerException e) when (IsPassing(e.Message))
        {
            throw new BackplaneUnavailableException($"the Redis Cluster is moving the session or failing over ({e.Message}); retry", e);
        }
    }

    /// <summary>
    /// A cluster's answer while a slot moves or a shard fails over, once the library has followed
    /// what redirections it follows: the same command succeeds a moment later.
    /// </summary>
    /// <remarks>
    /// The library follows one redirection per command. A command sent on a second time and
    /// redirected again (the map still changing under a failover), or redirected to a node the
    /// library does not know yet, fails with a message of the library's own rather than the
    /// server's: those are the last two lines.
    /// </remarks>
    internal static bool IsPassing(string message) =>
        message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("MOVED", StringComparison.Ordinal)
        || message.StartsWith("ASK", StringComparison.Ordinal)
        || message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
        || message.StartsWith("LOADING", StringComparison.Ordinal)
        || message.StartsWith("READONLY", StringComparison.Ordinal)
        || message.StartsWith("UNBLOCKED", StringComparison.Ordinal)
        || message.StartsWith("Key has MOVED", StringComparison.Ordinal)
        || message.StartsWith("The server redirected", StringComparison.Ordinal);

    /// <summary>
    /// Waits until <paramref name="replicas"/> replicas of the server that holds <paramref name="key"/>
    /// have every write this node sent it so far, for at most half the operation timeout; returns
    /// how many confirmed. Throws <see cref="BackplaneUnavailableException"/> when that server is
    /// unreachable.
    /// </summary>
    /// <remarks>
    /// <c>WAIT</c> names no key: it goes to the server of <paramref name="key"/>'s slot, over the one
    /// connection this node's scripts to it went by, whose writes it covers. It holds that
    /// connection while it waits, which is why it is bounded below the operation timeout.
    /// </remarks>
    public Task<long> WaitReplicasAsync(RedisKey key, int replicas) =>
        CallAsync(async database =>
        {
            System.Net.EndPoint endpoint = await database.IdentifyEndpointAsync(key)
                ?? throw new BackplaneUnavailableException("no Redis server holds the session's slot now");
            RedisResult confirmed = await database.Multiplexer.GetServer(endpoint)
                .ExecuteAsync("WAIT", replicas, (long)(options.OperationTimeout.TotalMilliseconds / 2));
            return (long)confirmed;
        });

    /// <summary>Runs a script without waiting for, or hearing about, its result (while the link is down, not at all).</summary>
    public void Send(string script, RedisKey[] keys, RedisValue[] values)
    {
        if (!_up || _connection is not { } connection)
        {
            // Down: what this would have written is written afresh when the link is back.
            return;
        }

        try
        {
            connection.GetDatabase().ScriptEvaluateAsync(script, keys, values, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            // Lost meanwhile: the same.
        }
    }

    /// <summary>
    /// Completes once a probe published on each subscribed channel has come back through this
    /// node's subscription: from then on, whatever is published reaches this node. With no
    /// channel, once a server answers.
    /// </summary>
    private async Task ProveChannelsAsync(ConnectionMultiplexer connection, CancellationToken cancellationToken)
    {
        if (_channels.IsEmpty)
        {
            await connection.GetDatabase().PingAsync().WaitAsync(options.OperationTimeout, cancellationToken);
            return;
        }

        await Task.WhenAll(_channels.Values.Select(channel => ProveChannelAsync(connection, channel, cancellationToken)));
    }

    private async Task ProveChannelAsync(ConnectionMultiplexer connection, RedisChannel channel, CancellationToken cancellationToken)
    {
        // A leading newline: no node reads it as a session's message (a session name is never empty).
        string token = $"\n{nodeId}:{Interlocked.Increment(ref _probeCount)}";
        var returned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _probes[token] = returned;
        long started = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                // Sent again until it comes back: one sent just before the library had subscribed again
                // is lost, and waiting out the whole timeout for it would keep the node down for nothing.
                await connection.GetSubscriber().PublishAsync(channel, token).WaitAsync(options.OperationTimeout, cancellationToken);
                try
                {
                    await returned.Task.WaitAsync(ProbeInterval, cancellationToken);
                    return;
                }
                catch (TimeoutException e) when (Stopwatch.GetElapsedTime(started) >= options.OperationTimeout)
                {
                    // The library may have lost track of it across a failover: subscribe it afresh
                    // (the catch-up that follows covers what was published meanwhile), and try again.
                    ISubscriber subscriber = connection.GetSubscriber();
                    await subscriber.UnsubscribeAsync(channel, OnChannelMessage).WaitAsync(options.OperationTimeout, cancellationToken);
                    await subscriber.SubscribeAsync(channel, OnChannelMessage).WaitAsync(options.OperationTimeout, cancellationToken);
                    throw new BackplaneUnavailableException($"channel {channel} is not subscribed again yet", e);
                }
                catch (TimeoutException)
                {
                }
            }
        }
        finally
        {
            _probes.TryRemove(token, out _);
        }
    }

    /// <summary>
    /// Completes once the multiplexer is connected, waking at each reconnection it reports: the
    /// library's own backoff decides when it tries, and the link is up again as soon as Redis is,
    /// not at a later turn of a backoff of its own.
    /// </summary>
    private async Task WhenConnectedAsync(ConnectionMultiplexer connection, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            Task restored = Volatile.Read(ref _restored).Task;
            if (connection.IsConnected && AllSubscribed(connection))
            {
                return;
            }

            try
            {
                await restored.WaitAsync(MaxRetryDelay, cancellationToken);
            }
            catch (TimeoutException)
            {
                Log.StillUnreachable(logger, (long)Stopwatch.GetElapsedTime(started).TotalSeconds);
                if (_clustered && connection.IsConnected)
                {
                    // A shard that stays away: prove what can be proven, and try the rest again later.
                    return;
                }
            }
        }
    }

    /// <summary>True when the library holds a connection for every subscribed channel.</summary>
    private bool AllSubscribed(ConnectionMultiplexer connection)
    {
        ISubscriber subscriber = connection.GetSubscriber();
        foreach (RedisChannel channel in _channels.Values)
        {
            if (!subscriber.IsConnected(channel))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when a primary of the cluster is reachable.</summary>
    private static bool HasPrimary(ConnectionMultiplexer connection)
    {
        foreach (IServer server in connection.GetServers())
        {
            if (server.IsConnected && !server.IsReplica)
            {
                return true;
            }
        }

        return false;
    }

    private void OnChannelMessage(RedisChannel channel, RedisValue message)
    {
        if (((ReadOnlyMemory<byte>)message).Span is [(byte)'\n', ..])
        {
            if (_probes.TryRemove((string)message!, out TaskCompletionSource? returned))
            {
                returned.TrySetResult();
            }

            return;
        }

        _onMessage(channel, message);
    }

    private void MarkDown()
    {
        SetUp(false);
        Volatile.Read(ref _lost).TrySetResult();
    }

    private void RepairIfClustered()
    {
        if (_clustered)
        {
            Repair();
        }
    }

    /// <summary>The link stays up, and proves its channels again and has the log catch up.</summary>
    private void Repair() => Volatile.Read(ref _lost).TrySetResult();

    private void SetUp(bool up)
    {
        // The library's thread reports a failure while the link's loop may be bringing it up.
        lock (_gate)
        {
            if (_up == up)
            {
                return;
            }

            _up = up;
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    /// <summary>The sessions that hold a channel, and its last subscribe or unsubscribe, which the next waits for.</summary>
    private sealed class Holders
    {
        public HashSet<string> Owners { get; } = new(StringComparer.Ordinal);

        public Task Tail { get; set; } = Task.CompletedTask;

        /// <summary>Changes queued or running: the record stays until they are done.</summary>
        public int Pending { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Backplane {What} Redis at {Endpoints}")]
        public static partial void Connected(ILogger logger, string what, string endpoints);

        [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Backplane lost its Redis connection: publishes answer 503 until it is back; live connections stay open")]
        public static partial void Lost(ILogger logger);

        [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "Backplane could not confirm its Redis link (attempt {Attempt}); next try in {DelayMs} ms: {Reason}")]
        public static partial void ConnectFailed(ILogger logger, int attempt, long delayMs, string reason);

        [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "Backplane still cannot reach Redis after {Seconds} s; the Redis client keeps reconnecting")]
        public static partial void StillUnreachable(ILogger logger, long seconds);

        [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Backplane proved every channel again after a change of the Redis Cluster at {Endpoints} (a shard failed, failed over or moved a slot); local sessions catch up from history")]
        public static partial void Repaired(ILogger logger, string endpoints);
    }
}
