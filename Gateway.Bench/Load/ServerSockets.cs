using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

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

        // (server's end, client's end) of each client: fixed once connected.
        var open = clients.Where(c => c.ClosedAt == 0).Select(c => (Client: c, Server: c.ServerEndPoint, Local: c.LocalEndPoint)).ToList();
        using var timer = new PeriodicTimer(Period);
        try
        {
            while (open.Count > 0 && await timer.WaitForNextTickAsync(stop))
            {
                HashSet<(IPEndPoint Local, IPEndPoint Remote)> established = Established();
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

    /// <summary>The (local, remote) ends of every ESTABLISHED IPv4 socket of this network namespace.</summary>
    private static HashSet<(IPEndPoint Local, IPEndPoint Remote)> Established()
    {
        var established = new HashSet<(IPEndPoint, IPEndPoint)>();
        foreach (string line in File.ReadLines(Table).Skip(1))
        {
            // "  12: 0100007F:1F90 0200007F:C350 01 ...": slot, local, remote, state (01: ESTABLISHED).
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 && fields[3] == "01"
                && TryEndPoint(fields[1], out IPEndPoint? local) && TryEndPoint(fields[2], out IPEndPoint? remote))
            {
                established.Add((local, remote));
            }
        }

        return established;
    }

    /// <summary>
    /// Reads an end as the kernel prints it: the address as one 32-bit number in hexadecimal, as
    /// it lies in memory (127.0.0.2 is 0200007F on a little-endian machine), then the port.
    /// <see cref="IPAddress(long)"/> reads its number the same way, as the bytes in memory.
    /// </summary>
    private static bool TryEndPoint(string text, [NotNullWhen(true)] out IPEndPoint? endPoint)
    {
        endPoint = null;
        int colon = text.IndexOf(':');
        if (colon < 0
            || !uint.TryParse(text.AsSpan(0, colon), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint address)
            || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port))
        {
            return false;
        }

        endPoint = new IPEndPoint(new IPAddress(address), port);
        return true;
    }
}
