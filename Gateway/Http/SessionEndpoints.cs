using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Gateway.Backplane;
using Gateway.Configuration;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Http;

/// <summary>The session API of spec section 5: publish, list, inspect, delete.</summary>
internal static class SessionEndpoints
{
    public static void MapSessionEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/sessions/{session}/events", PublishAsync);
        app.MapGet("/api/sessions", ListAsync);
        app.MapGet("/api/sessions/{session}", GetAsync);
        app.MapDelete("/api/sessions/{session}", DeleteAsync);
    }

    private static async Task<IResult> PublishAsync(HttpContext http, string session, IBackplane backplane, IOptions<LimitsOptions> limits)
    {
        if (!Names.IsValidSessionName(session))
        {
            return InvalidSessionName();
        }

        int max = limits.Value.MaxPublishBytes;
        if (http.Request.ContentLength > max)
        {
            return TooLarge(max);
        }

        PipeReader body = http.Request.BodyReader;
        ReadResult read;
        while (true)
        {
            read = await body.ReadAsync(http.RequestAborted);
            if (read.Buffer.Length > max)
            {
                body.AdvanceTo(read.Buffer.Start);
                return TooLarge(max);
            }

            if (read.IsCompleted)
            {
                break;
            }

            // Keep everything; look again when more has arrived.
            body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }

        IReadOnlyList<PublishRequest>? events;
        bool isBatch;
        ProtocolError error;
        try
        {
            if (!PublishRequestDecoder.TryDecode(read.Buffer, out events, out isBatch, out error))
            {
                return Problems.Result(StatusCodes.Status400BadRequest, error.Message);
            }
        }
        finally
        {
            // The decoder copied what it kept; the request's buffers can go.
            body.AdvanceTo(read.Buffer.End);
        }

        for (int i = 0; i < events.Count - 1; i++)
        {
            if (events[i].Final)
            {
                return Problems.Result(StatusCodes.Status400BadRequest, $"events[{i}]: only the last event of a batch may be final; a final event ends the session");
            }
        }

        PublishResult result = await backplane.PublishAsync(session, events, http.RequestAborted);
        if (result.Status == PublishStatus.SessionComplete)
        {
            return Problems.Result(StatusCodes.Status409Conflict,
                $"session '{session}' is complete: a final event ended it at seq {result.Seq}, and it takes no more events; publish to a new session, or DELETE this one first");
        }

        if (!isBatch)
        {
            return Results.Json(new PublishAccepted(result.Seqs[0], result.Duplicate[0]), GatewayJsonContext.Relaxed.PublishAccepted, statusCode: StatusCodes.Status202Accepted);
        }

        int[] duplicates = Enumerable.Range(0, result.Duplicate.Length).Where(i => result.Duplicate[i]).ToArray();
        return Results.Json(new BatchPublishAccepted(result.Seqs, duplicates), GatewayJsonContext.Relaxed.BatchPublishAccepted, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> ListAsync(IBackplane backplane, CancellationToken cancellationToken)
    {
        IReadOnlyList<SessionSummary> sessions = await backplane.ListSessionsAsync(cancellationToken);
        var items = new SessionListItem[sessions.Count];
        for (int i = 0; i < items.Length; i++)
        {
            SessionSummary s = sessions[i];
            items[i] = new SessionListItem(s.Session, s.Seq, s.Clients, s.LastEventAt is { } at ? Timestamps.ToRfc3339(at) : null, s.Complete);
        }

        return Results.Json(items, GatewayJsonContext.Relaxed.SessionListItemArray);
    }

    private static async Task<IResult> GetAsync(string session, IBackplane backplane, CancellationToken cancellationToken)
    {
        if (!Names.IsValidSessionName(session))
        {
            return InvalidSessionName();
        }

        SessionSnapshot? snapshot = await backplane.GetSessionAsync(session, cancellationToken);
        return snapshot is null ? UnknownSession(session) : new SessionResult(snapshot);
    }

    private static async Task<IResult> DeleteAsync(string session, IBackplane backplane, CancellationToken cancellationToken)
    {
        if (!Names.IsValidSessionName(session))
        {
            return InvalidSessionName();
        }

        return await backplane.DeleteSessionAsync(session, cancellationToken) ? Results.NoContent() : UnknownSession(session);
    }

    public static IResult InvalidSessionName() =>
        Problems.Result(StatusCodes.Status400BadRequest, $"invalid session name: use 1-{Names.MaxSessionNameLength} characters from {Names.AllowedCharacters}");

    private static IResult UnknownSession(string session) =>
        Problems.Result(StatusCodes.Status404NotFound, $"no session named '{session}': a session exists from its first publish or connection until it has been idle for Gateway:Sessions:IdleTimeout");

    private static IResult TooLarge(int max) =>
        Problems.Result(StatusCodes.Status413PayloadTooLarge, $"the body is larger than {max} bytes (Gateway:Limits:MaxPublishBytes); split the batch");

    /// <summary>
    /// <c>{session, seq, clients, lastEventAt, state}</c>. The state holds each event's data as raw
    /// JSON, so it is written directly rather than through a serializer model.
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
                writer.WriteEndObject();
            }

            await httpContext.Response.Body.WriteAsync(buffer.WrittenMemory);
        }
    }
}
