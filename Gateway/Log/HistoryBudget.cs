using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Log;

/// <summary>
/// <c>History:MaxTotalBytes</c>: the memory that all sessions' events may hold together. A publish
/// reserves its estimated cost before it is accepted; an event's cost is given back when neither
/// history nor state holds it any more. Past the budget, publishes are refused: no input can grow
/// the gateway's memory without bound.
/// </summary>
internal sealed class HistoryBudget(IOptions<HistoryOptions> options)
{
    // The held event's place in history's ring, the id's entry in the session's index, and the
    // shared buffers' unused ends: measured at about 170 bytes beyond the frame, name and id
    // (docs/benchmarks.md, history memory: 450 B an event of 128 B data, its frame about 245).
    private const int Overhead = 170;

    private long _used;

    public long Limit { get; } = options.Value.MaxTotalBytes;

    public long Used => Interlocked.Read(ref _used);

    /// <summary>
    /// What a held event costs: its bytes in the store (its frame, and its data unless that is in
    /// the frame), its name and id (a name shared with the events before it is still counted: an
    /// upper estimate), and the bookkeeping.
    /// </summary>
    public static long Cost(in HeldEvent e) =>
        e.StoredBytes + (2L * e.Name.Length) + (2L * (e.Id?.Text.Length ?? 0)) + OriginCost(e.From) + Overhead;

    /// <summary>
    /// An upper estimate of what an event will cost before it exists: the frame repeats the data and
    /// names and adds about 110 bytes of envelope.
    /// </summary>
    public static long Estimate(string session, Protocol.Messages.PublishRequest request) =>
        (2L * request.Data.Length) + (4L * request.Event.Length) + session.Length + (2L * (request.Id?.Text.Length ?? 0)) + (2L * OriginCost(request.From)) + Overhead + 128;

    /// <summary>A client-published event's <c>from</c>: its strings and their object (the frame's copy is in the frame).</summary>
    internal static long OriginCost(Protocol.Messages.EventOrigin? from) =>
        from is null ? 0 : 48 + (2L * (from.Connection.Length + (from.User?.Length ?? 0)));

    public bool TryReserve(long bytes)
    {
        if (Interlocked.Add(ref _used, bytes) <= Limit)
        {
            return true;
        }

        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    public void Release(long bytes) => Interlocked.Add(ref _used, -bytes);
}
