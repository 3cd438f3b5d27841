using Gateway.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Configuration;

/// <summary>Every setting is validated at start-up, and a bad one stops it with a message naming the key.</summary>
public sealed class ConfigurationTests
{
    private static IEnumerable<TestCaseData> BadSettings()
    {
        yield return Case("Gateway:History:MaxEvents", "0", "Gateway:History:MaxEvents must be between 1 and 1000000; got 0");
        yield return Case("Gateway:Limits:MaxMessageBytes", "100", "Gateway:Limits:MaxMessageBytes must be between 128 and 16777216; got 100");
        yield return Case("Gateway:Limits:MaxPublishBytes", "999999999", "Gateway:Limits:MaxPublishBytes must be between 1024 and 67108864; got 999999999");
        yield return Case("Gateway:Limits:MaxLagBytes", "-1", "Gateway:Limits:MaxLagBytes must be between 65536 and 1073741824; got -1");
        yield return Case("Gateway:Limits:MaxLagBytes", "1048576", "Gateway:Limits:MaxLagBytes (1048576) must be at least twice Gateway:Limits:MaxPublishBytes (1048576), so that a client that reads is never closed for one full publish");
        yield return Case("Gateway:Limits:MaxLagTime", "00:00:00.05", "Gateway:Limits:MaxLagTime must be a duration between 00:00:00.1000000 and 01:00:00 (written like 00:00:15 for 15 s); got 00:00:00.0500000");
        yield return Case("Gateway:Limits:SocketSendBufferBytes", "1000", "Gateway:Limits:SocketSendBufferBytes must be 0 (the operating system sizes it) or between 4096 and 16777216; got 1000");
        yield return Case("Gateway:Limits:CloseTimeout", "00:00:00", "Gateway:Limits:CloseTimeout must be a duration between 00:00:00.1000000 and 00:05:00");
        yield return Case("Gateway:Sessions:IdleTimeout", "00:00:00.5", "Gateway:Sessions:IdleTimeout must be a duration between 00:00:01 and 365.00:00:00");
        yield return Case("Gateway:Shutdown:DrainTimeout", "-00:00:01", "Gateway:Shutdown:DrainTimeout must be a duration between 00:00:00 and 00:10:00");
        yield return Case("Gateway:Heartbeat:Interval", "00:01:00", "Gateway:Heartbeat:Interval (00:01:00) must be shorter than Gateway:Heartbeat:Timeout (00:00:45)");
        yield return Case("Gateway:Limits:MaxLagBytes", "many", "'Gateway:Limits:MaxLagBytes'");
        yield return Case("Gateway:Heartbeat:Timeout", "soon", "'Gateway:Heartbeat:Timeout'");
        yield return Case("Gateway:Security:AllowClientPublish", "yes please", "'Gateway:Security:AllowClientPublish'");
        yield return Case("Gateway:Limits:MaxMesageBytes", "1", "Gateway:Limits:MaxMesageBytes is not a setting; Gateway:Limits has MaxMessageBytes, MaxPublishBytes, MaxLagBytes, MaxLagTime, SocketSendBufferBytes, CloseTimeout");
        yield return Case("Gateway:Limit:MaxMessageBytes", "1", "Gateway:Limit is not a setting");
        yield return Case("Gateway:Telemetry:LogFormat", "xml", "Gateway:Telemetry:LogFormat must be text or json; got 'xml'");
        yield return Case("Gateway:Telemetry:OtlpEndpoint", "collector:4317", "Gateway:Telemetry:OtlpEndpoint must be an http or https URL");
        yield return Case("Gateway:Telemetry:OtlpProtocol", "udp", "Gateway:Telemetry:OtlpProtocol must be grpc or http/protobuf; got 'udp'");
        yield return Case("Gateway:Auth:Mode", "oauth", "Gateway:Auth:Mode must be none or jwt; got 'oauth'");
        yield return Case("Gateway:Auth:FirstMessage", "true", "Gateway:Auth:FirstMessage needs Mode jwt");
        yield return Case("Gateway:Security:AllowedOrigins:0", "https://app.example.com/path", "Gateway:Security:AllowedOrigins must hold origins like https://app.example.com");
        yield return Case("Gateway:Security:ClientPublishEvents:0", "chat*x", "Gateway:Security:ClientPublishEvents must hold event names (1-64 characters from A-Z a-z 0-9 . _ : -), prefixes of them ending in * (chat.*), or * alone for every name; got 'chat*x'");
        yield return Case("Gateway:Security:ClientPublishEvents:0", "a b", "Gateway:Security:ClientPublishEvents must hold event names");
        yield return Case("Gateway:Sessions:Conflate:0", "progress*x", "Gateway:Sessions:Conflate must hold event names (1-64 characters from A-Z a-z 0-9 . _ : -), prefixes of them ending in * (progress.*), or * alone for every name; got 'progress*x'");
        yield return Case("Gateway:Sessions:Conflate:0", "", "Gateway:Sessions:Conflate must hold event names");
        yield return Case("Gateway:Auth:ApiKeys:0", "short", "Gateway:Auth:ApiKeys:0 must be at least 16 characters; it has 5");
        yield return Case("Gateway:Backplane:Mode", "postgres", "Gateway:Backplane:Mode must be memory or redis; got 'postgres'");
        yield return Case("Gateway:Backplane:Mode", "redis", "Gateway:Backplane:Redis must be a Redis connection string such as 127.0.0.1:6379 when Mode is redis");
        yield return Case("Gateway:Backplane:Channels", "range", "Gateway:Backplane:Channels must be session (a channel per session) or slot (a channel per hash slot), the same on every node; got 'range'");
        yield return Case("Gateway:Backplane:KeyPrefix", "gateway prod", "Gateway:Backplane:KeyPrefix must be 1 to 64 characters from A-Z a-z 0-9 . _ : -; got 'gateway prod'");
        yield return Case("Gateway:Presence:MaxListed", "-1", "Gateway:Presence:MaxListed must be between 0 and 100000; got -1");
        yield return Case("Gateway:Backplane:CheckInterval", "00:00:00.05", "Gateway:Backplane:CheckInterval must be 00:00:00 (never) or between 00:00:00.1 and 01:00:00; got 00:00:00.0500000");
        yield return Case("Gateway:Backplane:CheckInterval", "02:00:00", "Gateway:Backplane:CheckInterval must be 00:00:00 (never) or between 00:00:00.1 and 01:00:00; got 02:00:00");
        yield return Case("Gateway:Backplane:OperationTimeout", "00:00:00.01", "Gateway:Backplane:OperationTimeout must be a duration between 00:00:00.1000000 and 00:01:00");
        yield return Case("Gateway:History:MaxBytes", "100", "Gateway:History:MaxBytes must be 0 (no bound on a session's history bytes) or between 1024 and 1099511627776; got 100");
        yield return Case("Gateway:Sessions:Conflate:0", "step update", "Gateway:Sessions:Conflate must hold event names (1-64 characters from A-Z a-z 0-9 . _ : -), prefixes of them ending in * (progress.*), or * alone for every name; got 'step update'");
        yield return Case("Gateway:Sessions:Profiles:0:Match", "build *", "Gateway:Sessions:Profiles:0:Match must be a session name (1-128 characters from A-Z a-z 0-9 . _ : -), a prefix of one ending in * (build-*), or * alone for every session; got 'build *'");
        yield return Case("Gateway:Sessions:Profiles:0:Match", "b*ld", "Gateway:Sessions:Profiles:0:Match must be a session name");
        yield return Case("Gateway:Sessions:Profiles:0:Presence", "false", "Gateway:Sessions:Profiles:0:Match must be a session name (1-128 characters from A-Z a-z 0-9 . _ : -), a prefix of one ending in * (build-*), or * alone for every session; got ''");
        yield return Case("Gateway:Sessions:Profiles:0:Presense", "false", "Gateway:Sessions:Profiles:0:Presense is not a setting; Gateway:Sessions:Profiles:0 has Match, History, Conflate, Presence, ClientPublishEvents, IdleTimeout, CompletedRetention, MaxLagBytes, MaxLagTime");
        yield return Case("Gateway:Sessions:Profiles:0:History:MaxEvent", "5", "Gateway:Sessions:Profiles:0:History:MaxEvent is not a setting; Gateway:Sessions:Profiles:0:History has MaxEvents, MaxBytes");
        yield return Profile("History:MaxEvents", "0", "Gateway:Sessions:Profiles:0:History:MaxEvents must be between 1 and 1000000; got 0");
        yield return Profile("History:MaxEvents", "5000000", "Gateway:Sessions:Profiles:0:History:MaxEvents must be between 1 and 1000000; got 5000000");
        yield return Profile("History:MaxBytes", "-1", "Gateway:Sessions:Profiles:0:History:MaxBytes must be 0 (no bound on a session's history bytes) or between 1024 and 1099511627776; got -1");
        yield return Profile("Conflate:0", "progress**", "Gateway:Sessions:Profiles:0:Conflate must hold event names");
        yield return Profile("ClientPublishEvents:0", "chat message", "Gateway:Sessions:Profiles:0:ClientPublishEvents must hold event names (1-64 characters from A-Z a-z 0-9 . _ : -), prefixes of them ending in * (progress.*), or * alone for every name; got 'chat message'");
        yield return Profile("IdleTimeout", "00:00:00", "Gateway:Sessions:Profiles:0:IdleTimeout must be a duration between 00:00:01 and 365.00:00:00 (written like 00:00:15 for 15 s); got 00:00:00");
        yield return Profile("CompletedRetention", "-00:00:05", "Gateway:Sessions:Profiles:0:CompletedRetention must be a duration between 00:00:01 and 365.00:00:00");
        yield return Profile("MaxLagBytes", "1000", "Gateway:Sessions:Profiles:0:MaxLagBytes must be between 65536 and 1073741824; got 1000");
        yield return Profile("MaxLagBytes", "1048576", "Gateway:Sessions:Profiles:0:MaxLagBytes (1048576) must be at least twice Gateway:Limits:MaxPublishBytes (1048576), so that a client that reads is never closed for one full publish");
        yield return Profile("MaxLagTime", "02:00:00", "Gateway:Sessions:Profiles:0:MaxLagTime must be a duration between 00:00:00.1000000 and 01:00:00");
        yield return Profile("Presence", "sometimes", "'Gateway:Sessions:Profiles:0:Presence'");
    }

