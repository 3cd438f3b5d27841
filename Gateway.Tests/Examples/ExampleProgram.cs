using System.Diagnostics;
using System.Text;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Examples;

/// <summary>
/// One program of an example (a Python training loop, a bash build, a Node agent, a .NET
/// consumer) run as its README says: from the example's folder, with the gateway's address in
/// <c>GATEWAY_URL</c> instead of the default <c>http://127.0.0.1:8080</c>. Its output is kept
/// and shown when the test fails.
/// </summary>
public sealed class ExampleProgram : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _watches = [];
    private readonly Task _reading;

    private ExampleProgram(string description, Process process)
    {
        Description = description;
        _process = process;
        _reading = Task.WhenAll(ReadAsync(process.StandardOutput, string.Empty), ReadAsync(process.StandardError, "stderr: "));
    }

    /// <summary>The command line, as a user would type it.</summary>
    public string Description { get; }

    /// <summary>Everything the program printed so far, stdout and stderr (prefixed) interleaved by line.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The folder of <paramref name="example"/> in this checkout: <c>examples/{example}</c>.</summary>
    public static string Folder(string example) => Path.Combine(Tools.RepositoryRoot, "examples", example);

    /// <summary>
    /// Starts <paramref name="program"/> (found on PATH, e.g. <c>python3</c>, <c>bash</c>, <c>node</c>)
    /// in <paramref name="example"/>'s folder with <c>GATEWAY_URL</c> set to <paramref name="gateway"/>
    /// and <paramref name="environment"/> on top.
    /// </summary>
    public static ExampleProgram Start(string example, Uri gateway, string program, string[] arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Tools.Require(program))
        {
            WorkingDirectory = Folder(example),
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["GATEWAY_URL"] = gateway.GetLeftPart(UriPartial.Authority);
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        string description = $"(cd examples/{example} && {program} {string.Join(' ', arguments)})";
        return new ExampleProgram(description, Process.Start(start)!);
    }

    /// <summary>Runs the program to its end; fails the test, with its output, unless it exits 0.</summary>
    public static async Task<ExampleProgram> RunAsync(string example, Uri gateway, string program, string[] arguments, IDictionary<string, string>? environment = null)
    {
        ExampleProgram run = Start(example, gateway, program, arguments, environment);
        int code = await run.WaitForExitAsync();
        Assert.That(code, Is.Zero, $"{run.Description} exited with {code}; it printed:\n{run.Output}");
        return run;
    }

    /// <summary>Awaits the program's exit (within the test's deadline) and the end of its output; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        try
        {
            await _process.WaitForExitAsync(TestClient.Deadline);
            await _reading.WaitAsync(TestClient.Deadline);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{Description} was still running at the test's deadline; it printed:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Completes once the program prints a line containing <paramref name="text"/> (or has printed one).</summary>
    public async Task WhenPrintedAsync(string text)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            _watches.Add((text, seen));
        }

        // A program that ends without printing it fails the wait at once, not at the test's deadline.
        Task ended = Task.WhenAll(_process.WaitForExitAsync(TestClient.Deadline), _reading);
        try
        {
            await Task.WhenAny(seen.Task, ended).WaitAsync(TestClient.Deadline);
        }
        catch (OperationCanceledException)
        {
        }

        if (seen.Task.IsCompleted)
        {
            return;
        }

        Assert.Fail(ended.IsCompletedSuccessfully
            ? $"{Description} exited with {_process.ExitCode} without printing \"{text}\"; it printed:\n{Output}"
            : $"{Description} never printed \"{text}\"; it printed:\n{Output}");
    }

    /// <summary>Writes <paramref name="line"/> to the program's standard input.</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    private async Task ReadAsync(StreamReader reader, string prefix)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_output)
            {
                _output.Append(prefix).AppendLine(line);
                for (int i = _watches.Count - 1; i >= 0; i--)
                {
                    if (line.Contains(_watches[i].Text, StringComparison.Ordinal))
                    {
                        _watches[i].Seen.TrySetResult();
                        _watches.RemoveAt(i);
                    }
                }
            }
        }
    }

    /// <summary>Ends a program still running (a server, a worker) with its whole process tree.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
