using System.Diagnostics;
using Gateway.Configuration;
using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace Gateway.Log.Redis;

/// <summary>
/// This node's connection to Redis: one multiplexer for the node's life. The client library
/// reconnects by itself and subscribes the events channel again; this link decides when the
/// backplane is "up": once the channel is proven to deliver again (a probe sent through it came
/// back), so that the catch-up that follows reads history only after live events flow. While it
/// is down, every command fails at once with <see cref="BackplaneUnavailableException"/> rather
/// than queueing behind a dead socket.
/// </summary>
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
    private volatile ConnectionMultiplexer? _connection;
    private volatile bool _up;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _restored = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Probe? _probe;
    private long _probes;

    public bool IsUp => _up;

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
    /// message of <paramref name="channel"/>; <paramref name="onConnected"/> runs each time the link
    /// comes up, once the channel delivers again.
    /// </summary>
    public async Task RunAsync(RedisChannel channel, Action<RedisChannel, RedisValue> onMessage, Func<bool, Task> onConnected, CancellationToken stopping)
    {
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
            if (e.FailureType != ConnectionFailureType.None)
            {
                MarkDown();
            }
        };
        connection.ConnectionRestored += (_, _) =>
            Interlocked.Exchange(ref _restored, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        _connection = connection;

        // Proving the channel may take a few tries after Redis is back (the library resubscribes on
        // its own time); Polly spaces them, with jitter so that many nodes do not probe in step.
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
            bool subscribed = false;
            bool reconnect = false;
            int failedCatchUps = 0;
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await retry.ExecuteAsync(
                        async token =>
                        {
                            await WhenConnectedAsync(connection, subscribed ? channel : (RedisChannel?)null, token);
                            if (!subscribed)
                            {
                                // Once only: the library keeps the subscription across reconnections.
                                await connection.GetSubscriber().SubscribeAsync(channel, (c, m) => OnChannelMessage(c, m, onMessage)).WaitAsync(options.OperationTimeout, token);
                                subscribed = true;
                            }

                            await ProveChannelAsync(connection, channel, token);
                        },
                        stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                // Failures reported before the probe came back are over (each of the two connections
                // reports its own, sometimes after the other is back); one after it counts, and one
                // that slipped in between is caught by asking the connection itself.
                var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref _lost, lost);
                if (!connection.IsConnected || !connection.GetSubscriber().IsConnected(channel))
                {
                    continue;
                }

                SetUp(true);

                // The endpoints only: the configuration string may hold a password.
                Log.Connected(logger, reconnect ? "reconnected to" : "connected to", string.Join(",", connection.GetEndPoints().Select(e => e.ToString())));
                bool caughtUp = true;
                try
                {
                    await onConnected(reconnect);
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
                    Log.Lost(logger);
                    if (!caughtUp)
                    {
                        // Redis answers the probe but not the catch-up (at its memory limit, say):
                        // back off rather than go round at once.
                        SetUp(false);
                        await Task.Delay(TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, FirstRetryDelay.Ticks << Math.Min(failedCatchUps++, 5))), stopping);
                    }
                }
                catch (OperationCanceledException)
                {
                }

                SetUp(false);
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
            // Off the multiplexer's completion thread: it also delivers the events channel, in order,
            // and must not run the caller's continuation.
            return await call.WaitAsync(options.OperationTimeout).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
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
    }

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
    /// Completes once a probe published on <paramref name="channel"/> has come back through this
    /// node's subscription: from then on, whatever is published reaches this node.
    /// </summary>
    private async Task ProveChannelAsync(ConnectionMultiplexer connection, RedisChannel channel, CancellationToken cancellationToken)
    {
        // A leading newline: no node reads it as a session's message (a session name is never empty).
        var probe = new Probe($"\n{nodeId}:{Interlocked.Increment(ref _probes)}");
        Volatile.Write(ref _probe, probe);
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            // Sent again until it comes back: one sent just before the library had subscribed again
            // is lost, and waiting out the whole timeout for it would keep the node down for nothing.
            await connection.GetSubscriber().PublishAsync(channel, probe.Token).WaitAsync(options.OperationTimeout, cancellationToken);
            try
            {
                await probe.Returned.Task.WaitAsync(ProbeInterval, cancellationToken);
                return;
            }
            catch (TimeoutException e) when (Stopwatch.GetElapsedTime(started) >= options.OperationTimeout)
            {
                throw new BackplaneUnavailableException("the events channel is not subscribed again yet", e);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    /// <summary>
    /// Completes once both of the multiplexer's connections are up, waking at each reconnection it
    /// reports: the library's own backoff decides when it tries, and the link is up again as soon
    /// as Redis is, not at a later turn of a backoff of its own.
    /// </summary>
    /// <remarks>Without <paramref name="channel"/> (not subscribed yet), the interactive connection is enough.</remarks>
    private async Task WhenConnectedAsync(ConnectionMultiplexer connection, RedisChannel? channel, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            Task restored = Volatile.Read(ref _restored).Task;
            if (connection.IsConnected && (channel is not { } subscribedTo || connection.GetSubscriber().IsConnected(subscribedTo)))
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
            }
        }
    }

    private void OnChannelMessage(RedisChannel channel, RedisValue message, Action<RedisChannel, RedisValue> onMessage)
    {
        if (Volatile.Read(ref _probe) is { } probe && ((ReadOnlyMemory<byte>)message).Span is [(byte)'\n', ..] && message == probe.Token)
        {
            probe.Returned.TrySetResult();
            return;
        }

        onMessage(channel, message);
    }

    private void MarkDown()
    {
        SetUp(false);
        Volatile.Read(ref _lost).TrySetResult();
    }

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

    private sealed class Probe(string token)
    {
        public RedisValue Token { get; } = token;

        public TaskCompletionSource Returned { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
    }
}