    /// <summary>A bad setting of a profile that is otherwise good.</summary>
    private static TestCaseData Profile(string key, string value, string message) =>
        new TestCaseData("Gateway:Sessions:Profiles:0:" + key, value, message, new Dictionary<string, string?> { ["Gateway:Sessions:Profiles:0:Match"] = "build-*" })
            .SetName($"Profiles:0:{key}={value}");

    private static TestCaseData Case(string key, string value, string message) =>
        new TestCaseData(key, value, message, null).SetName($"{key}={value}");

    [TestCaseSource(nameof(BadSettings))]
    public void A_bad_setting_stops_start_up_naming_the_key(string key, string value, string message, Dictionary<string, string?>? others)
    {
        var settings = new Dictionary<string, string?>(others ?? []) { [key] = value, ["Urls"] = "http://127.0.0.1:0" };
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build([], settings));
        Assert.That(error!.Message, Does.Contain(message));
    }

    [TestCase(null, null, "set exactly one of SigningKey (HS256), PublicKey or PublicKeyFile (RS256, PEM); 0 are set")]
    [TestCase("SigningKey", "too-short", "Gateway:Auth:SigningKey must be at least 32 bytes (256 bits) for HS256; it has 9")]
    [TestCase("PublicKey", "not a pem", "Gateway:Auth:PublicKey: must be an RSA public key in PEM")]
    [TestCase("PublicKeyFile", "/nonexistent/key.pem", "Gateway:Auth:PublicKeyFile: cannot read '/nonexistent/key.pem'")]
    public void Jwt_mode_needs_one_usable_key(string? key, string? value, string message)
    {
        var settings = new Dictionary<string, string?> { ["Gateway:Auth:Mode"] = "jwt" };
        if (key is not null)
        {
            settings["Gateway:Auth:" + key] = value;
        }

        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build([], settings));
        Assert.That(error!.Message, Does.Contain(message));
        Assert.That(error.Message, Does.Not.Contain("too-short"), "a secret is never printed");
    }

    [TestCase("127.0.0.1:6379,bogus=1", "Gateway:Backplane:Redis is not a Redis connection string")]
    [TestCase("connectTimeout=5", "Gateway:Backplane:Redis names no server")]
    public void A_redis_connection_string_is_checked_before_anything_connects(string value, string message)
    {
        var settings = new Dictionary<string, string?> { ["Gateway:Backplane:Mode"] = "redis", ["Gateway:Backplane:Redis"] = value };
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build([], settings));
        Assert.That(error!.Message, Does.Contain(message));
    }

    [TestCase("build-*", "build-nightly", "Gateway:Sessions:Profiles:1 (Match 'build-nightly') would never be used: Gateway:Sessions:Profiles:0 (Match 'build-*') comes first and matches every session it does; put the narrower profile first")]
    [TestCase("build-*", "build-n*", "Gateway:Sessions:Profiles:1 (Match 'build-n*') would never be used: Gateway:Sessions:Profiles:0 (Match 'build-*')")]
    [TestCase("*", "chat-*", "Gateway:Sessions:Profiles:1 (Match 'chat-*') would never be used: Gateway:Sessions:Profiles:0 (Match '*')")]
    [TestCase("lobby", "lobby", "Gateway:Sessions:Profiles:1 (Match 'lobby') would never be used: Gateway:Sessions:Profiles:0 (Match 'lobby')")]
    public void A_profile_that_an_earlier_one_hides_stops_start_up(string first, string second, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Sessions:Profiles:0:Match"] = first,
            ["Gateway:Sessions:Profiles:1:Match"] = second,
        };
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build([], settings));
        Assert.That(error!.Message, Does.Contain(message));
    }

    [TestCase("build-nightly", "build-*")]
    [TestCase("build-n*", "build-*")]
    [TestCase("chat-*", "*")]
    [TestCase("build-*", "builds")]
    public void A_narrower_profile_before_a_wider_one_is_good(string first, string second)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Gateway:Sessions:Profiles:0:Match"] = first,
            ["Gateway:Sessions:Profiles:1:Match"] = second,
        };
        Assert.DoesNotThrow(() => GatewayHost.Build([], settings).DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    [Test]
    public void Every_problem_is_reported_at_once()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:History:MaxEvents"] = "0",
            ["Gateway:Limits:MaxLagBytes"] = "0",
        };
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build([], settings));
        Assert.That(error!.Message, Does.Contain("MaxEvents").And.Contain("MaxLagBytes"));
    }

    [Test]
    public void The_settings_file_holds_every_setting_with_its_default()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        IConfiguration file = new ConfigurationBuilder().AddJsonFile(path, optional: false).Build();
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var services = new ServiceCollection().AddSingleton(file).AddGatewayOptions().BuildServiceProvider();

        AssertSame(new HistoryOptions(), Bound<HistoryOptions>(services), json, HistoryOptions.Section);
        AssertSame(new SessionsOptions(), Bound<SessionsOptions>(services), json, SessionsOptions.Section);
        AssertSame(new LimitsOptions(), Bound<LimitsOptions>(services), json, LimitsOptions.Section);
        AssertSame(new HeartbeatOptions(), Bound<HeartbeatOptions>(services), json, HeartbeatOptions.Section);
        AssertSame(new ShutdownOptions(), Bound<ShutdownOptions>(services), json, ShutdownOptions.Section);
        // ClientPublishEvents is empty in code (configuration would add to a list given there) and
        // stands for its default list, which the file shows.
        AssertSame(new SecurityOptions { ClientPublishEvents = SecurityOptions.DefaultClientPublishEvents }, Bound<SecurityOptions>(services), json, SecurityOptions.Section);
        AssertSame(new AuthOptions(), Bound<AuthOptions>(services), json, AuthOptions.Section);
        AssertSame(new TelemetryOptions(), Bound<TelemetryOptions>(services), json, TelemetryOptions.Section);
        AssertSame(new TransportOptions(), Bound<TransportOptions>(services), json, TransportOptions.Section);
        AssertSame(new BackplaneOptions(), Bound<BackplaneOptions>(services), json, BackplaneOptions.Section);
        AssertSame(new HooksOptions(), Bound<HooksOptions>(services), json, HooksOptions.Section);
        AssertSame(new PresenceOptions(), Bound<PresenceOptions>(services), json, PresenceOptions.Section);
        AssertSame(new DashboardOptions(), Bound<DashboardOptions>(services), json, DashboardOptions.Section);
        Assert.That(file["Urls"], Is.EqualTo(GatewayConfiguration.DefaultUrl));
    }

    private static T Bound<T>(IServiceProvider services) where T : class => services.GetRequiredService<IOptions<T>>().Value;

    private static void AssertSame<T>(T defaults, T bound, System.Text.Json.JsonDocument json, string section)
    {
        System.Text.Json.JsonElement element = json.RootElement;
        foreach (string part in section.Split(':'))
        {
            element = element.GetProperty(part);
        }

        foreach (System.Reflection.PropertyInfo property in typeof(T).GetProperties().Where(p => p.CanWrite))
        {
            Assert.That(element.TryGetProperty(property.Name, out _), Is.True, $"{section}:{property.Name} is missing from appsettings.json");
            object? expected = Normalize(property.GetValue(defaults));
            object? actual = Normalize(property.GetValue(bound));
            Assert.That(actual, Is.EqualTo(expected), $"{section}:{property.Name} in appsettings.json differs from the default in code");
        }
    }

    /// <summary>An empty string in the file stands for an unset (null) string.</summary>
    private static object? Normalize(object? value) => value is "" ? null : value;
}
