using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// The real gateway as a process of its own (<c>dotnet Gateway.dll</c>), for what cannot happen
/// to a gateway inside the test process: being killed with SIGKILL.
/// </summary>
public sealed partial class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<(string Text, TaskCompletionSource Seen)> _watches = [];
    private readonly List<string> _log = [];

    private GatewayProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        Http = GatewayAddress.CreateHttpClient(baseAddress);
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    /// <summary>Starts a gateway process with <paramref name="settings"/> on its command line; completes once it listens.</summary>
    public static async Task<GatewayProcess> StartAsync(IDictionary<string, string?> settings)
    {
        // The gateway's build output sits beside the tests' (a project reference copies it).
        string gateway = Path.Combine(AppContext.BaseDirectory, "Gateway.dll");
        var arguments = new List<string> { gateway, "--Urls=http://127.0.0.1:0" };
        arguments.AddRange(settings.Select(s => $"--{s.Key}={s.Value}"));
        Process process = Tools.Start("dotnet", [.. arguments]);

        // The host logs its address once it listens: "Now listening on: http://127.0.0.1:PORT".
        while (await process.StandardOutput.ReadLineAsync(TestClient.Deadline) is { } line)
        {
            if (ListeningOn().Match(line) is { Success: true } match)
            {
                var started = new GatewayProcess(process, new Uri(match.Groups[1].Value));
                _ = Task.Run(started.ReadLogAsync);
                return started;
            }
        }

        Assert.Fail($"the gateway exited before it listened: {await process.StandardError.ReadToEndAsync()}");
        return null!;
    }

    /// <summary>Completes once the process logs a line containing <paramref name="text"/> (or has logged one already).</summary>
    public Task WhenLoggedAsync(string text)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_log)
        {
            if (_log.Any(line => line.Contains(text, StringComparison.Ordinal)))
            {
                return Task.CompletedTask;
            }

            _watches.Add((text, seen));
        }

        return seen.Task.WaitAsync(TestClient.Deadline);
    }

    public Uri WebSocketUri(string session, string? query = null) =>
        GatewayAddress.WebSocket(BaseAddress, session, query);

    /// <summary>SIGKILL: no drain, no close frames, nothing flushed; its clients see their sockets drop.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync(TestClient.Deadline);
    }

    /// <summary>SIGTERM, as an orchestrator stops a container: the gateway drains (spec section 8); completes with its exit code.</summary>
    public async Task<int> TerminateAsync()
    {
        using (Process kill = Tools.Start("kill", "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            await kill.WaitForExitAsync(TestClient.Deadline);
            Assert.That(kill.ExitCode, Is.Zero, "kill -TERM failed");
        }

        await _process.WaitForExitAsync(TestClient.Deadline);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private async Task ReadLogAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            lock (_log)
            {
                _log.Add(line);
                foreach ((string text, TaskCompletionSource seen) in _watches.Where(w => line.Contains(w.Text, StringComparison.Ordinal)).ToList())
                {
                    seen.TrySetResult();
                    _watches.Remove((text, seen));
                }
            }
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningOn();
}
