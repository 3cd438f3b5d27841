namespace Gateway.Protocol.Messages;

/// <summary>The <c>code</c> of an <c>error</c> message (spec section 3).</summary>
public enum ErrorCode
{
    /// <summary>The message is not well-formed JSON (or not UTF-8).</summary>
    InvalidJson,

    /// <summary>The JSON is well-formed but a field is missing, of the wrong type or out of range.</summary>
    InvalidMessage,

    /// <summary>The <c>type</c> names no known message.</summary>
    UnknownType,

    /// <summary>The operation is not allowed for this connection.</summary>
    Forbidden,

    /// <summary>The connection sent messages faster than its rate limit.</summary>
    RateLimited,

    /// <summary>A dependency (a hook, the backplane) did not answer.</summary>
    Unavailable,

    /// <summary>The backend refused an <c>rpc</c> (it answered 4xx); the message is its reason.</summary>
    Rejected,
}

/// <summary>Wire names of <see cref="ErrorCode"/>.</summary>
public static class ErrorCodes
{
    /// <summary>The wire name of <paramref name="code"/>, as it appears in <c>error.code</c>.</summary>
    public static string ToWireName(this ErrorCode code) => code switch
    {
        ErrorCode.InvalidJson => "invalid_json",
        ErrorCode.InvalidMessage => "invalid_message",
        ErrorCode.UnknownType => "unknown_type",
        ErrorCode.Forbidden => "forbidden",
        ErrorCode.RateLimited => "rate_limited",
        ErrorCode.Unavailable => "unavailable",
        ErrorCode.Rejected => "rejected",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };
}

/// <summary>
/// Why a message was refused: the error code and a fixed text that names the field at fault and
/// says what is accepted. <see cref="Id"/> is the offending message's id when it could be read.
/// </summary>
public readonly record struct ProtocolError(ErrorCode Code, string Message, JsonScalar? Id = null);
