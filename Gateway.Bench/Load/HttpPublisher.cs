using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Gateway.Bench.Load;

/// <summary>
/// Publishes over a fixed number of keep-alive HTTP/1.1 connections, one request in flight on
/// each: a lean client of its own, so that the generator's core is spent on the load, and so that
/// a publish's latency is measured from the moment it was due (open loop: time spent waiting for
/// a free connection counts, as it would for a real publisher). For a server of several nodes, the
/// connections are dealt over the nodes, and each publish takes whichever connection is free next.
/// </summary>
internal sealed class HttpPublisher : IAsyncDisposable
{
    private readonly Channel<Connection> _idle = Channel.CreateUnbounded<Connection>();
    private readonly List<Connection> _all = [];
    private long _errors;
    private long _completed;

    private HttpPublisher()
    {
    }

    /// <summary>Publish latency, from due time to response, in microseconds.</summary>
    public LatencyHistogram Latency { get; } = new();

    public long Errors => Interlocked.Read(ref _errors);

    public long Completed => Interlocked.Read(ref _completed);

    public static Task<HttpPublisher> ConnectAsync(Uri server, int connections) => ConnectAsync([server], connections);

    /// <summary>
    /// Opens <paramref name="connections"/> keep-alive connections, dealt round-robin over
    /// <paramref name="servers"/>: at a low rate the publishes alternate between the nodes; at a
    /// high one, a node that answers sooner takes more of them, as behind a least-busy balancer.
    /// </summary>
    public static async Task<HttpPublisher> ConnectAsync(IReadOnlyList<Uri> servers, int connections)
    {
        var publisher = new HttpPublisher();
        for (int i = 0; i < connections; i++)
        {
            Uri server = servers[i % servers.Count];
            var connection = new Connection(new IPEndPoint(IPAddress.Parse(server.Host), server.Port), server.Authority);
            await connection.OpenAsync();
            publisher._all.Add(connection);
            publisher._idle.Writer.TryWrite(connection);
        }

        return publisher;
    }

    /// <summary>
    /// The body of one event: <c>data</c> is about <paramref name="dataBytes"/> bytes and carries the
    /// due time as <c>t</c>; a <c>bench</c> event, or with <paramref name="progress"/> a conflatable
    /// <c>progress</c> one.
    /// </summary>
    public static byte[] Body(long due, int dataBytes, bool progress = false, bool rows = false)
    {
        string evt = progress ? "\"event\":\"progress\",\"conflate\":true" : "\"event\":\"bench\"";
        if (rows)
        {
            return Encoding.ASCII.GetBytes($"{{{evt},\"data\":{Rows(due, dataBytes)}}}");
        }

        string head = $"{{\"t\":{due},\"p\":\"";
        int pad = Math.Max(0, dataBytes - head.Length - 2);
        return Encoding.ASCII.GetBytes($"{{{evt},\"data\":{head}{new string('x', pad)}\"}}}}");
    }

    /// <summary>
    /// About <paramref name="dataBytes"/> of JSON shaped like a training run's progress (records of
    /// the same keys, numbers that vary from event to event), so that compression sees what it
    /// would in use; a run of one letter would compress to almost nothing.
    /// </summary>
    private static string Rows(long due, int dataBytes)
    {
        var json = new StringBuilder(dataBytes + 64).Append(CultureInfo.InvariantCulture, $"{{\"t\":{due},\"rows\":[");
        for (long i = 0; json.Length < dataBytes - 60; i++)
        {
            long n = (due / 1000) + i;
            json.Append(CultureInfo.InvariantCulture, $"{{\"step\":{n % 100000},\"loss\":0.{(n * 7919) % 10000:D4},\"lr\":0.0003,\"phase\":\"train\"}},");
        }

        json.Length--;
        return json.Append("]}").ToString();
    }

    /// <summary>Sends one publish when a connection is free; returns the HTTP status (0 on a transport failure).</summary>
    public async Task<int> PublishAsync(string session, byte[] body, long due)
    {
        Connection connection = await _idle.Reader.ReadAsync();
        int status = 0;
        try
        {
            status = await connection.PostAsync($"/api/sessions/{session}/events", body);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // The publish failed; a new connection takes the broken one's place, or, when the server
            // does not take one, the broken one stays out of the pool.
            Interlocked.Increment(ref _errors);
            try
            {
                await connection.OpenAsync();
                _idle.Writer.TryWrite(connection);
            }
            catch (Exception reopening) when (reopening is SocketException or ObjectDisposedException)
            {
            }

            return 0;
        }

        Latency.Record((Stopwatch.GetTimestamp() - due) / (Stopwatch.Frequency / 1_000_000));
        if (status is < 200 or >= 300)
        {
            Interlocked.Increment(ref _errors);
        }

        Interlocked.Increment(ref _completed);
        _idle.Writer.TryWrite(connection);
        return status;
    }

