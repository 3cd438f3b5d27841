using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Diagnostics;

/// <summary>Metrics pushed over OTLP, and logs as JSON lines for shippers.</summary>
[CancelAfter(60_000)]
public sealed partial class TelemetryExportTests
{
    [Test]
    public async Task With_an_otlp_endpoint_the_gateway_pushes_its_metrics_there()
    {
        // A stand-in collector: it takes OTLP/HTTP posts and keeps the first.
        var received = new TaskCompletionSource<(string ContentType, byte[] Body)>(TaskCreationOptions.RunContinuationsAsynchronously);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using WebApplication collector = builder.Build();
        collector.MapPost("/v1/metrics", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            received.TrySetResult((http.Request.ContentType ?? string.Empty, body.ToArray()));
            return Results.Ok();
        });
        await collector.StartAsync();
        string address = collector.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();

        await using GatewayServer gateway = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Telemetry:OtlpEndpoint"] = address,
            ["Gateway:Telemetry:OtlpProtocol"] = "http/protobuf",
            ["Gateway:Telemetry:OtlpExportInterval"] = "00:00:01",
        });
        await gateway.PublishAsync("otlp", "x");

        (string contentType, byte[] payload) = await received.Task.WaitAsync(TestClient.Deadline);
        Assert.That(contentType, Is.EqualTo("application/x-protobuf"));

        // Protobuf keeps strings as UTF-8: the gateway's meter and instruments are in there by name.
        string text = Encoding.UTF8.GetString(payload);
        Assert.That(text, Does.Contain("gateway.events.published"));
        Assert.That(text, Does.Contain("gateway.connections.open"));
    }

    [Test]
    public async Task With_log_format_json_every_log_line_is_a_json_object_with_its_fields()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Gateway.dll"));
        start.ArgumentList.Add("--Urls=http://127.0.0.1:0");
        start.Environment["Gateway__Telemetry__LogFormat"] = "json";
        using Process process = Process.Start(start)!;
        var lines = new List<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var disconnected = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is not { Length: > 0 } text)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(text);
            }

            JsonElement entry = JsonDocument.Parse(text).RootElement.Clone();
            string message = entry.GetProperty("Message").GetString()!;
            if (ListeningLine().Match(message) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }

            if (entry.GetProperty("EventId").GetInt32() == 102)
            {
                disconnected.TrySetResult(entry);
            }
        };
        process.BeginOutputReadLine();
        try
        {
            Uri address = await listening.Task.WaitAsync(TestClient.Deadline);
            (TestClient client, _) = await TestClient.JoinAsync(new Uri($"ws://{address.Authority}/ws/logged"));
            await client.DisposeAsync();

            JsonElement entry = await disconnected.Task.WaitAsync(TestClient.Deadline);
            JsonElement state = entry.GetProperty("State");
            Assert.That(entry.GetProperty("Category").GetString(), Is.EqualTo("Gateway.Connections"));
            Assert.That(entry.GetProperty("LogLevel").GetString(), Is.EqualTo("Information"));
            Assert.That(entry.GetProperty("Timestamp").GetString(), Does.Match(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"));
            Assert.That(state.GetProperty("Session").GetString(), Is.EqualTo("logged"));
            Assert.That(state.GetProperty("RemoteAddress").GetString(), Is.EqualTo("127.0.0.1"));
            Assert.That(state.GetProperty("ConnectionId").GetString(), Has.Length.EqualTo(16));
            Assert.That(state.GetProperty("CloseCode").GetInt32(), Is.EqualTo(1000));
            Assert.That(state.TryGetProperty("DurationMs", out _) && state.TryGetProperty("MessagesIn", out _) && state.TryGetProperty("MessagesOut", out _), Is.True);
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        lock (lines)
        {
            Assert.That(lines, Is.Not.Empty);
            Assert.That(lines.All(l => l.StartsWith('{') && l.EndsWith('}')), Is.True, "one JSON object per line");
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}
