using Gateway.Diagnostics;

namespace Gateway.Http;

/// <summary>
/// Route metadata: the name under which an endpoint's refusals are counted and logged, for the
/// refusals made outside it (<see cref="RequestFailures"/>).
/// </summary>
internal sealed record RefusalEndpoint(string Name);

/// <summary>
/// Every refusal is counted and logged once, with its reason and never with the credential
/// (spec section 6): connections (<c>ws</c>, <c>stream</c>) in <c>gateway.connections.refused</c>,
/// API requests in <c>gateway.requests.refused</c>.
/// </summary>
internal sealed partial class Refusals(GatewayMetrics metrics, ILogger<Refusals> logger)
{
    public const string WebSocket = "ws";
    public const string Stream = "stream";

    public void Record(HttpContext http, string endpoint, int status, string reason, string message)
    {
        if (endpoint is WebSocket or Stream)
        {
            metrics.ConnectionRefused(reason);
        }
        else
        {
            metrics.RequestRefused(endpoint, reason);
        }

        Log.Refused(logger, endpoint, http.Connection.RemoteIpAddress?.ToString() ?? "unknown", status, reason, message);
    }

    /// <summary>Records the refusal and returns it as problem+json; 401s carry <c>WWW-Authenticate: Bearer</c>.</summary>
    public IResult Problem(HttpContext http, string endpoint, int status, string reason, string message)
    {
        Record(http, endpoint, status, reason, message);
        if (status == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return Problems.Result(status, message);
    }

    public static readonly string InvalidSessionNameMessage =
        $"invalid session name: use 1-{Protocol.Names.MaxSessionNameLength} characters from {Protocol.Names.AllowedCharacters}";

    public IResult InvalidSessionName(HttpContext http, string endpoint) =>
        Problem(http, endpoint, StatusCodes.Status400BadRequest, "bad_session", InvalidSessionNameMessage);

    private static partial class Log
    {
        [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Refused {Endpoint} from {RemoteAddress} with {Status} ({Reason}): {Message}")]
        public static partial void Refused(ILogger logger, string endpoint, string remoteAddress, int status, string reason, string message);
    }
}
