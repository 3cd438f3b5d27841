using Gateway.Configuration;
using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace Gateway.Backplane.Redis;

/// <summary>
/// This node's connection to Redis. It connects, subscribes to the events channel, and is "up";
/// when the connection fails it is dropped whole, and a new one is made with exponential backoff
/// and jitter (so that nodes do not reconnect in step), subscribed again, and handed to the
/// backplane to catch up on what it missed. While it is down, every command fails at once with
/// <see cref="BackplaneUnavailableException"/> rather than queueing behind a dead socket.
/// </summary>
internal sealed partial class RedisLink(BackplaneOptions options, string nodeId, ILogger logger)
{
    /// <summary>The first retry waits about this long; each one after, twice as long.</summary>
    public static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Retries never wait longer than this, so a node is back within seconds of Redis.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private volatile ConnectionMultiplexer? _connection;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsUp => _connection is not null;

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
    /// (re)connects, once the subscription is in place.
    /// </summary>
    public async Task RunAsync(RedisChannel channel, Action<RedisChannel, RedisValue> onMessage, Func<bool, Task> onConnected, CancellationToken stopping)
    {
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

        bool reconnect = false;
        while (!stopping.IsCancellationRequested)
        {
            ConnectionMultiplexer connection;
            try
            {
                connection = await retry.ExecuteAsync(async token => await ConnectAsync(channel, onMessage, token), stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.ConnectionFailed += (_, e) => lost.TrySetResult();
            if (!connection.IsConnected)
            {
                lost.TrySetResult();
            }

            SetConnection(connection);

            // The endpoints only: the configuration string may hold a password.
            Log.Connected(logger, reconnect ? "reconnected to" : "connected to", string.Join(",", connection.GetEndPoints().Select(e => e.ToString())));
            try
            {
                await onConnected(reconnect);
            }
            catch (Exception e) when (e is BackplaneUnavailableException or RedisException)
            {
                // The link failed again while catching up; the next connection catches up instead.
                lost.TrySetResult();
            }

            try
            {
                await lost.Task.WaitAsync(stopping);
                Log.Lost(logger);
            }
            catch (OperationCanceledException)
            {
            }

            SetConnection(null);
            reconnect = true;
            await CloseAsync(connection);
        }
    }

    /// <summary>Runs a script; throws <see cref="BackplaneUnavailableException"/> when Redis is down or does not answer in time.</summary>
    public async Task<RedisResult> EvaluateAsync(string script, RedisKey[] keys, RedisValue[] values)
    {
        ConnectionMultiplexer connection = _connection
            ?? throw new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting");
        Task<RedisResult> call;
        try
        {
            call = connection.GetDatabase().ScriptEvaluateAsync(script, keys, values);
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
        try
        {
            _connection?.GetDatabase().ScriptEvaluateAsync(script, keys, values, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            // Down: what this would have written is written afresh when the link is back.
        }
    }

    private void SetConnection(ConnectionMultiplexer? connection)
    {
        _connection = connection;
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(RedisChannel channel, Action<RedisChannel, RedisValue> onMessage, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ConfigurationOptions config = ConfigurationOptions.Parse(options.Redis);

        // One attempt per call: the retry policy above decides when to try again.
        config.AbortOnConnectFail = true;
        config.ConnectRetry = 1;
        config.ConnectTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        config.SyncTimeout = (int)options.OperationTimeout.TotalMilliseconds;
        config.ClientName ??= "gateway-" + nodeId;
        ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(config);
        try
        {
            await connection.GetSubscriber().SubscribeAsync(channel, onMessage).WaitAsync(options.OperationTimeout, cancellationToken);
            return connection;
        }
        catch
        {
            await CloseAsync(connection);
            throw;
        }
    }

    private static async Task CloseAsync(ConnectionMultiplexer connection)
    {
        try
        {
            await connection.CloseAsync(allowCommandsToComplete: false);
        }
        catch (RedisException)
        {
            // Closing a connection that has already failed.
        }
        finally
        {
            connection.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Backplane {What} Redis at {Endpoints}")]
        public static partial void Connected(ILogger logger, string what, string endpoints);

        [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Backplane lost its Redis connection: publishes answer 503 until it is back; live connections stay open")]
        public static partial void Lost(ILogger logger);

        [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "Backplane could not reach Redis (attempt {Attempt}); next try in {DelayMs} ms: {Reason}")]
        public static partial void ConnectFailed(ILogger logger, int attempt, long delayMs, string reason);
    }
}
