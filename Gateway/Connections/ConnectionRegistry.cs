using System.Collections.Concurrent;

namespace Gateway.Connections;

/// <summary>Every open connection (WebSocket or SSE) of this node, for the heartbeat scan and for shutdown.</summary>
/// <remarks>
/// Held in <see cref="Shards"/> parts by a hash of the connection's id, so that the heartbeat
/// scanner can visit one part at a time: the pings of connections opened in the same second go
/// out spread over that second instead of all at once (docs/architecture.md, "Heartbeat scan").
/// </remarks>
internal sealed class ConnectionRegistry
{
    /// <summary>How many parts the connections are held in.</summary>
    public const int Shards = 64;

    private readonly ConcurrentDictionary<string, IClientConnection>[] _shards = CreateShards();
    private int _count;
    private TaskCompletionSource? _empty;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Every connection, part by part; one added or removed meanwhile may or may not be seen.</summary>
    public IEnumerable<IClientConnection> Connections
    {
        get
        {
            for (int shard = 0; shard < Shards; shard++)
            {
                foreach (IClientConnection connection in Shard(shard))
                {
                    yield return connection;
                }
            }
        }
    }

    /// <summary>The connections of one part (0 to <see cref="Shards"/> - 1), read without taking its locks or copying it.</summary>
    public IEnumerable<IClientConnection> Shard(int shard)
    {
        foreach (KeyValuePair<string, IClientConnection> entry in _shards[shard])
        {
            yield return entry.Value;
        }
    }

    /// <summary>The part a connection id belongs to; ids are random, so the parts fill evenly.</summary>
    public static int ShardOf(string id) => (int)((uint)StringComparer.Ordinal.GetHashCode(id) % Shards);

    public void Add(IClientConnection connection)
    {
        ConcurrentDictionary<string, IClientConnection> shard = _shards[ShardOf(connection.Id)];
        if (shard.TryAdd(connection.Id, connection))
        {
            Interlocked.Increment(ref _count);
        }
        else
        {
            shard[connection.Id] = connection;
        }
    }

    public void Remove(IClientConnection connection)
    {
        if (_shards[ShardOf(connection.Id)].TryRemove(connection.Id, out _) && Interlocked.Decrement(ref _count) == 0)
        {
            Volatile.Read(ref _empty)?.TrySetResult();
        }
    }

    /// <summary>Completes when no connection is left.</summary>
    public Task WhenEmptyAsync()
    {
        var empty = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource current = Interlocked.CompareExchange(ref _empty, empty, null) ?? empty;
        if (Count == 0)
        {
            current.TrySetResult();
        }

        return current.Task;
    }

    private static ConcurrentDictionary<string, IClientConnection>[] CreateShards()
    {
        var shards = new ConcurrentDictionary<string, IClientConnection>[Shards];
        for (int i = 0; i < Shards; i++)
        {
            shards[i] = new ConcurrentDictionary<string, IClientConnection>(StringComparer.Ordinal);
        }

        return shards;
    }
}
