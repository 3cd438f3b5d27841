using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Peers.Floor;

// The floor: what fan-out costs with nothing between the event and the kernel. No Kestrel, no
// ASP.NET, no WebSocket class: one listening socket, a hand-parsed HTTP/1.1 head, and each event
// framed once and written to every client with a plain synchronous Socket.Send.
//
//   floor --port P            one send() per frame per client, inline in the publish
//   floor --port P --batch    frames queued per client; one sender thread writes each client's
//                             whole queue with one send()

int portAt = Array.IndexOf(args, "--port");
int port = portAt >= 0 && portAt + 1 < args.Length ? int.Parse(args[portAt + 1], CultureInfo.InvariantCulture) : 5000;
BatchSender? sender = args.Contains("--batch") ? new BatchSender() : null;
var sessions = new SessionRegistry();

using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
listener.Listen(backlog: 4096);

using var pings = new Timer(_ => sessions.SendToAll(WebSocketFrames.Ping), null, WebSocketFrames.PingInterval, WebSocketFrames.PingInterval);

while (true)
{
    Socket socket = await listener.AcceptAsync();
    socket.NoDelay = true;
    _ = HttpConnection.ServeAsync(socket, sessions, sender);
}
