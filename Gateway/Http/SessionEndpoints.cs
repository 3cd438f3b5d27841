using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Http;

/// <summary>The session API of spec section 5: publish, list, inspect, delete.</summary>
internal static class SessionEndpoints
{
    private const string PublishEndpoint = "publish";
    private const string SessionsEndpoint = "sessions";

    // What Results.Json says of its bodies.
    private const string JsonContentType = "application/json; charset=utf-8";

    public static void MapSessionEndpoints(this IEndpointRouteBuilder app)
    {
        // A plain request delegate over the services resolved once: bound per request by the minimal
        // API machinery, the publish cost a scope of request services and a lookup for each of them.
        var publish = new PublishHandler(app.ServiceProvider);
        app.MapPost("/api/sessions/{session}/events", (RequestDelegate)publish.HandleAsync).WithMetadata(new RefusalEndpoint(PublishEndpoint));
        app.MapPut("/api/sessions/{session}/events", IngestEndpoint.IngestAsync).WithMetadata(new RefusalEndpoint(PublishEndpoint));
        app.MapGet("/api/sessions", ListAsync).WithMetadata(new RefusalEndpoint(SessionsEndpoint));
        app.MapGet("/api/sessions/{session}", GetAsync).WithMetadata(new RefusalEndpoint(SessionsEndpoint));
        app.MapDelete("/api/sessions/{session}", DeleteAsync).WithMetadata(new RefusalEndpoint(SessionsEndpoint));
    }

