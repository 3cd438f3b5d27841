using System.Buffers;
using System.Text.Json;
using Gateway.Backplane;
using Gateway.Connections;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
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
        app.MapGet("/api/sessions/{session}/events", PollAsync);
        app.MapGet("/api/sessions/{session}/stream", StreamAsync);
    }

    /// <summary><c>GET /api/sessions/{session}/events?since=N&amp;limit=M&amp;wait=S</c>.</summary>
    private static async Task<IResult> PollAsync(HttpContext http, string session, IBackplane backplane)
    {
        if (!Names.IsValidSessionName(session))
        {
            return SessionEndpoints.InvalidSessionName();
        }

        IQueryCollection query = http.Request.Query;
        if (!QueryParameters.TryParseSeq(query["since"], "since", out long? since, out string? error)
            || !QueryParameters.TryParseInt(query["limit"], "limit", 1, MaxLimit, DefaultLimit, out int limit, out error)
            || !QueryParameters.TryParseInt(query["wait"], "wait", 0, MaxWaitSeconds, 0, out int wait, out error))
        {
            return Problems.Result(StatusCodes.Status400BadRequest, error!);
        }

        EventPage page = await backplane.PollAsync(session, since ?? 0, limit, TimeSpan.FromSeconds(wait), http.RequestAborted);
        return new PageResult(page);
    }

    /// <summary><c>GET /api/sessions/{session}/stream</c>: resumes from <c>Last-Event-ID</c>, else <c>since</c>.</summary>
    private static async Task StreamAsync(HttpContext http, string session, IBackplane backplane, ConnectionEnvironment env)
    {
        IResult? refusal = null;
        long? since = null;
        string? error = null;
        string? lastEventId = http.Request.Headers["Last-Event-ID"];
        if (!Names.IsValidSessionName(session))
        {
            refusal = SessionEndpoints.InvalidSessionName();
        }
        else if (!EventFilter.TryParseQuery(http.Request.Query["events"], out EventFilter filter, out error)
            || !QueryParameters.TryParseSeq(lastEventId ?? (string?)http.Request.Query["since"], lastEventId is null ? "since" : "Last-Event-ID", out since, out error))
        {
            refusal = Problems.Result(StatusCodes.Status400BadRequest, error!);
        }
        else if (env.Lifecycle.IsDraining)
        {
            http.Response.Headers.RetryAfter = "1";
            refusal = Problems.Result(StatusCodes.Status503ServiceUnavailable, "the gateway is shutting down; reconnect in a moment");
        }
        else if (lastEventId is not null && await backplane.GetSessionAsync(session, http.RequestAborted) is { Complete: true } done && since >= done.Seq)
        {
            // An EventSource reconnecting to a finished job: 204 is the one answer that stops its retries.
            refusal = Results.NoContent();
        }
        else
        {
            await new ServerSentEventStream(env, http, session, filter, since).RunAsync();
            return;
        }

        await refusal.ExecuteAsync(http);
    }

    /// <summary><c>{events, seq, complete, more, sessionComplete}</c>, the events as a WebSocket client gets them.</summary>
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
                writer.WriteBoolean("complete", page.Complete);
                writer.WriteBoolean("more", page.More);
                writer.WriteBoolean("sessionComplete", page.SessionComplete);
                writer.WriteEndObject();
            }

            await httpContext.Response.Body.WriteAsync(buffer.WrittenMemory);
        }
    }
}
