using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Bench.Servers;

namespace Gateway.Bench.Load;

/// <summary>
/// Streaming ingest (spec section 18) against the publish it replaces: the same lines into a
/// session with many watchers, once through ONE chunked <c>PUT</c> (a process piped in, as
/// <c>curl -T -</c> sends it) and once as one <c>POST</c> per line over several keep-alive
/// connections. For each: the lines a second the gateway accepted, the lines a second each watcher
/// received, and the delivery latency of every line to every watcher, from the moment the producer
/// wrote it (time in the producer's socket buffer counts: a pipe that the gateway reads slowly
/// makes its lines late).
/// </summary>
internal static class IngestBench
{
    /// <summary>A chunk of the ingest body carries at most this much: what one read of a pipe gives a producer such as curl.</summary>
    private const int MaxChunkBytes = 32 * 1024;

    /// <summary>How long the deliveries may stall, once every line was accepted, before the phase gives up on the rest.</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    /// <summary>What the watchers of a text ingest look for: the timestamp opens each line's text.</summary>
    private static readonly byte[] TextMarker = Encoding.ASCII.GetBytes("\"line\":\"t=");

    /// <summary>What to run.</summary>
    /// <param name="Server">A running gateway's base address; null to build and start one, pinned to core 0, the bench to core 1.</param>
    /// <param name="Watchers">WebSocket clients in the session; each line's latency is measured at each of them.</param>
    /// <param name="Lines">Lines each way.</param>
    /// <param name="Seconds">An upper bound on each way's sending, in seconds; 0 for none.</param>
    /// <param name="LineBytes">About how long each line is, timestamp included.</param>
    /// <param name="Ndjson">Ingest NDJSON (an event object a line) rather than text/plain.</param>
    /// <param name="Connections">Keep-alive connections of the publish per line, each with one request in flight.</param>
    /// <param name="Rate">Lines a second, paced, for both ways; 0 for as fast as the gateway takes them.</param>
    /// <param name="WarmupLines">Lines sent each way first, unmeasured, so that the gateway's hot paths are compiled.</param>
    public sealed record Plan(Uri? Server, int Watchers, int Lines, double Seconds, int LineBytes, bool Ndjson, int Connections, double Rate, int WarmupLines);

    /// <summary>What one way of publishing achieved.</summary>
    private sealed record Outcome(
        string Way, long Sent, long Accepted, long Errors, double AcceptSeconds, long Deliveries, double DeliverSeconds,
        LatencySummary Latency, int WatchersLost, double? ServerCpuSeconds, double BenchCpuSeconds);

