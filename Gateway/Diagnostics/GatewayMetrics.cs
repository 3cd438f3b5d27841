using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Gateway.Diagnostics;

/// <summary>
/// Every instrument of the gateway (spec section 9), on one meter from <see cref="IMeterFactory"/>,
/// named the OpenTelemetry way (dots, units apart). Tag values are cached, so that counting on the
/// hot path allocates nothing. docs/operations.md lists each one with its Prometheus name.
/// </summary>
internal sealed class GatewayMetrics
{
    /// <summary>The meter's name, as exporters see it.</summary>
    public const string MeterName = "Gateway";

    /// <summary>The transports a client connection can use, as the <c>transport</c> tag says.</summary>
    public const string WebSocket = "websocket";
    public const string ServerSentEvents = "sse";

    /// <summary>The outcomes of a notification to the backend, as the <c>outcome</c> tag says.</summary>
    public const string HookSent = "sent";
    public const string HookRetried = "retried";
    public const string HookDropped = "dropped";

    /// <summary>What became of an ingested line, as the <c>outcome</c> tag says: published, or reported and skipped.</summary>
    public const string IngestPublished = "published";
    public const string IngestSkipped = "skipped";

    // From half a millisecond to ten seconds: loopback deliveries take tens of microseconds to a few
    // milliseconds, a slow consumer's can take seconds before it is dropped.
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // From 5 ms to 5 min (the longest Hooks:RpcTimeout): a backend's answer takes from a few
    // milliseconds (a lookup) to seconds (an agent's first step).
    private static readonly double[] RpcBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    private readonly ConcurrentDictionary<int, KeyValuePair<string, object?>> _codeTags = new();
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _reasonTags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _errorCodeTags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _endpointTags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _kindTags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _outcomeTags = new(StringComparer.Ordinal);
    private readonly KeyValuePair<string, object?> _webSocketTag = new("transport", WebSocket);
    private readonly KeyValuePair<string, object?> _sseTag = new("transport", ServerSentEvents);
    private readonly KeyValuePair<string, object?> _receiveTag = new("direction", "receive");
    private readonly KeyValuePair<string, object?> _transmitTag = new("direction", "transmit");

