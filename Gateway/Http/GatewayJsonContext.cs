using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Http;

/// <summary><c>202</c> for a single publish; <see cref="Duplicate"/> when its id was already in history.</summary>
internal sealed record PublishAccepted(long Seq, bool Duplicate);

/// <summary>
/// <c>202</c> for a batch publish: one seq per event, in order, and the indexes of the events whose
/// id was already in history (answered with their original seq, not published again).
/// </summary>
internal sealed record BatchPublishAccepted(long[] Seqs, int[] Duplicates);

/// <summary>
/// <c>202</c> when a streamed publish (spec section 18) ends: how many events it published, the
/// seqs of the first and last (null when none), the first errors, and how many errors in all.
/// </summary>
internal sealed record IngestAccepted(int Count, long? First, long? Last, IngestError[] Errors, int ErrorCount);

/// <summary>A line a streamed publish skipped: its number, from 1, and what was wrong.</summary>
internal sealed record IngestError(long Line, string Message);

/// <summary>A row of <c>GET /api/sessions</c>.</summary>
internal sealed record SessionListItem(string Session, long Seq, int Clients, string? LastEventAt, bool Complete);

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
[JsonSerializable(typeof(IngestAccepted))]
[JsonSerializable(typeof(SessionListItem[]))]
[JsonSerializable(typeof(Problem))]
[JsonSerializable(typeof(HealthStatus))]
[JsonSerializable(typeof(TicketRequest))]
[JsonSerializable(typeof(TicketIssued))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext
{
    public static GatewayJsonContext Relaxed { get; } = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
