using Gateway.Protocol.Messages;

namespace Gateway.Sessions;

/// <summary>
/// An accepted event: its seq, its time, and the one WebSocket frame that carries it to every
/// recipient. Immutable once created, so that history, state and every send queue share it.
/// </summary>
internal sealed class SessionEvent(string session, string name, long seq, DateTimeOffset timestamp, ReadOnlyMemory<byte> data, byte[] frame, JsonScalar? id, bool final)
{
    public string Session { get; } = session;

    public string Name { get; } = name;

    public long Seq { get; } = seq;

    /// <summary>When the gateway accepted it, to the millisecond (as sent in <c>ts</c>).</summary>
    public DateTimeOffset Timestamp { get; } = timestamp;

    /// <summary>The data as published, compact JSON.</summary>
    public ReadOnlyMemory<byte> Data { get; } = data;

    /// <summary>The complete <c>event</c> text frame, serialized once.</summary>
    public byte[] Frame { get; } = frame;

    /// <summary>The publisher's idempotency key, when it gave one.</summary>
    public JsonScalar? Id { get; } = id;

    /// <summary>True when this event completed its session.</summary>
    public bool Final { get; } = final;

    public StateEntry ToStateEntry() => new(Name, Seq, Timestamp, Data);
}
