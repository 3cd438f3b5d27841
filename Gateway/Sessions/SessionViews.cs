using Gateway.Protocol.Messages;

namespace Gateway.Sessions;

/// <summary>One row of <c>GET /api/sessions</c>.</summary>
internal sealed record SessionSummary(string Session, long Seq, int Clients, DateTimeOffset? LastEventAt, bool Complete);

/// <summary>Where a session stands: its latest seq and the life (epoch) it belongs to, its clients and its state.</summary>
internal sealed record SessionSnapshot(string Session, long Seq, string Epoch, int Clients, DateTimeOffset? LastEventAt, bool Complete, IReadOnlyList<StateEntry> State);

/// <summary>What happened to a publish.</summary>
internal enum PublishStatus
{
    /// <summary>Every event is in history (new ones published, repeated ids answered with their original seq).</summary>
    Accepted,

    /// <summary>Nothing was published: a final event had already completed the session.</summary>
    SessionComplete,

    /// <summary>Nothing was published: the session would have more than <c>Sessions:MaxEventNames</c> event names.</summary>
    TooManyEventNames,

    /// <summary>Nothing was published: history memory is at <c>History:MaxTotalBytes</c>.</summary>
    MemoryFull,

    /// <summary>Nothing was published: the session does not exist and there are <c>Sessions:MaxSessions</c> already.</summary>
    SessionLimit,
}

/// <summary>
/// The seqs a publish was given, in the order of the request; <see cref="Duplicate"/>[i] is true
/// when event i repeated an id already in history and was answered with that event's seq.
/// </summary>
internal sealed record PublishResult(PublishStatus Status, long[] Seqs, bool[] Duplicate, long Seq);

/// <summary>A page of history for a poller.</summary>
/// <param name="Events">The held events after the poll's seq, oldest first.</param>
/// <param name="Seq">The session's latest seq.</param>
/// <param name="Complete">False when history no longer held every event after the poll's seq, or the poll's epoch was of another life.</param>
/// <param name="More">True when the page's limit cut it short: poll again from its last seq.</param>
/// <param name="SessionComplete">True when a final event completed the session: nothing will follow.</param>
/// <param name="Epoch">The session's current life.</param>
internal sealed record EventPage(IReadOnlyList<SessionEvent> Events, long Seq, bool Complete, bool More, bool SessionComplete, string Epoch);
