using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Gateway.Tests.Infrastructure;

/// <summary>A real <see cref="ClientWebSocket"/> speaking the gateway's JSON, with deadlines from the test.</summary>
public sealed class TestClient : IAsyncDisposable
{
    private byte[] _buffer = new byte[64 * 1024];

    private TestClient(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public static CancellationToken Deadline => TestContext.CurrentContext.CancellationToken;

    /// <param name="uri">The gateway's WebSocket address.</param>
    /// <param name="subProtocol">A subprotocol to offer.</param>
    /// <param name="configure">Further options, such as <see cref="ClientWebSocketOptions.DangerousDeflateOptions"/>.</param>
    public static async Task<TestClient> ConnectAsync(Uri uri, string? subProtocol = null, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (subProtocol is not null)
        {
            socket.Options.AddSubProtocol(subProtocol);
        }

        configure?.Invoke(socket.Options);

        await socket.ConnectAsync(uri, Deadline);
        return new TestClient(socket);
    }

    /// <summary>Connects and reads the welcome.</summary>
    public static async Task<(TestClient Client, JsonElement Welcome)> JoinAsync(Uri uri)
    {
        TestClient client = await ConnectAsync(uri);
        JsonElement welcome = await client.ReceiveAsync();
        Assert.That(welcome.GetProperty("type").GetString(), Is.EqualTo("welcome"));
        return (client, welcome);
    }

    public Task SendAsync(string json) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, endOfMessage: true, Deadline);

    /// <summary>The next text message, parsed. Fails the test when a close arrives instead.</summary>
    public async Task<JsonElement> ReceiveAsync()
    {
        string? text = await ReceiveTextAsync();
        Assert.That(text, Is.Not.Null, $"expected a message, got close {Socket.CloseStatus} '{Socket.CloseStatusDescription}'");
        return JsonDocument.Parse(text!).RootElement.Clone();
    }

    /// <summary>The next message of <paramref name="type"/>, after checking that nothing else came first.</summary>
    public async Task<JsonElement> ReceiveAsync(string type)
    {
        JsonElement message = await ReceiveAsync();
        Assert.That(message.GetProperty("type").GetString(), Is.EqualTo(type), message.GetRawText());
        return message;
    }

    /// <summary>The next text message as a string, or null when the server closed.</summary>
    public async Task<string?> ReceiveTextAsync()
    {
        int length = 0;
        while (true)
        {
            if (length == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            ValueWebSocketReceiveResult result = await Socket.ReceiveAsync(_buffer.AsMemory(length), Deadline);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(_buffer, 0, length);
            }
        }
    }

    /// <summary>
    /// Reads until the server's close frame and answers it, completing the handshake; returns its
    /// code and reason, and the messages before it.
    /// </summary>
    public async Task<(int? Code, string? Reason, List<string> Before)> ReceiveCloseAsync()
    {
        var before = new List<string>();
        while (await ReceiveTextAsync() is { } text)
        {
            before.Add(text);
        }

        if (Socket.State == WebSocketState.CloseReceived)
        {
            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, Deadline);
        }

        return ((int?)Socket.CloseStatus, Socket.CloseStatusDescription, before);
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", quick.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
        }

        Socket.Dispose();
    }
}
