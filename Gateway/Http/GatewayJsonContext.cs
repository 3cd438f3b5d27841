using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Http;

/// <summary><c>202</c> for a single publish.</summary>
internal sealed record PublishAccepted(long Seq);

/// <summary><c>202</c> for a batch publish: one seq per event, in order.</summary>
internal sealed record BatchPublishAccepted(long[] Seqs);

/// <summary>A row of <c>GET /api/sessions</c>.</summary>
internal sealed record SessionListItem(string Session, long Seq, int Clients, string? LastEventAt);

/// <summary>An RFC 9457 problem: what was wrong, in <see cref="Detail"/>.</summary>
internal sealed record Problem(string Type, string Title, int Status, string Detail);

/// <summary>The body of <c>/healthz</c> and <c>/readyz</c>.</summary>
internal sealed record HealthStatus(string Status);

/// <summary>
/// Source-generated JSON for the HTTP API's bodies. Use <see cref="Relaxed"/>: it escapes only what
/// JSON requires, so that quotes in error details read as <c>\"</c>, as on the WebSocket.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(PublishAccepted))]
[JsonSerializable(typeof(BatchPublishAccepted))]
[JsonSerializable(typeof(SessionListItem[]))]
[JsonSerializable(typeof(Problem))]
[JsonSerializable(typeof(HealthStatus))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext
{
    public static GatewayJsonContext Relaxed { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
