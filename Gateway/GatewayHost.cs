using Gateway.Configuration;
using Gateway.Connections;
using Gateway.Diagnostics;
using Gateway.Hooks;
using Gateway.Http;
using Gateway.Hub;
using Gateway.Log;
using Gateway.Security;

namespace Gateway;

/// <summary>Builds the gateway: configuration, services, endpoints. The program and the tests both start it through here.</summary>
internal static class GatewayHost
{
    /// <summary>
    /// The environment variable that makes the runtime complete socket operations on its epoll
    /// thread; the executable sets it (Program.cs). Measured on the publish path: 78 CPU
    /// microseconds a request without it, 40 with it (docs/benchmarks.md).
    /// </summary>
    public const string InlineSocketCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// The setting that names a JSON settings file of the operator's (<c>--settings gateway.json</c>,
    /// or the environment variable <c>SETTINGS</c>): it is read after <c>appsettings.json</c> and
    /// before the environment and the command line, so a deployment keeps its settings in one file.
    /// </summary>
    public const string SettingsFileKey = "Settings";

    /// <summary>
    /// Builds the host. Configuration comes from <c>appsettings.json</c> beside the binary, then
    /// the operator's settings file if one is named (<see cref="SettingsFileKey"/>),
    /// then environment variables, then the command line, then <paramref name="overrides"/> (tests).
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
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        AddSettingsFile(builder.Configuration, args);
        builder.Configuration
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

