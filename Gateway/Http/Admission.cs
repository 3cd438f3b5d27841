using Gateway.Connections;
using Gateway.Hooks;
using Gateway.Protocol;
using Gateway.Security;

namespace Gateway.Http;

/// <summary>
/// Why a client connection is refused before it begins, for its transport to render (plain text
/// before a WebSocket upgrade, problem+json before an event stream). It is counted and logged by
/// the transport, through <see cref="Refusals"/>.
/// </summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Reason">The metric's and the log's reason (<c>draining</c>, <c>bad_session</c>, ...).</param>
/// <param name="Message">What was wrong and what is accepted, for the client.</param>
/// <param name="RetryAfter">The <c>Retry-After</c> seconds, for a refusal that passes.</param>
internal sealed record Refusal(int Status, string Reason, string Message, string? RetryAfter = null);

/// <summary>
/// A client connection let in: its principal (null until a first-message client authenticates),
/// what it says of itself to the others (its user and info), and the slot it holds.
/// </summary>
internal sealed class Admitted(GatewayPrincipal? principal, ClientIdentity identity, ConnectionLimiter.Slot slot) : IDisposable
{
    public GatewayPrincipal? Principal { get; } = principal;

    public ClientIdentity Identity { get; } = identity;

    public void Dispose() => slot.Dispose();
}

/// <summary>
/// The one admission step of every client connection, WebSocket or event stream, in one order:
/// draining, the session's name, the transport's parameters and handshake, the client's user and
/// info, origin, credentials,
/// the grant, the backend's authorize call (<c>Hooks:Authorize</c>), the session store, the
/// session limit, the connection limits. The first that fails is the refusal.
/// </summary>
internal sealed class Admission(ConnectionEnvironment env, Authenticator authenticator, OriginPolicy origins, ConnectionLimiter limiter, HookAuthorizer authorizer)
{
    /// <summary>How long a client is told to wait while this node drains: another node, or this one restarted, takes it.</summary>
    private const string DrainingRetryAfter = "1";

    /// <summary>How long a client is told to wait for room: idle sessions and connections come and go.</summary>
    private const string LimitRetryAfter = "5";

    /// <summary>
    /// Runs the checks for a client of <paramref name="session"/>. <paramref name="transportChecks"/>
    /// parses the transport's own parameters and handshake (null when they are right);
    /// <paramref name="firstMessageAuth"/> lets a client without credentials in when the gateway
    /// allows it to authenticate on the socket; <paramref name="what"/> names what the client opens,
    /// for the origin refusal.
    /// </summary>
    public async ValueTask<(Admitted? Admitted, Refusal? Refusal)> AdmitAsync(
        HttpContext http, string session, Func<Refusal?> transportChecks, bool firstMessageAuth, string what)
    {
        if (env.Lifecycle.IsDraining)
        {
            return Refuse(StatusCodes.Status503ServiceUnavailable, "draining", "the gateway is shutting down; reconnect in a moment", DrainingRetryAfter);
        }

        if (!Names.IsValidSessionName(session))
        {
            return Refuse(StatusCodes.Status400BadRequest, "bad_session", Refusals.InvalidSessionNameMessage);
        }

        if (transportChecks() is { } refusal)
        {
            return (null, refusal);
        }

        // Read whatever the auth mode, so that a malformed one is refused the same way everywhere;
        // only used when auth is off (a token says who its holder is).
        if (!ClientIdentity.TryParseQuery(http.Request.Query, out ClientIdentity claimed, out string? identityError))
        {
            return Refuse(StatusCodes.Status400BadRequest, "bad_parameter", identityError!);
        }

        if (!origins.Allows(http.Request))
        {
            return Refuse(StatusCodes.Status403Forbidden, "origin_not_allowed",
                $"this page's origin may not open {what} to this gateway (Gateway:Security:AllowedOrigins)");
        }

        AuthResult auth = await authenticator.AuthenticateAsync(http);
        if (auth.Principal is null && !(auth.IsMissing && firstMessageAuth && authenticator.FirstMessageAllowed))
        {
            return Refuse(StatusCodes.Status401Unauthorized, auth.Reason, auth.Message);
        }

        if (auth.Principal is { } principal && !principal.MayWatch(session))
        {
            return Refuse(StatusCodes.Status403Forbidden, "not_granted", $"the credential does not grant session '{session}' (token claim sessions)");
        }

        ClientIdentity identity = auth.Principal switch
        {
            { Kind: CredentialKind.Anonymous } => claimed,
            { } holder => ClientIdentity.Of(holder),
            null => ClientIdentity.None,
        };

        // Before the store's checks and the slot: a client the backend refuses costs neither.
        if (authorizer.Enabled && await authorizer.AuthorizeAsync(http, session, identity.User, auth.Principal) is { } denied)
        {
            return (null, denied);
        }

        if (!env.Hub.IsAvailable)
        {
            return Refuse(StatusCodes.Status503ServiceUnavailable, "backplane_unavailable",
                RequestFailures.OutageMessage(RedisUnreachable), RequestFailures.OutageRetryAfter);
        }

        if (!env.Hub.CanAdmit(session))
        {
            return Refuse(StatusCodes.Status503ServiceUnavailable, "max_sessions",
                "this gateway holds as many sessions as it may (Gateway:Sessions:MaxSessions); retry later", LimitRetryAfter);
        }

        ConnectionLimiter.Slot? slot = limiter.TryAcquire(http.Connection.RemoteIpAddress?.ToString() ?? "unknown", session, out string? limit);
        if (slot is null)
        {
            return Refuse(StatusCodes.Status503ServiceUnavailable, limit!, $"connection limit reached ({limit}); retry later", LimitRetryAfter);
        }

        return (new Admitted(auth.Principal, identity, slot), null);
    }

    /// <summary>What a node says while its link to Redis is down: the same words as the link's own when a call finds it down.</summary>
    private const string RedisUnreachable = "Redis is unreachable; the gateway is reconnecting";

    private static (Admitted?, Refusal?) Refuse(int status, string reason, string message, string? retryAfter = null) =>
        (null, new Refusal(status, reason, message, retryAfter));
}
