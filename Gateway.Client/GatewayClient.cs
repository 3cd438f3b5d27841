using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Gateway.Client.Wire;
using Websocket.Client;
using Websocket.Client.Exceptions;

namespace Gateway.Client;

/// <summary>
/// A client of one gateway session over WebSocket. It delivers the session's events as an
/// <see cref="IAsyncEnumerable{T}"/>, each exactly once and in seq order across reconnections:
/// it remembers the last seq and epoch it delivered and reconnects with <c>since</c> and
/// <c>epoch</c>, with exponential backoff and jitter, until the session completes or the client
/// is disposed. It also publishes, calls the backend (rpc), and reads status and presence.
/// </summary>
/// <remarks>
/// Connections are made by Websocket.Client, which reconnects by itself; this client supplies
/// each connection (its URL, recomputed from the position every time, its credential and its
/// backoff) and reads the gateway's messages. Handlers of <see cref="StateChanged"/>,
/// <see cref="PresenceChanged"/> and <see cref="Resumed"/> run on the receive loop, in message
/// order: they must return quickly, and an exception they throw is ignored.
/// </remarks>
public sealed partial class GatewayClient : IAsyncDisposable
{
    // How long disposal waits for the gateway to answer the client's close frame before dropping the socket.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private static readonly JsonElement JsonNull = JsonDocument.Parse("null").RootElement.Clone();

    private readonly Uri _sessionUrl;
    private readonly GatewayClientOptions _options;
    private readonly WebsocketClient _socket;
    private readonly IDisposable[] _subscriptions;

    // Written only under _receiveLock, in the order events arrive.
    private readonly Channel<GatewayEvent> _events = Channel.CreateUnbounded<GatewayEvent>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly ConcurrentDictionary<string, TaskCompletionSource<WireMessage>> _pending = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    // Guards the state, the position (last seq, epoch), the open signal and the pending requests.
    private readonly Lock _gate = new();

    // Serializes message handling: Websocket.Client may still be handing over a message of a
    // connection it is replacing when the next one's first message arrives.
    private readonly Lock _receiveLock = new();

    private GatewayClientState _state = GatewayClientState.Connecting;
    private TaskCompletionSource _opened = NewSignal();
    private bool _hasPosition;
    private long _lastSeq;
    private string? _epoch;
    private bool _epochChangedPending;
    private IReadOnlyList<string>? _filter;
    private int _attempts;
    private (WebSocketCloseStatus? Status, string? Reason, Exception? Error) _lastDrop;
    private string? _connectionId;
    private bool _complete;
    private long _latencyTicks = -1;
    private long _nextId;
    private int _started;
    private int _disposed;
    private Task? _pingLoop;

    /// <summary>Creates a client of the session at <paramref name="sessionUrl"/>; nothing connects before <see cref="StartAsync"/>.</summary>
    /// <param name="sessionUrl">The session's WebSocket address, <c>ws://host:port/ws/{session}</c> (or <c>wss://</c>), without a query: the options give what goes in it.</param>
    /// <param name="options">How to connect and reconnect; the defaults when null.</param>
    public GatewayClient(Uri sessionUrl, GatewayClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sessionUrl);
        if (!sessionUrl.IsAbsoluteUri || (sessionUrl.Scheme != "ws" && sessionUrl.Scheme != "wss"))
        {
            throw new ArgumentException($"The session URL must be an absolute ws:// or wss:// address such as ws://127.0.0.1:8080/ws/build-42, not '{sessionUrl}'.", nameof(sessionUrl));
        }

        if (!string.IsNullOrEmpty(sessionUrl.Query))
        {
            throw new ArgumentException("The session URL must not carry a query: give since, epoch, events, presence, user, info and credentials in GatewayClientOptions, since the client recomputes the query for every connection.", nameof(sessionUrl));
        }

        _sessionUrl = sessionUrl;
        _options = options ?? new GatewayClientOptions();
        _options.Validate();
        if (_options.Since is long since)
        {
            _hasPosition = true;
            _lastSeq = since;
            _epoch = _options.Epoch;
        }

        _filter = _options.Events is { Count: > 0 } events ? [.. events] : null;

