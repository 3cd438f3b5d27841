using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Gateway.Diagnostics;

/// <summary>
/// Every instrument of the gateway (spec section 9), on one meter from <see cref="IMeterFactory"/>.
/// Tag values are cached so that counting on the hot path allocates nothing.
/// </summary>
internal sealed class GatewayMetrics
{
    /// <summary>The meter's name, as exporters see it.</summary>
    public const string MeterName = "Gateway";

    private readonly ConcurrentDictionary<int, KeyValuePair<string, object?>> _codeTags = new();
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _reasonTags = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _errorCodeTags = new(StringComparer.Ordinal);

    private readonly UpDownCounter<long> _connectionsOpen;
    private readonly Counter<long> _connectionsAccepted;
    private readonly Counter<long> _connectionsRefused;
    private readonly Counter<long> _requestsRefused;
    private readonly ConcurrentDictionary<string, KeyValuePair<string, object?>> _endpointTags = new(StringComparer.Ordinal);
    private readonly Counter<long> _connectionsClosed;
    private readonly Counter<long> _connectionsEvicted;
    private readonly Counter<long> _eventsPublished;
    private readonly Counter<long> _messagesDelivered;
    private readonly Counter<long> _sendQueueOverflows;
    private readonly Counter<long> _protocolErrors;
    private readonly Counter<long> _bytesReceived;
    private readonly Counter<long> _bytesSent;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        _connectionsOpen = Meter.CreateUpDownCounter<long>("gateway.connections.open", "{connection}", "WebSocket connections open now.");
        _connectionsAccepted = Meter.CreateCounter<long>("gateway.connections.accepted", "{connection}", "WebSocket upgrades accepted.");
        _connectionsRefused = Meter.CreateCounter<long>("gateway.connections.refused", "{connection}", "WebSocket upgrades refused, by reason.");
        _requestsRefused = Meter.CreateCounter<long>("gateway.requests.refused", "{request}", "HTTP API requests refused, by endpoint and reason.");
        _connectionsClosed = Meter.CreateCounter<long>("gateway.connections.closed", "{connection}", "Connections closed, by WebSocket close code (1006: without a close handshake).");
        _connectionsEvicted = Meter.CreateCounter<long>("gateway.connections.evicted", "{connection}", "Connections evicted, by reason.");
        _eventsPublished = Meter.CreateCounter<long>("gateway.events.published", "{event}", "Events accepted into sessions.");
        _messagesDelivered = Meter.CreateCounter<long>("gateway.messages.delivered", "{message}", "Messages written to client sockets.");
        _sendQueueOverflows = Meter.CreateCounter<long>("gateway.send_queue.overflows", "{connection}", "Connections whose send queue overflowed (slow consumers).");
        _protocolErrors = Meter.CreateCounter<long>("gateway.protocol.errors", "{error}", "Error replies to client messages, by error code.");
        _bytesReceived = Meter.CreateCounter<long>("gateway.bytes.received", "By", "Bytes read from client sockets.");
        _bytesSent = Meter.CreateCounter<long>("gateway.bytes.sent", "By", "Bytes written to client sockets.");
    }

    public Meter Meter { get; }

    /// <summary>Registers the sessions gauge, read from <paramref name="count"/> at collection.</summary>
    public void ObserveSessions(Func<int> count) =>
        Meter.CreateObservableGauge("gateway.sessions", count, "{session}", "Sessions held by this node.");

    public void ConnectionOpened()
    {
        _connectionsAccepted.Add(1);
        _connectionsOpen.Add(1);
    }

    public void ConnectionClosed(int closeCode)
    {
        _connectionsOpen.Add(-1);
        _connectionsClosed.Add(1, CodeTag("code", closeCode));
    }

    public void ConnectionRefused(string reason) => _connectionsRefused.Add(1, Tag(_reasonTags, "reason", reason));

    public void RequestRefused(string endpoint, string reason) =>
        _requestsRefused.Add(1, Tag(_endpointTags, "endpoint", endpoint), Tag(_reasonTags, "reason", reason));

    public void ConnectionEvicted(string reason) => _connectionsEvicted.Add(1, Tag(_reasonTags, "reason", reason));

    public void EventsPublished(int count) => _eventsPublished.Add(count);

    public void MessagesDelivered(int count) => _messagesDelivered.Add(count);

    public void SendQueueOverflowed() => _sendQueueOverflows.Add(1);

    public void ProtocolError(string code) => _protocolErrors.Add(1, Tag(_errorCodeTags, "code", code));

    public void BytesReceived(long count) => _bytesReceived.Add(count);

    public void BytesSent(long count) => _bytesSent.Add(count);

    private KeyValuePair<string, object?> CodeTag(string name, int code) =>
        _codeTags.GetOrAdd(code, static (c, n) => new KeyValuePair<string, object?>(n, c), name);

    private static KeyValuePair<string, object?> Tag(ConcurrentDictionary<string, KeyValuePair<string, object?>> cache, string name, string value) =>
        cache.GetOrAdd(value, static (v, n) => new KeyValuePair<string, object?>(n, v), name);
}
