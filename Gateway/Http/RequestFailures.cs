using Gateway.Log;

namespace Gateway.Http;

/// <summary>
/// Where a request's failure becomes its answer, once for every endpoint, so that one failure has
/// one channel and no endpoint catches on its own:
/// <list type="bullet">
/// <item>the session store did not answer (<see cref="BackplaneUnavailableException"/>, Redis down
/// or slow): 503 with <c>Retry-After</c>, counted and logged as a refusal (<c>backplane_unavailable</c>);</item>
/// <item>Kestrel found the request itself bad while the endpoint read it (<see cref="BadHttpRequestException"/>):
/// its own 4xx, counted and logged as a refusal (<c>bad_request</c>);</item>
/// <item>anything else is a bug in the gateway: 500, one error log line, and no advice to retry.</item>
/// </list>
/// All answers are problem+json. Once a response has started it cannot change: the connection is
/// aborted instead, so that the client sees a cut-off answer rather than a wrong one.
/// </summary>
internal static partial class RequestFailures
{
    /// <summary>Seconds before a retry after a store outage: Redis reconnects within about that (docs/scaling.md).</summary>
    public const string OutageRetryAfter = "1";

    /// <summary>The name a request is counted under when its endpoint does not say (<see cref="RefusalEndpoint"/>).</summary>
    private const string UnnamedEndpoint = "other";

    public static void UseRequestFailures(this IApplicationBuilder app)
    {
        ILogger logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Http.Requests");
        Refusals refusals = app.ApplicationServices.GetRequiredService<Refusals>();
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (Exception e) when (context.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
            {
                // The client went away while the endpoint worked for it: nobody is left to answer.
            }
            catch (BackplaneUnavailableException e)
            {
                await RefuseAsync(context, refusals, StatusCodes.Status503ServiceUnavailable, "backplane_unavailable", OutageMessage(e.Message), OutageRetryAfter);
            }
            catch (BadHttpRequestException e)
            {
                await RefuseAsync(context, refusals, e.StatusCode, "bad_request", e.Message);
            }
            catch (Exception e)
            {
                // The path names the endpoint and session; the query string is left out, as it may hold a token.
                Log.RequestFailed(logger, context.Request.Method, context.Request.Path.Value ?? "/", context.TraceIdentifier, e);
                if (context.Response.HasStarted)
                {
                    context.Abort();
                    return;
                }

                context.Response.Clear();
                await Problems.Result(StatusCodes.Status500InternalServerError,
                    $"the gateway failed on this request: a bug, not a problem with the request or the session store; it is logged on the gateway with request id {context.TraceIdentifier}").ExecuteAsync(context);
            }
        });
    }

    /// <summary>What a client is told of a store outage, whatever refused it: the same words everywhere.</summary>
    public static string OutageMessage(string cause) => $"the session store did not answer: {cause}; retry after the Retry-After seconds";

    private static Task RefuseAsync(HttpContext context, Refusals refusals, int status, string reason, string message, string? retryAfter = null)
    {
        string endpoint = context.GetEndpoint()?.Metadata.GetMetadata<RefusalEndpoint>()?.Name ?? UnnamedEndpoint;
        if (context.Response.HasStarted)
        {
            refusals.Record(context, endpoint, status, reason, message);
            context.Abort();
            return Task.CompletedTask;
        }

        // Whatever the endpoint had begun to set (status, headers) is not this answer's.
        context.Response.Clear();
        if (retryAfter is not null)
        {
            context.Response.Headers.RetryAfter = retryAfter;
        }

        return refusals.Problem(context, endpoint, status, reason, message).ExecuteAsync(context);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 303, Level = LogLevel.Error, Message = "{Method} {Path} failed on a bug (answered 500, request id {RequestId})")]
        public static partial void RequestFailed(ILogger logger, string method, string path, string requestId, Exception exception);
    }
}
