namespace Gateway.Http;

/// <summary>
/// <c>GET /client.js</c> and <c>GET /client.d.ts</c> (spec section 15): the browser client and its
/// TypeScript declarations, embedded in the gateway so that a page loads the client that speaks
/// this gateway's protocol, from the gateway itself.
/// </summary>
internal static class ClientScriptEndpoints
{
    /// <summary>
    /// Five minutes of freshness, then a revalidation that costs a 304: a page load does not wait on
    /// the gateway for a module that changes only with the gateway, and a gateway upgrade reaches
    /// every page within five minutes (the ETag changes with the bytes).
    /// </summary>
    public const string CacheControl = "public, max-age=300";

    private static readonly EmbeddedFile Script = EmbeddedFile.Load("Gateway.Client.client.js", "text/javascript; charset=utf-8", CacheControl);

    // No MIME type is registered for TypeScript; this is the one TypeScript tooling and Deno use.
    private static readonly EmbeddedFile Declarations = EmbeddedFile.Load("Gateway.Client.client.d.ts", "application/typescript; charset=utf-8", CacheControl);

    public static void MapClientScriptEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/client.js", [HttpMethods.Get, HttpMethods.Head], (HttpContext http) => Script.Serve(http));
        app.MapMethods("/client.d.ts", [HttpMethods.Get, HttpMethods.Head], (HttpContext http) => Declarations.Serve(http));
    }
}