    public ValueTask DisposeAsync()
    {
        _all.ForEach(c => c.Dispose());
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// One keep-alive connection to <paramref name="server"/>, whose authority is
    /// <paramref name="host"/> (its Host header); <see cref="OpenAsync"/> connects it.
    /// </summary>
    private sealed class Connection(IPEndPoint server, string host)
    {
        private static readonly TimeSpan IdleBeforeCheck = TimeSpan.FromSeconds(1);

        private readonly byte[] _buffer = new byte[8192];
        private Socket? _socket;
        private int _start;
        private int _end;

        /// <summary>When the last answer was read (<see cref="Stopwatch.GetTimestamp"/>).</summary>
        private long _lastUsed;

        /// <summary>Connects, in place of the connection before if there was one.</summary>
        public async Task OpenAsync()
        {
            _socket?.Dispose();
            (_start, _end) = (0, 0);
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await _socket.ConnectAsync(server);
            _lastUsed = Stopwatch.GetTimestamp();
        }

        public async Task<int> PostAsync(string path, byte[] body)
        {
            // A server may close a keep-alive connection that sat idle (Node does after 5 s, and a
            // measurement taken again may first wait minutes for a quiet machine). As HTTP clients do
            // before they reuse a connection, look: readable with nothing to read is a closed one.
            // Only after a second idle, so that publishing at a rate costs no extra system call.
            if (Stopwatch.GetElapsedTime(_lastUsed) > IdleBeforeCheck
                && _socket!.Poll(0, SelectMode.SelectRead) && _socket.Available == 0)
            {
                await OpenAsync();
            }

            Socket socket = _socket!;
            byte[] head = Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
            await socket.SendAsync(new List<ArraySegment<byte>> { head, body });
            string statusLine = await ReadLineAsync();
            int status = int.Parse(statusLine.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
            long length = -1;
            bool chunked = false;
            string line;
            while ((line = await ReadLineAsync()).Length > 0)
            {
                if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                {
                    length = long.Parse(line.AsSpan(15).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase))
                {
                    chunked = true;
                }
            }

            if (chunked)
            {
                long size;
                do
                {
                    size = Convert.ToInt64((await ReadLineAsync()).Split(';')[0].Trim(), 16);
                    await SkipAsync(size);
                    await ReadLineAsync();
                }
                while (size > 0);
            }
            else if (length > 0)
            {
                await SkipAsync(length);
            }

            _lastUsed = Stopwatch.GetTimestamp();
            return status;
        }

        public void Dispose() => _socket?.Dispose();

        private async Task<string> ReadLineAsync()
        {
            while (true)
            {
                int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    string line = Encoding.ASCII.GetString(_buffer, _start, newline - _start).TrimEnd('\r');
                    _start = newline + 1;
                    return line;
                }

                await FillAsync();
            }
        }

        private async Task SkipAsync(long count)
        {
            while (count > 0)
            {
                if (_start == _end)
                {
                    await FillAsync();
                }

                int take = (int)Math.Min(count, _end - _start);
                _start += take;
                count -= take;
            }
        }

        private async Task FillAsync()
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            int read = await _socket!.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None);
            if (read == 0)
            {
                throw new IOException("the server closed the connection");
            }

            _end += read;
        }
    }
}

/// <summary>
/// Open-loop publishing: events are due at a fixed rate, and each is sent when due whatever
/// happened to the ones before, so that a slow server cannot slow the load down and hide its latency.
/// </summary>
internal static class RatePublisher
{
    /// <summary>
    /// Publishes <paramref name="rate"/> events a second for <paramref name="duration"/>; returns how
    /// many were sent. With <paramref name="conflatable"/>, <c>progress</c> events marked
    /// <c>"conflate": true</c> (spec section 12) instead of <c>bench</c>.
    /// </summary>
    public static async Task<long> RunAsync(HttpPublisher publisher, double rate, TimeSpan duration, Func<long, string> session, int dataBytes, Action<long>? progress = null, bool conflatable = false, bool rows = false)
    {
        long total = (long)(rate * duration.TotalSeconds);
        long start = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 100);
        double ticksPerEvent = Stopwatch.Frequency / rate;
        var outstanding = new List<Task>();
        var scheduler = new Thread(() =>
        {
            for (long k = 0; k < total; k++)
            {
                long due = start + (long)(k * ticksPerEvent);
                long wait;
                while ((wait = due - Stopwatch.GetTimestamp()) > 0)
                {
                    // Sleep while there are milliseconds to wait. Below that, hand the core to
                    // whatever else can run there (the clients' readers share it) and look again;
                    // spin only for the last microseconds. Spinning through the whole gap between
                    // events (0.2 ms at 5,000/s) took the core from the readers for every slice
                    // the scheduler gave this thread.
                    if (wait > Stopwatch.Frequency / 500)
                    {
                        Thread.Sleep(1);
                    }
                    else if (wait > Stopwatch.Frequency / 50_000)
                    {
                        Thread.Yield();
                    }
                    else
                    {
                        Thread.SpinWait(20);
                    }
                }

                Task sent = publisher.PublishAsync(session(k), HttpPublisher.Body(due, dataBytes, conflatable, rows), due);
                lock (outstanding)
                {
                    outstanding.Add(sent);
                    if (outstanding.Count > 4096)
                    {
                        outstanding.RemoveAll(t => t.IsCompleted);
                    }
                }

                if ((k & 255) == 0)
                {
                    progress?.Invoke(k);
                }
            }
        })
        { IsBackground = true, Name = "publisher" };
        scheduler.Start();
        await Task.Run(scheduler.Join);
        Task[] pending;
        lock (outstanding)
        {
            pending = [.. outstanding];
        }

        await Task.WhenAll(pending);
        return total;
    }
}
