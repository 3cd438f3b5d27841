using Gateway.Protocol.Messages;

namespace Gateway.Sessions;

/// <summary>One row of <c>GET /api/sessions</c>.</summary>
internal sealed record SessionSummary(string Session, long Seq, int Clients, DateTimeOffset? LastEventAt);

/// <summary>Where a session stands: its latest seq, its clients and its state.</summary>
internal sealed record SessionSnapshot(string Session, long Seq, int Clients, DateTimeOffset? LastEventAt, IReadOnlyList<StateEntry> State);

/// <summary>The seqs a publish was given, in the order of the request.</summary>
internal sealed record PublishResult(long[] Seqs);
