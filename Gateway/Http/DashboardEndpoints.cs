using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Http;

/// <summary>
/// <c>GET /</c>: the dashboard (spec section 15, docs/dashboard.md), a page of plain HTML, CSS and
/// one ES module, embedded in the gateway like <c>/client.js</c>, which the module imports. It
/// lists sessions, tails one, shows its state and presence, and publishes test events, all through
/// the public API with the credentials its user types in.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>
    /// Revalidate on every load: a 304 costs nothing on a page opened by hand, and the three files
    /// of one gateway version always arrive together (a page of one version with the script of
    /// another would break in ways nobody could explain).
    /// </summary>
    public const string CacheControl = "no-cache";

    /// <summary>Where the page's own files are served; the page refers to them relatively, so a reverse proxy's path prefix works.</summary>
    public const string AssetPrefix = "/dashboard/";

    /// <summary>
    /// The page shows whatever backends publish: nothing it loads may come from elsewhere, and
    /// nothing it shows may run. Its WebSockets go to the gateway itself (<c>ws:</c> and
    /// <c>wss:</c> are named because older browsers do not count them as <c>'self'</c>).
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly KeyValuePair<string, string>[] PageHeaders =
    [
        new("Content-Security-Policy", ContentSecurityPolicy),
        new("Referrer-Policy", "no-referrer"),
    ];

    private static readonly EmbeddedFile Page = EmbeddedFile.Load("Gateway.Dashboard.index.html", "text/html; charset=utf-8", CacheControl, PageHeaders);

    private static readonly EmbeddedFile Script = EmbeddedFile.Load("Gateway.Dashboard.dashboard.js", "text/javascript; charset=utf-8", CacheControl);

    private static readonly EmbeddedFile Styles = EmbeddedFile.Load("Gateway.Dashboard.dashboard.css", "text/css; charset=utf-8", CacheControl);

    /// <summary>Maps the page and its files, unless <see cref="DashboardOptions.Enabled"/> is false (then <c>/</c> is 404).</summary>
    public static void MapDashboardEndpoints(this IEndpointRouteBuilder app)
    {
        if (!app.ServiceProvider.GetRequiredService<IOptions<DashboardOptions>>().Value.Enabled)
        {
            return;
        }

        string[] methods = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/", methods, (HttpContext http) => Page.Serve(http));
        app.MapMethods(AssetPrefix + "dashboard.js", methods, (HttpContext http) => Script.Serve(http));
        app.MapMethods(AssetPrefix + "dashboard.css", methods, (HttpContext http) => Styles.Serve(http));
    }
}
