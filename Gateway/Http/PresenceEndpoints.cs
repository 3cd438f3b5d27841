using Gateway.Hub;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;

namespace Gateway.Http;

/// <summary><c>GET /api/sessions/{session}/presence</c>: who is connected to a session (spec section 17), authorized like watching it.</summary>
internal static class PresenceEndpoints
{
    private const string Endpoint = "sessions";

    public static void MapPresenceEndpoints(this IEndpointRouteBuilder app) =>
        app.MapGet("/api/sessions/{session}/presence", GetAsync).WithMetadata(new RefusalEndpoint(Endpoint));

    /// <summary>The <c>presence</c> reply of the WebSocket, as a client that sends <c>presence</c> gets it (without an id).</summary>
    public static PresenceReply Reply(JsonScalar? id, string session, PresenceView? view) =>
        view is null
            ? new PresenceReply(id, session, 0, 0, [])
            : new PresenceReply(id, session, view.Clients, view.Users, view.Listed.Select(m => m.ToEntry()).ToArray());

    /// <summary>What a client or caller is told while presence is off on the whole gateway.</summary>
    public const string DisabledMessage = "presence is off on this gateway (Gateway:Presence:Enabled is false); the session's client count is in status and GET /api/sessions/{session}";

    /// <summary>What a client or caller is told while presence is off for a session: naming its profile when that is what turned it off.</summary>
    public static string Disabled(SessionSettings settings) =>
        settings.Profile is null || settings.PresenceKey == PresenceSettingKey
            ? DisabledMessage
            : $"presence is off for this session ({settings.PresenceKey} is false, for the sessions that profile matches); the session's client count is in status and GET /api/sessions/{{session}}";

    private const string PresenceSettingKey = Configuration.PresenceOptions.Section + ":" + nameof(Configuration.PresenceOptions.Enabled);

    private static async Task<IResult> GetAsync(HttpContext http, string session, SessionHub hub, Authenticator authenticator, Refusals refusals)
    {
        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckSessionAsync(http, authenticator, refusals, Endpoint, Right.Watch, session);
        if (principal is null)
        {
            return refusal!;
        }

        if (hub.SettingsFor(session) is { Presence: false } settings)
        {
            return refusals.Problem(http, Endpoint, StatusCodes.Status403Forbidden, "presence_disabled", Disabled(settings));
        }

        if (await hub.GetPresenceAsync(session, http.RequestAborted) is not { } view)
        {
            return Problems.Result(StatusCodes.Status404NotFound,
                $"no session named '{session}': a session exists from its first publish or connection until it has been idle for Gateway:Sessions:IdleTimeout");
        }

        return Results.Bytes(ServerFrames.CreateJson(Reply(null, session, view)), "application/json; charset=utf-8");
    }
}
