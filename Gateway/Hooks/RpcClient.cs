using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Gateway.Hooks;

/// <summary>
/// Forwards a client's <c>rpc</c> to the backend (<c>Gateway:Hooks:RpcUrl</c>, spec section 13)
/// and turns its answer into what the client gets: a 2xx JSON body is the <c>rpc_result</c>'s data,
/// a 4xx is <c>rejected</c> with the backend's reason, anything else (a 5xx, no answer within
/// <c>Hooks:RpcTimeout</c>, an open breaker, a body that is not JSON) is <c>unavailable</c>.
/// </summary>
/// <remarks>
/// The HTTP client comes from <see cref="IHttpClientFactory"/> with a Polly pipeline of a circuit
/// breaker around a timeout (<see cref="RpcServices"/>); there are no retries, because a call is
/// not idempotent (a chat message sent twice is two messages). Never throws: every failure is an
/// <see cref="RpcAnswer"/>.
/// </remarks>
internal sealed partial class RpcClient
{
    /// <summary>The most characters of a backend's refusal the client is shown.</summary>
    public const int MaxReasonLength = 512;

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json") { CharSet = "utf-8" };

    private readonly IHttpClientFactory _clients;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Uri? _url;
    private readonly TimeSpan _timeout;
    private readonly int _maxAnswerBytes;

    public RpcClient(IHttpClientFactory clients, IOptions<HooksOptions> hooks, IOptions<LimitsOptions> limits, GatewayMetrics metrics, TimeProvider time, ILoggerFactory loggerFactory)
    {
        _clients = clients;
        _metrics = metrics;
        _time = time;
        _logger = loggerFactory.CreateLogger("Gateway.Hooks.Rpc");
        _url = string.IsNullOrEmpty(hooks.Value.RpcUrl) ? null : new Uri(hooks.Value.RpcUrl, UriKind.Absolute);
        _timeout = hooks.Value.RpcTimeout;
        MaxInFlight = hooks.Value.MaxRpcInFlight;

        // An answer becomes one message to one client; Limits:MaxLagBytes is at least twice this,
        // so that a client that reads is never closed as a slow consumer for one answer.
        _maxAnswerBytes = limits.Value.MaxPublishBytes;
    }

    /// <summary>False when no <c>Hooks:RpcUrl</c> is set: every <c>rpc</c> is then <c>unavailable</c>.</summary>
    public bool IsConfigured => _url is not null;

    /// <summary><c>Hooks:MaxRpcInFlight</c>: the most calls one connection may have waiting for the backend.</summary>
    public int MaxInFlight { get; }

    /// <summary>Counts a call answered before it reached the backend (not configured, over the in-flight bound).</summary>
    public void Refused(RpcOutcome outcome) => _metrics.RpcCompleted(RpcOutcomes.Name(outcome), seconds: null);

    /// <summary>Makes the call and returns what the client gets. Never throws.</summary>
    public async Task<RpcAnswer> CallAsync(RpcCall call)
    {
        if (_url is null)
        {
            Refused(RpcOutcome.Unavailable);
            return RpcAnswer.Unconfigured;
        }

        long started = _time.GetTimestamp();
        RpcAnswer answer;
        try
        {
            answer = await SendAsync(_url, call);
        }
        catch (BrokenCircuitException)
        {
            answer = RpcAnswer.Failed(RpcOutcome.BreakerOpen,
                "the backend failed too often lately, so the gateway is not calling it for a while (circuit open); retry later");
        }
        catch (TimeoutRejectedException)
        {
            answer = TimedOut();
        }
        catch (OperationCanceledException)
        {
            // The body did not arrive within what was left of the timeout.
            answer = TimedOut();
        }
        catch (HttpRequestException e)
        {
            Log.Unreachable(_logger, call.Method, call.Session, e.Message);
            answer = RpcAnswer.Failed(RpcOutcome.Unavailable, "the backend could not be reached; retry later");
        }
        catch (ObjectDisposedException)
        {
            // The gateway is stopping: its HTTP clients are gone, and so, soon, is the connection.
            answer = RpcAnswer.Failed(RpcOutcome.Unavailable, "the gateway is shutting down; retry on another node");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.Failed(_logger, call.Method, call.Session, e);
            answer = RpcAnswer.Failed(RpcOutcome.Unavailable, "the call to the backend failed in the gateway; retry later");
        }

        if (answer.Outcome == RpcOutcome.BreakerOpen)
        {
            // Answered at once, without the backend: its duration says nothing about the backend.
            _metrics.RpcCompleted(RpcOutcomes.Name(answer.Outcome), seconds: null);
        }
        else
        {
            _metrics.RpcCompleted(RpcOutcomes.Name(answer.Outcome), _time.GetElapsedTime(started).TotalSeconds);
        }

        return answer;
    }

