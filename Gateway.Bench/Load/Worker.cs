using System.Net;
using System.Text.Json;

namespace Gateway.Bench.Load;

/// <summary>
/// A generator process: holds up to a few thousand clients (a process may hold at most 20,000
/// open files here) and answers the coordinator's commands on stdin with JSON lines on stdout.
/// </summary>
internal static class Worker
{
    public static async Task<int> RunAsync()
    {
        ThreadPools.Prepare();
        var latency = new LatencyHistogram();
        var clients = new List<BenchClient>();
        var running = new List<Task>();
        using var stop = new CancellationTokenSource();
        long pausedAt = 0;
        int pausedFrom = 0;

        // SignalR's clients send keep-alives; plain WebSocket clients only answer the server's pings.
        using var keepAlive = new Timer(_ =>
        {
            lock (clients)
            {
                clients.ForEach(c => c.SendKeepAlive());
            }
        }, null, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15));

        while (await Console.In.ReadLineAsync() is { } line)
        {
            WorkerCommand command = JsonSerializer.Deserialize(line, WorkerJson.Default.WorkerCommand)!;
            switch (command.Cmd)
            {
                case "connect":
                    Console.WriteLine(WorkerJson.Write(await ConnectAsync(command, latency, clients, running, stop.Token)));
                    break;
                case "reset":
                    latency.Reset();
                    Console.WriteLine(WorkerJson.Write(new WorkerReport("ok")));
                    break;
                case "pause":
                    BenchClient[] paused;
                    lock (clients)
                    {
                        pausedFrom = clients.Count - command.Count;
                        pausedAt = System.Diagnostics.Stopwatch.GetTimestamp();
                        paused = clients.GetRange(pausedFrom, command.Count).ToArray();
                        foreach (BenchClient client in paused)
                        {
                            client.Pause(true);
                        }
                    }

                    _ = ServerSockets.WatchAsync(paused, stop.Token);
                    Console.WriteLine(WorkerJson.Write(new WorkerReport("ok")));
                    break;
                case "resume":
                    lock (clients)
                    {
                        for (int i = pausedFrom; i < clients.Count; i++)
                        {
                            clients[i].Pause(false);
                        }
                    }

                    Console.WriteLine(WorkerJson.Write(new WorkerReport("ok")));
                    break;
                case "report":
                    Console.WriteLine(WorkerJson.Write(Report(latency, clients, pausedFrom, pausedAt)));
                    break;
                case "quit":
                    await stop.CancelAsync();
                    lock (clients)
                    {
                        clients.ForEach(c => c.Dispose());
                    }

                    return 0;
            }
        }

        return 0;
    }

    private static async Task<WorkerReport> ConnectAsync(WorkerCommand command, LatencyHistogram latency, List<BenchClient> clients, List<Task> running, CancellationToken stop)
    {
        IPAddress host = IPAddress.Parse(command.Host!);
        string[] paths = command.Paths!;
        var started = System.Diagnostics.Stopwatch.StartNew();
        int next = -1;
        int failed = 0;
        string? firstError = null;

        // A fixed number of handshakes in flight, each worker taking the next path when it is done.
        async Task ConnectLoopAsync()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < paths.Length)
            {
                try
                {
                    var server = new IPEndPoint(host, command.Ports?[i] ?? command.Port);
                    BenchClient client = await BenchClient.ConnectAsync(server, paths[i], command.SignalR, latency, command.ReceiveBuffer, stop, command.Deflate);
                    lock (clients)
                    {
                        clients.Add(client);
                        running.Add(Task.Run(() => client.RunAsync(stop), stop));
                    }
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, command.InFlight)).Select(_ => ConnectLoopAsync()));
        return new WorkerReport("connected", Connected: paths.Length - failed, Failed: failed, FirstError: firstError, Seconds: started.Elapsed.TotalSeconds);
    }

    private static WorkerReport Report(LatencyHistogram latency, List<BenchClient> clients, int pausedFrom, long pausedAt)
    {
        long received = 0;
        long bytes = 0;
        long conflated = 0;
        int closed = 0;
        var codes = new Dictionary<string, int>();
        var closedAfter = new List<double>();
        lock (clients)
        {
            for (int i = 0; i < clients.Count; i++)
            {
                BenchClient client = clients[i];
                received += client.Received;
                bytes += client.BytesReceived;
                conflated += client.Conflated;
                if (client.ClosedAt != 0)
                {
                    closed++;
                    string code = client.CloseCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    codes[code] = codes.GetValueOrDefault(code) + 1;
                    if (pausedAt != 0 && i >= pausedFrom)
                    {
                        closedAfter.Add(System.Diagnostics.Stopwatch.GetElapsedTime(pausedAt, client.ClosedAt).TotalSeconds);
                    }
                }
            }
        }

        return new WorkerReport("report", Received: received, Bytes: bytes, Conflated: conflated, Closed: closed, CloseCodes: codes, ClosedAfter: [.. closedAfter],
            Histogram: latency.ToSparse(), CpuSeconds: ProcStats.CpuSeconds(Environment.ProcessId));
    }
}
