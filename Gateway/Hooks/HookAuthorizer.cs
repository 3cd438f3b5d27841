using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Http;
using Gateway.Security;
using Microsoft.Extensions.Options;

namespace Gateway.Hooks;

/// <summary>
/// <c>Hooks:Authorize</c> (spec section 13): the backend allows or denies each WebSocket upgrade
/// and SSE stream, told the session, the user, the token's claims, the origin and the remote
/// address, within <c>Hooks:AuthorizeTimeout</c>. A 2xx with <c>{"allow": true}</c> lets the
/// client in; <c>{"allow": false, "reason": "..."}</c> or a 403 is a 403
/// <c>forbidden_by_backend</c> with the backend's reason; anything else, or no answer in time,
/// refuses with 503 (or lets the client in with <c>Hooks:AuthorizeFailOpen</c>).
/// </summary>
internal sealed partial class HookAuthorizer(IHttpClientFactory clients, IOptions<HooksOptions> options, GatewayMetrics metrics, ILogger<HookAuthorizer> logger)
{
    /// <summary>The named <see cref="HttpClient"/> of the authorize call.</summary>
    public const string ClientName = "Gateway.Hooks.Authorize";

    /// <summary>The refusal's reason, in metrics and logs, when the backend denies.</summary>
    public const string DeniedReason = "forbidden_by_backend";

    /// <summary>The refusal's reason when the backend could not be asked.</summary>
    public const string FailedReason = "authorize_unavailable";

    /// <summary>An answer is a small object; a larger one is not an answer.</summary>
    private const int MaxAnswerBytes = 16 * 1024;

    /// <summary>The backend's reason is shown to the client as it is, up to this many characters.</summary>
    private const int MaxReasonLength = 256;

    /// <summary>How long a client is told to wait when the backend could not be asked: about a restart's length.</summary>
    private const string FailedRetryAfter = "5";

    private static readonly JsonEncodedText SessionName = JsonEncodedText.Encode("session");
    private static readonly JsonEncodedText UserName = JsonEncodedText.Encode("user");
    private static readonly JsonEncodedText ClaimsName = JsonEncodedText.Encode("claims");
    private static readonly JsonEncodedText OriginName = JsonEncodedText.Encode("origin");
    private static readonly JsonEncodedText RemoteName = JsonEncodedText.Encode("remote");
    private static readonly JsonEncodedText AllowName = JsonEncodedText.Encode("allow");
    private static readonly JsonEncodedText ReasonName = JsonEncodedText.Encode("reason");
    private static readonly MediaTypeHeaderValue Json = new("application/json") { CharSet = "utf-8" };

    private readonly Uri? _url = string.IsNullOrEmpty(options.Value.Authorize) ? null : new Uri(options.Value.Authorize);
    private readonly TimeSpan _timeout = options.Value.AuthorizeTimeout;
    private readonly bool _failOpen = options.Value.AuthorizeFailOpen;

    /// <summary>True when <c>Hooks:Authorize</c> is set.</summary>
    public bool Enabled => _url is not null;

    /// <summary>
    /// Asks the backend whether this client may watch <paramref name="session"/>. Null: it may
    /// (or the call failed and the gateway fails open); else the refusal to render.
    /// </summary>
    public async ValueTask<Refusal?> AuthorizeAsync(HttpContext http, string session, string? user, GatewayPrincipal? principal)
    {
        string remote = http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        byte[] body = Request(session, user, principal?.Claims, http.Request.Headers.Origin.ToString() is { Length: > 0 } origin ? origin : null, remote);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(_timeout);
        (bool? allow, string? reason, string failure) answer;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = Json;
            using HttpResponseMessage response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            answer = await ReadAnswerAsync(response, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !http.RequestAborted.IsCancellationRequested)
        {
            metrics.HookAuthorize("timeout");
            return Failed(session, remote, $"no answer within {_timeout} (Gateway:Hooks:AuthorizeTimeout)");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            answer = (null, null, e.Message);
        }

        switch (answer.allow)
        {
            case true:
                metrics.HookAuthorize("allowed");
                return null;

            case false:
                metrics.HookAuthorize("denied");
                string reason = string.IsNullOrEmpty(answer.reason) ? "no reason given" : answer.reason;
                return new Refusal(StatusCodes.Status403Forbidden, DeniedReason, $"the backend refused this connection: {reason}");

            default:
                metrics.HookAuthorize("error");
                return Failed(session, remote, answer.failure);
        }
    }

