using System.Collections.Concurrent;

namespace Peers.Floor;

/// <summary>Batched mode: one thread that writes, for each client with something pending, all of it in one <c>send()</c>.</summary>
internal sealed class BatchSender
{
    private readonly BlockingCollection<Client> _ready = [];

    public BatchSender()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "floor sender" };
        thread.Start();
    }

    public void Enqueue(Client client) => _ready.Add(client);

    private void Run()
    {
        foreach (Client client in _ready.GetConsumingEnumerable())
        {
            client.Flush();
        }
    }
}
