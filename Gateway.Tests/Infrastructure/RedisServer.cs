using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A real <c>redis-server</c> on 127.0.0.1 with a directory of its own, for one test. It can be
/// shut down and started again on the same port and directory (with append-only persistence, it
/// comes back with its data).
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _program;
    private readonly string _directory;
    private readonly bool _appendOnly;
    private readonly string[] _extra;
    private Process? _process;

    private RedisServer(string program, string directory, int port, bool appendOnly, string[] extra)
    {
        _program = program;
        _directory = directory;
        Port = port;
        _appendOnly = appendOnly;
        _extra = extra;
    }

    public int Port { get; }

    /// <summary>What <c>Gateway:Backplane:Redis</c> is set to.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>
    /// Starts one. <paramref name="appendOnly"/> turns on the append-only file with an fsync per
    /// write, so that a shutdown and start keeps everything that was acknowledged.
    /// </summary>
    /// <remarks><paramref name="extra"/>: more arguments for redis-server (a cluster node's, say).</remarks>
    public static Task<RedisServer> StartAsync(bool appendOnly = false, int? port = null, params string[] extra) =>
        StartAsync(appendOnly, port, () => extra);

    /// <summary>
    /// Starts one with the arguments <paramref name="extra"/> makes. A port this fixture chose may
    /// be taken by another process before redis-server binds it; then it tries again on fresh
    /// ports (and with fresh arguments, which may name ports too).
    /// </summary>
    public static async Task<RedisServer> StartAsync(bool appendOnly, int? port, Func<string[]> extra)
    {
        string program = Tools.Require("redis-server");
        for (int attempt = 1; ; attempt++)
        {
            var server = new RedisServer(program, Directory.CreateTempSubdirectory("gateway-redis-").FullName, port ?? Tools.FreePort(), appendOnly, extra());
            string? failure = await server.TryStartAsync();
            if (failure is null)
            {
                return server;
            }

            await server.DisposeAsync();
            bool portTaken = failure.Contains("Address already in use", StringComparison.Ordinal);
            if (!portTaken || port is not null || attempt == 5)
            {
                Assert.Fail($"redis-server exited before it was ready:\n{failure}");
            }
        }
    }

    /// <summary>Starts the server (again), and completes once it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        if (await TryStartAsync() is { } failure)
        {
            Assert.Fail($"redis-server exited before it was ready:\n{failure}");
        }
    }

    /// <summary>Starts the server; null once it accepts connections, else what it said before it exited.</summary>
    private async Task<string?> TryStartAsync()
    {
        Assert.That(_process, Is.Null, "redis-server is running already");
        _process = Tools.Start(_program,
        [
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", _directory,
            "--save", "",
            "--appendonly", _appendOnly ? "yes" : "no",
            "--appendfsync", "always",
            "--logfile", "",
            "--daemonize", "no",
            .. _extra,
        ]);

        // It says so on its log (stdout) once it listens.
        var log = new StringBuilder();
        while (await _process.StandardOutput.ReadLineAsync(TestClient.Deadline) is { } line)
        {
            if (line.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                // Keep draining its log, so that it never blocks on a full pipe.
                Process process = _process;
                _ = Task.Run(async () =>
                {
                    while (await process.StandardOutput.ReadLineAsync() is not null)
                    {
                    }
                });
                return null;
            }

            log.AppendLine(line);
        }

        log.Append(await _process.StandardError.ReadToEndAsync());
        await _process.WaitForExitAsync(TestClient.Deadline);
        _process.Dispose();
        _process = null;
        return log.ToString();
    }

    /// <summary>Shuts it down the clean way (SHUTDOWN: the append-only file is flushed) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        Process process = _process ?? throw new InvalidOperationException("redis-server is not running");
        try
        {
            await CommandAsync("SHUTDOWN");
        }
        catch (IOException)
        {
            // The server closes the connection as it exits: that is the answer.
        }

        await process.WaitForExitAsync(TestClient.Deadline);
        process.Dispose();
        _process = null;
    }

    /// <summary>True while its process runs.</summary>
    public bool IsRunning => _process is not null;

    /// <summary>Kills it with SIGKILL (no shutdown, nothing flushed that was not already) and waits for it to exit.</summary>
    public async Task KillAsync()
    {
        Process process = _process ?? throw new InvalidOperationException("redis-server is not running");
        process.Kill();
        await process.WaitForExitAsync(TestClient.Deadline);
        process.Dispose();
        _process = null;
    }

    /// <summary>Sends one command and returns its reply as text (see <see cref="Resp"/>).</summary>
    public async Task<string> CommandAsync(params string[] command) => (await PipelineAsync(command))[0];

    /// <summary>
    /// Sends <paramref name="commands"/> in one write, which the server reads and runs in one go
    /// (nothing another client sent meanwhile comes between them), and returns their replies.
    /// </summary>
    public async Task<string[]> PipelineAsync(params string[][] commands)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port, TestClient.Deadline);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(commands.SelectMany(command => Resp.Encode(command)).ToArray(), TestClient.Deadline);
        var reader = new BufferedStream(stream);
        var replies = new string[commands.Length];
        for (int i = 0; i < replies.Length; i++)
        {
            replies[i] = await Resp.ReadAsync(reader, TestClient.Deadline);
        }

        return replies;
    }

    /// <summary>
    /// Completes once the server has stopped answering (a <c>DEBUG SLEEP</c> holds it): a PING
    /// that gets no answer within a tenth of a second, sent again on a new connection while one does.
    /// </summary>
    public async Task WhenBusyAsync()
    {
        while (true)
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, TestClient.Deadline);
            NetworkStream stream = client.GetStream();
            await stream.WriteAsync(Resp.Encode("PING"), TestClient.Deadline);
            using var answer = CancellationTokenSource.CreateLinkedTokenSource(TestClient.Deadline);
            answer.CancelAfter(TimeSpan.FromMilliseconds(100));
            try
            {
                await Resp.ReadAsync(new BufferedStream(stream), answer.Token);
            }
            catch (OperationCanceledException) when (!TestClient.Deadline.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Subscribes to key-expiry notifications and returns a task that completes when
    /// <paramref name="key"/> expires: a test waits for Redis's own expiry instead of guessing its time.
    /// </summary>
    public async Task<Task> WatchExpiryAsync(string key)
    {
        await CommandAsync("CONFIG", "SET", "notify-keyspace-events", "Ex");
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port, TestClient.Deadline);
        var stream = new BufferedStream(client.GetStream());
        await stream.WriteAsync(Resp.Encode("SUBSCRIBE", "__keyevent@0__:expired"), TestClient.Deadline);
        await stream.FlushAsync(TestClient.Deadline);
        await Resp.ReadAsync(stream, TestClient.Deadline);
        return Task.Run(async () =>
        {
            using (client)
            {
                // Each message is [message, channel, key].
                while (!(await Resp.ReadAsync(stream, TestClient.Deadline)).EndsWith("\n" + key, StringComparison.Ordinal))
                {
                }
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
            _process = null;
        }

        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Just enough of RESP, Redis's protocol, for the tests' own commands.</summary>
    private static class Resp
    {
        public static byte[] Encode(params string[] command)
        {
            var text = new StringBuilder().Append('*').Append(command.Length).Append("\r\n");
            foreach (string part in command)
            {
                text.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
            }

            return Encoding.UTF8.GetBytes(text.ToString());
        }

        /// <summary>A reply as text: a simple string, error, integer or bulk string as itself; an array as its items, one per line.</summary>
        public static async Task<string> ReadAsync(Stream stream, CancellationToken cancellationToken)
        {
            string line = await ReadLineAsync(stream, cancellationToken);
            switch (line[0])
            {
                case '+' or '-' or ':':
                    return line[1..];
                case '$':
                    int length = int.Parse(line[1..], System.Globalization.CultureInfo.InvariantCulture);
                    if (length < 0)
                    {
                        return "(nil)";
                    }

                    byte[] bulk = new byte[length + 2];
                    await stream.ReadExactlyAsync(bulk, cancellationToken);
                    return Encoding.UTF8.GetString(bulk, 0, length);
                case '*':
                    int count = int.Parse(line[1..], System.Globalization.CultureInfo.InvariantCulture);
                    var items = new List<string>();
                    for (int i = 0; i < count; i++)
                    {
                        items.Add(await ReadAsync(stream, cancellationToken));
                    }

                    return string.Join("\n", items);
                default:
                    throw new InvalidDataException($"not a RESP reply: {line}");
            }
        }

        private static async Task<string> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
        {
            var line = new StringBuilder();
            byte[] one = new byte[1];
            while (true)
            {
                if (await stream.ReadAsync(one, cancellationToken) == 0)
                {
                    throw new IOException("redis-server closed the connection");
                }

                if (one[0] == '\n' && line.Length > 0 && line[^1] == '\r')
                {
                    return line.ToString(0, line.Length - 1);
                }

                line.Append((char)one[0]);
            }
        }
    }
}
