using Gateway.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Gateway.Security;

/// <summary>The outcome of checking a request's credentials.</summary>
/// <param name="Principal">Who the caller is, when the check passed.</param>
/// <param name="Reason">A short label for metrics and logs (<c>missing_credentials</c>, <c>invalid_token</c>, ...).</param>
/// <param name="Message">What was wrong, for the caller; never contains the credential.</param>
internal readonly record struct AuthResult(GatewayPrincipal? Principal, string Reason, string Message)
{
    public static AuthResult Pass(GatewayPrincipal principal) => new(principal, string.Empty, string.Empty);

    public static AuthResult Fail(string reason, string message) => new(null, reason, message);

    /// <summary>True when the request carried no credential at all (as opposed to a bad one).</summary>
    public bool IsMissing => Reason == MissingReason;

    public const string MissingReason = "missing_credentials";
}

/// <summary>
/// Finds and checks a request's credential: <c>X-Api-Key</c>, <c>?ticket=</c>,
/// <c>Authorization: Bearer</c>, or <c>?token=</c>, in that order. With <c>Auth:Mode none</c>
/// every request passes as <see cref="GatewayPrincipal.Anonymous"/>.
/// </summary>
internal sealed class Authenticator(IOptions<AuthOptions> options, TokenValidator tokens, ApiKeys keys, TicketStore tickets)
{
    private readonly bool _enabled = options.Value.IsJwt;

    public bool Enabled => _enabled;

    public bool FirstMessageAllowed { get; } = options.Value.IsJwt && options.Value.FirstMessage;

    public async ValueTask<AuthResult> AuthenticateAsync(HttpContext http)
    {
        if (!_enabled)
        {
            return AuthResult.Pass(GatewayPrincipal.Anonymous);
        }

        string? key = http.Request.Headers["X-Api-Key"];
        if (!string.IsNullOrEmpty(key))
        {
            return keys.Find(key) is { } keyed ? AuthResult.Pass(keyed) : AuthResult.Fail("invalid_api_key", "the X-Api-Key is not one of this gateway's keys");
        }

        string? ticket = http.Request.Query["ticket"];
        if (!string.IsNullOrEmpty(ticket))
        {
            return tickets.Redeem(ticket) is { } ticketed
                ? AuthResult.Pass(ticketed)
                : AuthResult.Fail("invalid_ticket", "the ticket is unknown, expired or already used; get a new one from POST /api/tickets");
        }

        string? token = BearerToken(http) ?? http.Request.Query["token"];
        if (string.IsNullOrEmpty(token))
        {
            return AuthResult.Fail(AuthResult.MissingReason,
                "credentials required: a JWT in ?token= or Authorization: Bearer, a ticket in ?ticket=, or an X-Api-Key");
        }

        return await ValidateTokenAsync(token);
    }

    /// <summary>Checks a token presented in an <c>auth</c> message.</summary>
    public async ValueTask<AuthResult> ValidateTokenAsync(string token)
    {
        (GatewayPrincipal? principal, string? failure) = await tokens.ValidateAsync(token);
        return principal is not null ? AuthResult.Pass(principal) : AuthResult.Fail("invalid_token", failure!);
    }

    private static string? BearerToken(HttpContext http)
    {
        string? header = http.Request.Headers[HeaderNames.Authorization];
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }
}