    private static async Task<IResult> PublishAsync(
        HttpContext http, string session, SessionHub hub, IOptions<LimitsOptions> limits,
        Authenticator authenticator, Refusals refusals, PublishRateLimiter rates, GatewayMetrics metrics)
    {
        if (IngestEndpoint.IsStream(http.Request))
        {
            // A stream may last an hour: it is not one publish's duration.
            return await IngestEndpoint.IngestAsync(http, session, hub, limits, authenticator, refusals, rates, metrics);
        }

        // Failures are answered in one place (RequestFailures): a store outage 503, a bug 500.
        long started = Stopwatch.GetTimestamp();
        try
        {
            return await PublishCoreAsync(http, session, hub, limits, authenticator, refusals, rates);
        }
        finally
        {
            metrics.PublishDuration(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private static async Task<IResult> PublishCoreAsync(
        HttpContext http, string session, SessionHub hub, IOptions<LimitsOptions> limits,
        Authenticator authenticator, Refusals refusals, PublishRateLimiter rates)
    {
        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckSessionAsync(http, authenticator, refusals, PublishEndpoint, Right.Publish, session);
        if (principal is null)
        {
            return refusal!;
        }

        int max = limits.Value.MaxPublishBytes;
        if (await RequestBodies.ReadAsync(http, max) is not { } read)
        {
            return refusals.Problem(http, PublishEndpoint, StatusCodes.Status413PayloadTooLarge, "too_large",
                $"the body is larger than {max} bytes (Gateway:Limits:MaxPublishBytes); split the batch");
        }

        IReadOnlyList<PublishRequest>? events;
        ProtocolError error;
        bool isBatch;
        try
        {
            if (!PublishRequestDecoder.TryDecode(read.Buffer, out events, out isBatch, out error))
            {
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status400BadRequest, "invalid_body", error.Message);
            }
        }
        finally
        {
            // The decoder copied what it kept; the request's buffers can go.
            RequestBodies.Release(http, read);
        }

        for (int i = 0; i < events.Count - 1; i++)
        {
            if (events[i].Final)
            {
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status400BadRequest, "invalid_body",
                    $"events[{i}]: only the last event of a batch may be final; a final event ends the session");
            }
        }

        if (rates.Enabled && !rates.TryAcquire(PublisherOf(http, principal), events.Count, out TimeSpan retryAfter))
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return refusals.Problem(http, PublishEndpoint, StatusCodes.Status429TooManyRequests, "rate_limited",
                $"publishing faster than {limits.Value.PublishesPerSecond} events a second (Gateway:Limits:PublishesPerSecond); retry after the Retry-After seconds");
        }

        PublishResult result = await hub.PublishAsync(session, events, http.RequestAborted);
        switch (result.Status)
        {
            case PublishStatus.SessionComplete:
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status409Conflict, "session_complete",
                    $"session '{session}' is complete: a final event ended it at seq {result.Seq}, and it takes no more events; publish to a new session, or DELETE this one first");
            case PublishStatus.TooManyEventNames:
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status400BadRequest, "too_many_event_names",
                    $"session '{session}' would have more than {SessionsLimit(http).MaxEventNames} event names (Gateway:Sessions:MaxEventNames); reuse names and put the variety in data");
            case PublishStatus.TooManyKeys:
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status400BadRequest, "too_many_keys",
                    $"session '{session}' would keep more than {SessionsLimit(http).MaxKeys} keyed entries, one per event name and key (Gateway:Sessions:MaxKeys); reuse keys, or publish without a key. Nothing was published");
            case PublishStatus.AssembledTooLarge:
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status400BadRequest, "assembled_too_large",
                    $"{(isBatch ? $"events[{result.Refused}]: " : "")}the append would make the text assembled for event '{events[result.Refused].Event}' and key '{events[result.Refused].Traits.Key}' longer than {limits.Value.MaxAssembledBytes} bytes (Gateway:Limits:MaxAssembledBytes, counting its JSON string as published); end the text with an event of that name and key without \"append\" (it replaces the text), or append under a new key. Nothing was published");
            case PublishStatus.MemoryFull:
                http.Response.Headers.RetryAfter = "5";
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status503ServiceUnavailable, "history_full",
                    "history memory is full (Gateway:History:MaxTotalBytes, or Redis's maxmemory with the Redis backplane); retry when idle sessions have expired");
            case PublishStatus.SessionLimit:
                http.Response.Headers.RetryAfter = "5";
                return refusals.Problem(http, PublishEndpoint, StatusCodes.Status503ServiceUnavailable, "max_sessions",
                    $"this gateway holds {SessionsLimit(http).MaxSessions} sessions already (Gateway:Sessions:MaxSessions); retry when idle sessions have expired");
        }

        if (!isBatch)
        {
            return new Accepted(JsonSerializer.SerializeToUtf8Bytes(new PublishAccepted(result.Seqs[0], result.Duplicate[0]), GatewayJsonContext.Relaxed.PublishAccepted));
        }

        int[] duplicates = Enumerable.Range(0, result.Duplicate.Length).Where(i => result.Duplicate[i]).ToArray();
        return new Accepted(JsonSerializer.SerializeToUtf8Bytes(new BatchPublishAccepted(result.Seqs, duplicates), GatewayJsonContext.Relaxed.BatchPublishAccepted));
    }

    /// <summary>Whose rate a publish counts against: the credential's subject, or the address when auth is off.</summary>
    private static string PublisherOf(HttpContext http, GatewayPrincipal principal) =>
        principal.Kind == CredentialKind.Anonymous ? http.Connection.RemoteIpAddress?.ToString() ?? "unknown" : principal.Subject;

    private static async Task<IResult> ListAsync(HttpContext http, SessionHub hub, Authenticator authenticator, Refusals refusals)
    {
        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckAsync(http, authenticator, refusals, SessionsEndpoint, Right.Admin);
        if (principal is null)
        {
            return refusal!;
        }

        IReadOnlyList<SessionSummary> sessions = await hub.ListSessionsAsync(http.RequestAborted);
        var items = new SessionListItem[sessions.Count];
        for (int i = 0; i < items.Length; i++)
        {
            SessionSummary s = sessions[i];
            items[i] = new SessionListItem(s.Session, s.Seq, s.Clients, s.LastEventAt is { } at ? Timestamps.ToRfc3339(at) : null, s.Complete);
        }

        return Results.Json(items, GatewayJsonContext.Relaxed.SessionListItemArray);
    }

    private static async Task<IResult> GetAsync(HttpContext http, string session, SessionHub hub, Authenticator authenticator, Refusals refusals)
    {
        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckSessionAsync(http, authenticator, refusals, SessionsEndpoint, Right.Watch, session);
        if (principal is null)
        {
            return refusal!;
        }

        SessionSnapshot? snapshot = await hub.GetSessionAsync(session, http.RequestAborted);
        return snapshot is null ? UnknownSession(session) : new SessionResult(snapshot);
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, string session, SessionHub hub, Authenticator authenticator, Refusals refusals)
    {
        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckSessionAsync(http, authenticator, refusals, SessionsEndpoint, Right.Admin, session);
        if (principal is null)
        {
            return refusal!;
        }

        return await hub.DeleteSessionAsync(session, http.RequestAborted) ? Results.NoContent() : UnknownSession(session);
    }

    private static IResult UnknownSession(string session) =>
        Problems.Result(StatusCodes.Status404NotFound, $"no session named '{session}': a session exists from its first publish or connection until it has been idle for Gateway:Sessions:IdleTimeout");

    private static SessionsOptions SessionsLimit(HttpContext http) => http.RequestServices.GetRequiredService<IOptions<SessionsOptions>>().Value;

    /// <summary><c>POST /api/sessions/{session}/events</c>, with the singletons it needs resolved once.</summary>
    private sealed class PublishHandler(IServiceProvider services)
    {
        private readonly SessionHub _hub = services.GetRequiredService<SessionHub>();
        private readonly IOptions<LimitsOptions> _limits = services.GetRequiredService<IOptions<LimitsOptions>>();
        private readonly Authenticator _authenticator = services.GetRequiredService<Authenticator>();
        private readonly Refusals _refusals = services.GetRequiredService<Refusals>();
        private readonly PublishRateLimiter _rates = services.GetRequiredService<PublishRateLimiter>();
        private readonly GatewayMetrics _metrics = services.GetRequiredService<GatewayMetrics>();

        public async Task HandleAsync(HttpContext http)
        {
            // The route's pattern guarantees the value; routing has decoded it.
            string session = (string)http.Request.RouteValues["session"]!;
            IResult result = await PublishAsync(http, session, _hub, _limits, _authenticator, _refusals, _rates, _metrics);
            await result.ExecuteAsync(http);
        }
    }

    /// <summary>
    /// A publish's <c>202</c>: the same JSON as <c>Results.Json</c> writes, but serialized before the
    /// response starts, so that it goes out with a <c>Content-Length</c> in one write when the request
    /// ends. <c>Results.Json</c> flushes the body as a chunk and Kestrel then sends the terminating
    /// chunk on its own: two sends, and two wake-ups of the publisher, for every publish.
    /// </summary>
    private sealed class Accepted(byte[] body) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            HttpResponse response = httpContext.Response;
            response.StatusCode = StatusCodes.Status202Accepted;
            response.ContentType = JsonContentType;
            response.ContentLength = body.Length;

            // Not flushed: Kestrel sends headers and body together once the endpoint returns.
            response.BodyWriter.Write(body);
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// <c>{session, seq, epoch, clients, complete, lastEventAt, state, keyed}</c>. The state holds each event's data
    /// as raw JSON, so it is written directly rather than through a serializer model.
    /// </summary>
    private sealed class SessionResult(SessionSnapshot snapshot) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            var buffer = new ArrayBufferWriter<byte>(256);
            using (var writer = new Utf8JsonWriter(buffer, ServerFrames.WriterOptions))
            {
                writer.WriteStartObject();
                writer.WriteString("session", snapshot.Session);
                writer.WriteNumber("seq", snapshot.Seq);
                writer.WriteString("epoch", snapshot.Epoch);
                writer.WriteNumber("clients", snapshot.Clients);
                writer.WriteBoolean("complete", snapshot.Complete);
                if (snapshot.LastEventAt is { } at)
                {
                    writer.WriteString("lastEventAt", Timestamps.ToRfc3339(at));
                }
                else
                {
                    writer.WriteNull("lastEventAt");
                }

                StateEntry.WriteState(writer, snapshot.State);
                KeyedEntry.WriteKeyed(writer, snapshot.Keyed);
                writer.WriteEndObject();
            }

            await httpContext.Response.Body.WriteAsync(buffer.WrittenMemory);
        }
    }
}
