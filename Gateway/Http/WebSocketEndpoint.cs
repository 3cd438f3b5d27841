using Gateway.Connections;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Gateway.Http;

/// <summary>
/// <c>GET /ws/{session}</c>: checks the request, refuses with plain HTTP before the upgrade when
/// anything is wrong (spec section 2), performs the RFC 6455 handshake itself, and hands the raw
/// upgraded stream to a <see cref="GatewayConnection"/>.
/// </summary>
internal static partial class WebSocketEndpoint
{
    public static void MapWebSocketEndpoint(this IEndpointRouteBuilder app) =>
        app.MapGet("/ws/{session}", HandleAsync);

    private static async Task HandleAsync(HttpContext http, string session, ConnectionEnvironment env, GatewayLifecycle lifecycle, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger("Gateway.Http.WebSocket");
        if (lifecycle.IsDraining)
        {
            http.Response.Headers.RetryAfter = "1";
            await RefuseAsync(http, env, logger, StatusCodes.Status503ServiceUnavailable, "draining",
                "the gateway is shutting down; reconnect in a moment");
            return;
        }

        if (!Names.IsValidSessionName(session))
        {
            await RefuseAsync(http, env, logger, StatusCodes.Status400BadRequest, "bad_session",
                $"invalid session name: use 1-{Names.MaxSessionNameLength} characters from {Names.AllowedCharacters}");
            return;
        }

        if (!EventFilter.TryParseQuery(http.Request.Query["events"], out EventFilter filter, out string? filterError))
        {
            await RefuseAsync(http, env, logger, StatusCodes.Status400BadRequest, "bad_parameter", filterError!);
            return;
        }

        if (!QueryParameters.TryParseSeq(http.Request.Query["since"], "since", out long? since, out string? sinceError))
        {
            await RefuseAsync(http, env, logger, StatusCodes.Status400BadRequest, "bad_parameter", sinceError!);
            return;
        }

        IHttpUpgradeFeature? upgrade = http.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest
            || !string.Equals(http.Request.Headers.Upgrade, "websocket", StringComparison.OrdinalIgnoreCase))
        {
            await RefuseAsync(http, env, logger, StatusCodes.Status400BadRequest, "not_websocket",
                $"this endpoint speaks WebSocket: connect with a WebSocket client (ws://{http.Request.Host}/ws/{session}); to poll over plain HTTP, GET /api/sessions/{session}");
            return;
        }

        if (http.Request.Headers.SecWebSocketVersion != WebSocketHandshake.Version)
        {
            http.Response.Headers.SecWebSocketVersion = WebSocketHandshake.Version;
            await RefuseAsync(http, env, logger, StatusCodes.Status426UpgradeRequired, "bad_version",
                "unsupported Sec-WebSocket-Version: this gateway speaks version 13 (RFC 6455)");
            return;
        }

        string? key = http.Request.Headers.SecWebSocketKey;
        if (!WebSocketHandshake.IsValidKey(key))
        {
            await RefuseAsync(http, env, logger, StatusCodes.Status400BadRequest, "bad_handshake",
                "missing or invalid Sec-WebSocket-Key: it must be base64 of 16 bytes");
            return;
        }

        http.Response.Headers[HeaderNames.Upgrade] = "websocket";
        http.Response.Headers.SecWebSocketAccept = WebSocketHandshake.ComputeAccept(key!);
        if (WebSocketHandshake.OffersSubProtocol(http.Request.Headers.SecWebSocketProtocol))
        {
            http.Response.Headers.SecWebSocketProtocol = WebSocketHandshake.SubProtocol;
        }

        Stream transport = await upgrade.UpgradeAsync();
        var connection = new GatewayConnection(env, http, transport, session, filter, since);
        await connection.RunAsync();
    }

    private static Task RefuseAsync(HttpContext http, ConnectionEnvironment env, ILogger logger, int status, string reason, string message)
    {
        env.Metrics.ConnectionRefused(reason);
        Log.Refused(logger, http.Connection.RemoteIpAddress?.ToString() ?? "unknown", status, reason, message);
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(message + "\n");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Upgrade from {RemoteAddress} refused with {Status} ({Reason}): {Message}")]
        public static partial void Refused(ILogger logger, string remoteAddress, int status, string reason, string message);
    }
}
