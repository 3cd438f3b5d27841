using System.Text.Json;
using Gateway.Protocol;
using Gateway.Security;

namespace Gateway.Http;

/// <summary>The body of <c>POST /api/tickets</c>: which sessions the ticket is for, and whether it may publish there.</summary>
internal sealed record TicketRequest(string[]? Sessions, bool Publish);

/// <summary>A minted ticket and its lifetime in seconds.</summary>
internal sealed record TicketIssued(string Ticket, int ExpiresIn);

/// <summary>
/// <c>POST /api/tickets</c> (spec section 14): a backend (with its API key) or a browser (with the
/// user's own token) exchanges a credential for a single-use ticket of a few seconds, bound to the
/// sessions it names, which a browser then puts in <c>?ticket=</c> instead of a token.
/// </summary>
internal static class TicketEndpoints
{
    private const string Endpoint = "tickets";
    private const int MaxBodyBytes = 64 * 1024;

    public static void MapTicketEndpoints(this IEndpointRouteBuilder app) => app.MapPost("/api/tickets", IssueAsync).WithMetadata(new RefusalEndpoint(Endpoint));

    private static async Task<IResult> IssueAsync(HttpContext http, Authenticator authenticator, Refusals refusals, TicketStore tickets)
    {
        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckAsync(http, authenticator, refusals, Endpoint, Right.Authenticated);
        if (principal is null)
        {
            return refusal!;
        }

        if (await RequestBodies.ReadAsync(http, MaxBodyBytes) is not { } read)
        {
            return refusals.Problem(http, Endpoint, StatusCodes.Status413PayloadTooLarge, "too_large", $"the body is larger than {MaxBodyBytes} bytes");
        }

        TicketRequest? request;
        try
        {
            request = read.Buffer.IsEmpty ? new TicketRequest(null, false) : Deserialize(read.Buffer);
        }
        catch (JsonException)
        {
            request = null;
        }
        finally
        {
            RequestBodies.Release(http, read);
        }

        if (request is null || (request.Sessions is { } named && (named.Length == 0 || !named.All(n => Names.IsValidSessionName(n)))))
        {
            return refusals.Problem(http, Endpoint, StatusCodes.Status400BadRequest, "invalid_body",
                "the body must be empty or {\"sessions\": [1 or more session names], \"publish\": true|false}");
        }

        SessionGrant watch;
        if (request.Sessions is { } sessions)
        {
            string? denied = sessions.FirstOrDefault(s => !principal.Watch.Allows(s));
            if (denied is not null)
            {
                return refusals.Problem(http, Endpoint, StatusCodes.Status403Forbidden, "not_granted", $"the credential does not grant session '{denied}'");
            }

            watch = principal.Watch.Restrict(sessions);
        }
        else if (principal.Watch == SessionGrant.All)
        {
            // A key or an all-sessions token would hand a browser everything: it must say which sessions.
            return refusals.Problem(http, Endpoint, StatusCodes.Status400BadRequest, "invalid_body",
                "this credential grants every session: name the ticket's sessions in {\"sessions\": [...]}");
        }
        else
        {
            watch = principal.Watch;
        }

        SessionGrant publish = SessionGrant.None;
        if (request.Publish)
        {
            string[] asked = request.Sessions ?? [];
            if (request.Sessions is null || asked.Any(s => !principal.Publish.Allows(s)))
            {
                return refusals.Problem(http, Endpoint, StatusCodes.Status403Forbidden, "not_granted",
                    "a publishing ticket needs named sessions that the credential may publish to");
            }

            publish = principal.Publish.Restrict(asked);
        }

        string? ticket = tickets.Issue(principal with { Watch = watch, Publish = publish, Admin = false });
        if (ticket is null)
        {
            http.Response.Headers.RetryAfter = "5";
            return refusals.Problem(http, Endpoint, StatusCodes.Status503ServiceUnavailable, "too_many_tickets",
                $"{TicketStore.MaxOutstanding} tickets are outstanding; retry when they have been used or expired");
        }

        return Results.Json(new TicketIssued(ticket, (int)tickets.Lifetime.TotalSeconds), GatewayJsonContext.Relaxed.TicketIssued);
    }

    private static TicketRequest? Deserialize(System.Buffers.ReadOnlySequence<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        return JsonSerializer.Deserialize(ref reader, GatewayJsonContext.Relaxed.TicketRequest);
    }
}
