using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on 127.0.0.1 that the test owns, in front of a real gateway: it pumps bytes both
/// ways, and the test can cut every connection at once (a network fault, as a browser sees one:
/// the socket just ends), or refuse WebSocket upgrades (a proxy or firewall that lets plain HTTP
/// through and nothing else).
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    /// <summary>The most of a request head the proxy reads to find its headers; a browser's is a few hundred bytes.</summary>
    private const int MaxHeadBytes = 64 * 1024;

    private readonly TcpListener _listener;
    private readonly IPEndPoint _upstream;
    private readonly ConcurrentDictionary<int, (Socket Client, Socket? Upstream)> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private int _nextId;
    private int _accepted;
    private int _refusedUpgrades;
    private bool _refusesWebSocketUpgrades;

    private TcpProxy(IPEndPoint upstream, bool refuseWebSocketUpgrades)
    {
        _upstream = upstream;
        RefusesWebSocketUpgrades = refuseWebSocketUpgrades;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    /// <summary>Starts a proxy to <paramref name="upstream"/> (an http:// address on 127.0.0.1).</summary>
    public static TcpProxy Start(Uri upstream, bool refuseWebSocketUpgrades = false) =>
        new(new IPEndPoint(IPAddress.Parse(upstream.Host), upstream.Port), refuseWebSocketUpgrades);

    /// <summary>The proxy's own address: a page loaded from here talks to the gateway through it.</summary>
    public Uri BaseAddress { get; }

    /// <summary>
    /// When true, a connection whose first request asks for <c>Upgrade: websocket</c> gets 403 and is
    /// closed. May be changed while the proxy runs (a network that blocks WebSockets for a while);
    /// it applies to the connections accepted after.
    /// </summary>
    public bool RefusesWebSocketUpgrades
    {
        get => Volatile.Read(ref _refusesWebSocketUpgrades);
        set => Volatile.Write(ref _refusesWebSocketUpgrades, value);
    }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>WebSocket upgrades refused so far.</summary>
    public int RefusedUpgrades => Volatile.Read(ref _refusedUpgrades);

    /// <summary>Connections open now.</summary>
    public int Open => _connections.Count;

    /// <summary>Drops every open connection, both sides, at once; new connections are still accepted.</summary>
    public int CutAll()
    {
        int cut = 0;
        foreach (int id in _connections.Keys)
        {
            if (_connections.TryRemove(id, out (Socket Client, Socket? Upstream) pair))
            {
                Abort(pair.Client);
                if (pair.Upstream is not null)
                {
                    Abort(pair.Upstream);
                }

                cut++;
            }
        }

        return cut;
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            int id = Interlocked.Increment(ref _nextId);
            _connections[id] = (client, null);
            _ = Task.Run(() => ServeAsync(id, client));
        }
    }

    private async Task ServeAsync(int id, Socket client)
    {
        Socket? upstream = null;
        try
        {
            byte[] head = [];
            if (RefusesWebSocketUpgrades)
            {
                head = await ReadHeadAsync(client);
                if (IsWebSocketUpgrade(head))
                {
                    Interlocked.Increment(ref _refusedUpgrades);
                    byte[] refusal = Encoding.ASCII.GetBytes(
                        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 32\r\nConnection: close\r\n\r\nWebSockets are refused by proxy.");
                    await client.SendAsync(refusal, SocketFlags.None, _stopping.Token);
                    return;
                }
            }

            upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await upstream.ConnectAsync(_upstream, _stopping.Token);
            if (!_connections.TryUpdate(id, (client, upstream), (client, null)))
            {
                return; // cut while connecting
            }

            if (head.Length > 0)
            {
                await upstream.SendAsync(head, SocketFlags.None, _stopping.Token);
            }

            // A direction that fails (a reset) ends both; one that ends cleanly (a half-close) leaves the other to finish.
            Task up = PumpAsync(client, upstream);
            Task down = PumpAsync(upstream, client);
            Task first = await Task.WhenAny(up, down);
            await first;
            await (first == up ? down : up);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // A cut, or either side going away: the connection ends either way.
        }
        finally
        {
            _connections.TryRemove(id, out _);
            Abort(client);
            if (upstream is not null)
            {
                Abort(upstream);
            }
        }
    }

    /// <summary>Reads up to the end of the first request's headers (the bytes are forwarded as read).</summary>
    private async Task<byte[]> ReadHeadAsync(Socket client)
    {
        var head = new MemoryStream();
        byte[] buffer = new byte[4096];
        while (head.Length < MaxHeadBytes)
        {
            int read = await client.ReceiveAsync(buffer, SocketFlags.None, _stopping.Token);
            if (read == 0)
            {
                break;
            }

            head.Write(buffer, 0, read);
            if (head.GetBuffer().AsSpan(0, (int)head.Length).IndexOf("\r\n\r\n"u8) >= 0)
            {
                break;
            }
        }

        return head.ToArray();
    }

    private static bool IsWebSocketUpgrade(byte[] head)
    {
        foreach (string line in Encoding.ASCII.GetString(head).Split("\r\n"))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim().Equals("Upgrade", StringComparison.OrdinalIgnoreCase)
                && line[(colon + 1)..].Contains("websocket", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        byte[] buffer = new byte[16 * 1024];
        while (true)
        {
            int read = await from.ReceiveAsync(buffer, SocketFlags.None, _stopping.Token);
            if (read == 0)
            {
                // Half-close: pass the end on, and let the other direction finish.
                to.Shutdown(SocketShutdown.Send);
                return;
            }

            await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stopping.Token);
        }
    }

    private static void Abort(Socket socket)
    {
        try
        {
            // A reset, not a polite close: what a dropped network path looks like to both ends.
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            // Already closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Stop();
        CutAll();
        await _accepting;
    }
}