        // Kestrel's own limits (request header timeout, header sizes, ...) are set under "Kestrel:Limits".
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(builder.Configuration.GetSection("Kestrel"));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // Publish bodies are bounded by Gateway:Limits:MaxPublishBytes, with a problem+json 413.
            kestrel.Limits.MaxRequestBodySize = null;
        });
        // Fan-out is thread-pool hops, not bytes: each frame to each client crossed the pool once in our
        // send loop and again in Kestrel's socket writer. Running Kestrel's I/O continuations inline on
        // its I/O threads removes the second hop and lets frames queued meanwhile go out together:
        // 2.6x the deliveries per CPU second in the fan-out scenario (docs/benchmarks.md). The gateway
        // never blocks in a callback, which is what makes this safe here.
        if (builder.Configuration.GetValue("Gateway:Transport:InlineScheduling", TransportOptions.DefaultInlineScheduling))
        {
            builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        }

        // A WebSocket upgrade that opens a connection is taken below Kestrel's HTTP layer, so that the
        // connection keeps none of Kestrel's request state for its life (docs/architecture.md). Endpoint
        // defaults apply to every listener, those from configuration (Urls, Kestrel:Endpoints) included.
        if (builder.Configuration.GetValue(TransportOptions.Section + ":" + nameof(TransportOptions.DirectUpgrade), TransportOptions.DefaultDirectUpgrade))
        {
            builder.Services.AddSingleton<Transport.DirectUpgrade>();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(Transport.DirectUpgrade.Install));
        }

        ConfigureLogging(builder);

        // Under a flood of refusals, drop log lines rather than make the gateway wait on its console.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(console =>
            console.QueueFullMode = Microsoft.Extensions.Logging.Console.ConsoleLoggerQueueFullMode.DropWrite);

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
        services.AddSingleton<ScrapeCounter>();
        services.AddGatewayTelemetry(builder.Configuration);
        AddBackplane(builder);
        services.AddSingleton<TokenValidator>();
        services.AddSingleton<ApiKeys>();
        services.AddSingleton<TicketStore>();
        services.AddSingleton<Authenticator>();
        services.AddSingleton<OriginPolicy>();
        services.AddCrossOrigin();
        services.AddSingleton<ConnectionLimiter>();
        services.AddSingleton<Admission>();
        services.AddSingleton<PublishRateLimiter>();
        services.AddSingleton<Refusals>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddRpcClient();
        services.AddSingleton<ConnectionEnvironment>();
        services.AddSingleton<GatewayLifecycle>();
        services.AddSingleton<HeartbeatScanner>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatScanner>());
        services.AddHostedService<ShutdownDrain>();
        services.AddGatewayHooks();
        services.AddHostedService<Sources.FileWatchService>();
        configureServices?.Invoke(services);

        WebApplication app = builder.Build();
        GatewayConfiguration.Validate(app.Services, app.Configuration);

        // The hub attaches to the log's feed as it is made: before the log's first news.
        app.Services.GetRequiredService<SessionHub>();

        // CORS first: a preflight is answered before anything else runs, and every answer after it,
        // a failure's included, carries the page's Access-Control-Allow-Origin.
        app.UseCrossOrigin();
        app.UseRequestFailures();
        app.MapWebSocketEndpoint();
        app.MapSessionEndpoints();
        app.MapPresenceEndpoints();
        app.MapFallbackEndpoints();
        app.MapTicketEndpoints();
        app.MapGatewayMetrics();
        app.MapHealthEndpoints();
        app.MapClientScriptEndpoints();
        app.MapDashboardEndpoints();
        return app;
    }

    /// <summary>
    /// Sessions in this process (the default), or in Redis shared with other nodes
    /// (<c>Gateway:Backplane:Mode redis</c>). A Mode that is neither is reported by validation.
    /// </summary>
    private static void AddBackplane(WebApplicationBuilder builder)
    {
        IServiceCollection services = builder.Services;
        services.AddSingleton<Sessions.SessionProfiles>();
        services.AddSingleton<SessionHub>();
        if (string.Equals(builder.Configuration["Gateway:Backplane:Mode"], BackplaneOptions.RedisMode, StringComparison.OrdinalIgnoreCase))
        {
            services.AddSingleton<Log.Redis.RedisLog>();
            services.AddSingleton<ISessionLog>(sp => sp.GetRequiredService<Log.Redis.RedisLog>());
            services.AddHostedService(sp => sp.GetRequiredService<Log.Redis.RedisLog>());
            return;
        }

        services.AddSingleton<MemoryLog>();
        services.AddSingleton<ISessionLog>(sp => sp.GetRequiredService<MemoryLog>());
        services.AddHostedService<SessionExpiryService>();
    }

    /// <summary>
    /// Console logs, one line per entry: text with a UTC timestamp for people, or JSON objects for
    /// log shippers (<c>Gateway:Telemetry:LogFormat</c>). Log scopes are not kept.
    /// </summary>
    private static void ConfigureLogging(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        if (string.Equals(builder.Configuration["Gateway:Telemetry:LogFormat"], "json", StringComparison.Ordinal))
        {
            builder.Logging.AddJsonConsole(json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                json.IncludeScopes = false;
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(text =>
            {
                text.SingleLine = true;
                text.UseUtcTimestamp = true;
                text.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            });
        }

        // Neither format prints scopes; a logger that keeps none saves each connection the scope
        // Kestrel opens for it (docs/benchmarks.md, "S1: where an idle connection's memory goes").
        builder.Logging.WithoutScopes();
    }
    /// <summary>Adds the file named by <see cref="SettingsFileKey"/>, if any; a missing or unreadable one stops start-up.</summary>
    private static void AddSettingsFile(ConfigurationManager configuration, string[] args)
    {
        IConfigurationRoot early = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        if (early[SettingsFileKey] is not { Length: > 0 } named)
        {
            return;
        }

        string path = Path.GetFullPath(named);
        if (!File.Exists(path))
        {
            throw new GatewayConfigurationException(
                $"--settings names {named}, which does not exist (looked for {path}): give a JSON file shaped like appsettings.json, with a \"Gateway\" section");
        }

        try
        {
            configuration.AddJsonFile(path, optional: false, reloadOnChange: false);
        }
        catch (InvalidDataException e)
        {
            // The JSON provider says where the file stopped parsing in its inner exception.
            throw new GatewayConfigurationException(
                $"--settings names {named}, which is not a JSON settings file: {e.InnerException?.Message ?? e.Message}; it must be a JSON object shaped like appsettings.json", e);
        }
    }
}
