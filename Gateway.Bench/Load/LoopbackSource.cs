using System.Net;
using System.Net.Sockets;

namespace Gateway.Bench.Load;

/// <summary>
/// Spreads the generator's connections to a loopback server over many source addresses of
/// 127.0.0.0/8, as clients on many machines would come from many. With every connection from
/// 127.0.0.1, Linux picks each new connection's source port by walking its ephemeral range for
/// a port not yet used towards that server; as thousands of connections fill the range the walk
/// grows, and in S1 it took most of the generator's core by the second half of the connects
/// (docs/benchmarks.md, "S1's connects"). With the address bound first and the port left to
/// <c>connect</c> (<c>IP_BIND_ADDRESS_NO_PORT</c>), the first port tried is almost always free
/// for that address, so a connect costs the same at the 16,000th as at the first.
/// </summary>
internal static class LoopbackSource
{
    /// <summary>How many source addresses: 127.0.0.2 to 127.0.0.65, a few hundred connections each at S1's 16,000.</summary>
    private const int Addresses = 64;

    // Linux's IP_BIND_ADDRESS_NO_PORT (linux/in.h), at the IP level: bind the address, choose the port at connect.
    private const int IpBindAddressNoPort = 24;

    private static int _next = -1;
    private static bool _unsupported;

    /// <summary>
    /// Binds <paramref name="socket"/> to the next source address when <paramref name="server"/>
    /// is IPv4 loopback on Linux; leaves it to the kernel otherwise, or where the option is refused.
    /// </summary>
    public static void Bind(Socket socket, IPEndPoint server)
    {
        if (_unsupported || !OperatingSystem.IsLinux() || server.AddressFamily != AddressFamily.InterNetwork || !IPAddress.IsLoopback(server.Address))
        {
            return;
        }

        try
        {
            socket.SetRawSocketOption((int)SocketOptionLevel.IP, IpBindAddressNoPort, BitConverter.GetBytes(1));
        }
        catch (SocketException)
        {
            // A kernel without the option: binding the address alone would make the port search worse, not better.
            _unsupported = true;
            return;
        }

        int n = (int)((uint)Interlocked.Increment(ref _next) % Addresses);
        socket.Bind(new IPEndPoint(new IPAddress([127, 0, 0, (byte)(2 + n)]), 0));
    }
}
