using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace Gateway.Bench.Servers;

/// <summary>
/// Checks that every server speaks the scenario contract (peers/CONTRACT.md): builds it, starts it
/// pinned to CPU 0, connects one WebSocket client, publishes one event, waits for it, reads the
/// statistics, closes the client with a close handshake, and stops the server with SIGTERM. With
/// several nodes (gateway-redis), the client is on the first and the publish goes to the last, so
/// that the event has to cross the backplane.
/// </summary>
internal static class ServerCheck
{
    private const string Session = "check";

    /// <summary>What the generator looks for in every delivery.</summary>
    private const string Marker = "\"t\":12345";

    private static readonly byte[] PublishBody = """{"event":"bench","data":{"t":12345}}"""u8.ToArray();

    private static readonly byte[] SignalRHandshake = "{\"protocol\":\"json\",\"version\":1}\u001e"u8.ToArray();

    /// <summary>The whole exchange with one server, from the connect to the close.</summary>
    private static readonly TimeSpan ExchangeTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long one publish may go unanswered before the next: a client is in its session only some
    /// time after its handshake (SignalR joins the group after answering; most peers register after
    /// the 101), so an event published at once can rightly miss it.
    /// </summary>
    private static readonly TimeSpan RepublishAfter = TimeSpan.FromSeconds(1);

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>Checks every server of the catalog in turn, one line each on stdout (build commands on stderr); 0 when all pass.</summary>
    public static async Task<int> CheckAllAsync()
    {
        var catalog = new ServerCatalog(log: Console.Error);
        int failed = 0;
        foreach (string name in ServerCatalog.Names)
        {
            string line;
            try
            {
                line = await CheckAsync(catalog, name);
            }
            catch (Exception e)
            {
                // Any failure of one server is its line of the report; the others still run.
                failed++;
                line = $"{name,-14} FAILED  {e.GetType().Name}: {e.Message}";
            }

            Console.WriteLine(line);
        }

        Console.WriteLine(failed == 0
            ? $"all {ServerCatalog.Names.Count} servers passed"
            : $"{failed} of {ServerCatalog.Names.Count} servers failed");
        return failed == 0 ? 0 : 1;
    }

    private static async Task<string> CheckAsync(ServerCatalog catalog, string name)
    {
        var building = Stopwatch.StartNew();
        await catalog.BuildAsync(name);
        TimeSpan built = building.Elapsed;

        var starting = Stopwatch.StartNew();
        ServerGroup group = await catalog.StartAsync(name, ["0"]);
        TimeSpan ready = starting.Elapsed;
        try
        {
            using var timeout = new CancellationTokenSource(ExchangeTimeout);
            (TimeSpan delivery, int publishes, ServerStats stats) = await ExchangeAsync(group.Nodes[0], group.Nodes[^1], timeout.Token);
            if (stats.Connections != 1)
            {
                throw new InvalidOperationException($"with one client connected, the server counts {stats.Connections?.ToString(CultureInfo.InvariantCulture) ?? "no"} connections");
            }

            if (stats.HeapBytes is null or <= 0)
            {
                throw new InvalidOperationException(
                    "the server gave no heap size after a full collection (a peer's /stats runs one; the gateway's is asked of its runtime over the .NET diagnostics port, which DOTNET_EnableDiagnostics=0 turns off)");
            }

            var stopping = Stopwatch.StartNew();
            bool exited = await group.StopAsync();
            if (!exited)
            {
                throw new InvalidOperationException($"did not exit within its deadline after SIGTERM and was killed{Environment.NewLine}{group.RecentOutput}");
            }

            return string.Create(CultureInfo.InvariantCulture,
                $"{name,-14} ok      event in {delivery.TotalMilliseconds,5:0.0} ms ({publishes} publish{(publishes == 1 ? "" : "es")}); "
                + $"with 1 client: RSS {stats.RssBytes / 1048576.0,5:0.0} MiB, heap {stats.HeapBytes / 1048576.0,5:0.00} MiB, CPU {stats.CpuSeconds:0.00} s; "
                + $"built in {built.TotalSeconds:0.0} s, ready in {ready.TotalSeconds:0.0} s, exited {stopping.Elapsed.TotalMilliseconds:0} ms after SIGTERM");
        }
        finally
        {
            await group.DisposeAsync();
        }
    }

    /// <summary>
    /// Connects to <paramref name="server"/>, publishes to <paramref name="publishTo"/> until the
    /// event arrives, reads the statistics of <paramref name="server"/> with the client still
    /// connected, and closes; returns the last publish's delivery time.
    /// </summary>
    private static async Task<(TimeSpan Delivery, int Publishes, ServerStats Stats)> ExchangeAsync(RunningServer server, RunningServer publishTo, CancellationToken cancellation)
    {
        using var socket = new ClientWebSocket();
        var uri = new Uri($"ws://{server.BaseUri.Authority}{server.WebSocketPath(Session)}");
        await socket.ConnectAsync(uri, cancellation);
        if (server.IsSignalR)
        {
            await socket.SendAsync(SignalRHandshake, WebSocketMessageType.Text, endOfMessage: true, cancellation);
            string answer = await ReceiveMessageAsync(socket, cancellation);
            if (!answer.StartsWith("{}\u001e", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"the SignalR handshake was answered with {answer}");
            }
        }

        Task<long> arrival = ReceiveUntilMarkerAsync(socket, cancellation);
        var publish = new Uri(publishTo.BaseUri, $"/api/sessions/{Session}/events");
        int publishes = 0;
        long published;
        while (true)
        {
            published = Stopwatch.GetTimestamp();
            using (var content = new ByteArrayContent(PublishBody))
            {
                content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                using HttpResponseMessage response = await Http.PostAsync(publish, content, cancellation);
                if (!response.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"the publish was answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellation)}");
                }
            }

            publishes++;
            if (await Task.WhenAny(arrival, Task.Delay(RepublishAfter, cancellation)) == arrival)
            {
                break;
            }
        }

        // An earlier publish may be the one that arrived; the time then counts from the last one, at worst 0.
        TimeSpan delivery = Stopwatch.GetElapsedTime(published, Math.Max(published, await arrival));
        ServerStats stats = await server.ReadStatsAsync();
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "check done", cancellation);
        return (delivery, publishes, stats);
    }

    private static async Task<long> ReceiveUntilMarkerAsync(WebSocket socket, CancellationToken cancellation)
    {
        while (true)
        {
            string message = await ReceiveMessageAsync(socket, cancellation);
            if (message.Contains(Marker, StringComparison.Ordinal))
            {
                return Stopwatch.GetTimestamp();
            }
        }
    }

    private static async Task<string> ReceiveMessageAsync(WebSocket socket, CancellationToken cancellation)
    {
        using var message = new MemoryStream();
        byte[] buffer = new byte[4096];
        while (true)
        {
            ValueWebSocketReceiveResult result = await socket.ReceiveAsync(buffer.AsMemory(), cancellation);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException($"the server closed the WebSocket: {socket.CloseStatus} {socket.CloseStatusDescription}");
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
            }
        }
    }
}
