using Gateway.Connections;
using Gateway.Hub;

namespace Gateway.Http;

/// <summary>
/// <c>/healthz</c> (the process answers) and <c>/readyz</c> (it takes new clients: not while it
/// drains, nor while its Redis backplane is unreachable).
/// </summary>
internal static class HealthEndpoints
{
    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Json(new HealthStatus("ok"), GatewayJsonContext.Relaxed.HealthStatus));
        app.MapGet("/readyz", (GatewayLifecycle lifecycle, SessionHub hub) =>
            lifecycle.IsDraining ? NotReady("draining")
            : !hub.IsAvailable ? NotReady("backplane_unavailable")
            : Results.Json(new HealthStatus("ready"), GatewayJsonContext.Relaxed.HealthStatus));
    }

    private static IResult NotReady(string status) =>
        Results.Json(new HealthStatus(status), GatewayJsonContext.Relaxed.HealthStatus, statusCode: StatusCodes.Status503ServiceUnavailable);
}