    private Refusal? Failed(string session, string remote, string failure)
    {
        Log.AuthorizeFailed(logger, session, remote, failure, _failOpen);
        return _failOpen
            ? null
            : new Refusal(StatusCodes.Status503ServiceUnavailable, FailedReason,
                "the backend that authorizes connections did not answer (Gateway:Hooks:Authorize); retry later", FailedRetryAfter);
    }

    /// <summary>
    /// Allow (true), deny (false, with the backend's reason), or neither (null, with what was
    /// wrong): a 2xx carries the verdict in <c>allow</c>; a 403 is a deny whatever its body.
    /// </summary>
    private static async Task<(bool? Allow, string? Reason, string Failure)> ReadAnswerAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        bool success = response.IsSuccessStatusCode;
        if (!success && response.StatusCode != HttpStatusCode.Forbidden)
        {
            return (null, null, $"answered {status}");
        }

        byte[] content = await ReadBoundedAsync(response.Content, cancellationToken);
        bool parsed = TryParse(content, out bool? allow, out string? reason);
        if (response.StatusCode == HttpStatusCode.Forbidden)
        {
            return (false, parsed ? reason : null, "");
        }

        return parsed && allow is { } verdict
            ? (verdict, reason, "")
            : (null, null, $"answered {status} without a JSON object with a boolean allow");
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using Stream stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new ArrayBufferWriter<byte>(256);
        while (buffer.WrittenCount <= MaxAnswerBytes)
        {
            int read = await stream.ReadAsync(buffer.GetMemory(1024), cancellationToken);
            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
        }

        return buffer.WrittenCount > MaxAnswerBytes ? [] : buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads <c>allow</c> and <c>reason</c> from a JSON object; other properties are skipped.</summary>
    private static bool TryParse(ReadOnlySpan<byte> content, out bool? allow, out string? reason)
    {
        allow = null;
        reason = null;
        try
        {
            var reader = new Utf8JsonReader(content);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isAllow = reader.ValueTextEquals(AllowName.EncodedUtf8Bytes);
                bool isReason = reader.ValueTextEquals(ReasonName.EncodedUtf8Bytes);
                reader.Read();
                if (isAllow && reader.TokenType is JsonTokenType.True or JsonTokenType.False)
                {
                    allow = reader.GetBoolean();
                }
                else if (isReason && reader.TokenType == JsonTokenType.String)
                {
                    // Shown to the client in a one-line refusal: bounded, without line breaks.
                    reason = string.Concat(reader.GetString()!.Take(MaxReasonLength).Where(c => !char.IsControl(c)));
                }
                else
                {
                    reader.Skip();
                }
            }

            return reader.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static byte[] Request(string session, string? user, byte[]? claims, string? origin, string remote)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + (claims?.Length ?? 0));
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString(SessionName, session);
            json.WriteString(UserName, user);
            json.WritePropertyName(ClaimsName);
            if (claims is null)
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteRawValue(claims, skipInputValidation: true);
            }

            json.WriteString(OriginName, origin);
            json.WriteString(RemoteName, remote);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 607, Level = LogLevel.Warning, Message = "Authorizing a client of session {Session} from {RemoteAddress} failed: {Failure}; fail open: {FailOpen}")]
        public static partial void AuthorizeFailed(ILogger logger, string session, string remoteAddress, string failure, bool failOpen);
    }
}
