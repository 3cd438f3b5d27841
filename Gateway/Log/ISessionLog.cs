using Gateway.Hub;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Log;

/// <summary>
/// The session log: what must be shared between nodes, and nothing else. A session is an
/// append-only list of events numbered from 1 in each of its lives (the epoch), with the latest
/// event of each name as its state. The log assigns seqs, keeps history and idempotency ids,
/// completes a session at its final event, enforces the limits, and tells this node's hub what
/// was appended through a feed that may be late, repeat itself or skip. Delivering to clients is
/// the hub's job (<see cref="SessionHub"/>), written once over any log.
/// </summary>
/// <remarks>
/// Every asynchronous member may throw <see cref="BackplaneUnavailableException"/> when the
/// shared store does not answer: one channel for an outage, answered 503 (HTTP) or
/// <c>unavailable</c> (WebSocket) in one place each. Anything else thrown is a bug.
/// </remarks>
internal interface ISessionLog
{
    /// <summary>
    /// False while the store behind the sessions cannot be reached (Redis down): publishes answer
    /// 503, new connections are refused, <c>/readyz</c> says so. Always true in memory.
    /// </summary>
    bool IsAvailable { get; }

    /// <summary>True when <paramref name="session"/> exists or may be created without passing <c>Sessions:MaxSessions</c>.</summary>
    bool CanCreate(string session);

    /// <summary>
    /// Appends a batch atomically: each new event gets the next seq (consecutive within the call);
    /// an event whose id is already in history is answered with its original seq, marked
    /// duplicate, and not appended again. Nothing is appended when the session is complete, would
    /// pass its limits, or cannot be created. A final event completes the session. The appended
    /// events go to the feed; with <see cref="MemoryLog"/> before this returns.
    /// </summary>
    ValueTask<PublishResult> AppendAsync(string session, IReadOnlyList<PublishRequest> events, CancellationToken cancellationToken);

    /// <summary>
    /// Where <paramref name="session"/> stands and the held events after <paramref name="after"/>
    /// (none when it is negative), at most <paramref name="limit"/>, oldest first.
    /// </summary>
    ValueTask<LogRead> ReadAsync(string session, long after, int limit, ReadIntent intent, CancellationToken cancellationToken);

    /// <summary>
    /// A client counted by a <see cref="ReadIntent.Join"/> read has left this node. Never waits,
    /// never throws. With <paramref name="remaining"/>, the log says, once it knows, how many
    /// clients the session still has across every node after this one left; it is not called
    /// when that is unknown (the store unreachable) or when this client was no longer counted.
    /// </summary>
    void Left(string session, Action<string, long>? remaining = null);

    /// <summary>Where <paramref name="session"/> stands, with its state, or null when it does not exist.</summary>
    ValueTask<SessionSnapshot?> SnapshotAsync(string session, CancellationToken cancellationToken);

    /// <summary>Every session, ordered by name.</summary>
    ValueTask<IReadOnlyList<SessionSummary>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Forgets <paramref name="session"/>, and tells the feed (of every node). False when it did not exist.</summary>
    ValueTask<bool> DeleteAsync(string session, CancellationToken cancellationToken);

    /// <summary>Connects the log's feed to this node's hub; called once, before any other member.</summary>
    void Attach(ILogFeed feed);

    /// <summary>
    /// Whether <paramref name="session"/> exists and, for a log shared by several nodes, its
    /// presence members on every node that is alive (<see cref="PresenceRead.Members"/> null when
    /// this node's members are all there are: the memory log).
    /// </summary>
    ValueTask<PresenceRead> ReadPresenceAsync(string session, CancellationToken cancellationToken);

    /// <summary>
    /// A presence member of this node joined or left <paramref name="session"/>: a shared log
    /// records it and tells the other nodes' feeds (<see cref="ILogFeed.OnPresence"/>). Never
    /// waits, never throws; what is lost while the store is down is stated afresh on reconnection.
    /// </summary>
    void PresenceChanged(string session, PresenceChange change);
}

/// <summary>What a presence read found.</summary>
/// <param name="Found">Whether the session exists.</param>
/// <param name="Members">Every node's members; null when the log keeps none (this node's are all).</param>
internal sealed record PresenceRead(bool Found, IReadOnlyList<PresenceMember>? Members);

/// <summary>What a read does besides reading.</summary>
internal enum ReadIntent
{
    /// <summary>Only reads: a session that does not exist stays so.</summary>
    Look,