    public static async Task<int> RunAsync(Plan plan, string command)
    {
        ThreadPools.Prepare();
        ServerGroup? started = null;
        Uri server;
        if (plan.Server is null)
        {
            BenchRunner.PinSelf("1");
            Console.WriteLine("building and starting the gateway (core 0; this bench on core 1)");
            started = await new ServerCatalog(log: Console.Out).StartAsync("gateway", "0");
            server = started.Nodes[0].BaseUri;
        }
        else
        {
            server = plan.Server;
        }

        try
        {
            string run = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);
            if (plan.WarmupLines > 0)
            {
                Console.WriteLine($"warm-up: {plan.WarmupLines} lines each way, not measured");
                Plan warmup = plan with { Lines = plan.WarmupLines, Seconds = 0 };
                await IngestAsync(warmup, server, started, $"ingest-warmup-{run}");
                await PostAsync(warmup, server, started, $"post-warmup-{run}");
            }

            Console.WriteLine($"measuring: {plan.Lines} lines each way to {plan.Watchers} watchers");
            Outcome ingest = await IngestAsync(plan, server, started, $"ingest-{run}");
            Outcome post = await PostAsync(plan, server, started, $"post-{run}");
            Print(plan, command, [ingest, post]);
            return ingest.Accepted > 0 && post.Accepted > 0 ? 0 : 1;
        }
        finally
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
        }
    }

    /// <summary>The lines through one chunked PUT, written as fast as the socket takes them (or paced).</summary>
    private static async Task<Outcome> IngestAsync(Plan plan, Uri server, ServerGroup? started, string session)
    {
        var latency = new LatencyHistogram();
        await using Watchers watchers = await Watchers.ConnectAsync(server, session, plan.Watchers, plan.Ndjson ? null : TextMarker, latency);
        (double serverBefore, double benchBefore) = Cpu(started);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(Endpoint(server));
        string type = plan.Ndjson ? "application/x-ndjson" : "text/plain";
        string head = $"PUT /api/sessions/{session}/events HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: {type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));

        long start = Stopwatch.GetTimestamp();
        Task<long> delivering = watchers.WhenDeliveredAsync(plan.Lines, start);
        long stop = plan.Seconds > 0 ? start + (long)(plan.Seconds * Stopwatch.Frequency) : long.MaxValue;
        double ticksPerLine = plan.Rate > 0 ? Stopwatch.Frequency / plan.Rate : 0;
        var chunk = new ArrayBufferWriter<byte>(MaxChunkBytes + 64);
        var lines = new ArrayBufferWriter<byte>(MaxChunkBytes + 1024);
        long sent = 0;
        while (sent < plan.Lines)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= stop)
            {
                break;
            }

            // As fast as it goes: every line is stamped now. Paced: each line is stamped with the
            // moment it was due, and sent once due, with the others due by then.
            long due = plan.Rate > 0 ? Math.Min(plan.Lines, (long)((now - start) / ticksPerLine) + 1) : plan.Lines;
            if (due <= sent)
            {
                // A timer's wake-up, not a spin: the bench's one core also reads the watchers.
                // Lines keep their due time as stamp, so a late wake-up counts as latency.
                await Task.Delay(1);
                continue;
            }

            lines.ResetWrittenCount();
            while (sent < due && lines.WrittenCount < MaxChunkBytes)
            {
                long stamp = plan.Rate > 0 ? start + (long)(sent * ticksPerLine) : now;
                WriteLine(lines, plan, stamp, sent);
                sent++;
            }

            chunk.ResetWrittenCount();
            Ascii(chunk, lines.WrittenCount.ToString("x", CultureInfo.InvariantCulture) + "\r\n");
            chunk.Write(lines.WrittenSpan);
            Ascii(chunk, "\r\n");
            await socket.SendAsync(chunk.WrittenMemory);
        }

        await socket.SendAsync("0\r\n\r\n"u8.ToArray());
        (int status, string body) = await ReadResponseAsync(socket);
        double acceptSeconds = Seconds(start);
        long accepted = 0;
        long errors = 0;
        if (status == 202)
        {
            using JsonDocument answer = JsonDocument.Parse(body);
            accepted = answer.RootElement.GetProperty("count").GetInt64();
            errors = answer.RootElement.GetProperty("errorCount").GetInt64();
        }
        else
        {
            Console.Error.WriteLine($"the ingest was answered {status}: {body}");
            errors = sent;
        }

        watchers.Expect(accepted);
        long lastDelivery = await delivering;
        return Finish("one chunked PUT", sent, accepted, errors, acceptSeconds, watchers, latency, start, lastDelivery, started, serverBefore, benchBefore);
    }

    /// <summary>The same lines the old way: one POST per line, over several keep-alive connections.</summary>
    private static async Task<Outcome> PostAsync(Plan plan, Uri server, ServerGroup? started, string session)
    {
        var latency = new LatencyHistogram();
        await using Watchers watchers = await Watchers.ConnectAsync(server, session, plan.Watchers, marker: null, latency);
        await using HttpPublisher publisher = await HttpPublisher.ConnectAsync(server, plan.Connections);
        (double serverBefore, double benchBefore) = Cpu(started);
        long start = Stopwatch.GetTimestamp();
        Task<long> delivering = watchers.WhenDeliveredAsync(plan.Lines, start);
        long sent;
        if (plan.Rate > 0)
        {
            sent = await PacedAsync(plan, publisher, session, start);
        }
        else
        {
            // Closed loop: each connection sends its next line as soon as its last is answered.
            long stop = plan.Seconds > 0 ? start + (long)(plan.Seconds * Stopwatch.Frequency) : long.MaxValue;
            long next = 0;
            await Task.WhenAll(Enumerable.Range(0, plan.Connections).Select(_ => Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < stop && Interlocked.Increment(ref next) <= plan.Lines)
                {
                    long now = Stopwatch.GetTimestamp();
                    await publisher.PublishAsync(session, HttpPublisher.Body(now, plan.LineBytes), now);
                }
            })));
            sent = Math.Min(plan.Lines, Interlocked.Read(ref next));
        }

        double acceptSeconds = Seconds(start);
        long accepted = publisher.Completed - publisher.Errors;
        watchers.Expect(accepted);
        long lastDelivery = await delivering;
        return Finish($"a POST per line, {plan.Connections} connections", sent, accepted, publisher.Errors, acceptSeconds, watchers, latency, start, lastDelivery, started, serverBefore, benchBefore);
    }

    /// <summary>
    /// Open loop at <see cref="Plan.Rate"/>: each line is due at its time and sent then, whatever
    /// became of the ones before (waiting for a free connection counts as latency). Woken by a
    /// timer rather than spinning as <see cref="RatePublisher"/> does on a core of its own: here the
    /// bench's one core also reads the watchers.
    /// </summary>
    private static async Task<long> PacedAsync(Plan plan, HttpPublisher publisher, string session, long start)
    {
        double ticksPerLine = Stopwatch.Frequency / plan.Rate;
        long stop = plan.Seconds > 0 ? start + (long)(plan.Seconds * Stopwatch.Frequency) : long.MaxValue;
        var outstanding = new List<Task>();
        long sent = 0;
        while (sent < plan.Lines)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= stop)
            {
                break;
            }

            long due = Math.Min(plan.Lines, (long)((now - start) / ticksPerLine) + 1);
            for (; sent < due; sent++)
            {
                long stamp = start + (long)(sent * ticksPerLine);
                outstanding.Add(publisher.PublishAsync(session, HttpPublisher.Body(stamp, plan.LineBytes), stamp));
            }

            if (outstanding.Count > 4096)
            {
                outstanding.RemoveAll(t => t.IsCompleted);
            }

            await Task.Delay(1);
        }

        await Task.WhenAll(outstanding);
        return sent;
    }

    private static Outcome Finish(
        string way, long sent, long accepted, long errors, double acceptSeconds, Watchers watchers, LatencyHistogram latency,
        long start, long lastDelivery, ServerGroup? started, double serverBefore, double benchBefore)
    {
        (double serverAfter, double benchAfter) = Cpu(started);
        double deliverSeconds = lastDelivery > start ? (lastDelivery - start) / (double)Stopwatch.Frequency : 0;
        return new Outcome(way, sent, accepted, errors, acceptSeconds, watchers.Received, deliverSeconds, latency.Summarize(), watchers.Lost,
            started is null ? null : serverAfter - serverBefore, benchAfter - benchBefore);
    }

    /// <summary>One line, about <see cref="Plan.LineBytes"/> long with its newline, carrying <paramref name="stamp"/>.</summary>
    private static void WriteLine(ArrayBufferWriter<byte> output, Plan plan, long stamp, long number)
    {
        string text = plan.Ndjson
            ? string.Create(CultureInfo.InvariantCulture, $"{{\"event\":\"line\",\"data\":{{\"t\":{stamp},\"n\":{number},\"p\":\"")
            : string.Create(CultureInfo.InvariantCulture, $"t={stamp} line {number} ");
        string close = plan.Ndjson ? "\"}}\n" : "\n";
        Ascii(output, text);
        int pad = Math.Max(0, plan.LineBytes - text.Length - close.Length);
        output.GetSpan(pad)[..pad].Fill((byte)'x');
        output.Advance(pad);
        Ascii(output, close);
    }

    private static void Ascii(ArrayBufferWriter<byte> output, string text)
    {
        int written = Encoding.ASCII.GetBytes(text, output.GetSpan(text.Length));
        output.Advance(written);
    }

    /// <summary>Reads the answer of a <c>Connection: close</c> request to its end: the status and the body, de-chunked.</summary>
    private static async Task<(int Status, string Body)> ReadResponseAsync(Socket socket)
    {
        var received = new MemoryStream();
        byte[] buffer = new byte[8192];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        string text = Encoding.UTF8.GetString(received.ToArray());
        int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headEnd < 0)
        {
            return (0, text);
        }

        string head = text[..headEnd];
        string body = text[(headEnd + 4)..];
        int status = int.Parse(head.AsSpan(9, 3), CultureInfo.InvariantCulture);
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            var joined = new StringBuilder();
            int at = 0;
            while (true)
            {
                int lineEnd = body.IndexOf("\r\n", at, StringComparison.Ordinal);
                int size = Convert.ToInt32(body[at..lineEnd].Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    break;
                }

                // The answer is ASCII JSON: a chunk's size in bytes is its length in characters.
                joined.Append(body, lineEnd + 2, size);
                at = lineEnd + 2 + size + 2;
            }

            body = joined.ToString();
        }

        return (status, body);
    }

    private static (double Server, double Bench) Cpu(ServerGroup? started) =>
        (started is null ? 0 : ProcStats.CpuSeconds(started.Processes).Values.Sum(), ProcStats.CpuSeconds(Environment.ProcessId));

    private static double Seconds(long since) => (Stopwatch.GetTimestamp() - since) / (double)Stopwatch.Frequency;

    private static IPEndPoint Endpoint(Uri server) => new(IPAddress.Parse(server.Host), server.Port);

    private static void Print(Plan plan, string command, IReadOnlyList<Outcome> outcomes)
    {
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, {BenchRunner.Machine()}, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end");
        text.AppendLine(CultureInfo.InvariantCulture, $"`{command}`");
        text.AppendLine(CultureInfo.InvariantCulture, $"{plan.Watchers} watchers, lines of about {plan.LineBytes} B ({(plan.Ndjson ? "NDJSON" : "text/plain")} for the ingest), {(plan.Rate > 0 ? $"{plan.Rate:0} lines/s paced" : "as fast as the gateway takes them")}");
        text.AppendLine();
        text.AppendLine("| way | lines accepted | accepted lines/s | delivered lines/s (each watcher) | deliveries | latency p50 / p99 / p99.9 / max (ms) | watchers lost | server CPU s (µs a line) | bench CPU s |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (Outcome o in outcomes)
        {
            LatencySummary l = o.Latency;
            string errors = o.Errors > 0 ? $" ({o.Errors} errors)" : string.Empty;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {o.Way} | {o.Accepted:N0} of {o.Sent:N0}{errors} | {Rate(o.Accepted, o.AcceptSeconds)} | {Rate(o.Deliveries / (double)Math.Max(1, plan.Watchers), o.DeliverSeconds)} | {o.Deliveries:N0} | "
                + $"{LatencySummary.Milliseconds(l.P50)} / {LatencySummary.Milliseconds(l.P99)} / {LatencySummary.Milliseconds(l.P999)} / {LatencySummary.Milliseconds(l.Max)} | {o.WatchersLost} | "
                + $"{(o.ServerCpuSeconds is { } cpu ? string.Create(CultureInfo.InvariantCulture, $"{cpu:0.0} ({cpu * 1e6 / Math.Max(1, o.Accepted):0})") : "-")} | {o.BenchCpuSeconds.ToString("0.0", CultureInfo.InvariantCulture)} |");
        }

        Console.WriteLine(text.ToString());
    }

    private static string Rate(double count, double seconds) =>
        seconds > 0 ? (count / seconds).ToString("N0", CultureInfo.InvariantCulture) : "-";

    /// <summary>The watchers of one session, and when the last of the lines they expect reached them.</summary>
    private sealed class Watchers : IAsyncDisposable
    {
        private readonly List<BenchClient> _clients;
        private readonly List<Task> _readers;
        private readonly CancellationTokenSource _stop;
        private long _expected = -1;
        private long _expectedAt;

        private Watchers(List<BenchClient> clients, List<Task> readers, CancellationTokenSource stop)
        {
            _clients = clients;
            _readers = readers;
            _stop = stop;
        }

        public long Received => _clients.Sum(c => c.Received);

        /// <summary>Watchers the gateway closed (a slow consumer is closed with 4001).</summary>
        public int Lost => _clients.Count(c => c.ClosedAt != 0);

        /// <summary>
        /// Connects <paramref name="count"/> watchers and waits until the gateway counts them all in
        /// the session, so that none misses the first line.
        /// </summary>
        public static async Task<Watchers> ConnectAsync(Uri server, string session, int count, byte[]? marker, LatencyHistogram latency)
        {
            var stop = new CancellationTokenSource();
            var clients = new List<BenchClient>(count);
            var readers = new List<Task>(count);
            IPEndPoint endpoint = Endpoint(server);
            for (int i = 0; i < count; i++)
            {
                BenchClient client = marker is null
                    ? await BenchClient.ConnectAsync(endpoint, $"/ws/{session}", signalR: false, latency, receiveBufferBytes: 0, stop.Token)
                    : await BenchClient.ConnectAsync(endpoint, $"/ws/{session}", signalR: false, latency, receiveBufferBytes: 0, marker, stop.Token);
                clients.Add(client);
                readers.Add(client.RunAsync(stop.Token));
            }

            using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
            var waited = Stopwatch.StartNew();
            while (true)
            {
                using HttpResponseMessage response = await http.GetAsync($"/api/sessions/{session}");
                if (response.IsSuccessStatusCode)
                {
                    using JsonDocument info = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                    if (info.RootElement.GetProperty("clients").GetInt32() >= count)
                    {
                        break;
                    }
                }

                if (waited.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"the gateway did not count {count} clients in {session} within 30 s");
                }

                await Task.Delay(20);
            }

            return new Watchers(clients, readers, stop);
        }

        /// <summary>How many lines the producer's answer says were published: the deliveries to wait for are that many for each watcher.</summary>
        public void Expect(long lines)
        {
            Interlocked.Exchange(ref _expectedAt, Stopwatch.GetTimestamp());
            Interlocked.Exchange(ref _expected, lines);
        }

        /// <summary>
        /// Watches the deliveries until every watcher has every line expected (or they stall for
        /// <see cref="DrainTimeout"/> once the lines are known); returns when the last one came, as
        /// a Stopwatch timestamp, to within the polling period.
        /// </summary>
        public Task<long> WhenDeliveredAsync(long atMost, long start) => Task.Run(async () =>
        {
            long last = Received;
            long lastAt = start;
            long drain = (long)(DrainTimeout.TotalSeconds * Stopwatch.Frequency);
            while (true)
            {
                await Task.Delay(2);
                long now = Stopwatch.GetTimestamp();
                long received = Received;
                if (received != last)
                {
                    last = received;
                    lastAt = now;
                }

                long expected = Interlocked.Read(ref _expected);
                if (expected < 0)
                {
                    continue;
                }

                long alive = _clients.Count(c => c.ClosedAt == 0);
                if (received >= Math.Min(expected, atMost) * alive || now - Math.Max(lastAt, Interlocked.Read(ref _expectedAt)) > drain)
                {
                    return lastAt;
                }
            }
        });

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            foreach (BenchClient client in _clients)
            {
                client.Dispose();
            }

            await Task.WhenAll(_readers);
            _stop.Dispose();
        }
    }
}
