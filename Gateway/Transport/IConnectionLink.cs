using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Gateway.Transport;

/// <summary>
/// What a client connection needs of the connection it runs on, and nothing more: whom it talks
/// to, whether it is gone, a way to drop it, and its socket. A WebSocket upgraded by
/// <see cref="DirectUpgrade"/> runs on the listener's connection; one upgraded by Kestrel, an SSE
/// stream, on an HTTP request. Keeping only this, rather than the request, lets the request's state
/// go once the handshake is done.
/// </summary>
internal interface IConnectionLink
{
    /// <summary>The client's address, for logs and limits: formatted when asked, not kept.</summary>
    string RemoteAddress { get; }

    /// <summary>Cancelled when the connection is gone.</summary>
    CancellationToken Aborted { get; }

    /// <summary>The connection's socket, where there is one (not on a test server or a Unix socket's peer).</summary>
    Socket? Socket { get; }

    /// <summary>Drops the connection without ceremony. Idempotent, any thread.</summary>
    void Abort();
}

/// <summary>A client connection on an HTTP request: an SSE stream, or a WebSocket that Kestrel upgraded.</summary>
internal sealed class HttpConnectionLink(HttpContext http) : IConnectionLink
{
    public string RemoteAddress => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    public CancellationToken Aborted => http.RequestAborted;

    public Socket? Socket => http.Features.Get<IConnectionSocketFeature>()?.Socket;

    public void Abort()
    {
        try
        {
            http.Abort();
        }
        catch (ObjectDisposedException)
        {
            // The request already ended.
        }
    }
}

/// <summary>A WebSocket upgraded on the listener's own connection (<see cref="DirectUpgrade"/>): no HTTP request under it.</summary>
internal sealed class ListenerConnectionLink(ConnectionContext connection) : IConnectionLink
{
    public string RemoteAddress => (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "unknown";

    public CancellationToken Aborted => connection.ConnectionClosed;

    public Socket? Socket => connection.Features.Get<IConnectionSocketFeature>()?.Socket;

    public void Abort()
    {
        try
        {
            connection.Abort();
        }
        catch (ObjectDisposedException)
        {
            // The connection already ended.
        }
    }
}
