using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

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

    private static readonly ClientFile Script = ClientFile.Load("Gateway.Client.client.js", "text/javascript; charset=utf-8");

    // No MIME type is registered for TypeScript; this is the one TypeScript tooling and Deno use.
    private static readonly ClientFile Declarations = ClientFile.Load("Gateway.Client.client.d.ts", "application/typescript; charset=utf-8");

    public static void MapClientScriptEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/client.js", [HttpMethods.Get, HttpMethods.Head], (HttpContext http) => Script.Serve(http));
        app.MapMethods("/client.d.ts", [HttpMethods.Get, HttpMethods.Head], (HttpContext http) => Declarations.Serve(http));
    }

    /// <summary>One embedded file, read once, with a strong ETag from a hash of its bytes.</summary>
    private sealed class ClientFile(byte[] bytes, string contentType, EntityTagHeaderValue etag)
    {
        public static ClientFile Load(string resource, string contentType)
        {
            using Stream stream = typeof(ClientScriptEndpoints).Assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"the embedded resource {resource} is missing from the build");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] bytes = copy.ToArray();

            // 16 bytes of SHA-256 name the content well enough for a cache, in a short header.
            string hash = Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 16));
            return new ClientFile(bytes, contentType, new EntityTagHeaderValue($"\"{hash}\""));
        }

        public IResult Serve(HttpContext http)
        {
            IHeaderDictionary headers = http.Response.Headers;
            headers.CacheControl = CacheControl;
            headers.ETag = etag.ToString();
            headers.XContentTypeOptions = "nosniff";
            if (Matches(http.Request.Headers.IfNoneMatch))
            {
                return Results.StatusCode(StatusCodes.Status304NotModified);
            }

            return HttpMethods.IsHead(http.Request.Method)
                ? new HeadResult(contentType, bytes.Length)
                : Results.Bytes(bytes, contentType);
        }

        /// <summary>If-None-Match uses the weak comparison (RFC 9110 section 13.1.2): a W/ tag of the same value matches too.</summary>
        private bool Matches(Microsoft.Extensions.Primitives.StringValues ifNoneMatch)
        {
            if (ifNoneMatch.Count == 0 || !EntityTagHeaderValue.TryParseList(ifNoneMatch, out IList<EntityTagHeaderValue>? tags))
            {
                return false;
            }

            return tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(etag, useStrongComparison: false));
        }
    }

    /// <summary>HEAD: the GET's headers, with its length, and no body.</summary>
    private sealed class HeadResult(string contentType, int length) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = contentType;
            httpContext.Response.ContentLength = length;
            return Task.CompletedTask;
        }
    }
}
