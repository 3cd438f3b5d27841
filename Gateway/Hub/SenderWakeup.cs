using System.Buffers;

namespace Gateway.Hub;

/// <summary>
/// The senders a fan-out found idle, started once the session's lock is released. A thread-pool
/// item per recipient costs more than the write it leads to; instead the members are cut into
/// chunks, each one thread-pool item that wakes its members one after the other, and several
/// chunks still spread over the cores. (Waking them right on the publisher's thread was tried and
/// measured worse: it holds the publish request, and the I/O thread it runs on, for every write.)
/// </summary>
/// <remarks>
/// A fan-out allocates nothing per recipient: the members are held in an array from the shared
/// pool, and this one object is queued once per chunk, each run taking the next chunk; the run
/// that finishes last gives the array back.
/// </remarks>
internal sealed class SenderWakeup : IThreadPoolWorkItem
{
    /// <summary>
    /// Members woken per thread-pool item: enough to make each item's cost small beside its
    /// writes, few enough that a chunk's last member is not kept waiting long by its first.
    /// </summary>
    public const int Chunk = 64;

    private ISessionMember[] _members;
    private int _count;
    private int _nextChunk;
    private int _chunksLeft;

    private SenderWakeup(int capacity) => _members = ArrayPool<ISessionMember>.Shared.Rent(Math.Max(capacity, 1));

    /// <summary>How many members wait to be woken.</summary>
    public int Count => _count;

    /// <summary>Adds an idle member, creating the set on the first one, sized for <paramref name="capacity"/> (the session's members).</summary>
    public static void Add(ref SenderWakeup? wakeup, ISessionMember member, int capacity)
    {
        wakeup ??= new SenderWakeup(capacity);
        if (wakeup._count == wakeup._members.Length)
        {
            ISessionMember[] larger = ArrayPool<ISessionMember>.Shared.Rent(wakeup._members.Length * 2);
            wakeup._members.AsSpan(0, wakeup._count).CopyTo(larger);
            Return(wakeup._members, wakeup._count);
            wakeup._members = larger;
        }

        wakeup._members[wakeup._count++] = member;
    }

    /// <summary>Wakes every member, on the thread pool; call once, outside any lock.</summary>
    public void Start()
    {
        int chunks = (_count + Chunk - 1) / Chunk;
        if (chunks == 0)
        {
            Return(_members, 0);
            return;
        }

        _chunksLeft = chunks;
        for (int i = 0; i < chunks; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        int start = (Interlocked.Increment(ref _nextChunk) - 1) * Chunk;
        int end = Math.Min(start + Chunk, _count);
        ISessionMember[] members = _members;
        for (int i = start; i < end; i++)
        {
            members[i].Wake();
        }

        if (Interlocked.Decrement(ref _chunksLeft) == 0)
        {
            Return(members, _count);
        }
    }

    private static void Return(ISessionMember[] members, int count)
    {
        // Cleared, so that the pool does not keep closed connections alive.
        members.AsSpan(0, count).Clear();
        ArrayPool<ISessionMember>.Shared.Return(members);
    }
}
