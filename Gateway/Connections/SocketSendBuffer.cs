using System.Net.Sockets;
namespace Gateway.Connections;

/// <summary>
/// Bounds the kernel's send buffer of a long-lived connection (<c>Gateway:Limits:SocketSendBufferBytes</c>),
/// so that a client that stops reading is held to its send queue's limit rather than to however
/// many megabytes the kernel would grow the buffer to.
/// </summary>
internal static class SocketSendBuffer
{
    /// <summary>Sets the buffer of <paramref name="socket"/> to <paramref name="bytes"/>; nothing for 0, or where there is no socket (a test server, a Unix socket's peer gone).</summary>
    public static void Bound(Socket? socket, int bytes)
    {
        if (bytes <= 0 || socket is null)
        {
            return;
        }

        try
        {
            socket.SendBufferSize = bytes;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The client has gone already; the connection finds out on its first write.
        }
    }
}
