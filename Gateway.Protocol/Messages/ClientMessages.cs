namespace Gateway.Protocol.Messages;

/// <summary>The <c>type</c> of a client message.</summary>
public enum ClientMessageType
{
    /// <summary><c>ping</c>: answered with <c>pong</c>.</summary>
    Ping,

    /// <summary><c>subscribe</c>: adds event names to the filter.</summary>
    Subscribe,

    /// <summary><c>unsubscribe</c>: removes event names from the filter.</summary>
    Unsubscribe,

    /// <summary><c>status</c>: asks for the session's state.</summary>
    Status,

    /// <summary><c>resume</c>: asks for the events after a seq.</summary>
    Resume,

    /// <summary><c>publish</c>: publishes an event from the client.</summary>
    Publish,

    /// <summary><c>auth</c>: presents a token.</summary>
    Auth,

    /// <summary><c>rpc</c>: a call forwarded to the backend.</summary>
    Rpc,

    /// <summary><c>presence</c>: asks who is connected to the session.</summary>
    Presence,
}

/// <summary>
/// A message from a client (spec section 3). Every message may carry an <see cref="Id"/> that the
/// direct reply echoes.
/// </summary>
public abstract record ClientMessage(JsonScalar? Id)
{
    /// <summary>The message's <c>type</c>.</summary>
    public abstract ClientMessageType Type { get; }
}

/// <summary><c>{"type":"ping","ts"?}</c>.</summary>
/// <param name="Id">The message id, echoed in the <c>pong</c>.</param>
/// <param name="Ts">The client's timestamp, echoed in the <c>pong</c>.</param>
public sealed record PingMessage(JsonScalar? Id, JsonScalar? Ts) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Ping;
}

/// <summary><c>{"type":"subscribe","events":[...]}</c>; <c>["*"]</c> means every event.</summary>
/// <param name="Id">The message id, echoed in the <c>subscribed</c> reply.</param>
/// <param name="Events">Valid event names, or the single name <c>*</c>.</param>
public sealed record SubscribeMessage(JsonScalar? Id, IReadOnlyList<string> Events) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Subscribe;

    /// <summary>True when the message asks for every event (<c>["*"]</c>).</summary>
    public bool IsAll => Events.Count == 1 && Events[0] == EventFilterNames.All;
}

/// <summary><c>{"type":"unsubscribe","events":[...]}</c>.</summary>
/// <param name="Id">The message id, echoed in the <c>subscribed</c> reply.</param>
/// <param name="Events">Valid event names (never <c>*</c>).</param>
public sealed record UnsubscribeMessage(JsonScalar? Id, IReadOnlyList<string> Events) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Unsubscribe;
}

/// <summary><c>{"type":"status"}</c>.</summary>
/// <param name="Id">The message id, echoed in the <c>status</c> reply.</param>
public sealed record StatusRequest(JsonScalar? Id) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Status;
}

/// <summary><c>{"type":"resume","since":N,"epoch"?:"E"}</c>.</summary>
/// <param name="Id">The message id, echoed in the <c>resumed</c> reply.</param>
/// <param name="Since">The last seq the client has; events after it are replayed.</param>
/// <param name="Epoch">The life of the session that seq belongs to; null when not given (the seq is trusted).</param>
public sealed record ResumeMessage(JsonScalar? Id, long Since, string? Epoch = null) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Resume;
}

/// <summary><c>{"type":"publish","event","data","final"?}</c>.</summary>
/// <param name="Id">The message id, echoed in the <c>ack</c>.</param>
/// <param name="Event">A valid event name.</param>
/// <param name="Data">The event's data: one compact JSON value (<c>null</c> when absent).</param>
/// <param name="Final">True when this event completes the session.</param>
/// <param name="Traits">Its <c>key</c>, <c>append</c> and <c>conflate</c>, as given.</param>
public sealed record PublishMessage(JsonScalar? Id, string Event, ReadOnlyMemory<byte> Data, bool Final, EventTraits Traits = default) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Publish;
}

/// <summary><c>{"type":"auth","token"}</c>.</summary>
/// <param name="Id">The message id, echoed in an error reply.</param>
/// <param name="Token">The bearer token.</param>
public sealed record AuthMessage(JsonScalar? Id, string Token) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Auth;

    /// <summary>Never prints the token.</summary>
    public override string ToString() => $"AuthMessage {{ Id = {Id}, Token = <{Token.Length} characters> }}";
}

/// <summary><c>{"type":"rpc","method","data"}</c>.</summary>
/// <param name="Id">The message id, echoed in the <c>rpc_result</c>.</param>
/// <param name="Method">The method name, 1-64 name characters.</param>
/// <param name="Data">The call's data: one compact JSON value (<c>null</c> when absent).</param>
public sealed record RpcRequest(JsonScalar? Id, string Method, ReadOnlyMemory<byte> Data) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Rpc;
}

/// <summary><c>{"type":"presence"}</c>.</summary>
/// <param name="Id">The message id, echoed in the <c>presence</c> reply.</param>
public sealed record PresenceRequest(JsonScalar? Id) : ClientMessage(Id)
{
    /// <inheritdoc />
    public override ClientMessageType Type => ClientMessageType.Presence;
}

/// <summary>Well-known names in event filters.</summary>
public static class EventFilterNames
{
    /// <summary>The wildcard that stands for every event name.</summary>
    public const string All = "*";

    /// <summary>The most names a filter, or one subscribe message, may hold.</summary>
    public const int MaxNames = 256;
}
