using System.Globalization;

namespace Gateway.Bench.Load;

/// <summary>
/// Watches, in the kernel's table of IPv4 sockets, the server's end of connections whose client has
/// stopped reading. Client and server share the loopback, so both ends are in
/// <c>/proc/net/tcp</c>: once the server's end leaves ESTABLISHED (it closed, or aborted, the
/// connection), the server has given up on that client, whether or not anything it sent can get
/// through the full buffers. This is how S5 times the closing of stalled clients for every server
/// alike, without asking the server.
/// </summary>
internal static class ServerSockets
{
    private const string Table = "/proc/net/tcp";

    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(250);

    /// <summary>Marks each of <paramref name="clients"/> <see cref="BenchClient.ServerClosed"/> when its server end goes; until all have, or <paramref name="stop"/>.</summary>
    public static async Task WatchAsync(IReadOnlyList<BenchClient> clients, CancellationToken stop)
    {
        if (!File.Exists(Table))
        {
            return;
        }

        // (server port, client port) of each client: fixed once connected.
        var open = clients.Where(c => c.ClosedAt == 0).Select(c => (Client: c, Server: c.ServerPort, Local: c.LocalPort)).ToList();
        using var timer = new PeriodicTimer(Period);
        try
        {
            while (open.Count > 0 && await timer.WaitForNextTickAsync(stop))
            {
                HashSet<(int Local, int Remote)> established = Established();
                open.RemoveAll(c =>
                {
                    if (c.Client.ClosedAt != 0)
                    {
                        return true;
                    }

                    if (established.Contains((c.Server, c.Local)))
                    {
                        return false;
                    }

                    c.Client.ServerClosed();
                    return true;
                });
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The (local port, remote port) of every ESTABLISHED IPv4 socket of this network namespace.</summary>
    private static HashSet<(int Local, int Remote)> Established()
    {
        var established = new HashSet<(int, int)>();
        foreach (string line in File.ReadLines(Table).Skip(1))
        {
            // "  12: 0100007F:1F90 0100007F:C350 01 ...": slot, local, remote, state (01: ESTABLISHED).
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 && fields[3] == "01"
                && TryPort(fields[1], out int local) && TryPort(fields[2], out int remote))
            {
                established.Add((local, remote));
            }
        }

        return established;
    }

    private static bool TryPort(string address, out int port)
    {
        int colon = address.LastIndexOf(':');
        return int.TryParse(address.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out port);
    }
}
