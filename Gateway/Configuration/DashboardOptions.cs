namespace Gateway.Configuration;

/// <summary>The <c>Gateway:Dashboard</c> section: the page at <c>GET /</c> (spec section 15, docs/dashboard.md).</summary>
internal sealed class DashboardOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Dashboard";

    /// <summary>
    /// Whether the gateway serves its dashboard at <c>GET /</c> and its files under
    /// <c>/dashboard/</c>. The page holds no data of its own: everything it shows comes from the
    /// HTTP API and the WebSocket, with the credentials its user gives it. Off, <c>/</c> is 404.
    /// </summary>
    public bool Enabled { get; set; } = true;
}
