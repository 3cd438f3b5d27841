using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Gateway.Protocol.Framing;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Integration;

/// <summary>Spec section 8: not ready, 503 to new upgrades, 1001 to every client, drain, exit 0.</summary>
[CancelAfter(60_000)]
public sealed partial class ShutdownTests
{
    [Test]
    public async Task Stopping_closes_every_client_with_1001_going_away()
    {
        GatewayServer server = await GatewayServer.StartAsync();
        await using (server)
        {
            (TestClient first, _) = await TestClient.JoinAsync(server.WebSocketUri("shutdown-a"));
            (TestClient second, _) = await TestClient.JoinAsync(server.WebSocketUri("shutdown-b"));
            await using (first)
            await using (second)
            {
                Task stopping = server.StopAsync();
                (int? code, string? reason, _) = await first.ReceiveCloseAsync();
                Assert.That(code, Is.EqualTo(1001));
                Assert.That(reason, Is.EqualTo("going away"));
                Assert.That((await second.ReceiveCloseAsync()).Code, Is.EqualTo(1001));
                await stopping.WaitAsync(TestClient.Deadline);
            }
        }
    }

    [Test]
    public async Task While_draining_readyz_and_new_upgrades_answer_503()
    {
        GatewayServer server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Shutdown:DrainTimeout"] = "00:00:30" });
        await using (server)
        {
            // This client holds the drain open by not answering the close until told to.
            await using RawWebSocket holder = await RawWebSocket.ConnectAsync(server.WebSocketUri("drain"));
            await holder.ReceiveAsync();
            Task stopping = server.StopAsync();
            Assert.That((await holder.ReceiveCloseAsync()).Close?.CloseCode, Is.EqualTo(1001));

            using HttpResponseMessage ready = await server.Http.GetAsync("/readyz");
            Assert.That(ready.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            (int status, string body) = await RefusalTests.UpgradeAsync(server, "/ws/drain");
            Assert.That(status, Is.EqualTo(503));
            Assert.That(body, Does.Contain("shutting down"));
            Assert.That(stopping.IsCompleted, Is.False, "the drain waits for the close handshake");

            await holder.SendFrameAsync(WebSocketOpcode.Close, [0x03, 0xE9]);
            await stopping.WaitAsync(TestClient.Deadline);
        }
    }

    [Test]
    public async Task Sigterm_sends_1001_to_clients_and_the_process_exits_0()
    {
        using Process gateway = StartGatewayProcess(out Task<Uri> listening);
        try
        {
            Uri baseAddress = await listening.WaitAsync(TestClient.Deadline);
            (TestClient client, _) = await TestClient.JoinAsync(new Uri($"ws://{baseAddress.Authority}/ws/sigterm"));
            await using (client)
            {
                using (Process kill = Process.Start("kill", ["-TERM", gateway.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                {
                    await kill.WaitForExitAsync(TestClient.Deadline);
                    Assert.That(kill.ExitCode, Is.Zero);
                }

                (int? code, string? reason, _) = await client.ReceiveCloseAsync();
                Assert.That(code, Is.EqualTo(1001));
                Assert.That(reason, Is.EqualTo("going away"));
            }

            await gateway.WaitForExitAsync(TestClient.Deadline);
            Assert.That(gateway.ExitCode, Is.Zero);
        }
        finally
        {
            if (!gateway.HasExited)
            {
                gateway.Kill();
            }
        }
    }

    [Test]
    public async Task An_invalid_setting_stops_start_up_with_exit_code_2_naming_the_key()
    {
        var startInfo = GatewayProcessStartInfo();
        startInfo.Environment["Gateway__Limits__MaxLagBytes"] = "0";
        startInfo.Environment["Gateway__Heartbeat__Interval"] = "not-a-duration";
        using Process gateway = Process.Start(startInfo)!;
        Task<string> stderr = gateway.StandardError.ReadToEndAsync();
        await gateway.WaitForExitAsync(TestClient.Deadline);
        string errors = await stderr;
        Assert.That(gateway.ExitCode, Is.EqualTo(2));
        Assert.That(errors, Does.Contain("Gateway:Limits:MaxLagBytes must be between 65536 and 1073741824; got 0"));
        Assert.That(errors, Does.Contain("Gateway:Heartbeat:Interval"));
    }

    private static ProcessStartInfo GatewayProcessStartInfo()
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Gateway.dll"));
        startInfo.ArgumentList.Add("--Urls=http://127.0.0.1:0");
        return startInfo;
    }

    private static Process StartGatewayProcess(out Task<Uri> listening)
    {
        Process process = Process.Start(GatewayProcessStartInfo())!;
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is not null && ListeningLine().Match(line.Data) is { Success: true } match)
            {
                address.TrySetResult(new Uri(match.Groups[1].Value));
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        listening = address.Task;
        return process;
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}
