using Gateway.Backplane;

namespace Gateway.Http;

/// <summary>
/// Any HTTP request that needed Redis while it was unreachable is answered 503 with
/// <c>Retry-After</c>, in one place, rather than by each endpoint (spec section 7; docs/scaling.md).
/// </summary>
internal static class BackplaneFailures
{
    public static void UseBackplaneUnavailable(this IApplicationBuilder app) => app.Use(static async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (BackplaneUnavailableException e) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            context.Response.Headers.RetryAfter = "1";
            await Problems.Result(StatusCodes.Status503ServiceUnavailable, $"the session store did not answer ({e.Message}); retry").ExecuteAsync(context);
        }
    });
}
