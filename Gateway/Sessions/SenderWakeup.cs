namespace Gateway.Sessions;

/// <summary>
/// Starts the senders a fan-out found idle, once the session's lock is released. A thread-pool
/// item per recipient costs more than the write it leads to; instead the members are cut into
/// chunks, each one thread-pool item that wakes its members one after the other, and several
/// chunks still spread over the cores. (Waking them right on the publisher's thread was tried and
/// measured worse: it holds the publish request, and the I/O thread it runs on, for every write.)
/// </summary>
internal static class SenderWakeup
{
    /// <summary>
    /// Members woken per thread-pool item: enough to make each item's cost small beside its
    /// writes, few enough that a chunk's last member is not kept waiting long by its first.
    /// </summary>
    public const int Chunk = 64;

    public static void WakeAll(List<ISessionMember> members)
    {
        for (int start = 0; start < members.Count; start += Chunk)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                static range => WakeRange(range.Members, range.Start, range.Count),
                (Members: members, Start: start, Count: Math.Min(Chunk, members.Count - start)),
                preferLocal: false);
        }
    }

    private static void WakeRange(List<ISessionMember> members, int start, int count)
    {
        for (int i = start; i < start + count; i++)
        {
            members[i].Wake();
        }
    }
}
