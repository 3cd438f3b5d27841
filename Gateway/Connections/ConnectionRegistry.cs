using System.Collections.Concurrent;

namespace Gateway.Connections;

/// <summary>Every open connection (WebSocket or SSE) of this node, for the heartbeat scan and for shutdown.</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<string, IClientConnection> _connections = new(StringComparer.Ordinal);
    private TaskCompletionSource? _empty;

    public int Count => _connections.Count;

    public IEnumerable<IClientConnection> Connections => _connections.Values;

    public void Add(IClientConnection connection) => _connections[connection.Id] = connection;

    public void Remove(IClientConnection connection)
    {
        _connections.TryRemove(connection.Id, out _);
        if (_connections.IsEmpty)
        {
            Volatile.Read(ref _empty)?.TrySetResult();
        }
    }

    /// <summary>Completes when no connection is left.</summary>
    public Task WhenEmptyAsync()
    {
        var empty = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource current = Interlocked.CompareExchange(ref _empty, empty, null) ?? empty;
        if (_connections.IsEmpty)
        {
            current.TrySetResult();
        }

        return current.Task;
    }
}
