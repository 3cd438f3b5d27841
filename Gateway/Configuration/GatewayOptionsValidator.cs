using System.Globalization;
using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>
/// Checks every setting at start-up. Each failure names the key, what it accepts and what it got,
/// so that a bad value stops the gateway with a message an operator can act on.
/// </summary>
/// <param name="services">
/// Where the rules that span sections read the other section (a profile's lag bound against
/// <c>Limits:MaxPublishBytes</c>); that section's own problems are reported by its own check.
/// </param>
internal sealed class GatewayOptionsValidator(IServiceProvider services) :
    IValidateOptions<HistoryOptions>,
    IValidateOptions<SessionsOptions>,
    IValidateOptions<LimitsOptions>,
    IValidateOptions<HeartbeatOptions>,
    IValidateOptions<ShutdownOptions>,
    IValidateOptions<SecurityOptions>,
    IValidateOptions<AuthOptions>,
    IValidateOptions<TelemetryOptions>,
    IValidateOptions<BackplaneOptions>,
    IValidateOptions<HooksOptions>,
    IValidateOptions<PresenceOptions>,
    IValidateOptions<SourcesOptions>
{
    public ValidateOptionsResult Validate(string? name, PresenceOptions options)
    {
        var errors = new List<string>();
        Range(errors, PresenceOptions.Section, nameof(options.MaxListed), options.MaxListed, 0, 100_000);
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, SourcesOptions options)
    {
        var errors = new List<string>();
        string section = SourcesOptions.Section;
        for (int i = 0; i < options.Watch.Length; i++)
        {
            WatchEntry entry = options.Watch[i];
            string key = string.Create(CultureInfo.InvariantCulture, $"{section}:{nameof(options.Watch)}:{i}");
            if (string.IsNullOrWhiteSpace(entry.Path) || entry.Path.Contains('\0', StringComparison.Ordinal))
            {
                errors.Add($"{key}:{nameof(entry.Path)} must be a folder path, absolute or relative to the working directory; got '{entry.Path}'");
            }

            if (entry.Filter.Length == 0 || entry.Filter.Length > 255 || entry.Filter.IndexOfAny(['/', '\\', '\0']) >= 0)
            {
                errors.Add($"{key}:{nameof(entry.Filter)} must be a file name pattern like *.json (* any characters, ? one; no folders), at most 255 characters; got '{entry.Filter}'");
            }

            if (!Protocol.Names.IsValidSessionName(entry.Session))
            {
                errors.Add($"{key}:{nameof(entry.Session)} must be a session name (1-128 characters from {Protocol.Names.AllowedCharacters}); got '{entry.Session}'");
            }

            if (!Protocol.Names.IsValidEventName(entry.Event))
            {
                errors.Add($"{key}:{nameof(entry.Event)} must be an event name (1-64 characters from {Protocol.Names.AllowedCharacters}); got '{entry.Event}'");
            }
        }

        Range(errors, section, nameof(options.MaxFileBytes), options.MaxFileBytes, 1, 64 * 1024 * 1024);
        Range(errors, section, nameof(options.Debounce), options.Debounce, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        Range(errors, section, nameof(options.RetryInterval), options.RetryInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, HooksOptions options)
    {
        var errors = new List<string>();
        string section = HooksOptions.Section;
        HttpUrl(errors, section, nameof(options.Url), options.Url);
        HttpUrl(errors, section, nameof(options.RpcUrl), options.RpcUrl);
        HttpUrl(errors, section, nameof(options.Authorize), options.Authorize);
        Range(errors, section, nameof(options.RpcTimeout), options.RpcTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(errors, section, nameof(options.MaxRpcInFlight), options.MaxRpcInFlight, 1, 1000);
        Range(errors, section, nameof(options.AuthorizeTimeout), options.AuthorizeTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        Range(errors, section, nameof(options.NotifyTimeout), options.NotifyTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(errors, section, nameof(options.NotifyRetryDelay), options.NotifyRetryDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        Range(errors, section, nameof(options.NotifyBreakDuration), options.NotifyBreakDuration, TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(10));
        Range(errors, section, nameof(options.OutboxCapacity), options.OutboxCapacity, 1, 10_000_000);
        Range(errors, section, nameof(options.MaxBatch), options.MaxBatch, 1, 10_000);
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, HistoryOptions options)
    {
        var errors = new List<string>();
        Range(errors, HistoryOptions.Section, nameof(options.MaxEvents), options.MaxEvents, 1, 1_000_000);
        Range(errors, HistoryOptions.Section, nameof(options.MaxTotalBytes), options.MaxTotalBytes, 1L << 20, 1L << 40);
        HistoryBytes(errors, HistoryOptions.Section + ":" + nameof(options.MaxBytes), options.MaxBytes);
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, SessionsOptions options)
    {
        var errors = new List<string>();
        Range(errors, SessionsOptions.Section, nameof(options.IdleTimeout), options.IdleTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365));
        Range(errors, SessionsOptions.Section, nameof(options.CompletedRetention), options.CompletedRetention, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365));
        Range(errors, SessionsOptions.Section, nameof(options.MaxSessions), options.MaxSessions, 1, 10_000_000);
        Range(errors, SessionsOptions.Section, nameof(options.MaxEventNames), options.MaxEventNames, 1, 100_000);
        Range(errors, SessionsOptions.Section, nameof(options.MaxKeys), options.MaxKeys, 1, 1_000_000);
        EventPatterns(errors, $"{SessionsOptions.Section}:{nameof(options.Conflate)}", options.Conflate);
        Profiles(errors, options.Profiles);
        return Result(errors);
    }

    /// <summary>Each profile's settings, by the global setting's rules, and that every profile can match a session.</summary>
    private void Profiles(List<string> errors, SessionProfileOptions[] profiles)
    {
        long? maxPublishBytes = null;
        try
        {
            maxPublishBytes = services.GetService<IOptions<LimitsOptions>>()?.Value.MaxPublishBytes;
        }
        catch (OptionsValidationException)
        {
            // Limits is invalid itself, and says so: the rule against it waits for a good value.
        }

        for (int i = 0; i < profiles.Length; i++)
        {
            SessionProfileOptions profile = profiles[i];
            string section = string.Create(CultureInfo.InvariantCulture, $"{SessionsOptions.Section}:{nameof(SessionsOptions.Profiles)}:{i}");
            if (!Gateway.Sessions.SessionProfiles.IsValidMatch(profile.Match))
            {
                errors.Add($"{section}:Match must be a session name (1-{Protocol.Names.MaxSessionNameLength} characters from {Protocol.Names.AllowedCharacters}), a prefix of one ending in * (build-*), or * alone for every session; got '{profile.Match}'");
            }
            else
            {
                for (int earlier = 0; earlier < i; earlier++)
                {
                    if (Gateway.Sessions.SessionProfiles.IsValidMatch(profiles[earlier].Match) && Gateway.Sessions.SessionProfiles.Covers(profiles[earlier].Match, profile.Match))
                    {
                        // A profile no session can reach is a mistake in the order, not a setting.
                        errors.Add(string.Create(CultureInfo.InvariantCulture,
                            $"{section} (Match '{profile.Match}') would never be used: {SessionsOptions.Section}:{nameof(SessionsOptions.Profiles)}:{earlier} (Match '{profiles[earlier].Match}') comes first and matches every session it does; put the narrower profile first"));
                        break;
                    }
                }
            }

            if (profile.History is { } history)
            {
                if (history.MaxEvents is { } maxEvents)
                {
                    Range(errors, section, "History:MaxEvents", maxEvents, 1, 1_000_000);
                }

                if (history.MaxBytes is { } maxBytes)
                {
                    HistoryBytes(errors, section + ":History:MaxBytes", maxBytes);
                }
            }

            if (profile.Conflate is { } conflate)
            {
                EventPatterns(errors, section + ":" + nameof(profile.Conflate), conflate);
            }

            if (profile.ClientPublishEvents is { } clientPublish)
            {
                EventPatterns(errors, section + ":" + nameof(profile.ClientPublishEvents), clientPublish);
            }

            if (profile.IdleTimeout is { } idle)
            {
                Range(errors, section, nameof(profile.IdleTimeout), idle, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365));
            }

            if (profile.CompletedRetention is { } retention)
            {
                Range(errors, section, nameof(profile.CompletedRetention), retention, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365));
            }

            if (profile.MaxLagBytes is { } lagBytes)
            {
                Range(errors, section, nameof(profile.MaxLagBytes), lagBytes, 64 * 1024, 1L << 30);
                if (maxPublishBytes is { } publish && lagBytes < 2 * publish)
                {
                    errors.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{section}:{nameof(profile.MaxLagBytes)} ({lagBytes}) must be at least twice {LimitsOptions.Section}:{nameof(LimitsOptions.MaxPublishBytes)} ({publish}), so that a client that reads is never closed for one full publish"));
                }
            }

            if (profile.MaxLagTime is { } lagTime)
            {
                Range(errors, section, nameof(profile.MaxLagTime), lagTime, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
            }
        }
    }

    /// <summary>A per-session byte bound on history: 0 (none), or 1 KiB to 1 TiB.</summary>
    private static void HistoryBytes(List<string> errors, string key, long value)
    {
        if (value is not 0 and (< 1024 or > 1L << 40))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{key} must be 0 (no bound on a session's history bytes) or between 1024 and 1099511627776; got {value}"));
        }
    }

    /// <summary>A list of event names, prefixes of them ending in <c>*</c>, or <c>*</c>.</summary>
    private static void EventPatterns(List<string> errors, string key, string[] patterns)
    {
        foreach (string pattern in patterns)
        {
            if (!Security.ClientPublishEvents.IsValid(pattern))
            {
                errors.Add($"{key} must hold event names (1-64 characters from {Protocol.Names.AllowedCharacters}), prefixes of them ending in * (progress.*), or * alone for every name; got '{pattern}'");
            }
        }
    }

    public ValidateOptionsResult Validate(string? name, LimitsOptions options)
    {
        var errors = new List<string>();
        Range(errors, LimitsOptions.Section, nameof(options.MaxMessageBytes), options.MaxMessageBytes, 128, 16 * 1024 * 1024);
        Range(errors, LimitsOptions.Section, nameof(options.MaxPublishBytes), options.MaxPublishBytes, 1024, 64 * 1024 * 1024);
        Range(errors, LimitsOptions.Section, nameof(options.MaxLagBytes), options.MaxLagBytes, 64 * 1024, 1L << 30);
        if (options.MaxLagBytes < 2L * options.MaxPublishBytes)
        {
            // A full publish, framed, must fit behind a client that reads, or a burst the API takes
            // would close it: framing adds a little to each event, so twice the body.
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{LimitsOptions.Section}:{nameof(options.MaxLagBytes)} ({options.MaxLagBytes}) must be at least twice {LimitsOptions.Section}:{nameof(options.MaxPublishBytes)} ({options.MaxPublishBytes}), so that a client that reads is never closed for one full publish"));
        }

        Range(errors, LimitsOptions.Section, nameof(options.MaxLagTime), options.MaxLagTime, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        if (options.SocketSendBufferBytes is not 0 and (< 4096 or > 16 * 1024 * 1024))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{LimitsOptions.Section}:{nameof(options.SocketSendBufferBytes)} must be 0 (the operating system sizes it) or between 4096 and 16777216; got {options.SocketSendBufferBytes}"));
        }
        Range(errors, LimitsOptions.Section, nameof(options.CloseTimeout), options.CloseTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(errors, LimitsOptions.Section, nameof(options.IngestIdleTimeout), options.IngestIdleTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(24));
        Range(errors, LimitsOptions.Section, nameof(options.MaxConnections), options.MaxConnections, 1, 1_000_000);
        Range(errors, LimitsOptions.Section, nameof(options.MaxAssembledBytes), options.MaxAssembledBytes, 64, 64 * 1024 * 1024);
        Range(errors, LimitsOptions.Section, nameof(options.MaxConnectionsPerIp), options.MaxConnectionsPerIp, 0, 1_000_000);
        Range(errors, LimitsOptions.Section, nameof(options.MaxConnectionsPerSession), options.MaxConnectionsPerSession, 0, 1_000_000);
        Range(errors, LimitsOptions.Section, nameof(options.MessagesPerSecond), options.MessagesPerSecond, 0, 1_000_000);
        Range(errors, LimitsOptions.Section, nameof(options.MessageBurst), options.MessageBurst, 1, 1_000_000);
        Range(errors, LimitsOptions.Section, nameof(options.PublishesPerSecond), options.PublishesPerSecond, 0, 10_000_000);
        Range(errors, LimitsOptions.Section, nameof(options.PublishBurst), options.PublishBurst, 1000, 10_000_000);
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, HeartbeatOptions options)
    {
        var errors = new List<string>();
        Range(errors, HeartbeatOptions.Section, nameof(options.Interval), options.Interval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range(errors, HeartbeatOptions.Section, nameof(options.Timeout), options.Timeout, TimeSpan.FromMilliseconds(20), TimeSpan.FromHours(24));
        if (options.Interval >= options.Timeout)
        {
            errors.Add($"{HeartbeatOptions.Section}:Interval ({Format(options.Interval)}) must be shorter than {HeartbeatOptions.Section}:Timeout ({Format(options.Timeout)}), or live clients would be evicted between pings");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, ShutdownOptions options)
    {
        var errors = new List<string>();
        Range(errors, ShutdownOptions.Section, nameof(options.DrainTimeout), options.DrainTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var errors = new List<string>();
        foreach (string origin in options.AllowedOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/" || origin.EndsWith('/'))
            {
                errors.Add($"{SecurityOptions.Section}:AllowedOrigins must hold origins like https://app.example.com (scheme, host, optional port; no path); got '{origin}'");
            }
        }

        foreach (string pattern in options.ClientPublishEvents)
        {
            if (!Security.ClientPublishEvents.IsValid(pattern))
            {
                errors.Add($"{SecurityOptions.Section}:ClientPublishEvents must hold event names (1-64 characters from {Protocol.Names.AllowedCharacters}), prefixes of them ending in * (chat.*), or * alone for every name; got '{pattern}'");
            }
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var errors = new List<string>();
        string section = AuthOptions.Section;
        if (!options.IsJwt && !string.Equals(options.Mode, "none", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{section}:Mode must be none or jwt; got '{options.Mode}'");
        }

        Range(errors, section, nameof(options.ClockSkew), options.ClockSkew, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Range(errors, section, nameof(options.FirstMessageTimeout), options.FirstMessageTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        Range(errors, section, nameof(options.TicketLifetime), options.TicketLifetime, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        for (int i = 0; i < options.ApiKeys.Length; i++)
        {
            if (options.ApiKeys[i].Length < 16)
            {
                // The key itself is never printed.
                errors.Add($"{section}:ApiKeys:{i} must be at least 16 characters; it has {options.ApiKeys[i].Length}");
            }
        }

        if (options.IsJwt)
        {
            int keys = (string.IsNullOrEmpty(options.SigningKey) ? 0 : 1) + (string.IsNullOrEmpty(options.PublicKey) ? 0 : 1) + (string.IsNullOrEmpty(options.PublicKeyFile) ? 0 : 1);
            if (keys != 1)
            {
                errors.Add($"{section}: with Mode jwt, set exactly one of SigningKey (HS256), PublicKey or PublicKeyFile (RS256, PEM); {keys} are set");
            }
            else if (!string.IsNullOrEmpty(options.SigningKey) && System.Text.Encoding.UTF8.GetByteCount(options.SigningKey) < 32)
            {
                errors.Add($"{section}:SigningKey must be at least 32 bytes (256 bits) for HS256; it has {System.Text.Encoding.UTF8.GetByteCount(options.SigningKey)}");
            }
            else if (Security.TokenValidator.TryLoadPublicKey(options, out string? keyError) is null && keyError is not null)
            {
                errors.Add($"{section}:{(string.IsNullOrEmpty(options.PublicKey) ? nameof(options.PublicKeyFile) : nameof(options.PublicKey))}: {keyError}");
            }
        }
        else if (options.FirstMessage)
        {
            errors.Add($"{section}:FirstMessage needs Mode jwt: with Mode none there is nothing to authenticate");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var errors = new List<string>();
        string section = TelemetryOptions.Section;
        if (!string.IsNullOrEmpty(options.OtlpEndpoint)
            && !(Uri.TryCreate(options.OtlpEndpoint, UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https"))
        {
            errors.Add($"{section}:OtlpEndpoint must be an http or https URL like http://collector:4317; got '{options.OtlpEndpoint}'");
        }

        if (options.OtlpProtocol is not ("grpc" or "http/protobuf"))
        {
            errors.Add($"{section}:OtlpProtocol must be grpc or http/protobuf; got '{options.OtlpProtocol}'");
        }

        Range(errors, section, nameof(options.OtlpExportInterval), options.OtlpExportInterval, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        if (options.LogFormat is not ("text" or "json"))
        {
            errors.Add($"{section}:LogFormat must be text or json; got '{options.LogFormat}'");
        }

        return Result(errors);
    }

    public ValidateOptionsResult Validate(string? name, BackplaneOptions options)
    {
        var errors = new List<string>();
        string section = BackplaneOptions.Section;
        if (!string.Equals(options.Mode, BackplaneOptions.MemoryMode, StringComparison.OrdinalIgnoreCase) && !options.IsRedis)
        {
            errors.Add($"{section}:Mode must be memory or redis; got '{options.Mode}'");
        }

        if (options.IsRedis)
        {
            if (string.IsNullOrWhiteSpace(options.Redis))
            {
                errors.Add($"{section}:Redis must be a Redis connection string such as 127.0.0.1:6379 when Mode is redis");
            }
            else
            {
                try
                {
                    if (StackExchange.Redis.ConfigurationOptions.Parse(options.Redis).EndPoints.Count == 0)
                    {
                        errors.Add($"{section}:Redis names no server; give host:port, such as 127.0.0.1:6379");
                    }
                }
                catch (ArgumentException e)
                {
                    errors.Add($"{section}:Redis is not a Redis connection string ({e.Message}); such as 127.0.0.1:6379,password=secret");
                }
            }
        }

        // The same rule as an event name: 1 to 64 characters of the name alphabet.
        if (!Protocol.Names.IsValidEventName(options.KeyPrefix))
        {
            errors.Add($"{section}:KeyPrefix must be 1 to 64 characters from A-Z a-z 0-9 . _ : -; got '{options.KeyPrefix}'");
        }

        Range(errors, section, nameof(options.OperationTimeout), options.OperationTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        Range(errors, section, nameof(options.WaitReplicas), options.WaitReplicas, 0, 16);
        if (options.CheckInterval != TimeSpan.Zero && (options.CheckInterval < TimeSpan.FromMilliseconds(100) || options.CheckInterval > TimeSpan.FromHours(1)))
        {
            errors.Add($"{section}:{nameof(options.CheckInterval)} must be 00:00:00 (never) or between 00:00:00.1 and 01:00:00; got {options.CheckInterval}");
        }
        if (!string.Equals(options.Channels, BackplaneOptions.SessionChannels, StringComparison.OrdinalIgnoreCase) && !options.IsPerSlot)
        {
            errors.Add($"{section}:Channels must be session (a channel per session) or slot (a channel per hash slot), the same on every node; got '{options.Channels}'");
        }

        return Result(errors);
    }

    /// <summary>Empty (not set), or an absolute http or https URL.</summary>
    private static void HttpUrl(List<string> errors, string section, string key, string value)
    {
        if (value.Length > 0 && !(Uri.TryCreate(value, UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https"))
        {
            errors.Add($"{section}:{key} must be empty (off) or an absolute http or https URL; got '{value}'");
        }
    }

    private static void Range(List<string> errors, string section, string key, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:{key} must be between {min} and {max}; got {value}"));
        }
    }

    private static void Range(List<string> errors, string section, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:{key} must be between {min} and {max}; got {value}"));
        }
    }

    private static void Range(List<string> errors, string section, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{section}:{key} must be a duration between {Format(min)} and {Format(max)} (written like 00:00:15 for 15 s); got {Format(value)}");
        }
    }

    private static string Format(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    private static ValidateOptionsResult Result(List<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
