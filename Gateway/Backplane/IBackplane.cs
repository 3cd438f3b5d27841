using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Backplane;

/// <summary>
/// The one seam behind which sessions live: seq assignment, history, state, idempotency, job
/// completion and fan-out to the session's members. Connection and HTTP code talk only to this, so
/// that the in-memory implementation can be replaced by one shared between nodes without touching them.
/// </summary>
/// <remarks>
/// Every asynchronous member, <see cref="PublishAsync"/> included, may throw
/// <see cref="BackplaneUnavailableException"/> when the shared store does not answer: one channel
/// for an outage, answered 503 (HTTP) or <c>unavailable</c> (WebSocket) in one place each.
/// </remarks>
internal interface IBackplane
{
    /// <summary>How many sessions this node holds (for the sessions gauge).</summary>
    int SessionCount { get; }

    /// <summary>
    /// False while the store behind the sessions cannot be reached (Redis down): publishes answer
    /// 503, new connections are refused, <c>/readyz</c> says so. Always true in memory.
    /// </summary>
    bool IsAvailable { get; }

    /// <summary>
    /// Gives each new event the next seq of <paramref name="session"/> (consecutive within the
    /// call), stores it in history and state, and hands it to every member. An event whose id is
    /// already in history is not published again: it gets its original seq, marked duplicate.
    /// Returns once the events are in history. Creates the session when it does not exist. A final
    /// event completes the session: its members are then closed with 1000.
    /// </summary>
    ValueTask<PublishResult> PublishAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a member to <paramref name="session"/>, creating the session when it does not exist.
    /// With <paramref name="from"/>, the member's <see cref="ISessionMember.OnJoined"/> gets the
    /// held events after it (the current life's from its start when its epoch is of another
    /// life), before any live event.
    /// </summary>
    ValueTask<SessionMembership> JoinAsync(string session, ISessionMember member, ResumePoint? from, CancellationToken cancellationToken);

    /// <summary>
    /// True when <paramref name="session"/> exists or may be created (the session limit is not
    /// reached): checked before a connection is accepted.
    /// </summary>
    bool CanAdmit(string session);

    /// <summary>
    /// The held events after <paramref name="from"/> (the current life's from its start when its
    /// epoch is of another life), at most <paramref name="limit"/>. When there are none yet,
    /// waits up to <paramref name="wait"/> for the next publish. Creates the session when it does
    /// not exist, as a connection would; null when the session limit forbids that.
    /// </summary>
    ValueTask<EventPage?> PollAsync(string session, ResumePoint from, int limit, TimeSpan wait, CancellationToken cancellationToken);

    /// <summary>Where <paramref name="session"/> stands, or null when it does not exist.</summary>
    ValueTask<SessionSnapshot?> GetSessionAsync(string session, CancellationToken cancellationToken);

    /// <summary>Every session, ordered by name.</summary>
    ValueTask<IReadOnlyList<SessionSummary>> ListSessionsAsync(CancellationToken cancellationToken);

    /// <summary>Forgets <paramref name="session"/> and closes its members with 1001. False when it did not exist.</summary>
    ValueTask<bool> DeleteSessionAsync(string session, CancellationToken cancellationToken);
}

/// <summary>The shared store behind the sessions (Redis) did not answer in time or is unreachable.</summary>
internal sealed class BackplaneUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