    private readonly UpDownCounter<long> _connectionsOpen;
    private readonly Counter<long> _connectionsAccepted;
    private readonly Counter<long> _connectionsRefused;
    private readonly Counter<long> _requestsRefused;
    private readonly Counter<long> _connectionsClosed;
    private readonly Counter<long> _connectionsEvicted;
    private readonly Counter<long> _eventsPublished;
    private readonly Counter<long> _messagesDelivered;
    private readonly Counter<long> _eventsConflated;
    private readonly Counter<long> _sendQueueOverflows;
    private readonly Counter<long> _protocolErrors;
    private readonly Counter<long> _networkIo;
    private readonly Counter<long> _deflateCompressions;
    private readonly Counter<long> _deflateFrames;
    private readonly Counter<long> _backplaneEvents;
    private readonly Counter<long> _presenceMessages;
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _presenceTypeTags = new(StringComparer.Ordinal);
    private readonly Histogram<double> _deliveryLatency;
    private readonly Histogram<double> _publishDuration;
    private readonly Counter<long> _hookNotifications;
    private readonly Counter<long> _hookAuthorize;
    private readonly Counter<long> _rpcCalls;
    private readonly Histogram<double> _rpcDuration;
    private readonly Counter<long> _ingestLines;
    private readonly UpDownCounter<long> _ingestStreamsOpen;
    private readonly KeyValuePair<string, object?> _ingestPublishedTag = new("outcome", IngestPublished);
    private readonly KeyValuePair<string, object?> _ingestSkippedTag = new("outcome", IngestSkipped);

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _connectionsOpen = Meter.CreateUpDownCounter<long>("gateway.connections.open", "{connection}", "Client connections open now, by transport.");
        _connectionsAccepted = Meter.CreateCounter<long>("gateway.connections.accepted", "{connection}", "Client connections accepted, by transport.");
        _connectionsRefused = Meter.CreateCounter<long>("gateway.connections.refused", "{connection}", "WebSocket upgrades and SSE streams refused, by reason.");
        _requestsRefused = Meter.CreateCounter<long>("gateway.requests.refused", "{request}", "HTTP API requests refused, by endpoint and reason.");
        _connectionsClosed = Meter.CreateCounter<long>("gateway.connections.closed", "{connection}", "Client connections closed, by transport and close code (1006: without a close handshake).");
        _connectionsEvicted = Meter.CreateCounter<long>("gateway.connections.evicted", "{connection}", "Connections closed by the gateway for a reason of its own, by reason.");
        _eventsPublished = Meter.CreateCounter<long>("gateway.events.published", "{event}", "Events accepted into sessions (retried duplicates not counted).");
        _messagesDelivered = Meter.CreateCounter<long>("gateway.messages.delivered", "{message}", "Events written to client connections, replays included.");
        _eventsConflated = Meter.CreateCounter<long>("gateway.events.conflated", "{event}",
            "Events not sent to a reader that was behind because a newer one of the same name and key replaced them (conflation): the sum of the conflated counts clients were sent.");
        _sendQueueOverflows = Meter.CreateCounter<long>("gateway.send_queue.overflows", "{connection}", "Slow consumers: connections closed with 4001 for falling more than Limits:MaxLagBytes behind, or leaving a frame unsent longer than Limits:MaxLagTime.");
        _protocolErrors = Meter.CreateCounter<long>("gateway.protocol.errors", "{error}", "Error replies to client messages, by error code.");
        _networkIo = Meter.CreateCounter<long>("gateway.network.io", "By", "Bytes read from and written to client connections, by direction.");
        _deflateCompressions = Meter.CreateCounter<long>("gateway.deflate.compressions", "{message}",
            "Messages compressed for permessage-deflate: each event once, however many connections it goes to; an event that replaced older ones (conflation) once for each connection it goes to.");
        _deflateFrames = Meter.CreateCounter<long>("gateway.deflate.frames", "{frame}", "Frames written compressed (RSV1 set) to WebSocket connections that negotiated permessage-deflate, replays included.");
        _backplaneEvents = Meter.CreateCounter<long>("gateway.backplane.events", "{event}",
            "What the session log's feed cost this node, by kind: reconnect (the link to Redis came back), catchup (events read from the log to fill a gap in the feed), dropped (clients closed because the log had lost what they missed, or the session began a new life).");
        _presenceMessages = Meter.CreateCounter<long>("gateway.presence.messages", "{message}",
            "Presence messages queued to clients that asked with presence=true, by type: join, leave, presence_diff (several changes coalesced).");
        _deliveryLatency = Meter.CreateHistogram("gateway.delivery.latency", "s", "Time from an event's publish to its write to a client connection.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _publishDuration = Meter.CreateHistogram("gateway.publish.duration", "s", "Duration of POST /api/sessions/{session}/events requests.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _hookNotifications = Meter.CreateCounter<long>("gateway.hooks.notifications", "{notification}",
            "Notifications to the backend (Hooks:Url), by outcome: sent (accepted with a 2xx), retried (in a POST that failed and was tried again), dropped (the outbox was full).");
        _hookAuthorize = Meter.CreateCounter<long>("gateway.hooks.authorize", "{call}",
            "Calls to Hooks:Authorize, by outcome: allowed, denied, error (an answer that was neither), timeout.");
        _rpcCalls = Meter.CreateCounter<long>("gateway.rpc.calls", "{call}",
            "Client rpc calls, by outcome: ok, rejected (the backend answered 4xx), unavailable (5xx, unreachable, not JSON, no backend configured), timeout, breaker_open, rate_limited (over Hooks:MaxRpcInFlight).");
        _rpcDuration = Meter.CreateHistogram("gateway.rpc.duration", "s", "Time from an rpc's start to the backend's answer (or its timeout), by outcome; calls never sent to the backend are not recorded.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = RpcBuckets });
        _ingestLines = Meter.CreateCounter<long>("gateway.ingest.lines", "{line}",
            "Lines of streaming ingest bodies (PUT, or an NDJSON POST), by outcome: published (an event now), skipped (reported in the answer's errors: not an event, too long, not UTF-8, or refused by the session).");
        _ingestStreamsOpen = Meter.CreateUpDownCounter<long>("gateway.ingest.streams.open", "{stream}", "Streaming ingest bodies being read now.");
        ObserveThreadPool();
    }

    public Meter Meter { get; }

    /// <summary>
    /// The thread pool's current size and backlog, as gauges. The runtime's own instruments for
    /// them are counters, which they are not, and are dropped (GatewayTelemetry.RuntimeCorrections).
    /// </summary>
    private void ObserveThreadPool()
    {
        Meter.CreateObservableUpDownCounter("dotnet.thread_pool.threads", static () => (long)ThreadPool.ThreadCount, "{thread}",
            "Thread pool threads that exist now.");
        Meter.CreateObservableUpDownCounter("dotnet.thread_pool.queue.length", static () => ThreadPool.PendingWorkItemCount, "{work_item}",
            "Work items queued to the thread pool and not yet started.");
    }

    /// <summary>
    /// Puts every series that alerts watch at zero, so that it exists from the start rather than
    /// appearing with its first event (an absent series leaves rate() and alerts silent). Called
    /// once a collector listens.
    /// </summary>
    public void StartSeries()
    {
        foreach (KeyValuePair<string, object?> transport in new[] { _webSocketTag, _sseTag })
        {
            _connectionsOpen.Add(0, transport);
            _connectionsAccepted.Add(0, transport);
        }

        _eventsPublished.Add(0);
        _messagesDelivered.Add(0);
        _eventsConflated.Add(0);
        _ingestLines.Add(0, _ingestPublishedTag);
        _ingestLines.Add(0, _ingestSkippedTag);
        _ingestStreamsOpen.Add(0);
        _sendQueueOverflows.Add(0);
        _networkIo.Add(0, _receiveTag);
        _networkIo.Add(0, _transmitTag);
        foreach (string outcome in Hooks.RpcOutcomes.All)
        {
            _rpcCalls.Add(0, Tag(_outcomeTags, "outcome", outcome));
        }
    }

    /// <summary>Registers the gauge of this node's presence members (its client connections in presence, every session).</summary>
    public void ObservePresence(Func<int> members) =>
        Meter.CreateObservableGauge("gateway.presence.members", members, "{connection}", "Presence members on this node: its client connections, over every session (0 with Presence:Enabled off).");

    /// <summary>Counts presence messages queued to watchers, by type.</summary>
    public void PresenceMessagesSent(string type, int count)
    {
        if (count > 0)
        {
            _presenceMessages.Add(count, Tag(_presenceTypeTags, "type", type));
        }
    }

    /// <summary>Registers whether this node's link to Redis is up (Backplane:Mode redis).</summary>
    public void ObserveBackplane(Func<int> up) =>
        Meter.CreateObservableGauge("gateway.backplane.up", up, unit: null, "1 while this node is connected to Redis (Backplane:Mode redis), else 0.");

    /// <summary>Counts what the session log's feed cost this node, by kind: reconnect, catchup, dropped.</summary>
    public void BackplaneEvents(string kind, int count)
    {
        if (count > 0)
        {
            _backplaneEvents.Add(count, Tag(_kindTags, "kind", kind));
        }
    }

    /// <summary>
    /// Registers the sessions gauge and, for the memory backplane, the history gauge (with Redis,
    /// history is Redis's memory, watched there), read at collection.
    /// </summary>
    public void ObserveSessions(Func<int> count, Func<long>? historyBytes)
    {
        Meter.CreateObservableGauge("gateway.sessions", count, "{session}", "Sessions held by this node (with Redis: sessions this node has clients or pollers in).");
        if (historyBytes is not null)
        {
            Meter.CreateObservableGauge("gateway.history.bytes", historyBytes, "By", "Memory held by all sessions' events, against Gateway:History:MaxTotalBytes.");
        }
    }

    /// <summary>Registers the hook outbox's depth and its circuit breaker's state (0 closed, 1 open, 2 half-open), when hooks are on.</summary>
    public void ObserveHooks(Func<int> depth, Func<int> breaker)
    {
        Meter.CreateObservableGauge("gateway.hooks.outbox.depth", depth, "{notification}", "Notifications waiting in the outbox for the backend (Hooks:Url).");
        Meter.CreateObservableGauge("gateway.hooks.breaker.state", breaker, unit: null, "The circuit breaker of notification POSTs: 0 closed, 1 open, 2 half-open.");
    }

    /// <summary>Counts notifications to the backend by outcome (<see cref="HookSent"/>, <see cref="HookRetried"/>, <see cref="HookDropped"/>).</summary>
    public void HookNotifications(string outcome, int count) => _hookNotifications.Add(count, Tag(_outcomeTags, "outcome", outcome));

    /// <summary>Counts calls to <c>Hooks:Authorize</c> by outcome.</summary>
    public void HookAuthorize(string outcome) => _hookAuthorize.Add(1, Tag(_outcomeTags, "outcome", outcome));

    public void ConnectionOpened(string transport)
    {
        KeyValuePair<string, object?> tag = Transport(transport);
        _connectionsAccepted.Add(1, tag);
        _connectionsOpen.Add(1, tag);
    }

    public void ConnectionClosed(string transport, int closeCode)
    {
        KeyValuePair<string, object?> tag = Transport(transport);
        _connectionsOpen.Add(-1, tag);
        _connectionsClosed.Add(1, tag, CodeTag(closeCode));
    }

    public void ConnectionRefused(string reason) => _connectionsRefused.Add(1, Tag(_reasonTags, "reason", reason));

    public void RequestRefused(string endpoint, string reason) =>
        _requestsRefused.Add(1, Tag(_endpointTags, "endpoint", endpoint), Tag(_reasonTags, "reason", reason));

    public void ConnectionEvicted(string reason) => _connectionsEvicted.Add(1, Tag(_reasonTags, "reason", reason));

    public void EventsPublished(int count) => _eventsPublished.Add(count);

    public void MessagesDelivered(int count) => _messagesDelivered.Add(count);

    /// <summary>A frame that replaced <paramref name="count"/> older events of its name and key is written.</summary>
    public void EventsConflated(int count) => _eventsConflated.Add(count);

    public void DeliveryLatency(double seconds) => _deliveryLatency.Record(seconds);

    public void PublishDuration(double seconds) => _publishDuration.Record(seconds);

    public void SendQueueOverflowed() => _sendQueueOverflows.Add(1);

    /// <summary>Counts lines of an ingest body that became events.</summary>
    public void IngestLinesPublished(int count) => _ingestLines.Add(count, _ingestPublishedTag);

    /// <summary>Counts lines of an ingest body that were reported as errors and not published.</summary>
    public void IngestLinesSkipped(int count) => _ingestLines.Add(count, _ingestSkippedTag);

    /// <summary>An ingest body began (+1) or ended (-1) being read.</summary>
    public void IngestStreamsOpen(int change) => _ingestStreamsOpen.Add(change);

    /// <summary>Counts an rpc by its outcome and, when it went to the backend, records how long it took.</summary>
    public void RpcCompleted(string outcome, double? seconds)
    {
        KeyValuePair<string, object?> tag = Tag(_outcomeTags, "outcome", outcome);
        _rpcCalls.Add(1, tag);
        if (seconds is { } value)
        {
            _rpcDuration.Record(value, tag);
        }
    }

    public void ProtocolError(string code) => _protocolErrors.Add(1, Tag(_errorCodeTags, "code", code));

    public void BytesReceived(long count) => _networkIo.Add(count, _receiveTag);

    public void BytesSent(long count) => _networkIo.Add(count, _transmitTag);

    /// <summary>A message was compressed (its one compressed frame was made).</summary>
    public void MessageCompressed() => _deflateCompressions.Add(1);

    /// <summary><paramref name="count"/> compressed frames were written.</summary>
    public void CompressedFramesSent(int count) => _deflateFrames.Add(count);

    private KeyValuePair<string, object?> Transport(string transport) => transport == WebSocket ? _webSocketTag : _sseTag;

    private KeyValuePair<string, object?> CodeTag(int code) =>
        _codeTags.GetOrAdd(code, static c => new KeyValuePair<string, object?>("code", c));

    private static KeyValuePair<string, object?> Tag(ConcurrentDictionary<string, KeyValuePair<string, object?>> cache, string name, string value) =>
        cache.GetOrAdd(value, static (v, n) => new KeyValuePair<string, object?>(n, v), name);
}
