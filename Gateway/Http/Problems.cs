namespace Gateway.Http;

/// <summary>Errors of the HTTP API as <c>application/problem+json</c> (RFC 9457).</summary>
internal static class Problems
{
    public const string ContentType = "application/problem+json";

    public static IResult Result(int status, string detail) =>
        Results.Json(new Problem("about:blank", Title(status), status, detail), GatewayJsonContext.Relaxed.Problem, ContentType, status);

    private static string Title(int status) => status switch
    {
        StatusCodes.Status400BadRequest => "Bad Request",
        StatusCodes.Status404NotFound => "Not Found",
        StatusCodes.Status409Conflict => "Conflict",
        StatusCodes.Status413PayloadTooLarge => "Content Too Large",
        StatusCodes.Status503ServiceUnavailable => "Service Unavailable",
        _ => "Error",
    };
}
