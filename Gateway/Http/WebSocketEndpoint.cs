using Gateway.Backplane;
using Gateway.Connections;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Gateway.Security;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Net.Http.Headers;

namespace Gateway.Http;

/// <summary>
/// <c>GET /ws/{session}</c>: checks the request, refuses with plain HTTP before the upgrade when
/// anything is wrong (spec sections 2 and 6), performs the RFC 6455 handshake itself, and hands
/// the raw upgraded stream to a <see cref="GatewayConnection"/>.
/// </summary>
internal static class WebSocketEndpoint
{
    public static void MapWebSocketEndpoint(this IEndpointRouteBuilder app) =>
        app.MapGet("/ws/{session}", HandleAsync);

    private static async Task HandleAsync(
        HttpContext http, string session, ConnectionEnvironment env, Authenticator authenticator,
        OriginPolicy origins, ConnectionLimiter limiter, Refusals refusals)
    {
        if (env.Lifecycle.IsDraining)
        {
            http.Response.Headers.RetryAfter = "1";
            await RefuseAsync(http, refusals, StatusCodes.Status503ServiceUnavailable, "draining", "the gateway is shutting down; reconnect in a moment");
            return;
        }

        if (!Names.IsValidSessionName(session))
        {
            await RefuseAsync(http, refusals, StatusCodes.Status400BadRequest, "bad_session", Refusals.InvalidSessionNameMessage);
            return;
        }

        if (!EventFilter.TryParseQuery(http.Request.Query["events"], out EventFilter filter, out string? error)
            || !QueryParameters.TryParseSeq(http.Request.Query["since"], "since", out long? since, out error)
            || !QueryParameters.TryParseEpoch(http.Request.Query["epoch"], out string? epoch, out error))
        {
            await RefuseAsync(http, refusals, StatusCodes.Status400BadRequest, "bad_parameter", error!);
            return;
        }

        IHttpUpgradeFeature? upgrade = http.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest
            || !string.Equals(http.Request.Headers.Upgrade, "websocket", StringComparison.OrdinalIgnoreCase))
        {
            await RefuseAsync(http, refusals, StatusCodes.Status400BadRequest, "not_websocket",
                $"this endpoint speaks WebSocket: connect with a WebSocket client (ws://{http.Request.Host}/ws/{session}); to follow it over plain HTTP, GET /api/sessions/{session}/stream (SSE) or /api/sessions/{session}/events (polling)");
            return;
        }

        // RFC 6455 section 4.2.1: the opening handshake is an HTTP/1.1 (or later) request.
        // Kestrel would switch an HTTP/1.0 connection too, for a client that may not expect it.
        if (HttpProtocol.IsHttp10(http.Request.Protocol))
        {
            await RefuseAsync(http, refusals, StatusCodes.Status400BadRequest, "bad_handshake",
                "a WebSocket upgrade needs HTTP/1.1 or later (RFC 6455 section 4.2.1); this request came as HTTP/1.0");
            return;
        }

        if (http.Request.Headers.SecWebSocketVersion != WebSocketHandshake.Version)
        {
            http.Response.Headers.SecWebSocketVersion = WebSocketHandshake.Version;
            await RefuseAsync(http, refusals, StatusCodes.Status426UpgradeRequired, "bad_version",
                "unsupported Sec-WebSocket-Version: this gateway speaks version 13 (RFC 6455)");
            return;
        }

        string? key = http.Request.Headers.SecWebSocketKey;
        if (!WebSocketHandshake.IsValidKey(key))
        {
            await RefuseAsync(http, refusals, StatusCodes.Status400BadRequest, "bad_handshake",
                "missing or invalid Sec-WebSocket-Key: it must be base64 of 16 bytes");
            return;
        }

        if (!origins.Allows(http.Request.Headers.Origin))
        {
            await RefuseAsync(http, refusals, StatusCodes.Status403Forbidden, "origin_not_allowed",
                "this page's origin may not open WebSockets to this gateway (Gateway:Security:AllowedOrigins)");
            return;
        }

        // With first-message auth a client may come without credentials; it authenticates on the socket.
        AuthResult auth = await authenticator.AuthenticateAsync(http);
        if (auth.Principal is null && !(auth.IsMissing && authenticator.FirstMessageAllowed))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await RefuseAsync(http, refusals, StatusCodes.Status401Unauthorized, auth.Reason, auth.Message);
            return;
        }

        if (auth.Principal is { } principal && !principal.Watch.Allows(session))
        {
            await RefuseAsync(http, refusals, StatusCodes.Status403Forbidden, "not_granted",
                $"the credential does not grant session '{session}' (token claim sessions)");
            return;
        }

        if (!env.Backplane.IsAvailable)
        {
            http.Response.Headers.RetryAfter = "1";
            await RefuseAsync(http, refusals, StatusCodes.Status503ServiceUnavailable, "backplane_unavailable",
                "this gateway node cannot reach its session store (Redis) just now; retry, or connect to another node");
            return;
        }

        if (!env.Backplane.CanAdmit(session))
        {
            http.Response.Headers.RetryAfter = "5";
            await RefuseAsync(http, refusals, StatusCodes.Status503ServiceUnavailable, "max_sessions",
                "this gateway holds as many sessions as it may (Gateway:Sessions:MaxSessions); retry later");
            return;
        }

        string remote = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        using ConnectionLimiter.Slot? slot = limiter.TryAcquire(remote, session, out string? limit);
        if (slot is null)
        {
            http.Response.Headers.RetryAfter = "5";
            await RefuseAsync(http, refusals, StatusCodes.Status503ServiceUnavailable, limit!,
                $"connection limit reached ({limit}); retry later");
            return;
        }

        http.Response.Headers[HeaderNames.Upgrade] = "websocket";
        http.Response.Headers.SecWebSocketAccept = WebSocketHandshake.ComputeAccept(key!);
        if (WebSocketHandshake.OffersSubProtocol(http.Request.Headers.SecWebSocketProtocol))
        {
            http.Response.Headers.SecWebSocketProtocol = WebSocketHandshake.SubProtocol;
        }

        // The connection sets its own pace (send queue, close deadline): Kestrel's per-write data-rate
        // timing would only add cost to every frame.
        if (http.Features.Get<IHttpMinResponseDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }

        Stream transport = await upgrade.UpgradeAsync();
        var connection = new GatewayConnection(env, http, transport, session, filter, since is { } seq ? new ResumePoint(seq, epoch) : null, auth.Principal);
        await connection.RunAsync();
    }

    private static Task RefuseAsync(HttpContext http, Refusals refusals, int status, string reason, string message)
    {
        refusals.Record(http, Refusals.WebSocket, status, reason, message);
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(message + "\n");
    }
}
