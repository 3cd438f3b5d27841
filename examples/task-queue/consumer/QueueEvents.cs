using System.Text.Json;

namespace TaskQueueConsumer;

/// <summary>The task queue's event names, and how their data is read (the workers write snake_case).</summary>
internal static class QueueEvents
{
    public const string Completed = "task_completed";
    public const string Failed = "task_failed";
    public const string Drained = "queue_drained";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };
}

/// <summary>The data of <c>task_completed</c> (with <see cref="Result"/>) and <c>task_failed</c> (with <see cref="Error"/>).</summary>
internal sealed record TaskOutcome(string Id, string Kind, string Worker, long DurationMs, string? Result, string? Error);

/// <summary>The data of <c>queue_drained</c>: what the workers counted for one run.</summary>
internal sealed record RunSummary(string Run, int Completed, int Failed, long ElapsedMs);
