namespace Peers.Floor;

/// <summary>
/// Sessions and their clients. A publish holds its session's lock while it writes, so every client
/// sees the same order. Sessions are never removed: a bench has a fixed set, and an empty session
/// that stays avoids a join racing the removal of its list.
/// </summary>
internal sealed class SessionRegistry
{
    private readonly Dictionary<string, List<Client>> _sessions = new(StringComparer.Ordinal);
    private int _connections;

    public int Connections => Volatile.Read(ref _connections);

    public void Join(string session, Client client)
    {
        List<Client> clients = Clients(session, create: true)!;
        lock (clients)
        {
            clients.Add(client);
        }

        Interlocked.Increment(ref _connections);
    }

    public void Leave(string session, Client client)
    {
        if (Clients(session, create: false) is not { } clients)
        {
            return;
        }

        lock (clients)
        {
            if (!clients.Remove(client))
            {
                return;
            }
        }

        Interlocked.Decrement(ref _connections);
    }

    /// <summary>Writes (or queues) <paramref name="frame"/> to every client of the session; returns how many.</summary>
    public int Publish(string session, byte[] frame)
    {
        if (Clients(session, create: false) is not { } clients)
        {
            return 0;
        }

        lock (clients)
        {
            foreach (Client client in clients)
            {
                client.Send(frame);
            }

            return clients.Count;
        }
    }

    public void SendToAll(byte[] frame)
    {
        List<Client>[] all;
        lock (_sessions)
        {
            all = [.. _sessions.Values];
        }

        foreach (List<Client> clients in all)
        {
            lock (clients)
            {
                foreach (Client client in clients)
                {
                    client.Send(frame);
                }
            }
        }
    }

    private List<Client>? Clients(string session, bool create)
    {
        lock (_sessions)
        {
            if (!_sessions.TryGetValue(session, out List<Client>? clients) && create)
            {
                clients = [];
                _sessions.Add(session, clients);
            }

            return clients;
        }
    }
}
