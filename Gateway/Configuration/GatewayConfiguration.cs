using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>A setting that stops start-up; the message names the key and what it accepts.</summary>
internal sealed class GatewayConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Binds and validates the <c>Gateway</c> section.</summary>
internal static class GatewayConfiguration
{
    /// <summary>The top-level configuration section of every gateway setting.</summary>
    public const string Root = "Gateway";

    /// <summary>The URL the gateway listens on when none is configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>The sections under <see cref="Root"/> and their options; any other key is a typo and stops start-up.</summary>
    private static readonly (string Name, Type Options)[] Sections =
    [
        ("History", typeof(HistoryOptions)),
        ("Sessions", typeof(SessionsOptions)),
        ("Limits", typeof(LimitsOptions)),
        ("Heartbeat", typeof(HeartbeatOptions)),
        ("Shutdown", typeof(ShutdownOptions)),
        ("Security", typeof(SecurityOptions)),
        ("Auth", typeof(AuthOptions)),
        ("Telemetry", typeof(TelemetryOptions)),
        ("Transport", typeof(TransportOptions)),
        ("WebSockets", typeof(WebSocketsOptions)),
        ("Backplane", typeof(BackplaneOptions)),
        ("Hooks", typeof(HooksOptions)),
        ("Presence", typeof(PresenceOptions)),
        ("Sources", typeof(SourcesOptions)),
        ("Dashboard", typeof(DashboardOptions)),
    ];

    public static IServiceCollection AddGatewayOptions(this IServiceCollection services)
    {
        services.AddSingleton<GatewayOptionsValidator>();
        Add<HistoryOptions>(services, HistoryOptions.Section);
        Add<SessionsOptions>(services, SessionsOptions.Section);
        Add<LimitsOptions>(services, LimitsOptions.Section);
        Add<HeartbeatOptions>(services, HeartbeatOptions.Section);
        Add<ShutdownOptions>(services, ShutdownOptions.Section);
        Add<SecurityOptions>(services, SecurityOptions.Section);
        Add<AuthOptions>(services, AuthOptions.Section);
        Add<TelemetryOptions>(services, TelemetryOptions.Section);
        services.AddOptions<TransportOptions>().BindConfiguration(TransportOptions.Section);
        services.AddOptions<WebSocketsOptions>().BindConfiguration(WebSocketsOptions.Section);
        Add<BackplaneOptions>(services, BackplaneOptions.Section);
        Add<HooksOptions>(services, HooksOptions.Section);
        Add<PresenceOptions>(services, PresenceOptions.Section);
        Add<SourcesOptions>(services, SourcesOptions.Section);
        services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section);
        return services;
    }

    /// <summary>
    /// Resolves every options class once, so that a value that does not parse or does not pass
    /// validation stops start-up with one message listing every problem.
    /// </summary>
    public static void Validate(IServiceProvider services, IConfiguration configuration)
    {
        var problems = new List<string>();
        FindUnknownKeys(configuration, problems);

        Resolve<HistoryOptions>(services, problems);
        Resolve<SessionsOptions>(services, problems);
        Resolve<LimitsOptions>(services, problems);
        Resolve<HeartbeatOptions>(services, problems);
        Resolve<ShutdownOptions>(services, problems);
        Resolve<SecurityOptions>(services, problems);
        Resolve<AuthOptions>(services, problems);
        Resolve<TelemetryOptions>(services, problems);
        Resolve<TransportOptions>(services, problems);
        Resolve<WebSocketsOptions>(services, problems);
        Resolve<BackplaneOptions>(services, problems);
        Resolve<HooksOptions>(services, problems);
        Resolve<PresenceOptions>(services, problems);
        Resolve<SourcesOptions>(services, problems);
        Resolve<DashboardOptions>(services, problems);
        if (problems.Count > 0)
        {
            throw new GatewayConfigurationException("invalid configuration:\n  " + string.Join("\n  ", problems));
        }
    }

    private static void Add<T>(IServiceCollection services, string section) where T : class
    {
        services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>>(sp => (IValidateOptions<T>)(object)sp.GetRequiredService<GatewayOptionsValidator>());
    }

    /// <summary>A misspelt key would otherwise be ignored silently and its default used instead.</summary>
    private static void FindUnknownKeys(IConfiguration configuration, List<string> problems)
    {
        foreach (IConfigurationSection section in configuration.GetSection(Root).GetChildren())
        {
            (string Name, Type Options) known = Array.Find(Sections, s => string.Equals(s.Name, section.Key, StringComparison.OrdinalIgnoreCase));
            if (known.Options is null)
            {
                problems.Add($"{section.Path} is not a setting; the sections under {Root} are {string.Join(", ", Sections.Select(s => s.Name))}");
                continue;
            }

            FindUnknownKeys(section, known.Options, problems);
        }
    }

    /// <summary>
    /// The keys of <paramref name="section"/> against <paramref name="options"/>' settings, and, for
    /// a setting that is itself a group or a list of groups of this namespace (a session profile and
    /// its History), that group's keys too.
    /// </summary>
    private static void FindUnknownKeys(IConfigurationSection section, Type options, List<string> problems)
    {
        System.Reflection.PropertyInfo[] properties = options.GetProperties().Where(p => p.CanWrite).ToArray();
        foreach (IConfigurationSection key in section.GetChildren())
        {
            System.Reflection.PropertyInfo? property = Array.Find(properties, p => string.Equals(p.Name, key.Key, StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                problems.Add($"{key.Path} is not a setting; {section.Path} has {string.Join(", ", properties.Select(p => p.Name))}");
                continue;
            }

            Type type = property.PropertyType;
            if (type.IsArray && IsGroup(type.GetElementType()!))
            {
                foreach (IConfigurationSection item in key.GetChildren())
                {
                    FindUnknownKeys(item, type.GetElementType()!, problems);
                    try
                    {
                        // The binder drops a list item with a value it cannot convert, silently:
                        // a profile with a typo in a duration would vanish. Bound alone, it says so.
                        _ = item.Get(type.GetElementType()!);
                    }
                    catch (InvalidOperationException e)
                    {
                        problems.Add(e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message);
                    }
                }
            }
            else if (IsGroup(type))
            {
                FindUnknownKeys(key, type, problems);
            }
        }
    }

    private static bool IsGroup(Type type) => type.IsClass && type.Namespace == typeof(GatewayConfiguration).Namespace;

    private static void Resolve<T>(IServiceProvider services, List<string> problems) where T : class
    {
        try
        {
            _ = services.GetRequiredService<IOptions<T>>().Value;
        }
        catch (OptionsValidationException e)
        {
            problems.AddRange(e.Failures);
        }
        catch (InvalidOperationException e)
        {
            // The binder's own message names the key: "Failed to convert configuration value at
            // 'Gateway:Limits:MaxMessageBytes' to type 'System.Int32'."
            problems.Add(e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message);
        }
    }
}
