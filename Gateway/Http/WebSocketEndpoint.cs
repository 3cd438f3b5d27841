using System.IO.Pipelines;
using Gateway.Connections;
using Gateway.Protocol.Framing;
using Gateway.Sessions;
using Gateway.Transport;
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

    /// <summary>Kestrel's path: an upgrade that came through the HTTP layer (the direct upgrade off, or a request after another on a keep-alive connection).</summary>
    private static async Task HandleAsync(HttpContext http, string session, ConnectionEnvironment env, Admission admission, Refusals refusals)
    {
        if (await AcceptAsync(http, session, env, admission, refusals) is not { } accepted)
        {
            return;
        }

        using Admitted slot = accepted.Admitted;

        // The connection sets its own pace (send queue, close deadline): Kestrel's per-write data-rate
        // timing would only add cost to every frame.
        if (http.Features.Get<IHttpMinResponseDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }

        Stream transport = await http.Features.GetRequiredFeature<IHttpUpgradeFeature>().UpgradeAsync();
        await accepted.CreateConnection(env, new HttpConnectionLink(http), GatewayConnection.ReaderFor(transport), transport, session).RunAsync();
    }

    /// <summary>
    /// The handshake both paths share (Kestrel's, and <see cref="Transport.DirectUpgrade"/>'s on the
    /// listener): checks the request and admits the client, or answers the refusal on
    /// <paramref name="http"/>'s response and returns null. When it lets the client in, the 101's
    /// headers are set on the response, and the caller switches protocols and runs the connection.
    /// </summary>
    public static async ValueTask<AcceptedUpgrade?> AcceptAsync(HttpContext http, string session, ConnectionEnvironment env, Admission admission, Refusals refusals)
    {
        EventFilter filter = EventFilter.All;
        long? since = null;
        string? epoch = null;
        string? key = null;
        bool presence = false;
        Refusal? TransportChecks()
        {
            if (!EventFilter.TryParseQuery(http.Request.Query["events"], out filter, out string? error)
                || !QueryParameters.TryParseSeq(http.Request.Query["since"], "since", out since, out error)
                || !QueryParameters.TryParseEpoch(http.Request.Query["epoch"], out epoch, out error)
                || !QueryParameters.TryParseFlag(http.Request.Query["presence"], "presence", out presence, out error))
            {
                return new Refusal(StatusCodes.Status400BadRequest, "bad_parameter", error!);
            }

            if (http.Features.Get<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true }
                || !string.Equals(http.Request.Headers.Upgrade, "websocket", StringComparison.OrdinalIgnoreCase))
            {
                return new Refusal(StatusCodes.Status400BadRequest, "not_websocket",
                    $"this endpoint speaks WebSocket: connect with a WebSocket client (ws://{http.Request.Host}/ws/{session}); to follow it over plain HTTP, GET /api/sessions/{session}/stream (SSE) or /api/sessions/{session}/events (polling)");
            }

            // RFC 6455 section 4.2.1: the opening handshake is an HTTP/1.1 (or later) request.
            // Kestrel would switch an HTTP/1.0 connection too, for a client that may not expect it.
            if (HttpProtocol.IsHttp10(http.Request.Protocol))
            {
                return new Refusal(StatusCodes.Status400BadRequest, "bad_handshake",
                    "a WebSocket upgrade needs HTTP/1.1 or later (RFC 6455 section 4.2.1); this request came as HTTP/1.0");
            }

            if (http.Request.Headers.SecWebSocketVersion != WebSocketHandshake.Version)
            {
                http.Response.Headers.SecWebSocketVersion = WebSocketHandshake.Version;
                return new Refusal(StatusCodes.Status426UpgradeRequired, "bad_version", "unsupported Sec-WebSocket-Version: this gateway speaks version 13 (RFC 6455)");
            }

            key = http.Request.Headers.SecWebSocketKey;
            return WebSocketHandshake.IsValidKey(key)
                ? null
                : new Refusal(StatusCodes.Status400BadRequest, "bad_handshake", "missing or invalid Sec-WebSocket-Key: it must be base64 of 16 bytes");
        }

        // With first-message auth a client may come without credentials; it authenticates on the socket.
        (Admitted? admitted, Refusal? refusal) = await admission.AdmitAsync(http, session, TransportChecks, firstMessageAuth: true, "WebSockets");
        if (admitted is null)
        {
            await RefuseAsync(http, refusals, refusal!);
            return null;
        }

        http.Response.Headers[HeaderNames.Upgrade] = "websocket";
        http.Response.Headers.SecWebSocketAccept = WebSocketHandshake.ComputeAccept(key!);
        if (WebSocketHandshake.OffersSubProtocol(http.Request.Headers.SecWebSocketProtocol))
        {
            http.Response.Headers.SecWebSocketProtocol = WebSocketHandshake.SubProtocol;
        }

        // An offer the gateway cannot honour, or a header it cannot parse, is declined, never refused:
        // the connection goes on uncompressed (RFC 7692 section 5).
        PerMessageDeflateAgreement? deflate = null;
        if (env.Compression && PerMessageDeflateNegotiation.TryNegotiate(http.Request.Headers.SecWebSocketExtensions, out PerMessageDeflateAgreement agreed))
        {
            deflate = agreed;
            http.Response.Headers.SecWebSocketExtensions = agreed.ResponseHeader;
        }

        return new AcceptedUpgrade(admitted, filter, since is { } seq ? new ResumePoint(seq, epoch) : null, deflate, presence);
    }

    /// <summary>A refusal before the upgrade, as plain text: a WebSocket client shows it as it comes (spec section 2).</summary>
    private static Task RefuseAsync(HttpContext http, Refusals refusals, Refusal refusal)
    {
        refusals.Record(http, Refusals.WebSocket, refusal.Status, refusal.Reason, refusal.Message);
        if (refusal.RetryAfter is { } seconds)
        {
            http.Response.Headers.RetryAfter = seconds;
        }

        if (refusal.Status == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }

        http.Response.StatusCode = refusal.Status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(refusal.Message + "\n");
    }
}

/// <summary>
/// A WebSocket client let in by <see cref="WebSocketEndpoint.AcceptAsync"/>: its admission (whose
/// slot the caller holds for the connection's life) and what its request asked for.
/// </summary>
internal sealed record AcceptedUpgrade(Admitted Admitted, EventFilter Filter, ResumePoint? Since, PerMessageDeflateAgreement? Deflate, bool Presence)
{
    /// <summary>The connection, once the protocol is switched, over <paramref name="input"/> and <paramref name="output"/>.</summary>
    public GatewayConnection CreateConnection(ConnectionEnvironment env, IConnectionLink link, PipeReader input, Stream output, string session) =>
        new(env, link, input, output, session, Filter, Since, Admitted.Principal, Admitted.Identity, Deflate)
        {
            WatchesPresence = Presence,
        };
}
