using Gateway.Connections;

namespace Gateway.Http;

/// <summary><c>/healthz</c> (the process answers) and <c>/readyz</c> (it takes new clients).</summary>
internal static class HealthEndpoints
{
    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Json(new HealthStatus("ok"), GatewayJsonContext.Relaxed.HealthStatus));
        app.MapGet("/readyz", (GatewayLifecycle lifecycle) => lifecycle.IsDraining
            ? Results.Json(new HealthStatus("draining"), GatewayJsonContext.Relaxed.HealthStatus, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new HealthStatus("ready"), GatewayJsonContext.Relaxed.HealthStatus));
    }
}
