using Microsoft.Playwright;

namespace Gateway.Tests.Browser;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>, which test.sh installs), headless, driven by
/// Playwright. No browser is downloaded: Playwright's driver talks to the system's.
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;

    private BrowserSession(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<BrowserSession> LaunchAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            Assert.Fail($"{ChromiumPath} is not installed: ./test.sh installs it (Debian package chromium), or install it yourself");
        }

        IPlaywright playwright = await Playwright.CreateAsync();
        IBrowser browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Headless = true,

            // A page the test serves through routing has no address of its own, so Chromium's Local
            // Network Access checks treat it as public and block its WebSockets to 127.0.0.1
            // (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). The gateway under test is on loopback.
            Args = ["--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets"],
        });
        return new BrowserSession(playwright, browser);
    }

    /// <summary>
    /// A new page whose HTML is <paramref name="html"/>, loaded from <c>{origin}/test-page.html</c>:
    /// the browser answers that one address itself, and everything else the page asks for goes to
    /// the origin (the gateway, or a proxy in front of it).
    /// </summary>
    public async Task<BrowserPage> OpenAsync(Uri origin, string html)
    {
        (IBrowserContext context, IPage page, List<string> logs, List<string> requests) = await NewPageAsync();
        var address = new Uri(origin, "/test-page.html");
        await page.RouteAsync(address.ToString(), route => route.FulfillAsync(new() { ContentType = "text/html; charset=utf-8", Body = html }));
        await page.GotoAsync(address.ToString());
        return new BrowserPage(context, page, logs, requests);
    }

    /// <summary>The origin an example's page is served from in tests: not the gateway's, as a real app's is not.</summary>
    public static readonly Uri ExampleOrigin = new("http://examples.test/");

    /// <summary>
    /// Opens <paramref name="page"/> of an example (a file in <c>examples/{example}/web/</c>) as a
    /// user would after serving that folder, with <c>?gateway=</c> naming the gateway under test
    /// (the pages default to <c>http://127.0.0.1:8080</c>) and <paramref name="query"/> after it.
    /// The browser answers the example's origin from the folder's files; everything else goes to
    /// the network.
    /// </summary>
    public async Task<BrowserPage> OpenExampleAsync(string example, string page, Uri gateway, string? query = null)
    {
        (IBrowserContext context, IPage opened, List<string> logs, List<string> requests) = await NewPageAsync();
        string folder = Path.Combine(Examples.ExampleProgram.Folder(example), "web");
        await opened.RouteAsync(new Uri(ExampleOrigin, "**").ToString(), async route =>
        {
            string path = new Uri(route.Request.Url).AbsolutePath.TrimStart('/');
            string file = Path.GetFullPath(Path.Combine(folder, path.Length == 0 ? "index.html" : path));
            if (!file.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(file))
            {
                await route.FulfillAsync(new() { Status = 404, ContentType = "text/plain", Body = $"no {path} in examples/{example}/web" });
                return;
            }

            await route.FulfillAsync(new() { ContentType = ContentTypeOf(file), BodyBytes = await File.ReadAllBytesAsync(file) });
        });
        string address = new Uri(ExampleOrigin, page) + "?gateway=" + Uri.EscapeDataString(gateway.GetLeftPart(UriPartial.Authority)) + (query is null ? string.Empty : "&" + query);
        await opened.GotoAsync(address);
        return new BrowserPage(context, opened, logs, requests);
    }

    private static string ContentTypeOf(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" or ".mjs" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".json" => "application/json",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };

    /// <summary>
    /// A new page at <paramref name="address"/>, served by whatever answers there (the gateway's
    /// own pages). <paramref name="bypassCsp"/> lifts the page's Content-Security-Policy, which
    /// forbids the eval that <see cref="BrowserPage.WaitAsync"/> needs.
    /// </summary>
    public async Task<BrowserPage> GoToAsync(Uri address, bool bypassCsp = false)
    {
        (IBrowserContext context, IPage page, List<string> logs, List<string> requests) = await NewPageAsync(bypassCsp);
        await page.GotoAsync(address.ToString());
        return new BrowserPage(context, page, logs, requests);
    }

    private async Task<(IBrowserContext Context, IPage Page, List<string> Logs, List<string> Requests)> NewPageAsync(bool bypassCsp = false)
    {
        IBrowserContext context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1000, Height = 700 }, BypassCSP = bypassCsp });
        IPage page = await context.NewPageAsync();
        var logs = new List<string>();
        page.Console += (_, message) => { lock (logs) { logs.Add($"console.{message.Type}: {message.Text}"); } };
        page.PageError += (_, error) => { lock (logs) { logs.Add($"page error: {error}"); } };
        var requests = new List<string>();
        page.Request += (_, request) => { lock (requests) { requests.Add(request.Url); } };
        page.WebSocket += (_, socket) => { lock (requests) { requests.Add(socket.Url); } };
        return (context, page, logs, requests);
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.CloseAsync();
        _playwright.Dispose();
    }
}

/// <summary>One page of a test, with what its console said (shown when a wait fails).</summary>
public sealed class BrowserPage(IBrowserContext context, IPage page, List<string> logs, List<string> requests) : IAsyncDisposable
{
    /// <summary>How long a wait on the page may take: generous, since the machine may be busy; a pass takes a second or two.</summary>
    private const float WaitMilliseconds = 60_000;

    public IPage Page { get; } = page;

    /// <summary>Every URL the page asked for so far, HTTP requests and WebSockets, in order (e.g. to check that no token is in one).</summary>
    public string[] Requests
    {
        get
        {
            lock (requests)
            {
                return [.. requests];
            }
        }
    }

    /// <summary>Awaits a JavaScript condition on the page; on timeout fails the test with the page's console and a screenshot.</summary>
    public async Task WaitAsync(string condition, string what)
    {
        try
        {
            await Page.WaitForFunctionAsync(condition, null, new() { Timeout = WaitMilliseconds, PollingInterval = 20 });
        }
        catch (TimeoutException)
        {
            await ScreenshotAsync("timeout");
            string console;
            lock (logs)
            {
                console = string.Join('\n', logs);
            }

            string seen = await Page.EvaluateAsync<string>("JSON.stringify({ seen: window.seen, states: window.states, state: window.client?.state, transport: window.client?.transport, text: document.body?.innerText.slice(0, 2000) })");
            Assert.Fail($"timed out waiting for {what} ({condition})\npage: {seen}\nconsole:\n{console}");
        }
    }

    /// <summary>The seqs the page's listener got, in order.</summary>
    public async Task<long[]> SeenAsync() => await Page.EvaluateAsync<long[]>("window.seen");

    /// <summary>Saves a screenshot of the page and attaches it to the test's results.</summary>
    public async Task ScreenshotAsync(string name)
    {
        string directory = Path.Combine(TestContext.CurrentContext.WorkDirectory, "screenshots");
        Directory.CreateDirectory(directory);
        string file = Path.Combine(directory, $"{TestContext.CurrentContext.Test.Name}-{name}.png");
        await Page.ScreenshotAsync(new() { Path = file, FullPage = true });
        TestContext.AddTestAttachment(file, name);
    }

    public async ValueTask DisposeAsync() => await context.CloseAsync();
}
