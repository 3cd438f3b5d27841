using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Peers.SignalR;

// SignalR as its documentation shows it: a hub whose clients join the group of their session,
// and an HTTP endpoint that sends to that group through IHubContext.

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseUrls($"http://127.0.0.1:{builder.Configuration.GetValue("port", 5000)}");

// The JSON hub protocol is the only one registered without extra packages.
builder.Services.AddSignalR(options =>
{
    options.KeepAliveInterval = TimeSpan.FromSeconds(15);
    options.ClientTimeoutInterval = TimeSpan.FromSeconds(60);
});
builder.Services.AddSingleton<ConnectionCount>();

WebApplication app = builder.Build();
app.MapHub<EventHub>("/hub", hub => hub.Transports = HttpTransportType.WebSockets);

app.MapPost("/api/sessions/{session}/events", async (string session, PublishBody body, IHubContext<EventHub> hub) =>
{
    // The data goes out as the JsonElement it arrived as, so the record carries it verbatim.
    await hub.Clients.Group(session).SendAsync("event", body.Data);
    return Results.Json(new { published = true }, statusCode: StatusCodes.Status202Accepted);
});

app.MapGet("/stats", (ConnectionCount connections) => new
{
    heapBytes = GC.GetTotalMemory(forceFullCollection: true),
    connections = connections.Value,
});

app.Run();

/// <summary>The publish body of the contract: <c>{"event":"...","data":{...}}</c>.</summary>
internal sealed record PublishBody(string Event, JsonElement Data);