    private RpcAnswer TimedOut() => RpcAnswer.Failed(RpcOutcome.Timeout,
        $"the backend did not answer within {(long)_timeout.TotalMilliseconds} ms (Gateway:Hooks:RpcTimeout); retry later");

    private async Task<RpcAnswer> SendAsync(Uri url, RpcCall call)
    {
        long started = _time.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ByteArrayContent(WriteBody(call)) { Headers = { ContentType = JsonContentType } },
        };

        // The pipeline's timeout bounds the wait for the answer's headers; the body gets what is left.
        HttpClient client = _clients.CreateClient(RpcServices.ClientName);
        using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        TimeSpan left = _timeout - _time.GetElapsedTime(started);
        using var deadline = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), _time);
        int status = (int)response.StatusCode;
        if (status is >= 500 or < 200 or (>= 300 and < 400))
        {
            Log.BackendFailed(_logger, call.Method, call.Session, status);
            return RpcAnswer.Failed(RpcOutcome.Unavailable, $"the backend failed to answer (HTTP {status}); retry later");
        }

        byte[]? body = await ReadBodyAsync(response.Content, deadline.Token);
        if (body is null)
        {
            return RpcAnswer.Failed(RpcOutcome.Unavailable, $"the backend's answer is larger than {_maxAnswerBytes} bytes (Gateway:Limits:MaxPublishBytes)");
        }

        if (status >= 400)
        {
            return RpcAnswer.Failed(RpcOutcome.Rejected, Reason(body, status));
        }

        if (IsBlank(body))
        {
            return RpcAnswer.Result(PublishRequest.NullData);
        }

        if (!TryCompact(body, out ReadOnlyMemory<byte> data))
        {
            Log.NotJson(_logger, call.Method, call.Session, status);
            return RpcAnswer.Failed(RpcOutcome.Unavailable, $"the backend answered HTTP {status} with a body that is not JSON; an rpc answer must be one JSON value");
        }

        return RpcAnswer.Result(data);
    }

    /// <summary>The request body: <c>{id, method, data, session, connection, user}</c>.</summary>
    internal static byte[] WriteBody(RpcCall call)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + call.Data.Length);
        using (var writer = new Utf8JsonWriter(buffer, ServerFrames.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("id");
            if (call.Id is { } id)
            {
                id.WriteTo(writer);
            }
            else
            {
                writer.WriteNullValue();
            }

            writer.WriteString("method", call.Method);
            writer.WritePropertyName("data");
            writer.WriteRawValue(call.Data.Span, skipInputValidation: true);
            writer.WriteString("session", call.Session);
            writer.WriteString("connection", call.Connection);
            writer.WriteString("user", call.User);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// What the client is told of a refusal: the body's <c>message</c> or <c>error</c> string when it
    /// is a JSON object with one, else its text; trimmed and bounded to <see cref="MaxReasonLength"/>.
    /// </summary>
    internal static string Reason(byte[] body, int status)
    {
        string? reason = null;
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (string name in (ReadOnlySpan<string>)["message", "error"])
                {
                    if (document.RootElement.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String)
                    {
                        reason = value.GetString();
                        break;
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the text is the reason.
        }

        reason ??= Encoding.UTF8.GetString(body);
        reason = reason.Trim();
        if (reason.Length > MaxReasonLength)
        {
            reason = reason[..MaxReasonLength].TrimEnd();
        }

        return reason.Length > 0 ? reason : $"the backend refused the call (HTTP {status}) without saying why";
    }

    /// <summary>The whole body, or null when it is larger than an answer may be.</summary>
    private async Task<byte[]?> ReadBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > _maxAnswerBytes)
        {
            return null;
        }

        await using Stream stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new ArrayBufferWriter<byte>(4096);
        while (true)
        {
            int read = await stream.ReadAsync(buffer.GetMemory(4096), cancellationToken);
            if (read == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > _maxAnswerBytes)
            {
                return null;
            }
        }
    }

    private static bool IsBlank(ReadOnlySpan<byte> body) => body.IndexOfAnyExcept(" \t\r\n"u8) < 0;

    /// <summary>One JSON value, compacted as every data the gateway sends; false when the body is not that.</summary>
    private static bool TryCompact(byte[] body, out ReadOnlyMemory<byte> data)
    {
        data = default;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
            if (!reader.Read() || !reader.TrySkip() || reader.Read())
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }

        using var output = new MemoryStream(body.Length);
        using (var writer = new Utf8JsonWriter(output, ServerFrames.WriterOptions))
        {
            using JsonDocument document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            document.WriteTo(writer);
        }

        data = output.ToArray();
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "rpc {Method} of session {Session}: the backend answered HTTP {Status}")]
        public static partial void BackendFailed(ILogger logger, string method, string session, int status);

        [LoggerMessage(EventId = 702, Level = LogLevel.Warning, Message = "rpc {Method} of session {Session}: the backend could not be reached: {Reason}")]
        public static partial void Unreachable(ILogger logger, string method, string session, string reason);

        [LoggerMessage(EventId = 703, Level = LogLevel.Warning, Message = "rpc {Method} of session {Session}: the backend answered HTTP {Status} with a body that is not JSON")]
        public static partial void NotJson(ILogger logger, string method, string session, int status);

        [LoggerMessage(EventId = 704, Level = LogLevel.Error, Message = "rpc {Method} of session {Session} failed on a bug in the gateway")]
        public static partial void Failed(ILogger logger, string method, string session, Exception exception);
    }
}

