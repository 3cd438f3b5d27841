using Gateway.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Configuration;

/// <summary>
/// <c>--settings FILE</c>: an operator's JSON settings file, read after appsettings.json and
/// before the environment and the command line; a file that is missing or not JSON stops start-up
/// saying so.
/// </summary>
public sealed class SettingsFileTests
{
    private string _folder = null!;

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "gateway-settings-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [Test]
    public async Task The_file_sets_what_it_holds_and_the_command_line_wins_over_it()
    {
        string file = Write("gateway.json", """
            { "Gateway": { "History": { "MaxEvents": 3 }, "Sessions": { "IdleTimeout": "00:10:00" } } }
            """);

        await using WebApplication fromFile = GatewayHost.Build(["--settings", file, "--Urls=http://127.0.0.1:0"]);
        Assert.That(fromFile.Services.GetRequiredService<IOptions<HistoryOptions>>().Value.MaxEvents, Is.EqualTo(3));
        Assert.That(fromFile.Services.GetRequiredService<IOptions<SessionsOptions>>().Value.IdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(10)));

        await using WebApplication overridden = GatewayHost.Build([$"--Settings={file}", "--Gateway:History:MaxEvents=4", "--Urls=http://127.0.0.1:0"]);
        Assert.That(overridden.Services.GetRequiredService<IOptions<HistoryOptions>>().Value.MaxEvents, Is.EqualTo(4), "the command line comes after the file");
        Assert.That(overridden.Services.GetRequiredService<IOptions<SessionsOptions>>().Value.IdleTimeout, Is.EqualTo(TimeSpan.FromMinutes(10)));
    }

    [Test]
    public void A_misspelt_setting_in_the_file_stops_start_up_as_on_the_command_line()
    {
        string file = Write("gateway.json", """{ "Gateway": { "History": { "MaxEvent": 3 } } }""");
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build(["--settings", file]));
        Assert.That(error!.Message, Does.Contain("Gateway:History:MaxEvent is not a setting; Gateway:History has MaxEvents"));
    }

    [Test]
    public void A_missing_file_stops_start_up_naming_it()
    {
        string file = Path.Combine(_folder, "nowhere.json");
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build(["--settings", file]));
        Assert.That(error!.Message, Is.EqualTo(
            $"--settings names {file}, which does not exist (looked for {file}): give a JSON file shaped like appsettings.json, with a \"Gateway\" section"));
    }

    [TestCase("{ \"Gateway\": { \"History\": ", TestName = "truncated")]
    [TestCase("Gateway:History:MaxEvents=3", TestName = "not JSON")]
    [TestCase("[1, 2, 3]", TestName = "an array")]
    [TestCase("", TestName = "empty")]
    public void A_file_that_is_not_a_JSON_object_stops_start_up_saying_so(string content)
    {
        string file = Write("broken.json", content);
        GatewayConfigurationException? error = Assert.Throws<GatewayConfigurationException>(() => GatewayHost.Build(["--settings", file]));
        Assert.That(error!.Message, Does.StartWith($"--settings names {file}, which is not a JSON settings file: ")
            .And.EndWith("it must be a JSON object shaped like appsettings.json"));
    }

    private string Write(string name, string content)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllText(path, content);
        return path;
    }
}
