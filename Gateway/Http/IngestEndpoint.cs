using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Unicode;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Protocol;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Gateway.Http;

/// <summary>
/// Streaming ingest (spec section 18): an NDJSON or text/plain body published line by line as it
/// arrives. The lines complete at each read go out as one append, so a trickle streams live and
/// a flood shares appends. A bad line is reported and skipped; it never stops the lines after it.
/// </summary>
internal static class IngestEndpoint
{
    /// <summary>Refusals count under the publish endpoint: an ingest is a publish.</summary>
    private const string Endpoint = "publish";

    private const string NdjsonType = "application/x-ndjson";
    private const string TextType = "text/plain";
    private const string DefaultTextEvent = "line";

    /// <summary>How many errors the answer lists; all are counted in <c>errorCount</c>.</summary>
    public const int MaxListedErrors = 100;

    private static readonly JsonEncodedText LineProperty = JsonEncodedText.Encode("line");
    private static readonly JsonEncodedText NumberProperty = JsonEncodedText.Encode("n");

    /// <summary>
    /// True when a POST's Content-Type asks for streaming ingest: NDJSON only. A POST labelled
    /// text/plain stays a JSON publish, because HTTP clients label a string body text/plain by
    /// default (.NET's StringContent, many others) and existing publishers send JSON that way;
    /// text lines come by PUT, which is what <c>curl -T</c> sends.
    /// </summary>
    public static bool IsStream(HttpRequest request) => KindOf(request) is true;

