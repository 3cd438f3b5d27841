using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.Infrastructure;

/// <summary>The real gateway, started in this process on 127.0.0.1 with a port of its own.</summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GatewayServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        Http = GatewayAddress.CreateHttpClient(baseAddress);
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a gateway; <paramref name="settings"/> are configuration keys like <c>Gateway:Limits:MaxLagBytes</c>.</summary>
    public static async Task<GatewayServer> StartAsync(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft"] = "Warning",
        };
        foreach (KeyValuePair<string, string?> setting in settings ?? new Dictionary<string, string?>())
        {
            all[setting.Key] = setting.Value;
        }

        WebApplication app = GatewayHost.Build([], all, services);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        return new GatewayServer(app, new Uri(address));
    }

    public T Get<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public Uri WebSocketUri(string session, string? query = null) =>
        GatewayAddress.WebSocket(BaseAddress, session, query);

    /// <summary>Publishes one event over HTTP and returns its seq.</summary>
    public async Task<long> PublishAsync(string session, string eventName, string dataJson = "null")
    {
        using HttpResponseMessage response = await Http.PostAsync(
            $"/api/sessions/{session}/events",
            new StringContent($"{{\"event\":\"{eventName}\",\"data\":{dataJson}}}", System.Text.Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(202), body);
        return System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("seq").GetInt64();
    }

    /// <summary>Stops the host the way SIGTERM does.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
