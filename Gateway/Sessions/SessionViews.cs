using Gateway.Protocol.Messages;

namespace Gateway.Sessions;

/// <summary>One row of <c>GET /api/sessions</c>.</summary>
internal sealed record SessionSummary(string Session, long Seq, int Clients, DateTimeOffset? LastEventAt, bool Complete);

/// <summary>
/// Where a session stands: its latest seq and the life (epoch) it belongs to, its clients, its state
/// (the latest event of each name) and its keyed state (the latest event, or the text assembled so
/// far, of each name and key; grouped by name, each name's keys in seq order).
/// </summary>
internal sealed record SessionSnapshot(string Session, long Seq, string Epoch, int Clients, DateTimeOffset? LastEventAt, bool Complete, IReadOnlyList<StateEntry> State, IReadOnlyList<KeyedEntry> Keyed);

/// <summary>What happened to a publish.</summary>
internal enum PublishStatus
{
    /// <summary>Every event is in history (new ones published, repeated ids answered with their original seq).</summary>
    Accepted,

    /// <summary>Nothing was published: a final event had already completed the session.</summary>
    SessionComplete,

    /// <summary>Nothing was published: the session would have more than <c>Sessions:MaxEventNames</c> event names.</summary>
    TooManyEventNames,

    /// <summary>Nothing was published: the session would keep more than <c>Sessions:MaxKeys</c> keyed entries.</summary>
    TooManyKeys,

    /// <summary>
    /// Nothing was published: an append (<see cref="PublishResult.Refused"/>) would make its key's
    /// assembled text longer than <c>Limits:MaxAssembledBytes</c>.
    /// </summary>
    AssembledTooLarge,

    /// <summary>Nothing was published: history memory is at <c>History:MaxTotalBytes</c>.</summary>
    MemoryFull,

    /// <summary>Nothing was published: the session does not exist and there are <c>Sessions:MaxSessions</c> already.</summary>
    SessionLimit,
}

/// <summary>
/// The seqs a publish was given, in the order of the request; <see cref="Duplicate"/>[i] is true
/// when event i repeated an id already in history and was answered with that event's seq.
/// <see cref="Refused"/> is the index of the event that refused the batch when one did
/// (<see cref="PublishStatus.AssembledTooLarge"/>), else -1.
/// </summary>
internal sealed record PublishResult(PublishStatus Status, long[] Seqs, bool[] Duplicate, long Seq, int Refused = -1);

/// <summary>A page of history for a poller.</summary>
/// <param name="Events">The held events after the poll's seq, oldest first.</param>
/// <param name="Seq">The session's latest seq.</param>
/// <param name="Complete">False when history no longer held every event after the poll's seq, or the poll's epoch was of another life.</param>
/// <param name="More">True when the page's limit cut it short: poll again from its last seq.</param>
/// <param name="SessionComplete">True when a final event completed the session: nothing will follow.</param>
/// <param name="Epoch">The session's current life.</param>
internal sealed record EventPage(IReadOnlyList<SessionEvent> Events, long Seq, bool Complete, bool More, bool SessionComplete, string Epoch);

/// <summary>What a publisher is told when keyed state refuses its publish, the same over every way in (HTTP, client publish, ingest).</summary>
internal static class PublishRefusals
{
    /// <summary>For <see cref="PublishStatus.TooManyKeys"/>.</summary>
    public const string TooManyKeys =
        "the session would keep more keyed entries (one per event name and key) than Gateway:Sessions:MaxKeys; reuse keys, or publish without a key";

    /// <summary>For <see cref="PublishStatus.AssembledTooLarge"/>.</summary>
    public const string AssembledTooLarge =
        "the append would make its name and key's assembled text longer than Gateway:Limits:MaxAssembledBytes; end the text with an event of that name and key without \"append\" (it replaces the text), or append under a new key";
}
