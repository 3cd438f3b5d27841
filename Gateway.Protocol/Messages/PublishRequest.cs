namespace Gateway.Protocol.Messages;

/// <summary>
/// One event as a publisher sent it, before the gateway gave it a seq: an item of
/// <c>POST /api/sessions/{session}/events</c>, or a client <c>publish</c> message.
/// </summary>
/// <param name="Event">A valid event name.</param>
/// <param name="Data">The event's data: one compact JSON value (<c>null</c> when absent).</param>
/// <param name="Id">The publisher's idempotency key, when given.</param>
/// <param name="Final">True when this event completes the session.</param>
/// <param name="From">The client connection that published it (a client <c>publish</c>); never from an HTTP body.</param>
/// <param name="Traits">Its <c>key</c>, <c>append</c> and <c>conflate</c>, as given.</param>
public sealed record PublishRequest(string Event, ReadOnlyMemory<byte> Data, JsonScalar? Id = null, bool Final = false, EventOrigin? From = null, EventTraits Traits = default)
{
    /// <summary>The JSON text <c>null</c>, the data of an event published without <c>data</c>.</summary>
    public static ReadOnlyMemory<byte> NullData { get; } = "null"u8.ToArray();
}
