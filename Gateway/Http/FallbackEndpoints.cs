using System.Buffers;
using System.Text.Json;
using Gateway.Connections;
using Gateway.Hub;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
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
        HttpContext http, string session, SessionHub hub, GatewayLifecycle lifecycle, Authenticator authenticator, Refusals refusals)
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

        EventPage? page = await PollOrDrainAsync(http, session, new ResumePoint(since ?? 0, epoch), limit, wait, hub, lifecycle);
        if (page is null)
        {
            http.Response.Headers.RetryAfter = "5";
            return refusals.Problem(http, PollEndpoint, StatusCodes.Status503ServiceUnavailable, "max_sessions",
                "this gateway holds as many sessions as it may (Gateway:Sessions:MaxSessions); retry later");
        }

        // A poller that starts from the beginning, or has lost events, cannot assemble the texts
        // that appends are building from the chunks it gets: it gets them whole (spec section 19).
        IReadOnlyList<KeyedEntry>? keyed = null;
        if (since is null or 0 || !page.Complete)
        {
            keyed = (await hub.GetSessionAsync(session, http.RequestAborted))?.Keyed ?? [];
        }

        return new PageResult(page, keyed);
    }

    /// <summary>
    /// The poll, whose wait ends early when the gateway starts shutting down: spec section 8 says a
    /// pending poll answers at once with what it has, and a poll left waiting would hold the process
    /// past the drain (the server waits for requests in flight before it exits).
    /// </summary>
    private static async ValueTask<EventPage?> PollOrDrainAsync(
        HttpContext http, string session, ResumePoint from, int limit, int wait, SessionHub hub, GatewayLifecycle lifecycle)
    {
        if (wait == 0 || lifecycle.IsDraining)
        {
            return await hub.PollAsync(session, from, limit, TimeSpan.Zero, http.RequestAborted);
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifecycle.Draining);
        try
        {
            return await hub.PollAsync(session, from, limit, TimeSpan.FromSeconds(wait), waiting.Token);
        }
        catch (OperationCanceledException) when (lifecycle.IsDraining && !http.RequestAborted.IsCancellationRequested)
        {
            // The wait was given up, not the read: read once more without waiting, so that an event
            // published meanwhile is not left out of the answer.
            return await hub.PollAsync(session, from, limit, TimeSpan.Zero, http.RequestAborted);
        }
    }

    /// <summary>
    /// <c>GET /api/sessions/{session}/stream</c>: resumes from <c>Last-Event-ID</c>, else <c>since</c>
    /// (and <c>epoch</c>); <c>named=true</c> adds an <c>event</c> line to each SSE event.
    /// </summary>
    private static async Task StreamAsync(HttpContext http, string session, SessionHub hub, ConnectionEnvironment env, Admission admission, Refusals refusals)
    {
        string? lastEventId = http.Request.Headers["Last-Event-ID"];
        EventFilter filter = EventFilter.All;
        ResumePoint? from = null;
        bool presence = false;
        bool named = false;
        Refusal? TransportChecks() =>
            EventFilter.TryParseQuery(http.Request.Query["events"], out filter, out string? error) && TryParseResumePoint(http, lastEventId, out from, out error)
                && QueryParameters.TryParseFlag(http.Request.Query["presence"], "presence", out presence, out error)
                && QueryParameters.TryParseFlag(http.Request.Query["named"], "named", out named, out error)
                ? null
                : new Refusal(StatusCodes.Status400BadRequest, "bad_parameter", error!);

        // An EventSource sends the page's Origin on a cross-origin request, with the visitor's
        // cookies when the page asks (withCredentials): the origin check matters here as for a WebSocket.
        (Admitted? admitted, Refusal? refusal) = await admission.AdmitAsync(http, session, TransportChecks, firstMessageAuth: false, "event streams");
        if (admitted is null)
        {
            if (refusal!.RetryAfter is { } seconds)
            {
                http.Response.Headers.RetryAfter = seconds;
            }

            await refusals.Problem(http, Refusals.Stream, refusal.Status, refusal.Reason, refusal.Message).ExecuteAsync(http);
            return;
        }

        using Admitted slot = admitted;
        if (lastEventId is not null && await hub.GetSessionAsync(session, http.RequestAborted) is { Complete: true } done && from is { } point && point.IsIn(done.Epoch) && point.Seq >= done.Seq)
        {
            // An EventSource reconnecting to a finished job: 204 is the one answer that stops its retries.
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        // Without first-message auth, an admitted client always has a principal (anonymous with auth off).
        await new ServerSentEventStream(env, http, session, filter, from, admitted.Principal!, admitted.Identity) { WatchesPresence = presence, Named = named }.RunAsync();
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

    /// <summary>
    /// <c>{events, seq, epoch, complete, more, sessionComplete}</c>, the events as a WebSocket client
    /// gets them, and <c>keyed</c> when given.
    /// </summary>
    private sealed class PageResult(EventPage page, IReadOnlyList<KeyedEntry>? keyed) : IResult
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
                if (keyed is not null)
                {
                    KeyedEntry.WriteKeyed(writer, keyed);
                }

                writer.WriteEndObject();
            }

            await httpContext.Response.Body.WriteAsync(buffer.WrittenMemory);
        }
    }
}
