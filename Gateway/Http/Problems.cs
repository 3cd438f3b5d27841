using Microsoft.AspNetCore.WebUtilities;

namespace Gateway.Http;

/// <summary>Errors of the HTTP API as <c>application/problem+json</c> (RFC 9457).</summary>
internal static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <summary>A problem whose title is the status's reason phrase and whose detail says what was wrong.</summary>
    public static IResult Result(int status, string detail) =>
        Results.Json(new Problem("about:blank", Title(status), status, detail), GatewayJsonContext.Relaxed.Problem, ContentType, status);

    // RFC 9457 section 4.2: with type about:blank, the title is the status's reason phrase.
    private static string Title(int status) => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";
}
