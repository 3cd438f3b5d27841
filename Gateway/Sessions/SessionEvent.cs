using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;

namespace Gateway.Sessions;

/// <summary>
/// An accepted event: its seq, its time, and the one WebSocket frame that carries it to every
/// recipient. Immutable once created, so that every send queue shares it. The memory log keeps a
/// copy of its bytes rather than the object (Log.HeldEvent), and makes one again for a replay.
/// </summary>
internal sealed class SessionEvent(string session, string name, long seq, DateTimeOffset timestamp, ReadOnlyMemory<byte> data, byte[] frame, JsonScalar? id, bool final, long publishedAt = 0, EventOrigin? from = null, EventTraits traits = default)
{
    private byte[]? _deflatedFrame;
    private Lock? _deflateGate;
    private ServerSentEventFrame? _serverSentEvent;
    private ServerSentEventFrame? _namedServerSentEvent;

    public string Session { get; } = session;

    public string Name { get; } = name;

    public long Seq { get; } = seq;

    /// <summary>When the gateway accepted it, to the millisecond (as sent in <c>ts</c>).</summary>
    public DateTimeOffset Timestamp { get; } = timestamp;

    /// <summary>The data as published, compact JSON; in the memory log, a slice of <see cref="Frame"/>.</summary>
    public ReadOnlyMemory<byte> Data { get; } = data;

    /// <summary>True when <see cref="Data"/> is a slice of <see cref="Frame"/>, not bytes of its own.</summary>
    public bool DataInFrame => MemoryMarshal.TryGetArray(Data, out ArraySegment<byte> held) && ReferenceEquals(held.Array, Frame);

    /// <summary>The complete <c>event</c> text frame, serialized once.</summary>
    public byte[] Frame { get; } = frame;

    /// <summary>The <c>event</c> object's JSON: the frame's payload.</summary>
    public ReadOnlyMemory<byte> Json => WebSocketFrameWriter.GetPayload(Frame);

    /// <summary>
    /// The frame for connections that negotiated permessage-deflate: the payload compressed, RSV1
    /// set (<see cref="PerMessageDeflate.TryCreateTextFrame"/>), or <see cref="Frame"/> itself when
    /// the event is too short to be worth it or does not shrink. Built once, by the first send
    /// loop that needs it, outside any session lock; every other waits for those bytes and shares
    /// them. Never built while no compressing connection gets the event. <paramref name="compressed"/>
    /// is true for the one caller that made a compressed frame.
    /// </summary>
    public byte[] DeflatedFrame(out bool compressed)
    {
        compressed = false;
        byte[]? built = Volatile.Read(ref _deflatedFrame);
        if (built is not null)
        {
            return built;
        }

        // A lock, not a race that keeps one copy: compression is the cost this saves, so it is paid once.
        lock (LazyInitializer.EnsureInitialized(ref _deflateGate))
        {
            built = _deflatedFrame;
            if (built is null)
            {
                built = PerMessageDeflate.TryCreateTextFrame(Json.Span) ?? Frame;
                compressed = !ReferenceEquals(built, Frame);
                Volatile.Write(ref _deflatedFrame, built);
            }

            return built;
        }
    }

    /// <summary>The publisher's idempotency key, when it gave one.</summary>
    public JsonScalar? Id { get; } = id;

    /// <summary>True when this event completed its session.</summary>
    public bool Final { get; } = final;

    /// <summary>When it was published, as a <see cref="TimeProvider"/> timestamp: the start of its delivery latency.</summary>
    public long PublishedAt { get; } = publishedAt;

    /// <summary>The client connection that published it (its frame's <c>from</c>); null for an event published over HTTP.</summary>
    public EventOrigin? From { get; } = from;

    /// <summary>Its <c>key</c>, <c>append</c> and <c>conflate</c>, as its publisher gave them.</summary>
    public EventTraits Traits { get; } = traits;

    /// <summary>Its key (spec section 19), or null.</summary>
    public string? Key => Traits.Key;

    /// <summary>The lines of its Server-Sent Event before the JSON: <c>id</c>, <c>event</c> when <paramref name="named"/>, and <c>data: </c>.</summary>
    public string ServerSentEventHead(string epoch, bool named) => named
        ? string.Create(CultureInfo.InvariantCulture, $"id: {epoch}:{Seq}\nevent: {Name}\ndata: ")
        : string.Create(CultureInfo.InvariantCulture, $"id: {epoch}:{Seq}\ndata: ");

    /// <summary>
    /// The event as one Server-Sent Event: <c>id: epoch:seq</c> and <c>data</c> lines, with an
    /// <c>event: name</c> line between them when <paramref name="named"/> (spec section 5: a stream
    /// is unnamed unless it asks, so that a page's <c>onmessage</c> gets everything). Each form is
    /// built by the first stream that needs it and shared by every other. <paramref name="epoch"/>
    /// is the life of the session the stream joined: the same for every stream of the event's life.
    /// </summary>
    public byte[] ServerSentEvent(string epoch, bool named)
    {
        ref ServerSentEventFrame? cache = ref named ? ref _namedServerSentEvent : ref _serverSentEvent;
        ServerSentEventFrame? kept = Volatile.Read(ref cache);
        if (kept is not null && string.Equals(kept.Epoch, epoch, StringComparison.Ordinal))
        {
            return kept.Bytes;
        }

        string head = ServerSentEventHead(epoch, named);
        ReadOnlySpan<byte> json = Json.Span;
        byte[] bytes = new byte[head.Length + json.Length + 2];
        int written = Encoding.ASCII.GetBytes(head, bytes);
        json.CopyTo(bytes.AsSpan(written));
        bytes[^2] = (byte)'\n';
        bytes[^1] = (byte)'\n';

        // Two streams may both build it; they build the same bytes, and one is kept.
        Interlocked.CompareExchange(ref cache, new ServerSentEventFrame(epoch, bytes), kept);
        return bytes;
    }

    public StateEntry ToStateEntry() => new(Name, Seq, Timestamp, Data, From);

    private sealed record ServerSentEventFrame(string Epoch, byte[] Bytes);
}
