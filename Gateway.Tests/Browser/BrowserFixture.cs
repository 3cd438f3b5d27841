namespace Gateway.Tests.Browser;

/// <summary>A test class that drives Chromium: one browser for the whole class, each test opening its own pages.</summary>
public abstract class BrowserFixture
{
    /// <summary>The class's browser, launched before its first test and closed after its last.</summary>
    protected BrowserSession Chromium { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task LaunchBrowserAsync() => Chromium = await BrowserSession.LaunchAsync();

    [OneTimeTearDown]
    public async Task CloseBrowserAsync() => await Chromium.DisposeAsync();
}
