using Gateway.Security;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Net.Http.Headers;

namespace Gateway.Http;

/// <summary>
/// CORS for pages on other origins (spec section 5, "Browsers"): one default policy, applied by the
/// CORS middleware to every request before routing, so that every HTTP endpoint (publish, session,
/// events, stream, presence, tickets, ingest, delete) and every file served to pages, including
/// endpoints mapped later, answers preflights and sets <c>Access-Control-Allow-Origin</c> without
/// each having to opt in. The origins are those of <c>Security:AllowedOrigins</c>, the list the
/// WebSocket upgrade and the SSE stream check (<see cref="OriginPolicy"/>); empty allows every origin.
/// </summary>
internal static class CrossOrigin
{
    /// <summary>
    /// How long a browser may reuse a preflight's answer, in seconds: ten minutes, so that a page
    /// publishing all day preflights a few times an hour rather than before every request, while a
    /// change of <c>AllowedOrigins</c> reaches browsers soon after a restart. Chromium caps it at
    /// two hours, Firefox at one day.
    /// </summary>
    public const int PreflightMaxAgeSeconds = 600;

    /// <summary>
    /// The request headers a page may send: the two that carry credentials (spec section 6), the
    /// body's type (JSON is not a "simple" content type, so a publish is always preflighted), and
    /// the resume point of a stream opened by hand (<c>EventSource</c> sends it itself).
    /// </summary>
    public static readonly string[] AllowedHeaders = ["Authorization", "X-Api-Key", "Content-Type", "Last-Event-ID"];

    /// <summary>The methods of the HTTP API; OPTIONS is the preflight itself, and HEAD never needs one.</summary>
    public static readonly string[] AllowedMethods = ["GET", "POST", "PUT", "DELETE"];

    /// <summary>
    /// The response headers a page may read beyond the safelisted ones: when to retry after a 429 or
    /// a 503, and which credential a 401 asks for.
    /// </summary>
    public static readonly string[] ExposedHeaders = ["Retry-After", "WWW-Authenticate"];

    /// <summary>The default CORS policy, built from <c>Security:AllowedOrigins</c> when options are first read.</summary>
    public static IServiceCollection AddCrossOrigin(this IServiceCollection services)
    {
        services.AddCors();
        services.AddOptions<CorsOptions>()
            .Configure<OriginPolicy>((cors, origins) => cors.AddDefaultPolicy(policy => Build(policy, origins)));
        return services;
    }

    /// <summary>
    /// The CORS middleware, to be added before anything else answers: a preflight is answered by it
    /// (204, with the CORS headers for an allowed origin and none for another) and goes no further,
    /// and an answer of any status, errors included, carries <c>Access-Control-Allow-Origin</c> for an
    /// allowed origin, so that a page can read why it was refused.
    /// </summary>
    /// <remarks>
    /// Only requests that carry an <c>Origin</c> go through it: without one the CORS middleware does
    /// nothing a client sees, yet it still costs every request a scope of request services (its
    /// policy provider is resolved per request) and an <c>Items</c> dictionary (the mark it leaves
    /// for endpoints with CORS metadata, which none of ours has). Publishing backends send no
    /// <c>Origin</c>; pages always do, preflights included.
    /// </remarks>
    public static IApplicationBuilder UseCrossOrigin(this IApplicationBuilder app) =>
        app.UseWhen(static context => context.Request.Headers.ContainsKey(HeaderNames.Origin), static cors => cors.UseCors());

    private static void Build(CorsPolicyBuilder policy, OriginPolicy origins)
    {
        // Credentials are never allowed (no AllowCredentials): tokens travel in headers, never in
        // cookies, so a page needs none, and "*" stays usable for the open default.
        if (origins.AllowsEveryOrigin)
        {
            policy.AllowAnyOrigin();
        }
        else
        {
            // The same check as the upgrade's, rather than WithOrigins: one list, one comparison. A
            // check of its own also makes the answers say "Vary: Origin", which WithOrigins leaves out
            // for a list of one, and without which a cache could hand one page's answer to another.
            policy.SetIsOriginAllowed(origins.Allows);
        }

        policy.WithHeaders(AllowedHeaders)
            .WithMethods(AllowedMethods)
            .WithExposedHeaders(ExposedHeaders)
            .SetPreflightMaxAge(TimeSpan.FromSeconds(PreflightMaxAgeSeconds));
    }
}
