using Gateway.Connections;
using Gateway.Hub;
using Gateway.Sessions;

namespace Gateway.Bench.Micro;

/// <summary>
/// A session member without a socket. A real <see cref="GatewayConnection"/> needs one, and its
/// <c>Deliver</c> does only this: check the event filter, then enqueue the shared frame into
/// its real <see cref="OutboundQueue"/> (and close itself when that queue is full, which these
/// benchmarks never let happen).
/// </summary>
internal sealed class QueueMember(OutboundQueue queue) : ISessionMember
{
    private readonly EventFilter _filter = EventFilter.All;

    public int SessionSlot { get; set; } = -1;

    public SessionMembership? Membership => null;

    public void OnJoined(JoinState state)
    {
    }

    public EnqueueResult Deliver(SessionEvent sessionEvent)
    {
        if (!_filter.Accepts(sessionEvent.Name))
        {
            return EnqueueResult.Enqueued;
        }

        EnqueueResult result = queue.TryEnqueue(new OutboundFrame(sessionEvent.Frame, sessionEvent), out bool idle);
        return idle ? EnqueueResult.EnqueuedIdle : result;
    }

    public void Wake() => queue.Wake();

    public void OnSessionClosed(ushort code, string reason)
    {
    }
}
