using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>
/// <c>Security:AllowedOrigins</c>: stops a page from another site opening a WebSocket with the
/// visitor's credentials (cross-site WebSocket hijacking). Browsers always send <c>Origin</c> on a
/// WebSocket upgrade; clients that send none are not browsers and are not checked.
/// </summary>
internal sealed class OriginPolicy(IOptions<SecurityOptions> options)
{
    private readonly HashSet<string> _allowed = new(options.Value.AllowedOrigins, StringComparer.OrdinalIgnoreCase);

    public bool Allows(string? origin) => _allowed.Count == 0 || string.IsNullOrEmpty(origin) || _allowed.Contains(origin);
}