/// <summary>One client's <c>rpc</c>, as the backend gets it.</summary>
/// <param name="Id">The message's id (echoed in the reply), or null.</param>
/// <param name="Method">The method name.</param>
/// <param name="Data">The call's data, compact JSON.</param>
/// <param name="Session">The session the client is connected to.</param>
/// <param name="Connection">The client's connection id.</param>
/// <param name="User">The client's user (spec section 17), or null.</param>
internal sealed record RpcCall(JsonScalar? Id, string Method, ReadOnlyMemory<byte> Data, string Session, string Connection, string? User);

/// <summary>How an <c>rpc</c> ended, as <c>gateway_rpc_calls_total</c> counts it.</summary>
internal enum RpcOutcome
{
    /// <summary>A 2xx with a JSON body (or none): <c>rpc_result</c>.</summary>
    Ok,

    /// <summary>A 4xx: <c>error</c> <c>rejected</c> with the backend's reason.</summary>
    Rejected,

    /// <summary>A 5xx, an unreachable backend, an answer that is not JSON or too large, or no backend configured.</summary>
    Unavailable,

    /// <summary>No answer within <c>Hooks:RpcTimeout</c>.</summary>
    Timeout,

    /// <summary>Not sent: the circuit breaker is open after too many failures.</summary>
    BreakerOpen,

    /// <summary>Not sent: the connection had <c>Hooks:MaxRpcInFlight</c> calls waiting already.</summary>
    RateLimited,
}

/// <summary>The metric names of <see cref="RpcOutcome"/>.</summary>
internal static class RpcOutcomes
{
    public static string Name(RpcOutcome outcome) => outcome switch
    {
        RpcOutcome.Ok => "ok",
        RpcOutcome.Rejected => "rejected",
        RpcOutcome.Unavailable => "unavailable",
        RpcOutcome.Timeout => "timeout",
        RpcOutcome.BreakerOpen => "breaker_open",
        RpcOutcome.RateLimited => "rate_limited",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    /// <summary>Every outcome, so that each series exists from the start.</summary>
    public static readonly string[] All = ["ok", "rejected", "unavailable", "timeout", "breaker_open", "rate_limited"];
}

/// <summary>What the client gets for its <c>rpc</c>: the answer's data, or an error code and message.</summary>
internal readonly record struct RpcAnswer(RpcOutcome Outcome, ReadOnlyMemory<byte> Data, string Message)
{
    public static readonly RpcAnswer Unconfigured = Failed(RpcOutcome.Unavailable, "this gateway has no rpc backend configured (Gateway:Hooks:RpcUrl)");

    /// <summary>The error code the client gets; only for an outcome other than <see cref="RpcOutcome.Ok"/>.</summary>
    public ErrorCode Code => Outcome switch
    {
        RpcOutcome.Rejected => ErrorCode.Rejected,
        RpcOutcome.RateLimited => ErrorCode.RateLimited,
        _ => ErrorCode.Unavailable,
    };

    public static RpcAnswer Result(ReadOnlyMemory<byte> data) => new(RpcOutcome.Ok, data, "");

    public static RpcAnswer Failed(RpcOutcome outcome, string message) => new(outcome, default, message);
}
