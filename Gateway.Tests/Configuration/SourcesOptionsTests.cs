using Gateway.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Configuration;

/// <summary>The <c>Gateway:Sources</c> section is validated at start-up like every other.</summary>
public sealed class SourcesOptionsTests
{
    private const string Entry = "Gateway:Sources:Watch:0";

    private static IEnumerable<TestCaseData> BadSettings()
    {
        yield return Case(Entry + ":Path", "", "Gateway:Sources:Watch:0:Path must be a folder path, absolute or relative to the working directory; got ''");
        yield return Case(Entry + ":Path", "  ", "Gateway:Sources:Watch:0:Path must be a folder path");
        yield return Case(Entry + ":Session", "build 1", "Gateway:Sources:Watch:0:Session must be a session name (1-128 characters from A-Z a-z 0-9 . _ : -); got 'build 1'");
        yield return Case(Entry + ":Session", "", "Gateway:Sources:Watch:0:Session must be a session name (1-128 characters from A-Z a-z 0-9 . _ : -); got ''");
        yield return Case(Entry + ":Event", "file changed", "Gateway:Sources:Watch:0:Event must be an event name (1-64 characters from A-Z a-z 0-9 . _ : -); got 'file changed'");
        yield return Case(Entry + ":Filter", "logs/*.json", "Gateway:Sources:Watch:0:Filter must be a file name pattern like *.json (* any characters, ? one; no folders), at most 255 characters; got 'logs/*.json'");
        yield return Case(Entry + ":Filter", "", "Gateway:Sources:Watch:0:Filter must be a file name pattern like *.json");
        yield return Case(Entry + ":Filer", "*.json", "Gateway:Sources:Watch:0:Filer is not a setting; Gateway:Sources:Watch:0 has Path, Filter, Session, Event");
        yield return Case("Gateway:Sources:MaxFileBytes", "0", "Gateway:Sources:MaxFileBytes must be between 1 and 67108864; got 0");
        yield return Case("Gateway:Sources:Debounce", "00:00:00", "Gateway:Sources:Debounce must be a duration between 00:00:00.0100000 and 00:01:00 (written like 00:00:15 for 15 s); got 00:00:00");
        yield return Case("Gateway:Sources:RetryInterval", "-00:00:01", "Gateway:Sources:RetryInterval must be a duration between 00:00:00.1000000 and 01:00:00");
        yield return Case("Gateway:Sources:Wach:0:Path", "/tmp", "Gateway:Sources:Wach is not a setting; Gateway:Sources has Watch, MaxFileBytes, Debounce, RetryInterval");
    }

    private static TestCaseData Case(string key, string value, string message) =>
        new TestCaseData(key, value, message).SetName($"{key}={value}");

    [TestCaseSource(nameof(BadSettings))]
    public void A_bad_source_setting_stops_start_up_naming_the_key(string key, string value, string message)
    {
        // A valid entry, then the one bad value.
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            [Entry + ":Path"] = "checkpoints",
            [Entry + ":Session"] = "build-1",
            [key] = value,
        };
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build([], settings));
        Assert.That(error!.Message, Does.Contain(message));
    }

    [Test]
    public void An_entry_with_a_path_and_a_session_is_enough()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [Entry + ":Path"] = "checkpoints",
            [Entry + ":Session"] = "build-1",
        }).Build();
        SourcesOptions options = Bound(configuration);
        Assert.That(options.Watch, Has.Length.EqualTo(1));
        Assert.That(options.Watch[0].Filter, Is.EqualTo("*"));
        Assert.That(options.Watch[0].Event, Is.EqualTo("file_changed"));
    }

    [Test]
    public void The_settings_file_holds_the_sources_defaults()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        IConfiguration file = new ConfigurationBuilder().AddJsonFile(path, optional: false).Build();
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        System.Text.Json.JsonElement section = json.RootElement.GetProperty("Gateway").GetProperty("Sources");
        SourcesOptions bound = Bound(file);
        var defaults = new SourcesOptions();
        foreach (System.Reflection.PropertyInfo property in typeof(SourcesOptions).GetProperties().Where(p => p.CanWrite))
        {
            Assert.That(section.TryGetProperty(property.Name, out _), Is.True, $"Gateway:Sources:{property.Name} is missing from appsettings.json");
            Assert.That(property.GetValue(bound), Is.EqualTo(property.GetValue(defaults)), $"Gateway:Sources:{property.Name} in appsettings.json differs from the default in code");
        }
    }

    private static SourcesOptions Bound(IConfiguration configuration) =>
        new ServiceCollection().AddSingleton(configuration).AddGatewayOptions().BuildServiceProvider()
            .GetRequiredService<IOptions<SourcesOptions>>().Value;
}
