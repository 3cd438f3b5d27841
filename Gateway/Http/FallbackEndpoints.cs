using System.Buffers;
using System.Text.Json;
using Gateway.Backplane;
using Gateway.Connections;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Gateway.Security;
using Gateway.Sessions;

namespace Gateway.Http;

/// <summary>
/// The same events for clients that cannot use WebSockets: Server-Sent Events and long polling
/// (spec section 5).
/// </summary>
internal static class FallbackEndpoints
{
    /// <summary>The longest a poll may wait, in seconds (spec section 5).</summary>
    public const int MaxWaitSeconds = 30;

    /// <summary>The most events one poll returns, and the default.</summary>
    public const int MaxLimit = 1000;
    public const int DefaultLimit = 100;

    public static void MapFallbackEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/sessions/{session}/events", PollAsync).WithMetadata(new RefusalEndpoint(PollEndpoint));
        app.MapGet("/api/sessions/{session}/stream", StreamAsync).WithMetadata(new RefusalEndpoint(Refusals.Stream));
    }

    private const string PollEndpoint = "poll";

    /// <summary><c>GET /api/sessions/{session}/events?since=N&amp;epoch=E&amp;limit=M&amp;wait=S</c>.</summary>
    private static async Task<IResult> PollAsync(
        HttpContext http, string session, IBackplane backplane, GatewayLifecycle lifecycle, Authenticator authenticator, Refusals refusals)
    {
        if (!Names.IsValidSessionName(session))
        {
            return refusals.InvalidSessionName(http, PollEndpoint);
        }

        IQueryCollection query = http.Request.Query;
        if (!QueryParameters.TryParseSeq(query["since"], "since", out long? since, out string? error)
            || !QueryParameters.TryParseEpoch(query["epoch"], out string? epoch, out error)
            || !QueryParameters.TryParseInt(query["limit"], "limit", 1, MaxLimit, DefaultLimit, out int limit, out error)
            || !QueryParameters.TryParseInt(query["wait"], "wait", 0, MaxWaitSeconds, 0, out int wait, out error))
        {
            return refusals.Problem(http, PollEndpoint, StatusCodes.Status400BadRequest, "bad_parameter", error!);
        }

        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckAsync(http, authenticator, refusals, PollEndpoint, Right.Watch, session);
        if (principal is null)
        {
            return refusal!;
        }

        EventPage? page = await PollOrDrainAsync(http, session, new ResumePoint(since ?? 0, epoch), limit, wait, backplane, lifecycle);
        if (page is null)
        {
            http.Response.Headers.RetryAfter = "5";
            return refusals.Problem(http, PollEndpoint, StatusCodes.Status503ServiceUnavailable, "max_sessions",
                "this gateway holds as many sessions as it may (Gateway:Sessions:MaxSessions); retry later");
        }

        return new PageResult(page);
    }

    /// <summary>
    /// The poll, whose wait ends early when the gateway starts shutting down: spec section 8 says a
    /// pending poll answers at once with what it has, and a poll left waiting would hold the process
    /// past the drain (the server waits for requests in flight before it exits).
    /// </summary>
    private static async ValueTask<EventPage?> PollOrDrainAsync(
        HttpContext http, string session, ResumePoint from, int limit, int wait, IBackplane backplane, GatewayLifecycle lifecycle)
    {
        if (wait == 0 || lifecycle.IsDraining)
        {
            return await backplane.PollAsync(session, from, limit, TimeSpan.Zero, http.RequestAborted);
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifecycle.Draining);
        try
        {
            return await backplane.PollAsync(session, from, limit, TimeSpan.FromSeconds(wait), waiting.Token);
        }
        catch (OperationCanceledException) when (lifecycle.IsDraining && !http.RequestAborted.IsCancellationRequested)
        {
            // The wait was given up, not the read: read once more without waiting, so that an event
            // published meanwhile is not left out of the answer.
            return await backplane.PollAsync(session, from, limit, TimeSpan.Zero, http.RequestAborted);
        }
    }

    /// <summary><c>GET /api/sessions/{session}/stream</c>: resumes from <c>Last-Event-ID</c>, else <c>since</c> (and <c>epoch</c>).</summary>
    private static async Task StreamAsync(
        HttpContext http, string session, IBackplane backplane, ConnectionEnvironment env,
        Authenticator authenticator, OriginPolicy origins, ConnectionLimiter limiter, Refusals refusals)
    {
        string endpoint = Refusals.Stream;
        string? lastEventId = http.Request.Headers["Last-Event-ID"];
        if (!Names.IsValidSessionName(session))
        {
            await refusals.InvalidSessionName(http, endpoint).ExecuteAsync(http);
            return;
        }

        ResumePoint? from = null;
        if (!EventFilter.TryParseQuery(http.Request.Query["events"], out EventFilter filter, out string? error)
            || !TryParseResumePoint(http, lastEventId, out from, out error))
        {
            await refusals.Problem(http, endpoint, StatusCodes.Status400BadRequest, "bad_parameter", error!).ExecuteAsync(http);
            return;
        }

        if (env.Lifecycle.IsDraining)
        {
            http.Response.Headers.RetryAfter = "1";
            await refusals.Problem(http, endpoint, StatusCodes.Status503ServiceUnavailable, "draining", "the gateway is shutting down; reconnect in a moment").ExecuteAsync(http);
            return;
        }

        // The same check, in the same place before authentication, as the WebSocket upgrade: an
        // EventSource sends the page's Origin on a cross-origin request, with the visitor's cookies
        // when the page asks (withCredentials).
        if (!origins.Allows(http.Request.Headers.Origin))
        {
            await refusals.Problem(http, endpoint, StatusCodes.Status403Forbidden, "origin_not_allowed",
                "this page's origin may not open event streams from this gateway (Gateway:Security:AllowedOrigins)").ExecuteAsync(http);
            return;
        }

        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckAsync(http, authenticator, refusals, endpoint, Right.Watch, session);
        if (principal is null)
        {
            await refusal!.ExecuteAsync(http);
            return;
        }

        if (lastEventId is not null && await backplane.GetSessionAsync(session, http.RequestAborted) is { Complete: true } done && from is { } point && point.IsIn(done.Epoch) && point.Seq >= done.Seq)
        {
            // An EventSource reconnecting to a finished job: 204 is the one answer that stops its retries.
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        if (!backplane.IsAvailable)
        {
            // One outage, one answer: the request pipeline's (RequestFailures), as for every endpoint.
            // The same words as the link's own when a call finds it down.
            throw new BackplaneUnavailableException("Redis is unreachable; the gateway is reconnecting");
        }

        if (!backplane.CanAdmit(session))
        {
            http.Response.Headers.RetryAfter = "5";
            await refusals.Problem(http, endpoint, StatusCodes.Status503ServiceUnavailable, "max_sessions",
                "this gateway holds as many sessions as it may (Gateway:Sessions:MaxSessions); retry later").ExecuteAsync(http);
            return;
        }

        using ConnectionLimiter.Slot? slot = limiter.TryAcquire(http.Connection.RemoteIpAddress?.ToString() ?? "unknown", session, out string? limit);
        if (slot is null)
        {
            http.Response.Headers.RetryAfter = "5";
            await refusals.Problem(http, endpoint, StatusCodes.Status503ServiceUnavailable, limit!, $"connection limit reached ({limit}); retry later").ExecuteAsync(http);
            return;
        }

        await new ServerSentEventStream(env, http, session, filter, from, principal).RunAsync();
    }

    /// <summary>Where a stream resumes: <c>Last-Event-ID</c> (<c>epoch:seq</c>, or a bare seq), else <c>since</c> and <c>epoch</c>.</summary>
    private static bool TryParseResumePoint(HttpContext http, string? lastEventId, out ResumePoint? from, out string? error)
    {
        from = null;
        if (lastEventId is not null)
        {
            bool parsed = QueryParameters.TryParseEventId(lastEventId, out ResumePoint point, out error);
            from = parsed ? point : null;
            return parsed;
        }

        if (!QueryParameters.TryParseSeq(http.Request.Query["since"], "since", out long? since, out error)
            || !QueryParameters.TryParseEpoch(http.Request.Query["epoch"], out string? epoch, out error))
        {
            return false;
        }

        from = since is { } seq ? new ResumePoint(seq, epoch) : null;
        return true;
    }

    /// <summary><c>{events, seq, epoch, complete, more, sessionComplete}</c>, the events as a WebSocket client gets them.</summary>
    private sealed class PageResult(EventPage page) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.ContentType = "application/json; charset=utf-8";
            var buffer = new ArrayBufferWriter<byte>(256 + (page.Events.Count * 160));
            using (var writer = new Utf8JsonWriter(buffer, ServerFrames.WriterOptions))
            {
                writer.WriteStartObject();
                writer.WriteStartArray("events");
                foreach (SessionEvent e in page.Events)
                {
                    writer.WriteRawValue(e.Json.Span, skipInputValidation: true);
                }

                writer.WriteEndArray();
                writer.WriteNumber("seq", page.Seq);
                writer.WriteString("epoch", page.Epoch);
                writer.WriteBoolean("complete", page.Complete);
                writer.WriteBoolean("more", page.More);
                writer.WriteBoolean("sessionComplete", page.SessionComplete);
                writer.WriteEndObject();
            }

            await httpContext.Response.Body.WriteAsync(buffer.WrittenMemory);
        }
    }
}
