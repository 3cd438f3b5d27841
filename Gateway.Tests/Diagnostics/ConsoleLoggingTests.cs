using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Diagnostics;

/// <summary>The console logger keeps no log scopes, and still answers to the console's filters.</summary>
[CancelAfter(60_000)]
public sealed class ConsoleLoggingTests
{
    [TestCase("text")]
    [TestCase("json")]
    public async Task A_scope_opened_on_any_logger_is_not_kept(string format)
    {
        await using GatewayServer gateway = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Telemetry:LogFormat"] = format,
            ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel"] = "Debug",
        });
        ILogger kestrel = gateway.Get<ILoggerFactory>().CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Connections");

        // The category is on, so a provider that kept scopes would make this one real.
        Assert.That(kestrel.IsEnabled(LogLevel.Debug), Is.True);
        using IDisposable? scope = kestrel.BeginScope("connection {ConnectionId}", "0HN1");
        Assert.That(scope, Is.Null, "no scope object is made for a connection's life");
    }

    [Test]
    public async Task The_console_filter_section_still_applies_to_the_console()
    {
        await using GatewayServer gateway = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Gateway.Connections"] = "Information",
            ["Logging:Console:LogLevel:Gateway.Connections"] = "Warning",
        });
        ILogger connections = gateway.Get<ILoggerFactory>().CreateLogger("Gateway.Connections");

        Assert.That(connections.IsEnabled(LogLevel.Information), Is.False, "Logging:Console:LogLevel wins for the console");
        Assert.That(connections.IsEnabled(LogLevel.Warning), Is.True);
    }

    [Test]
    public async Task The_gateway_logs_through_one_console_provider()
    {
        await using GatewayServer gateway = await GatewayServer.StartAsync();

        IEnumerable<ILoggerProvider> providers = gateway.Services.GetServices<ILoggerProvider>();
        Assert.That(providers.Count(), Is.EqualTo(1), "the console provider is wrapped, not registered twice");
    }
}
