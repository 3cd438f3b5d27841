using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>
/// <c>Security:AllowedOrigins</c>: stops a page from another site opening a WebSocket or an SSE
/// stream with the visitor's credentials (cross-site WebSocket hijacking, and its EventSource
/// twin), and from reading the HTTP API. Browsers always send <c>Origin</c> on a WebSocket upgrade
/// and on a cross-origin request; a request without one is not a browser's, or comes from a page of
/// the gateway's own origin, and is not checked. The WebSocket upgrade, the SSE stream and the CORS
/// policy (<see cref="Http.CrossOrigin"/>) all ask this one policy.
/// </summary>
internal sealed class OriginPolicy(IOptions<SecurityOptions> options)
{
    private readonly HashSet<string> _allowed = new(options.Value.AllowedOrigins, StringComparer.OrdinalIgnoreCase);

    /// <summary>True when no origins are listed: every page may connect and read.</summary>
    public bool AllowsEveryOrigin => _allowed.Count == 0;

    public bool Allows(string? origin) => _allowed.Count == 0 || string.IsNullOrEmpty(origin) || _allowed.Contains(origin);

    /// <summary>
    /// Whether <paramref name="request"/> may open a socket or a stream: as <see cref="Allows(string?)"/>,
    /// and also when its <c>Origin</c> names the host the request came to, which is a page the
    /// gateway served itself (the dashboard): a browser sends <c>Origin</c> on every upgrade, and
    /// no page of another site can claim the gateway's own host and port.
    /// </summary>
    public bool Allows(HttpRequest request)
    {
        string? origin = request.Headers.Origin;
        return Allows(origin) || IsOwnHost(origin!, request.Host);
    }

    private static bool IsOwnHost(string origin, HostString host) =>
        host.HasValue
        && Uri.TryCreate(origin, UriKind.Absolute, out Uri? page)
        && string.Equals(page.Authority, host.Value, StringComparison.OrdinalIgnoreCase);
}
