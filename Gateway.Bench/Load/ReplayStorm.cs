using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;

namespace Gateway.Bench.Load;

/// <summary>
/// Many clients join one session at once with <c>since=0</c> and each reads the session's whole
/// history: how long until every client has it, and the gateway's CPU seconds for it (its
/// <c>dotnet_process_cpu_time_seconds_total</c>, read from <c>/metrics</c> before and after).
/// With <c>--deflate</c> the clients offer permessage-deflate, as browsers do. Against a gateway
/// started separately, so that the generator's CPU is not the server's.
/// </summary>
internal static class ReplayStorm
{
    /// <summary>What to run.</summary>
    /// <param name="Server">The gateway's base address.</param>
    /// <param name="Clients">Clients that join at once, each reading every held event.</param>
    /// <param name="Events">Events published to the session first (held by its history: at most <c>History:MaxEvents</c>).</param>
    /// <param name="Rounds">How many times the crowd joins, one after another.</param>
    /// <param name="Deflate">Whether the clients offer permessage-deflate.</param>
    public sealed record Plan(Uri Server, int Clients, int Events, int Rounds, bool Deflate);

    public static async Task<int> RunAsync(Plan plan)
    {
        ThreadPools.Prepare();
        string session = "replay-storm-" + Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);
        using var http = new HttpClient { BaseAddress = plan.Server };

        // Data of 128 bytes, as in S3; batches of 100.
        string data = "\"" + new string('x', 126) + "\"";
        for (int published = 0; published < plan.Events; published += 100)
        {
            var batch = new StringBuilder("[");
            for (int i = 0; i < Math.Min(100, plan.Events - published); i++)
            {
                batch.Append(i == 0 ? "" : ",").Append("{\"event\":\"tick\",\"data\":").Append(data).Append('}');
            }

            using HttpResponseMessage answer = await http.PostAsync($"/api/sessions/{session}/events", new StringContent(batch.Append(']').ToString(), Encoding.UTF8, "application/json"));
            answer.EnsureSuccessStatusCode();
        }

        var socketUri = new Uri($"{(plan.Server.Scheme == "https" ? "wss" : "ws")}://{plan.Server.Authority}/ws/{session}?since=0");
        Console.WriteLine($"{plan.Clients} clients{(plan.Deflate ? " offering permessage-deflate" : "")} join {session} with since=0, each reading {plan.Events} events");
        for (int round = 1; round <= plan.Rounds; round++)
        {
            double cpuBefore = await CpuSecondsAsync(http);
            var elapsed = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, plan.Clients).Select(_ => ReadAllAsync(socketUri, plan.Events, plan.Deflate)));
            elapsed.Stop();
            double cpu = await CpuSecondsAsync(http) - cpuBefore;
            long replayed = (long)plan.Clients * plan.Events;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: {replayed} events replayed in {elapsed.ElapsedMilliseconds} ms; gateway CPU {cpu:0.00} s, {cpu * 1e6 / replayed:0.0} µs an event"));
        }

        return 0;
    }

    /// <summary>One client: joins, reads until it has every event, and leaves.</summary>
    private static async Task ReadAllAsync(Uri uri, int events, bool deflate)
    {
        using var socket = new ClientWebSocket();
        if (deflate)
        {
            socket.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        }

        await socket.ConnectAsync(uri, CancellationToken.None);
        byte[] buffer = new byte[64 * 1024];
        int received = 0;
        int length = 0;
        while (received < events)
        {
            ValueWebSocketReceiveResult result = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException($"the gateway closed the connection after {received} of {events} events");
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                received += buffer.AsSpan(0, length).IndexOf("\"type\":\"event\""u8) >= 0 ? 1 : 0;
                length = 0;
            }
        }

        socket.Abort();
    }

    /// <summary>The gateway's CPU seconds so far, every mode summed, from its own metrics.</summary>
    private static async Task<double> CpuSecondsAsync(HttpClient http)
    {
        double total = 0;
        foreach (string line in (await http.GetStringAsync("/metrics")).Split('\n'))
        {
            if (line.StartsWith("dotnet_process_cpu_time_seconds_total", StringComparison.Ordinal))
            {
                total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}
