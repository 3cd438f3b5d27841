using Gateway.Protocol;
using Gateway.Security;

namespace Gateway.Http;

/// <summary>What a caller must be allowed to do, for <see cref="Access.CheckAsync"/>.</summary>
internal enum Right
{
    /// <summary>Connect to, stream or poll the session, or read its state.</summary>
    Watch,

    /// <summary>Publish to the session.</summary>
    Publish,

    /// <summary>List or delete sessions.</summary>
    Admin,

    /// <summary>Any valid credential (minting a ticket restricts it further).</summary>
    Authenticated,
}

/// <summary>The credential check the HTTP endpoints share: 401 without a valid credential, 403 without the right.</summary>
internal static class Access
{
    /// <summary>
    /// For an endpoint of one session: its name first (400 when it is not a session name), then
    /// the credential and its <paramref name="right"/> to that session, as <see cref="CheckAsync"/>.
    /// </summary>
    public static async ValueTask<(GatewayPrincipal? Principal, IResult? Refusal)> CheckSessionAsync(
        HttpContext http, Authenticator authenticator, Refusals refusals, string endpoint, Right right, string session)
    {
        if (!Names.IsValidSessionName(session))
        {
            return (null, refusals.InvalidSessionName(http, endpoint));
        }

        return await CheckAsync(http, authenticator, refusals, endpoint, right, session);
    }

    public static async ValueTask<(GatewayPrincipal? Principal, IResult? Refusal)> CheckAsync(
        HttpContext http, Authenticator authenticator, Refusals refusals, string endpoint, Right right, string? session = null)
    {
        AuthResult result = await authenticator.AuthenticateAsync(http);
        if (result.Principal is not { } principal)
        {
            return (null, refusals.Problem(http, endpoint, StatusCodes.Status401Unauthorized, result.Reason, result.Message));
        }

        bool allowed = right switch
        {
            Right.Watch => principal.MayWatch(session!),
            Right.Publish => principal.Publish.Allows(session!),
            Right.Admin => principal.Admin,
            _ => true,
        };
        if (allowed)
        {
            return (principal, null);
        }

        string message = right switch
        {
            Right.Watch => $"the credential does not grant session '{session}' (token claim sessions)",
            Right.Publish => $"the credential does not grant publishing to session '{session}' (token claim publish, or an X-Api-Key)",
            _ => "listing and deleting sessions need an admin token (claim admin: true) or an X-Api-Key",
        };
        return (null, refusals.Problem(http, endpoint, StatusCodes.Status403Forbidden, "not_granted", message));
    }
}
