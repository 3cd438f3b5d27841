namespace Gateway.Protocol.Framing;

/// <summary>The opcodes of RFC 6455 section 5.2.</summary>
public enum WebSocketOpcode : byte
{
    /// <summary>A continuation of a fragmented message.</summary>
    Continuation = 0x0,

    /// <summary>A text message (UTF-8).</summary>
    Text = 0x1,

    /// <summary>A binary message.</summary>
    Binary = 0x2,

    /// <summary>A close frame.</summary>
    Close = 0x8,

    /// <summary>A ping frame.</summary>
    Ping = 0x9,

    /// <summary>A pong frame.</summary>
    Pong = 0xA,
}

/// <summary>The close codes the gateway sends (spec section 3, RFC 6455 section 7.4).</summary>
public static class CloseCodes
{
    /// <summary>Normal close, or the session is complete.</summary>
    public const ushort Normal = 1000;

    /// <summary>The gateway is shutting down, or the session was deleted.</summary>
    public const ushort GoingAway = 1001;

    /// <summary>The peer broke the framing rules of RFC 6455.</summary>
    public const ushort ProtocolError = 1002;

    /// <summary>A binary frame arrived; the gateway speaks JSON text only.</summary>
    public const ushort UnsupportedData = 1003;

    /// <summary>No status code was present in the peer's close frame (never sent on the wire).</summary>
    public const ushort NoStatus = 1005;

    /// <summary>A text frame that is not valid UTF-8.</summary>
    public const ushort InvalidPayload = 1007;

    /// <summary>Policy: a token expired, or the rate limit was abused.</summary>
    public const ushort PolicyViolation = 1008;

    /// <summary>A message larger than the limit.</summary>
    public const ushort MessageTooBig = 1009;

    /// <summary>An internal error.</summary>
    public const ushort InternalError = 1011;

    /// <summary>No inbound frame for the heartbeat timeout.</summary>
    public const ushort HeartbeatTimeout = 4000;

    /// <summary>A slow consumer: the connection fell further behind than its lag bounds.</summary>
    public const ushort SlowConsumer = 4001;
}
