using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using Websocket.Client;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// Websocket.Client, a widely used .NET client that reconnects by itself, driven the way an
/// application would drive it against the gateway: every connection it makes, first or after a
/// drop, asks for what came after the last seq it saw (<c>since=</c>). The address may change
/// from one connection to the next (another node, for instance).
/// </summary>
public sealed class ResumingClient : IAsyncDisposable
{
    private readonly WebsocketClient _client;
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IDisposable _subscription;
    private long _lastSeq;
    private int _connects;

    /// <param name="address">The address of the next connection, given the last seq seen (0 before any).</param>
    /// <param name="silence">
    /// How long a connection may bring no message before the client gives up on it and reconnects
    /// (the library's own watchdog); null for never. Websocket.Client does not notice a socket that
    /// breaks while it is still finishing the reconnection that made it (it sees a reconnection in
    /// progress and leaves it be): only this watchdog brings such a client back.
    /// </param>
    public ResumingClient(Func<long, Uri> address, TimeSpan? silence = null)
    {
        _client = new WebsocketClient(address(0), logger: null, connectionFactory: async (_, cancel) =>
        {
            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            await socket.ConnectAsync(address(Interlocked.Read(ref _lastSeq)), cancel);
            Interlocked.Increment(ref _connects);
            return socket;
        })
        {
            // Reconnect promptly after a drop, and by default never for mere quiet: the gateway's
            // heartbeat is WebSocket pings, which are not messages.
            ReconnectTimeout = silence,
            ErrorReconnectTimeout = TimeSpan.FromMilliseconds(50),
            LostReconnectTimeout = TimeSpan.FromMilliseconds(50),
            IsReconnectionEnabled = true,
        };

        // The library hands messages over in the order they arrived, one connection after another;
        // the last seq is recorded here, before the next connection's factory can ask for it.
        _subscription = _client.MessageReceived.Subscribe(message =>
        {
            JsonElement parsed = JsonDocument.Parse(message.Text!).RootElement.Clone();
            if (parsed.GetProperty("type").GetString() == "event")
            {
                Interlocked.Exchange(ref _lastSeq, parsed.GetProperty("seq").GetInt64());
            }

            _messages.Writer.TryWrite(parsed);
        });
    }

    /// <summary>How many connections the client has made.</summary>
    public int Connects => Volatile.Read(ref _connects);

    public Task StartAsync() => _client.StartOrFail();

    /// <summary>A network fault: the socket under the client is aborted, and the client finds out by itself.</summary>
    public void BreakConnection() => _client.NativeClient?.Abort();

    /// <summary>The next message, whatever its type, within the test's deadline.</summary>
    public async Task<JsonElement> ReceiveAsync() => await _messages.Reader.ReadAsync(TestClient.Deadline);

    public ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
