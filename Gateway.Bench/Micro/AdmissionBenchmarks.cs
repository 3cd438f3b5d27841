using System.Net;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Connections;
using Gateway.Http;
using Gateway.Protocol.Framing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Bench.Micro;

/// <summary>
/// The checks a WebSocket upgrade passes before it is accepted, on the request a browser sends:
/// the handshake's helpers one by one, and the whole admission step (<see cref="Admission.AdmitAsync"/>)
/// with auth off, with a JWT in <c>?token=</c> (what a browser can send), and with an
/// <c>X-Api-Key</c> (a server-side client).
/// </summary>
/// <remarks>
/// <para>
/// <see cref="NewRequest"/> is the baseline: it builds the <see cref="DefaultHttpContext"/> of a
/// browser's upgrade request (a dozen headers, Chrome's), which each admission benchmark builds
/// too, so that the query and headers are parsed afresh each time as they are for a real request.
/// Subtract it to get admission alone.
/// </para>
/// <para>
/// An admission here runs the endpoint's transport checks as <c>WebSocketEndpoint</c> does (the
/// query's <c>events</c>, <c>since</c>, <c>epoch</c> and <c>presence</c>, the version and the key)
/// but not its look at Kestrel's upgrade feature, which a <see cref="DefaultHttpContext"/> has not;
/// then draining, the session's name, the client's identity, origin, credentials, the session
/// store's checks and the connection limits; the slot it takes is given back at once. Not
/// included: Kestrel's parsing of the request, routing, the 101 response and the upgrade itself.
/// The gateway's services come from the real host (<see cref="GatewayHost.Build"/>, not started).
/// </para>
/// </remarks>
[MemoryDiagnoser]
[MicroJob]
public class AdmissionBenchmarks
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";
    private const string SigningKey = "micro-benchmark-signing-key-of-at-least-32-bytes";
    private const string ApiKey = "micro-benchmark-api-key-0123456789";
    private const string BrowserOffer = "permessage-deflate; client_max_window_bits";

    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.10");

    private readonly string[] _offer = [BrowserOffer];
    private WebApplication _host = null!;
    private Admission _admission = null!;
    private string _token = string.Empty;

    /// <summary>The auth mode: none, a JWT in the query, an API key header.</summary>
    [Params("none", "jwt", "api-key")]
    public string Auth { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Gateway:Limits:MaxConnections"] = "1000",
            ["Gateway:Security:AllowedOrigins:0"] = "http://127.0.0.1:8080",
        };
        if (Auth != "none")
        {
            settings["Gateway:Auth:Mode"] = "jwt";
            settings["Gateway:Auth:SigningKey"] = SigningKey;
            settings["Gateway:Auth:ApiKeys:0"] = ApiKey;
        }

        _host = GatewayHost.Build([], settings);
        _admission = _host.Services.GetRequiredService<Admission>();
        _token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object> { ["sub"] = "user-1", ["sessions"] = new[] { "bench" } },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(SigningKey)), SecurityAlgorithms.HmacSha256),
        });

        // Admitted, not refused: a refusal would measure a shorter path.
        HttpContext http = NewRequest();
        (Admitted? admitted, Refusal? refusal) = _admission.AdmitAsync(http, "bench", () => TransportChecks(http), firstMessageAuth: true, "WebSockets").AsTask().GetAwaiter().GetResult();
        if (admitted is null)
        {
            throw new InvalidOperationException($"the benchmark's request was refused: {refusal!.Status} {refusal.Reason}: {refusal.Message}");
        }

        admitted.Dispose();
    }

    [GlobalCleanup]
    public void Cleanup() => ((IDisposable)_host).Dispose();

    /// <summary>The browser's upgrade request as a context: what every admission below builds too.</summary>
    [Benchmark(Baseline = true)]
    public HttpContext NewRequest()
    {
        var http = new DefaultHttpContext();
        HttpRequest request = http.Request;
        request.Method = HttpMethods.Get;
        request.Scheme = "http";
        request.Protocol = "HTTP/1.1";
        request.Host = new HostString("127.0.0.1:8080");
        request.Path = "/ws/bench";
        request.QueryString = Auth == "jwt" ? new QueryString("?token=" + _token) : QueryString.Empty;
        IHeaderDictionary headers = request.Headers;
        headers.Connection = "Upgrade";
        headers.Pragma = "no-cache";
        headers.CacheControl = "no-cache";
        headers.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        headers.Upgrade = "websocket";
        headers.Origin = "http://127.0.0.1:8080";
        headers.SecWebSocketVersion = WebSocketHandshake.Version;
        headers.AcceptEncoding = "gzip, deflate, br, zstd";
        headers.AcceptLanguage = "en-US,en;q=0.9";
        headers.SecWebSocketKey = Key;
        headers.SecWebSocketExtensions = BrowserOffer;
        if (Auth == "api-key")
        {
            headers["X-Api-Key"] = ApiKey;
        }

        http.Connection.RemoteIpAddress = Client;
        return http;
    }

    /// <summary>The whole admission of a new request, the slot given back after.</summary>
    [Benchmark]
    public async Task<bool> Admit()
    {
        HttpContext http = NewRequest();
        (Admitted? admitted, _) = await _admission.AdmitAsync(http, "bench", () => TransportChecks(http), firstMessageAuth: true, "WebSockets");
        admitted!.Dispose();
        return true;
    }

    /// <summary><c>Sec-WebSocket-Key</c>'s check: base64 of 16 bytes.</summary>
    [Benchmark]
    public bool KeyCheck() => WebSocketHandshake.IsValidKey(Key);

    /// <summary><c>Sec-WebSocket-Accept</c>: SHA-1 of the key and RFC 6455's GUID, in base64.</summary>
    [Benchmark]
    public string Accept() => WebSocketHandshake.ComputeAccept(Key);

    /// <summary>permessage-deflate on Chrome's and Firefox's offer, <c>client_max_window_bits</c>.</summary>
    [Benchmark]
    public bool NegotiateDeflate() => PerMessageDeflateNegotiation.TryNegotiate(_offer, out _);

    /// <summary>What <c>WebSocketEndpoint</c> checks of the request before admission goes on (its upgrade feature aside).</summary>
    private static Refusal? TransportChecks(HttpContext http)
    {
        if (!EventFilter.TryParseQuery(http.Request.Query["events"], out _, out string? error)
            || !QueryParameters.TryParseSeq(http.Request.Query["since"], "since", out _, out error)
            || !QueryParameters.TryParseEpoch(http.Request.Query["epoch"], out _, out error)
            || !QueryParameters.TryParseFlag(http.Request.Query["presence"], "presence", out _, out error))
        {
            return new Refusal(StatusCodes.Status400BadRequest, "bad_parameter", error!);
        }

        if (!string.Equals(http.Request.Headers.Upgrade, "websocket", StringComparison.OrdinalIgnoreCase)
            || http.Request.Headers.SecWebSocketVersion != WebSocketHandshake.Version)
        {
            return new Refusal(StatusCodes.Status400BadRequest, "not_websocket", "not a WebSocket upgrade");
        }

        return WebSocketHandshake.IsValidKey(http.Request.Headers.SecWebSocketKey) ? null : new Refusal(StatusCodes.Status400BadRequest, "bad_handshake", "bad key");
    }
}
