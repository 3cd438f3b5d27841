using System.Diagnostics;
using System.Text;

namespace Gateway.Bench.Servers;

/// <summary>Finds the tools the servers are built with, and runs build commands with their output kept for the error.</summary>
internal static class Toolchain
{
    /// <summary>Lines of a failed command's output quoted in its error.</summary>
    private const int QuotedOutputLines = 40;

    /// <summary>The full path of <paramref name="command"/> on PATH, or null.</summary>
    public static string? Find(string command)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, command);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The full path of <paramref name="command"/> on PATH; otherwise an error that says what to install.</summary>
    public static string Require(string command, string server, string install) =>
        Find(command) ?? throw new InvalidOperationException($"{server}: '{command}' was not found on PATH; {install}");

    /// <summary>The command as a person would type it, for logs and errors.</summary>
    public static string CommandLine(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var line = new StringBuilder();
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            line.Append(name).Append('=').Append(Quote(value)).Append(' ');
        }

        line.Append(Path.GetFileName(program));
        foreach (string argument in arguments)
        {
            line.Append(' ').Append(Quote(argument));
        }

        return line.ToString();
    }

    /// <summary>Runs a build step to its end; a non-zero exit throws with the command and the end of its output.</summary>
    public static async Task RunAsync(string program, IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string>? environment, string what)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var output = new OutputTail(QuotedOutputLines);
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => output.Add(e.Data);
        process.ErrorDataReceived += (_, e) => output.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{what} failed with exit code {process.ExitCode}: `{CommandLine(program, arguments, environment)}` in {workingDirectory}{Environment.NewLine}{output}");
        }
    }

    private static string Quote(string value) =>
        value.Length > 0 && !value.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '&' or ';' or '|' or '?' or '*') ? value : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>The last lines a process wrote, kept for error messages; the process may write from two threads.</summary>
internal sealed class OutputTail(int capacity)
{
    private readonly Queue<string> _lines = new();
    private readonly Lock _lock = new();

    public void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            if (_lines.Count == capacity)
            {
                _lines.Dequeue();
            }

            _lines.Enqueue(line);
        }
    }

    public override string ToString()
    {
        lock (_lock)
        {
            return _lines.Count == 0 ? "(no output)" : string.Join(Environment.NewLine, _lines);
        }
    }
}
