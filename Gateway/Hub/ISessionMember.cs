using Gateway.Sessions;
namespace Gateway.Hub;

/// <summary>What an enqueue did. Enqueueing never blocks and never throws.</summary>
internal enum EnqueueResult
{
    /// <summary>Queued (or skipped by the member's filter): nothing more to do.</summary>
    Enqueued,

    /// <summary>The queue was full: the member has started closing as a slow consumer and leaves the session now.</summary>
    Full,

    /// <summary>The member is closing and takes nothing more: it leaves the session now.</summary>
    Closed,

    /// <summary>
    /// Queued, and the member's sender was idle: once the session has released its lock it must
    /// call <see cref="ISessionMember.Wake"/>.
    /// </summary>
    EnqueuedIdle,
}

/// <summary>
/// Events a member asked to be sent again: those after <see cref="Since"/> that history still held
/// (when the member's epoch was of another life, the current life's from its start).
/// <see cref="Complete"/> is false when history no longer held every event after it, or when the
/// epoch did not match; <see cref="Epoch"/> is the session's current life.
/// </summary>
internal sealed record Replay(long Since, IReadOnlyList<SessionEvent> Events, bool Complete, string Epoch);

/// <summary>Where a session stood when a member joined it.</summary>
/// <param name="Seq">The session's latest seq: events after it reach the member live.</param>
/// <param name="SessionComplete">True when a final event has completed the session.</param>
/// <param name="Replay">The replay the member asked for with its join, or null.</param>
/// <param name="Epoch">The session's current life.</param>
internal sealed record JoinState(long Seq, bool SessionComplete, Replay? Replay, string Epoch);

/// <summary>A local receiver of a session's live events: a WebSocket connection or an SSE stream.</summary>
internal interface ISessionMember
{
    /// <summary>
    /// Called while the session holds its lock, as the member joins: whatever the member enqueues
    /// here (its welcome, the replay) goes out before any event published after the join.
    /// </summary>
    void OnJoined(JoinState state);

    /// <summary>
    /// Hands over an event. Called in seq order, while the session holds its lock: it must only
    /// enqueue, never wait, and never call back into the session.
    /// </summary>
    EnqueueResult Deliver(SessionEvent sessionEvent);

    /// <summary>
    /// Starts the member's idle sender after <see cref="Deliver"/> said <see cref="EnqueueResult.EnqueuedIdle"/>.
    /// Called outside the session's lock; the sender runs on the calling thread until it would wait.
    /// </summary>
    void Wake();

    /// <summary>
    /// The member is no longer in the session: it completed (1000) or was deleted (1001). Called
    /// outside the session's lock, after every event the member is due.
    /// </summary>
    void OnSessionClosed(ushort code, string reason);

    /// <summary>The member's index in its session's member list, kept by the session; -1 when not a member.</summary>
    int SessionSlot { get; set; }

    /// <summary>
    /// The member's place, once its join has returned (null before): when the hub drops the member
    /// (its queue overflowed, it was closing, its session ended), the hub leaves it at once, so
    /// that the session's client count does not wait for the connection's close handshake.
    /// </summary>
    SessionMembership? Membership { get; }
}

/// <summary>A member's place in a session.</summary>
internal abstract class SessionMembership
{
    /// <summary>
    /// Replays the held events after <paramref name="from"/> (from the start of the current life
    /// when its epoch is of another): <paramref name="deliver"/> is called with them at a point
    /// between two live events, so that nothing is lost or sent twice at the seam.
    /// </summary>
    public abstract ValueTask ReplayAsync(ResumePoint from, Action<Replay> deliver, CancellationToken cancellationToken);

    /// <summary>Leaves the session. Safe to call more than once, from any thread.</summary>
    public abstract void Leave();
}
