using Gateway.Configuration;
using Gateway.Sessions;
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
    // The event object, its entry in history and state, and the strings' headers: measured at about
    // 160 bytes beyond the frame, data, name and id (docs/benchmarks.md, history memory), and 16
    // since, for the event's link to this budget (SessionEvent.ChargeTo).
    private const int Overhead = 176;

    private long _used;

    public long Limit { get; } = options.Value.MaxTotalBytes;

    public long Used => Interlocked.Read(ref _used);

    /// <summary>
    /// What an event costs: its frame, its data unless that is a slice of the frame, its name and
    /// id (a name shared with the events before it is still counted: an upper estimate), and the bookkeeping.
    /// </summary>
    public static long Cost(SessionEvent e) =>
        e.Frame.Length + (e.DataInFrame ? 0 : e.Data.Length) + (2L * e.Name.Length) + (2L * (e.Id?.Text.Length ?? 0)) + OriginCost(e.From) + Overhead;

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

    /// <summary>
    /// Adds what an accepted event kept later (a form built for some clients), without a check: it
    /// is held already, and the next publish finds the budget that much fuller.
    /// </summary>
    public void Charge(long bytes) => Interlocked.Add(ref _used, bytes);
}
