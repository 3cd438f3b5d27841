using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Gateway.Http;

/// <summary>
/// A file embedded in the gateway binary (the browser client, the dashboard), read once and served
/// with a strong ETag from a hash of its bytes: the same tag on every node of a version, and a
/// bodiless 304 to a browser that revalidates an unchanged copy.
/// </summary>
internal sealed class EmbeddedFile
{
    private readonly byte[] _bytes;
    private readonly string _contentType;
    private readonly string _cacheControl;
    private readonly EntityTagHeaderValue _etag;
    private readonly KeyValuePair<string, string>[] _headers;

    private EmbeddedFile(byte[] bytes, string contentType, string cacheControl, EntityTagHeaderValue etag, KeyValuePair<string, string>[] headers)
    {
        _bytes = bytes;
        _contentType = contentType;
        _cacheControl = cacheControl;
        _etag = etag;
        _headers = headers;
    }

    /// <summary>The strong ETag, quotes included.</summary>
    public string ETag => _etag.ToString();

    /// <summary>
    /// Reads the embedded resource <paramref name="resource"/>; a missing one is a broken build and
    /// fails at once. <paramref name="headers"/> are set on every answer (a page's Content-Security-Policy).
    /// </summary>
    public static EmbeddedFile Load(string resource, string contentType, string cacheControl, KeyValuePair<string, string>[]? headers = null)
    {
        using Stream stream = typeof(EmbeddedFile).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the embedded resource {resource} is missing from the build");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        byte[] bytes = copy.ToArray();

        // 16 bytes of SHA-256 name the content well enough for a cache, in a short header.
        string hash = Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 16));
        return new EmbeddedFile(bytes, contentType, cacheControl, new EntityTagHeaderValue($"\"{hash}\""), headers ?? []);
    }

    /// <summary>GET or HEAD: the file, or 304 when <c>If-None-Match</c> names it.</summary>
    public IResult Serve(HttpContext http)
    {
        IHeaderDictionary headers = http.Response.Headers;
        headers.CacheControl = _cacheControl;
        headers.ETag = ETag;
        headers.XContentTypeOptions = "nosniff";
        foreach (KeyValuePair<string, string> header in _headers)
        {
            headers[header.Key] = header.Value;
        }

        if (Matches(http.Request.Headers.IfNoneMatch))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return HttpMethods.IsHead(http.Request.Method)
            ? new HeadResult(_contentType, _bytes.Length)
            : Results.Bytes(_bytes, _contentType);
    }

    /// <summary>If-None-Match uses the weak comparison (RFC 9110 section 13.1.2): a W/ tag of the same value matches too.</summary>
    private bool Matches(Microsoft.Extensions.Primitives.StringValues ifNoneMatch)
    {
        if (ifNoneMatch.Count == 0 || !EntityTagHeaderValue.TryParseList(ifNoneMatch, out IList<EntityTagHeaderValue>? tags))
        {
            return false;
        }

        return tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(_etag, useStrongComparison: false));
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
