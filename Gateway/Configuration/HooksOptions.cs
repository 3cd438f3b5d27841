namespace Gateway.Configuration;

/// <summary>The <c>Gateway:Hooks</c> section: the backend the gateway calls (spec section 13).</summary>
internal sealed class HooksOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Hooks";

    /// <summary>Where <c>connect</c>, <c>disconnect</c>, <c>session_occupied</c> and <c>session_vacated</c> notifications are POSTed; empty: none are sent.</summary>
    public string Url { get; set; } = "";

    /// <summary>Where a client's <c>rpc</c> messages are forwarded; empty: <c>rpc</c> answers <c>unavailable</c>.</summary>
    public string RpcUrl { get; set; } = "";

    /// <summary>How long the backend has to answer one <c>rpc</c> before the client is told <c>unavailable</c> (100 ms to 5 min).</summary>
    public TimeSpan RpcTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many <c>rpc</c> calls one connection may have waiting for the backend at once (1 to 1000).</summary>
    public int MaxRpcInFlight { get; set; } = 16;

    /// <summary>
    /// Where each WebSocket upgrade and SSE stream is authorized before it is accepted (allow or
    /// deny, with the session, user, token claims, origin and remote address); empty: no call.
    /// </summary>
    public string Authorize { get; set; } = "";

    /// <summary>How long the authorize call may take (50 ms to 1 min).</summary>
    public TimeSpan AuthorizeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>When the authorize call fails or times out: false refuses the client (503), true lets it in.</summary>
    public bool AuthorizeFailOpen { get; set; }

    /// <summary>How long one notification POST may take before it is retried (100 ms to 5 min).</summary>
    public TimeSpan NotifyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The wait before a failed notification POST is tried again (10 ms to 1 min); each further
    /// try waits about twice as long, with jitter, up to <see cref="NotifyBreakDuration"/>. One
    /// second: a backend that restarts is back within a few tries, and one that is down is not
    /// hammered.
    /// </summary>
    public TimeSpan NotifyRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the circuit breaker stays open, sending nothing, once most recent notification
    /// POSTs failed (500 ms to 10 min), before one POST probes the backend again. 15 s: long
    /// enough to spare a backend in trouble, short enough that notifications are not held long
    /// after it recovers.
    /// </summary>
    public TimeSpan NotifyBreakDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How many notifications may wait to be sent; past it, new ones are dropped, counted and logged (1 to 10,000,000).</summary>
    public int OutboxCapacity { get; set; } = 100_000;

    /// <summary>The most notifications one POST carries (1 to 10,000).</summary>
    public int MaxBatch { get; set; } = 100;
}
