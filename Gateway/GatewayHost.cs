using Gateway.Backplane;
using Gateway.Configuration;
using Gateway.Connections;
using Gateway.Diagnostics;
using Gateway.Http;

namespace Gateway;

/// <summary>Builds the gateway: configuration, services, endpoints. The program and the tests both start it through here.</summary>
internal static class GatewayHost
{
    /// <summary>
    /// Builds the host. Configuration comes from <c>appsettings.json</c> beside the binary, then
    /// environment variables, then the command line, then <paramref name="overrides"/> (tests).
    /// </summary>
    public static WebApplication Build(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides = null, Action<IServiceCollection>? configureServices = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });

        // Rebuild the sources explicitly: no file watching (one inotify instance per host adds up in
        // tests), and the same order everywhere.
        builder.Configuration.Sources.Clear();
        builder.Configuration
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false)
            .AddEnvironmentVariables("ASPNETCORE_")
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables()
            .AddCommandLine(args);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        if (string.IsNullOrEmpty(builder.Configuration["Urls"]))
        {
            builder.WebHost.UseUrls(GatewayConfiguration.DefaultUrl);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // Publish bodies are bounded by Gateway:Limits:MaxPublishBytes, with a problem+json 413.
            kestrel.Limits.MaxRequestBodySize = null;
        });

        builder.Services.Configure<HostOptions>(host =>
        {
            // The drain has its own deadline (Shutdown:DrainTimeout); leave room for it.
            host.ShutdownTimeout = TimeSpan.FromMinutes(11);
        });

        IServiceCollection services = builder.Services;
        services.AddGatewayOptions();
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<MemoryBackplane>();
        services.AddSingleton<IBackplane>(sp => sp.GetRequiredService<MemoryBackplane>());
        services.AddHostedService<SessionExpiryService>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<ConnectionEnvironment>();
        services.AddSingleton<GatewayLifecycle>();
        services.AddSingleton<HeartbeatScanner>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatScanner>());
        services.AddHostedService<ShutdownDrain>();
        configureServices?.Invoke(services);

        WebApplication app = builder.Build();
        GatewayConfiguration.Validate(app.Services, app.Configuration);
        app.MapWebSocketEndpoint();
        app.MapSessionEndpoints();
        app.MapFallbackEndpoints();
        app.MapHealthEndpoints();
        return app;
    }
}
