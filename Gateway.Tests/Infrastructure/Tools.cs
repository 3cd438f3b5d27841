using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Tests.Infrastructure;

/// <summary>The real programs some tests drive (promtool, prometheus, redis-server), found on PATH.</summary>
public static class Tools
{
    /// <summary>The full path of <paramref name="name"/>; fails the test, saying how to get it, when it is missing.</summary>
    public static string Require(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':'))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail($"{name} is not installed: ./test.sh installs it (Debian package), or install it yourself");
        return name;
    }

    /// <summary>The checkout the tests were built from: the nearest folder above them that holds gateway.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Starts a program with its output captured.</summary>
    public static Process Start(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    /// <summary>A TCP port free on 127.0.0.1 a moment ago, for a program that must be told its port.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "gateway.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no gateway.sln above {AppContext.BaseDirectory}");
    }
}
