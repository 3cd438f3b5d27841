using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Bench.Load;

/// <summary>
/// A command from the coordinator to a worker, one JSON line on the worker's stdin. A connect's
/// clients go to <c>host:port</c>, or, with <c>ports</c> (a server of several nodes on one host),
/// each to <c>host:ports[i]</c>, one port per path.
/// </summary>
internal sealed record WorkerCommand(
    [property: JsonPropertyName("cmd")] string Cmd,
    [property: JsonPropertyName("host")] string? Host = null,
    [property: JsonPropertyName("port")] int Port = 0,
    [property: JsonPropertyName("paths")] string[]? Paths = null,
    [property: JsonPropertyName("signalr")] bool SignalR = false,
    [property: JsonPropertyName("inFlight")] int InFlight = 128,
    [property: JsonPropertyName("count")] int Count = 0,
    [property: JsonPropertyName("receiveBuffer")] int ReceiveBuffer = 0,
    [property: JsonPropertyName("ports")] int[]? Ports = null,
    [property: JsonPropertyName("deflate")] bool Deflate = false);

/// <summary>A worker's answer or progress, one JSON line on its stdout.</summary>
internal sealed record WorkerReport(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("connected")] int Connected = 0,
    [property: JsonPropertyName("failed")] int Failed = 0,
    [property: JsonPropertyName("firstError")] string? FirstError = null,
    [property: JsonPropertyName("seconds")] double Seconds = 0,
    [property: JsonPropertyName("received")] long Received = 0,
    [property: JsonPropertyName("bytes")] long Bytes = 0,
    [property: JsonPropertyName("conflated")] long Conflated = 0,
    [property: JsonPropertyName("closed")] int Closed = 0,
    [property: JsonPropertyName("closeCodes")] Dictionary<string, int>? CloseCodes = null,
    [property: JsonPropertyName("closedAfter")] double[]? ClosedAfter = null,
    [property: JsonPropertyName("histogram")] List<long[]>? Histogram = null,
    [property: JsonPropertyName("cpuSeconds")] double CpuSeconds = 0);

[JsonSerializable(typeof(WorkerCommand))]
[JsonSerializable(typeof(WorkerReport))]
internal sealed partial class WorkerJson : JsonSerializerContext
{
    public static string Write(WorkerCommand command) => JsonSerializer.Serialize(command, Default.WorkerCommand);

    public static string Write(WorkerReport report) => JsonSerializer.Serialize(report, Default.WorkerReport);
}
