namespace Gateway.Client;

/// <summary>The gateway answered a request with an <c>error</c>.</summary>
public class GatewayErrorException : Exception
{
    /// <summary>Creates the exception for an error <paramref name="code"/> and the gateway's <paramref name="message"/>.</summary>
    public GatewayErrorException(string code, string message)
        : base($"{code}: {message}")
    {
        Code = code;
        GatewayMessage = message;
    }

    /// <summary>The error code: <c>invalid_message</c>, <c>forbidden</c>, <c>rate_limited</c>, <c>rejected</c>, <c>unavailable</c>, ...</summary>
    public string Code { get; }

    /// <summary>The gateway's text: what was wrong and what is accepted (for <c>rejected</c>, the backend's reason).</summary>
    public string GatewayMessage { get; }

    internal static GatewayErrorException From(string? code, string? message) => code switch
    {
        "rejected" => new GatewayRejectedException(message ?? ""),
        "unavailable" => new GatewayUnavailableException(message ?? ""),
        _ => new GatewayErrorException(code ?? "error", message ?? ""),
    };
}

/// <summary>The backend refused an rpc (it answered 4xx): retrying the same call will not help.</summary>
public sealed class GatewayRejectedException : GatewayErrorException
{
    /// <summary>Creates the exception with the backend's reason.</summary>
    public GatewayRejectedException(string message)
        : base("rejected", message)
    {
    }
}

/// <summary>
/// The backend or the gateway's store did not answer (5xx, timeout, breaker open, store down): the
/// call may succeed later. For a publish, it may or may not have been applied.
/// </summary>
public sealed class GatewayUnavailableException : GatewayErrorException
{
    /// <summary>Creates the exception with the gateway's explanation.</summary>
    public GatewayUnavailableException(string message)
        : base("unavailable", message)
    {
    }
}

/// <summary>
/// The connection dropped before the gateway answered a request. The client reconnects by itself;
/// the request may or may not have reached the gateway (a publish may have been applied).
/// </summary>
public sealed class GatewayConnectionLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GatewayConnectionLostException()
        : base("the connection to the gateway dropped before it answered; the client is reconnecting, and the request may or may not have been applied")
    {
    }
}

/// <summary>The first connection to the gateway failed: <see cref="GatewayClient.StartAsync"/> gives up rather than retry a refusal.</summary>
public sealed class GatewayConnectException : Exception
{
    /// <summary>Creates the exception for a refusal with HTTP <paramref name="statusCode"/> (0 when none was received).</summary>
    public GatewayConnectException(Uri url, int statusCode, Exception inner)
        : base(statusCode == 0
            ? $"could not connect to {url.GetLeftPart(UriPartial.Path)}: {inner.Message}"
            : $"the gateway refused the connection to {url.GetLeftPart(UriPartial.Path)} with HTTP {statusCode}", inner)
    {
        StatusCode = statusCode;
    }

    /// <summary>The HTTP status of the refusal (400, 401, 403, 503, ...), or 0 when the gateway was not reached.</summary>
    public int StatusCode { get; }
}
