using System.Text.Json.Serialization;

namespace Gateway.Client.Wire;

/// <summary>The generated reader and writer of every message the client exchanges with the gateway.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(WireMessage))]
[JsonSerializable(typeof(WireRequest))]
internal sealed partial class WireJsonContext : JsonSerializerContext;