    private static bool? KindOf(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out MediaTypeHeaderValue? type))
        {
            return null;
        }

        if (type.MediaType.Equals(NdjsonType, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return type.MediaType.Equals(TextType, StringComparison.OrdinalIgnoreCase) ? false : null;
    }

    /// <summary>Answers <c>PUT /api/sessions/{session}/events</c> (NDJSON or text/plain), and an NDJSON POST.</summary>
    public static async Task<IResult> IngestAsync(
        HttpContext http, string session, SessionHub hub, IOptions<LimitsOptions> limits,
        Authenticator authenticator, Refusals refusals, PublishRateLimiter rates, GatewayMetrics metrics)
    {
        (GatewayPrincipal? principal, IResult? refusal) = await Access.CheckSessionAsync(http, authenticator, refusals, Endpoint, Right.Publish, session);
        if (principal is null)
        {
            return refusal!;
        }

        if (KindOf(http.Request) is not { } ndjson)
        {
            return refusals.Problem(http, Endpoint, StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
                $"PUT publishes a stream of lines: Content-Type {NdjsonType} (one event object a line) or {TextType} (each line an event); got '{http.Request.ContentType}'. A JSON publish is a POST");
        }

        string textEvent = DefaultTextEvent;
        if (!ndjson && http.Request.Query.TryGetValue("event", out var names))
        {
            textEvent = names.ToString();
            if (!Names.IsValidEventName(textEvent))
            {
                return refusals.Problem(http, Endpoint, StatusCodes.Status400BadRequest, "invalid_event",
                    $"event='{textEvent}' is not a valid event name: 1 to {Names.MaxEventNameLength} characters of letters, digits and . _ - :");
            }
        }

        // The producer sets the pace: a build may print nothing for minutes, and a log has no
        // size known in advance. The idle timeout and the per-line limit bound it instead.
        if (http.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
        {
            rate.MinDataRate = null;
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = null;
        }

        string publisher = principal.Kind == CredentialKind.Anonymous ? http.Connection.RemoteIpAddress?.ToString() ?? "unknown" : principal.Subject;
        var ingest = new Ingest(http, session, hub, rates, metrics, publisher, ndjson, textEvent);
        metrics.IngestStreamsOpen(1);
        try
        {
            await ingest.RunAsync(limits.Value.MaxMessageBytes, limits.Value.IngestIdleTimeout);
        }
        finally
        {
            metrics.IngestStreamsOpen(-1);
        }

        return Results.Json(ingest.Answer(), GatewayJsonContext.Relaxed.IngestAccepted, statusCode: StatusCodes.Status202Accepted);
    }

    private sealed class Ingest(
        HttpContext http, string session, SessionHub hub, PublishRateLimiter rates, GatewayMetrics metrics, string publisher, bool ndjson, string textEvent)
    {
        private readonly List<PublishRequest> _pending = [];
        private readonly List<long> _pendingLines = [];
        private readonly List<IngestError> _errors = [];
        private int _errorCount;
        private int _count;
        private long? _first;
        private long? _last;
        private long _lineNumber;

        /// <summary>Set when a final event (or the log) completed the session: later lines are errors.</summary>
        private string? _completed;

        public async Task RunAsync(int maxLineBytes, TimeSpan idleTimeout)
        {
            PipeReader body = http.Request.BodyReader;
            var cutter = new LineCutter(maxLineBytes);
            using var idle = new CancellationTokenSource();

            // Cancelling the pending read, rather than the request, leaves the response ours to write.
            using CancellationTokenRegistration cancelRead = idle.Token.Register(static state => ((PipeReader)state!).CancelPendingRead(), body);
            while (true)
            {
                idle.CancelAfter(idleTimeout);
                ReadResult read = await body.ReadAsync(http.RequestAborted);

                // Only the producer's silence counts: an append waiting on the log or the rate is not idle.
                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                if (read.IsCanceled)
                {
                    body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                    await FlushAsync();
                    AddError(_lineNumber + 1, string.Create(CultureInfo.InvariantCulture,
                        $"no byte came for {idleTimeout} (Gateway:Limits:IngestIdleTimeout); the lines before were published and the rest of the body was not read"));
                    return;
                }

                ReadOnlySequence<byte> buffer = read.Buffer;
                LineStatus status;
                while ((status = cutter.TryCut(ref buffer, out ReadOnlySequence<byte> line)) != LineStatus.NeedMore)
                {
                    await TakeAsync(status, line, maxLineBytes);
                }

                if (read.IsCompleted && cutter.TryFinish(buffer, out status, out ReadOnlySequence<byte> last))
                {
                    await TakeAsync(status, last, maxLineBytes);
                    buffer = buffer.Slice(buffer.End);
                }

                // What was taken is copied; the read's buffers can go before the append waits.
                body.AdvanceTo(buffer.Start, buffer.End);
                await FlushAsync();
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }

        public IngestAccepted Answer() => new(_count, _first, _last, [.. _errors], _errorCount);

        private async ValueTask TakeAsync(LineStatus status, ReadOnlySequence<byte> line, int maxLineBytes)
        {
            long number = ++_lineNumber;
            if (status == LineStatus.TooLong)
            {
                Skip(number, string.Create(CultureInfo.InvariantCulture,
                    $"the line is longer than {maxLineBytes} bytes (Gateway:Limits:MaxMessageBytes); it was skipped"));
                return;
            }

            if (_completed is not null)
            {
                Skip(number, _completed);
                return;
            }

            byte[] bytes = line.ToArray();
            if (!Utf8.IsValid(bytes))
            {
                Skip(number, "the line is not valid UTF-8; it was skipped");
                return;
            }

            PublishRequest request;
            if (ndjson)
            {
                if (bytes.AsSpan().Trim(" \t"u8).IsEmpty)
                {
                    // Blank lines separate nothing in NDJSON; a trailing one is common.
                    return;
                }

                if (!PublishRequestDecoder.TryDecode(new ReadOnlySequence<byte>(bytes), out IReadOnlyList<PublishRequest>? events, out bool isBatch, out ProtocolError error))
                {
                    Skip(number, error.Message);
                    return;
                }

                if (isBatch)
                {
                    Skip(number, "a line holds one event object {\"event\",\"data\"?,\"id\"?,\"final\"?}, not an array");
                    return;
                }

                request = events[0];
            }
            else
            {
                request = new PublishRequest(textEvent, TextData(bytes, number));
            }

            _pending.Add(request);
            _pendingLines.Add(number);
            if (request.Final || _pending.Count == PublishRequestDecoder.MaxBatch)
            {
                await FlushAsync();
            }
        }

        private static byte[] TextData(byte[] line, long number)
        {
            var buffer = new ArrayBufferWriter<byte>(line.Length + 32);
            using (var writer = new Utf8JsonWriter(buffer, ServerFrames.WriterOptions))
            {
                writer.WriteStartObject();
                writer.WriteString(LineProperty, line);
                writer.WriteNumber(NumberProperty, number);
                writer.WriteEndObject();
            }

            return buffer.WrittenSpan.ToArray();
        }

        private async ValueTask FlushAsync()
        {
            if (_pending.Count == 0)
            {
                return;
            }

            // A stream cannot be refused with 429 halfway: it waits for its turn instead.
            while (!rates.TryAcquire(publisher, _pending.Count, out TimeSpan retryAfter))
            {
                await Task.Delay(retryAfter, http.RequestAborted);
            }

            PublishRequest[] batch = [.. _pending];
            long[] lines = [.. _pendingLines];
            _pending.Clear();
            _pendingLines.Clear();
            await PublishLinesAsync(batch, lines, 0, batch.Length);
        }

        /// <summary>
        /// Publishes lines <paramref name="start"/> to <paramref name="end"/> of a batch as one. Each
        /// line stands for itself: an append past Gateway:Limits:MaxAssembledBytes is that line's
        /// error, and the lines before and after it are published without it.
        /// </summary>
        private async ValueTask PublishLinesAsync(PublishRequest[] batch, long[] lines, int start, int end)
        {
            PublishResult result = await hub.PublishAsync(session, batch[start..end], http.RequestAborted);
            if (result.Status == PublishStatus.AssembledTooLarge && result.Refused >= 0)
            {
                int refused = start + result.Refused;
                if (refused > start)
                {
                    await PublishLinesAsync(batch, lines, start, refused);
                }

                AddError(lines[refused], PublishRefusals.AssembledTooLarge);
                if (refused + 1 < end)
                {
                    await PublishLinesAsync(batch, lines, refused + 1, end);
                }

                return;
            }

            string? failed = result.Status switch
            {
                PublishStatus.SessionComplete => _completed = string.Create(CultureInfo.InvariantCulture,
                    $"session '{session}' is complete: a final event ended it at seq {result.Seq}, and it takes no more events"),
                PublishStatus.TooManyEventNames => "the session would have more events names than Gateway:Sessions:MaxEventNames; reuse names and put the variety in data",
                PublishStatus.TooManyKeys => PublishRefusals.TooManyKeys,
                PublishStatus.MemoryFull => "history memory is full (Gateway:History:MaxTotalBytes, or Redis's maxmemory); the line was not published",
                PublishStatus.SessionLimit => "this gateway holds Gateway:Sessions:MaxSessions sessions already; the line was not published",
                _ => null,
            };
            if (failed is not null)
            {
                for (int i = start; i < end; i++)
                {
                    Skip(lines[i], failed);
                }

                return;
            }

            _count += end - start;
            metrics.IngestLinesPublished(end - start);
            _first ??= result.Seqs[0];
            _last = result.Seqs[^1];
            if (batch[end - 1].Final)
            {
                _completed = string.Create(CultureInfo.InvariantCulture,
                    $"session '{session}' is complete: line {lines[end - 1]} was final, and it takes no more events");
            }
        }

        /// <summary>Reports a line that was not published.</summary>
        private void Skip(long line, string message)
        {
            metrics.IngestLinesSkipped(1);
            AddError(line, message);
        }

        /// <summary>Reports a problem at a line; the idle timeout's is not a line of the body, so is not counted as skipped.</summary>
        private void AddError(long line, string message)
        {
            _errorCount++;
            if (_errors.Count < MaxListedErrors)
            {
                _errors.Add(new IngestError(line, message));
            }
        }
    }
}
