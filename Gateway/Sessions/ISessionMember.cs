namespace Gateway.Sessions;

/// <summary>What an enqueue did. Enqueueing never blocks and never throws.</summary>
internal enum EnqueueResult
{
    /// <summary>Queued (or skipped by the member's filter): nothing more to do.</summary>
    Enqueued,

    /// <summary>The queue was full: the member has started closing as a slow consumer and leaves the session now.</summary>
    Full,

    /// <summary>The member is closing and takes nothing more: it leaves the session now.</summary>
    Closed,
}

/// <summary>A local receiver of a session's live events: one WebSocket connection.</summary>
internal interface ISessionMember
{
    /// <summary>
    /// Called while the session holds its lock, as the member joins at <paramref name="seq"/>:
    /// whatever the member enqueues here goes out before any event after that seq.
    /// </summary>
    void OnJoined(long seq);

    /// <summary>
    /// Hands over an event. Called in seq order, while the session holds its lock: it must only
    /// enqueue, never wait, and never call back into the session.
    /// </summary>
    EnqueueResult Deliver(SessionEvent sessionEvent);

    /// <summary>The session is gone (deleted): close with <paramref name="code"/>. Called outside the session's lock.</summary>
    void OnSessionClosed(ushort code, string reason);

    /// <summary>The member's index in its session's member list, kept by the session; -1 when not a member.</summary>
    int SessionSlot { get; set; }
}

/// <summary>A member's place in a session; <see cref="Leave"/> takes it out (idempotent).</summary>
internal abstract class SessionMembership
{
    /// <summary>The session's latest seq when the member joined: events after it reach the member live.</summary>
    public abstract long JoinedAtSeq { get; }

    /// <summary>Leaves the session. Safe to call more than once, from any thread.</summary>
    public abstract void Leave();
}
