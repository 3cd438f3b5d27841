using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;

// The naive baseline: ASP.NET Core's WebSocket middleware used the simple way. A publish awaits
// each client's SendAsync in turn before it answers, so a session's fan-out is as slow as the sum
// of its clients, and one slow client holds up everyone behind it.

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseUrls($"http://127.0.0.1:{builder.Configuration.GetValue("port", 5000)}");

WebApplication app = builder.Build();
app.UseWebSockets(new WebSocketOptions
{
    KeepAliveInterval = TimeSpan.FromSeconds(15),

    // With a timeout the keep-alive is a ping that must be answered; without one it would be an
    // unsolicited pong. 45 s is the gateway's Heartbeat:Timeout.
    KeepAliveTimeout = TimeSpan.FromSeconds(45),
});

var sessions = new ConcurrentDictionary<string, Session>();

app.Map("/ws/{session}", async (HttpContext context, string session) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }

    using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
    Session joined = sessions.GetOrAdd(session, _ => new Session());
    joined.Clients.TryAdd(socket, 0);
    try
    {
        await ReceiveUntilCloseAsync(socket, context.RequestAborted);
    }
    finally
    {
        joined.Clients.TryRemove(socket, out _);
    }
});

app.MapPost("/api/sessions/{session}/events", async (string session, PublishBody body) =>
{
    if (body.Data.ValueKind == JsonValueKind.Undefined)
    {
        return Results.BadRequest(new { error = "the body needs a data property" });
    }

    int sent = 0;
    if (sessions.TryGetValue(session, out Session? target))
    {
        byte[] payload = JsonSerializer.SerializeToUtf8Bytes(body.Data);

        // One publish at a time per session: a WebSocket takes one SendAsync at a time, and every
        // client sees the events in the same order.
        await target.PublishLock.WaitAsync();
        try
        {
            foreach ((WebSocket socket, _) in target.Clients)
            {
                if (socket.State != WebSocketState.Open)
                {
                    continue;
                }

                try
                {
                    await socket.SendAsync(payload, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    sent++;
                }
                catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
                {
                    // The client went away mid-send; its receive loop removes it.
                }
            }
        }
        finally
        {
            target.PublishLock.Release();
        }
    }

    return Results.Json(new { sent }, statusCode: StatusCodes.Status202Accepted);
});

app.MapGet("/stats", () => new
{
    heapBytes = GC.GetTotalMemory(forceFullCollection: true),
    connections = sessions.Values.Sum(s => s.Clients.Count),
});

app.Run();

static async Task ReceiveUntilCloseAsync(WebSocket socket, CancellationToken aborted)
{
    var buffer = new byte[1024 * 4];
    try
    {
        while (true)
        {
            ValueWebSocketReceiveResult result = await socket.ReceiveAsync(buffer.AsMemory(), aborted);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return;
            }

            // Clients have nothing to say here; whatever they send is dropped.
        }
    }
    catch (Exception e) when (e is WebSocketException or OperationCanceledException)
    {
        // Gone without a close handshake.
    }
}

/// <summary>The clients of one session; sessions are never removed (a bench has a fixed set).</summary>
internal sealed class Session
{
    public ConcurrentDictionary<WebSocket, byte> Clients { get; } = new();

    public SemaphoreSlim PublishLock { get; } = new(1, 1);
}

/// <summary>The publish body of the contract: <c>{"event":"...","data":{...}}</c>.</summary>
internal sealed record PublishBody(string Event, JsonElement Data);
