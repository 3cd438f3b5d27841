using Microsoft.AspNetCore.SignalR;

namespace Peers.SignalR;

/// <summary>
/// The hub at <c>/hub?session={session}</c>: a client joins the group named by its session and
/// only listens; events reach it as <c>event</c> invocations.
/// </summary>
internal sealed class EventHub(ConnectionCount connections) : Hub
{
    public override async Task OnConnectedAsync()
    {
        // Counted before anything can fail: SignalR calls OnDisconnectedAsync for every connection
        // whose OnConnectedAsync returned.
        connections.Increment();
        string? session = Context.GetHttpContext()?.Request.Query["session"];
        if (string.IsNullOrEmpty(session))
        {
            Context.Abort();
            return;
        }

        await Groups.AddToGroupAsync(Context.ConnectionId, session);
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        // SignalR takes the connection out of its groups by itself.
        connections.Decrement();
        return base.OnDisconnectedAsync(exception);
    }
}

/// <summary>Open hub connections, for <c>/stats</c>.</summary>
internal sealed class ConnectionCount
{
    private int _value;

    public int Value => Volatile.Read(ref _value);

    public void Increment() => Interlocked.Increment(ref _value);

    public void Decrement() => Interlocked.Decrement(ref _value);
}