    /// <summary>Creates the session when it does not exist, unless <c>Sessions:MaxSessions</c> are held already (a long poll).</summary>
    Create,

    /// <summary>
    /// A client joins: the session is created when missing (the client was admitted already), its
    /// idle time starts again, and this node's client count goes up unless the session is
    /// complete (<see cref="ISessionLog.Left"/> takes it down again).
    /// </summary>
    Join,
}

/// <summary>Whether a read found its session.</summary>
internal enum LogReadFound
{
    /// <summary>The session exists (or was created by the read).</summary>
    Found,

    /// <summary>The session does not exist.</summary>
    Missing,

    /// <summary>The session does not exist, and <c>Sessions:MaxSessions</c> forbade creating it.</summary>
    Refused,
}

/// <summary>What a read of the log found.</summary>
/// <param name="Found">Whether the session exists.</param>
/// <param name="Seq">The session's latest seq (0 when it was not found).</param>
/// <param name="Complete">True when a final event completed the session.</param>
/// <param name="Held">False when history no longer held every event after the read's seq.</param>
/// <param name="More">True when the read's limit cut the events short.</param>
/// <param name="Epoch">The session's life (empty when it was not found).</param>
/// <param name="Events">The held events after the read's seq, oldest first.</param>
/// <param name="Clients">
/// For a <see cref="ReadIntent.Join"/> read that counted its client in: the session's clients
/// across every node, this one included (1: the session just got its first); else 0.
/// </param>
internal sealed record LogRead(LogReadFound Found, long Seq, bool Complete, bool Held, bool More, string Epoch, IReadOnlyList<SessionEvent> Events, long Clients = 0)
{
    public static readonly LogRead Missing = new(LogReadFound.Missing, 0, false, true, false, "", []);

    public static readonly LogRead Refused = new(LogReadFound.Refused, 0, false, true, false, "", []);
}

/// <summary>
/// Where a log tells this node's hub what changed. A log calls it from whatever thread its news
/// arrives on; the hub never blocks it.
/// </summary>
internal interface ILogFeed
{
    /// <summary>How many sessions the hub holds (sessions with members, pollers or joins here).</summary>
    int Sessions { get; }

    /// <summary>
    /// True when the hub would use event <paramref name="seq"/> of <paramref name="session"/>: a
    /// log that must decode what it receives skips the rest.
    /// </summary>
    bool Wants(ReadOnlySpan<char> session, long seq);

    /// <summary>
    /// Events appended to <paramref name="session"/> in its life <paramref name="epoch"/>, in seq
    /// order within the call. Across calls they may come late, twice, out of order, or never
    /// (the hub reads what it misses). Returns what is left to do once the caller holds no lock:
    /// run <see cref="HubOutbox.Flush"/> on it then.
    /// </summary>
    HubOutbox? OnAppended(string session, string epoch, ReadOnlySpan<SessionEvent> events);

    /// <summary>
    /// The session's life <paramref name="epoch"/> was deleted (or expired): its members are
    /// closed with 1001. A late delete of an older life than this node's stream follows is
    /// ignored; null when the log cannot tell which life. Flush the result as above.
    /// </summary>
    HubOutbox? OnDeleted(string session, string? epoch);

    /// <summary>The feed may have lost news of any session (the link to the store came back): every local session reads the log again.</summary>
    void OnResync();

    /// <summary>
    /// True when the hub follows <paramref name="session"/> and is behind the log, whose latest seq
    /// is <paramref name="seq"/> in the life <paramref name="epoch"/> (null: the session is gone).
    /// </summary>
    bool IsBehind(string session, long seq, string? epoch);

    /// <summary>The hub reads what <paramref name="session"/> missed from the log (a check found it behind).</summary>
    void CatchUp(string session);

    /// <summary>This node's members per session; with <paramref name="includeEmpty"/>, sessions without members too.</summary>
    void CountMembers(List<(string Session, int Members)> into, bool includeEmpty);

    /// <summary>
    /// A presence member of another node joined or left <paramref name="session"/> (a node that
    /// died leaves through the node that found it dead). Never blocks.
    /// </summary>
    void OnPresence(string session, PresenceChange change);

    /// <summary>This node's presence members per session, and whether a member here watches the session's presence.</summary>
    void ListPresence(List<(string Session, List<PresenceMember> Members, bool Watched)> into);
}

/// <summary>The shared store behind the sessions (Redis) did not answer in time or is unreachable.</summary>
internal sealed class BackplaneUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