        _socket = new WebsocketClient(sessionUrl, logger: null, connectionFactory: ConnectAsync)
        {
            IsReconnectionEnabled = true,

            // The library's watchdog: a connection that brings no message for three ping intervals
            // (the pongs stop) is dropped and made again. It also rescues the library from a socket
            // that breaks while the reconnection that made it is still finishing, which it would
            // otherwise not notice.
            ReconnectTimeout = _options.PingInterval > TimeSpan.Zero ? _options.PingInterval * 3 : null,

            // The backoff is waited out in ConnectAsync, so that every path to a new connection
            // (a drop, a close from the gateway, a failed attempt) goes through the same delay;
            // a failed reconnection is retried there too, and each attempt has its own timeout.
            ErrorReconnectTimeout = TimeSpan.Zero,
            LostReconnectTimeout = null,
            ConnectTimeout = Timeout.InfiniteTimeSpan,
        };
        _subscriptions =
        [
            _socket.MessageReceived.Subscribe(OnMessage),
            _socket.DisconnectionHappened.Subscribe(OnDisconnected),
        ];
    }

    /// <summary>Raised when <see cref="State"/> changes, and before each reconnection attempt (with its number and delay).</summary>
    public event EventHandler<GatewayStateChange>? StateChanged;

    /// <summary>Raised as other connections join and leave the session; only with <see cref="GatewayClientOptions.Presence"/>.</summary>
    public event EventHandler<PresenceChange>? PresenceChanged;

    /// <summary>Raised when a reconnection's replay is over: says how many events came again and whether any may be missing.</summary>
    public event EventHandler<GatewayResume>? Resumed;

    /// <summary>Where the client stands with its connection.</summary>
    public GatewayClientState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    /// <summary>The seq of the last event delivered (or of the session when the client joined, before any); what the next connection resumes after.</summary>
    public long LastSeq
    {
        get
        {
            lock (_gate)
            {
                return _lastSeq;
            }
        }
    }

    /// <summary>The life of the session that <see cref="LastSeq"/> belongs to; null before the first <c>welcome</c>.</summary>
    public string? Epoch
    {
        get
        {
            lock (_gate)
            {
                return _epoch;
            }
        }
    }

    /// <summary>The id the gateway gave the current connection (as others see it in presence and <c>from</c>); null before the first.</summary>
    public string? ConnectionId
    {
        get
        {
            lock (_gate)
            {
                return _connectionId;
            }
        }
    }

    /// <summary>True once the session has completed (a final event was published): the event stream ends and nothing reconnects.</summary>
    public bool IsComplete
    {
        get
        {
            lock (_gate)
            {
                return _complete;
            }
        }
    }

    /// <summary>The round trip of the last <c>ping</c>; null before the first pong.</summary>
    public TimeSpan? Latency => Interlocked.Read(ref _latencyTicks) is var ticks and >= 0 ? TimeSpan.FromTicks(ticks) : null;

    /// <summary>
    /// Connects, and returns once the gateway has welcomed the client. The client then stays
    /// connected, reconnecting by itself, until the session completes or it is disposed.
    /// </summary>
    /// <exception cref="GatewayConnectException">The first connection failed (refused with an HTTP status, or the gateway was not reached); the client is closed.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            throw new InvalidOperationException("StartAsync was already called: a GatewayClient connects once, then reconnects by itself.");
        }

        try
        {
            await _socket.StartOrFail().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (WebsocketException e)
        {
            Exception cause = e.InnerException ?? e;
            Finish(new GatewayStateChange { State = GatewayClientState.Closed, Error = cause }, complete: false);
            throw cause as GatewayConnectException ?? new GatewayConnectException(_sessionUrl, 0, cause);
        }

        if (_options.PingInterval > TimeSpan.Zero)
        {
            _pingLoop = PingLoopAsync(_options.PingInterval, _stopping.Token);
        }

        await WaitOpenAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The session's events, each once, in seq order, across reconnections; the sequence ends when
    /// the session completes or the client is disposed. Events are buffered from
    /// <see cref="StartAsync"/> on, so none is lost between calls; read them from one consumer at a
    /// time. Cancelling <paramref name="cancellationToken"/> ends this enumeration with
    /// <see cref="OperationCanceledException"/>; the client keeps running, and a later call
    /// continues where it stopped.
    /// </summary>
    public IAsyncEnumerable<GatewayEvent> Events(CancellationToken cancellationToken = default) =>
        _events.Reader.ReadAllAsync(cancellationToken);

    /// <summary>Publishes an event from this client, and returns its seq once the gateway has stored it.</summary>
    /// <param name="eventName">The event's name (1-64 characters of <c>A-Z a-z 0-9 . _ : -</c>).</param>
    /// <param name="data">The event's data: a <see cref="JsonElement"/>, or any object, serialized with <see cref="GatewayClientOptions.SerializerOptions"/>; null for none.</param>
    /// <param name="key">A key: the state keeps the latest event per name and key.</param>
    /// <param name="append">With a key and string data: append the text to what the name and key hold.</param>
    /// <param name="cancellationToken">Stops waiting (the event may still be published).</param>
    /// <exception cref="GatewayErrorException">The gateway refused it (<c>forbidden</c> when client publishing is off or the name is not allowed, <c>invalid_message</c>, <c>rate_limited</c>, ...).</exception>
    /// <exception cref="GatewayConnectionLostException">The connection dropped before the <c>ack</c>: the event may or may not have been published.</exception>
    public async Task<long> PublishAsync(string eventName, object? data = null, string? key = null, bool append = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        WireMessage ack = await RequestAsync(
            new WireRequest { Type = "publish", Event = eventName, Data = ToElement(data), Key = key, Append = append ? true : null },
            "ack",
            cancellationToken).ConfigureAwait(false);
        return ack.Seq ?? throw new GatewayErrorException("invalid_reply", "the gateway's ack carried no seq");
    }

    /// <summary>Calls the backend through the gateway and returns its answer.</summary>
    /// <param name="method">The method's name (the event-name rule).</param>
    /// <param name="data">The call's data: a <see cref="JsonElement"/> or any object; null for none.</param>
    /// <param name="cancellationToken">Stops waiting for the answer.</param>
    /// <exception cref="GatewayRejectedException">The backend refused the call (4xx); the message is its reason.</exception>
    /// <exception cref="GatewayUnavailableException">The backend did not answer (5xx, timeout, breaker open, no rpc URL configured).</exception>
    /// <exception cref="GatewayErrorException">Another refusal, such as <c>rate_limited</c>.</exception>
    /// <exception cref="GatewayConnectionLostException">The connection dropped before the answer.</exception>
    public async Task<JsonElement> RpcAsync(string method, object? data = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        WireMessage result = await RequestAsync(
            new WireRequest { Type = "rpc", Method = method, Data = ToElement(data) },
            "rpc_result",
            cancellationToken).ConfigureAwait(false);
        return OrNull(result.Data);
    }

    /// <summary>Calls the backend through the gateway and reads its answer as a <typeparamref name="T"/>; see <see cref="RpcAsync(string, object?, CancellationToken)"/>.</summary>
    public async Task<T?> RpcAsync<T>(string method, object? data = null, CancellationToken cancellationToken = default)
    {
        JsonElement result = await RpcAsync(method, data, cancellationToken).ConfigureAwait(false);
        return result.Deserialize<T>(_options.SerializerOptions);
    }

    /// <summary>Reads the session's status: its seq, epoch, clients, completion, and state (latest event of each name, and of each name and key).</summary>
    public async Task<GatewayStatus> StatusAsync(CancellationToken cancellationToken = default)
    {
        WireMessage status = await RequestAsync(new WireRequest { Type = "status" }, "status", cancellationToken).ConfigureAwait(false);
        return new GatewayStatus
        {
            Session = status.Session ?? "",
            Seq = status.Seq ?? 0,
            Epoch = status.Epoch,
            Clients = status.Clients ?? 0,
            Complete = status.Complete ?? false,
            State = ToState(status.State),
            Keyed = status.Keyed is null
                ? new Dictionary<string, IReadOnlyDictionary<string, GatewayStateEntry>>(StringComparer.Ordinal)
                : status.Keyed.ToDictionary(n => n.Key, n => (IReadOnlyDictionary<string, GatewayStateEntry>)ToState(n.Value), StringComparer.Ordinal),
        };
    }

    /// <summary>Reads who is connected to the session.</summary>
    /// <exception cref="GatewayErrorException"><c>forbidden</c> when the gateway has presence turned off.</exception>
    public async Task<GatewayPresence> PresenceAsync(CancellationToken cancellationToken = default)
    {
        WireMessage presence = await RequestAsync(new WireRequest { Type = "presence" }, "presence", cancellationToken).ConfigureAwait(false);
        return new GatewayPresence
        {
            Session = presence.Session ?? "",
            Clients = presence.Clients ?? 0,
            Users = presence.Users ?? 0,
            Members = ToMembers(presence.Members),
        };
    }

    /// <summary>Adds event names to the filter (on the every-event filter, narrows it to these; <c>["*"]</c> makes it every event); returns the whole filter. Later connections ask for the same filter.</summary>
    public Task<IReadOnlyList<string>> SubscribeAsync(IEnumerable<string> eventNames, CancellationToken cancellationToken = default) =>
        ChangeFilterAsync("subscribe", eventNames, cancellationToken);

    /// <summary>Removes event names from the filter; returns the whole filter. Later connections ask for the same filter.</summary>
    public Task<IReadOnlyList<string>> UnsubscribeAsync(IEnumerable<string> eventNames, CancellationToken cancellationToken = default) =>
        ChangeFilterAsync("unsubscribe", eventNames, cancellationToken);

    /// <summary>Closes the connection (code 1000), stops reconnecting, and ends the event stream.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Finish(new GatewayStateChange { State = GatewayClientState.Closed }, complete: false);
        _socket.IsReconnectionEnabled = false;
        if (_socket.IsRunning)
        {
            try
            {
                await _socket.Stop(WebSocketCloseStatus.NormalClosure, "client closed").WaitAsync(CloseTimeout).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or WebSocketException or WebsocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The socket is dropped below either way; a gateway that does not answer the close must not hold up disposal.
            }
        }

        foreach (IDisposable subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        _socket.Dispose();
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_pingLoop is not null)
        {
            await _pingLoop.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    /// <summary>Aborts the current socket, as a network fault would; the client finds out and reconnects by itself. For tests.</summary>
    internal void BreakConnection() => _socket.NativeClient?.Abort();

    private async Task<IReadOnlyList<string>> ChangeFilterAsync(string type, IEnumerable<string> eventNames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(eventNames);
        string[] names = [.. eventNames];
        WireMessage reply = await RequestAsync(new WireRequest { Type = type, Events = names }, "subscribed", cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> filter = reply.Events ?? [];
        lock (_gate)
        {
            _filter = filter is ["*"] ? null : filter;
        }

        return filter;
    }

    private async Task<WireMessage> RequestAsync(WireRequest request, string replyType, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        cancellationToken.ThrowIfCancellationRequested();
        string id = "c" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        request.Id = id;
        var reply = new TaskCompletionSource<WireMessage>(TaskCreationOptions.RunContinuationsAsynchronously);

        // A request is registered only on an open connection, under the same lock a drop takes to
        // fail what is pending: so every request is either answered or failed, never forgotten.
        while (true)
        {
            Task opened;
            lock (_gate)
            {
                ThrowIfClosed();
                if (_state == GatewayClientState.Open)
                {
                    _pending[id] = reply;
                    break;
                }

                opened = _opened.Task;
            }

            await opened.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            using CancellationTokenRegistration registration = cancellationToken.Register(() => reply.TrySetCanceled(cancellationToken));
            try
            {
                await _socket.SendInstant(JsonSerializer.Serialize(request, WireJsonContext.Default.WireRequest)).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
            {
                throw new GatewayConnectionLostException();
            }

            WireMessage answer = await reply.Task.ConfigureAwait(false);
            if (answer.Type == "error")
            {
                throw GatewayErrorException.From(answer.Code, answer.Message);
            }

            return answer.Type == replyType
                ? answer
                : throw new GatewayErrorException("invalid_reply", $"the gateway answered a {request.Type} with {answer.Type}, not {replyType}");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private async Task WaitOpenAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task opened;
            lock (_gate)
            {
                ThrowIfClosed();
                if (_state == GatewayClientState.Open)
                {
                    return;
                }

                opened = _opened.Task;
            }

            await opened.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void ThrowIfClosed()
    {
        if (_state != GatewayClientState.Closed)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this);
        throw new InvalidOperationException(_complete
            ? "the session is complete: the gateway closed it with 1000 \"session complete\", and the client does not reconnect"
            : "the client is closed: its first connection failed");
    }

    private async Task PingLoopAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (State == GatewayClientState.Open)
                {
                    // Queued, not sent inline: a reconnection in progress holds the library's send
                    // lock, and a ping is worth nothing once it is late. The ts comes back in the
                    // pong and gives the round trip.
                    string ts = Environment.TickCount64.ToString(CultureInfo.InvariantCulture);
                    _socket.Send(JsonSerializer.Serialize(new WireRequest { Type = "ping", Ts = ts }, WireJsonContext.Default.WireRequest));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private JsonElement? ToElement(object? data) => data switch
    {
        null => null,
        JsonElement element => element,
        _ => JsonSerializer.SerializeToElement(data, data.GetType(), _options.SerializerOptions),
    };

    private static JsonElement OrNull(JsonElement element) =>
        element.ValueKind == JsonValueKind.Undefined ? JsonNull : element;

    private static DateTimeOffset ParseTime(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset time) ? time : default;

    private static GatewayEventSender? ToSender(WireFrom? from) =>
        from?.Connection is null ? null : new GatewayEventSender(from.Connection, from.User);

    private static Dictionary<string, GatewayStateEntry> ToState(Dictionary<string, WireStateEntry>? state)
    {
        var result = new Dictionary<string, GatewayStateEntry>(StringComparer.Ordinal);
        foreach ((string name, WireStateEntry entry) in state ?? [])
        {
            result[name] = new GatewayStateEntry
            {
                Seq = entry.Seq,
                Timestamp = ParseTime(entry.Ts),
                Data = OrNull(entry.Data),
                From = ToSender(entry.From),
                Chunks = entry.Chunks,
            };
        }

        return result;
    }

    private static PresenceMember[] ToMembers(List<WireMember>? members) =>
        members is null
            ? []
            : [.. members.Where(m => m.Connection is not null).Select(m => new PresenceMember(m.Connection!, m.User, OrNull(m.Info), m.Since is null ? null : ParseTime(m.Since)))];

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
