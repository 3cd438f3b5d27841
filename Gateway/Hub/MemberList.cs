using Gateway.Sessions;

namespace Gateway.Hub;

/// <summary>
/// A session's members on this node: a dense array in which each member knows its own slot, so
/// that joining, leaving and handing an event to everyone are all cheap. Not thread-safe: the
/// session that owns it calls it under its own lock.
/// </summary>
internal sealed class MemberList
{
    private ISessionMember?[] _members = [];

    public int Count { get; private set; }

    public void Add(ISessionMember member)
    {
        if (Count == _members.Length)
        {
            Array.Resize(ref _members, Math.Max(4, _members.Length * 2));
        }

        member.SessionSlot = Count;
        _members[Count++] = member;
    }

    /// <summary>Removes <paramref name="member"/> when it is still in the list; false when it had left already.</summary>
    public bool Remove(ISessionMember member)
    {
        int slot = member.SessionSlot;
        if (slot >= 0 && slot < Count && ReferenceEquals(_members[slot], member))
        {
            RemoveAt(slot);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Hands <paramref name="sessionEvent"/> to every member. Members whose queue overflowed or who
    /// are closing leave the list, into <paramref name="outbox"/>'s departed; those whose sender
    /// was idle are collected in its idle set, to be woken once the caller has released its lock.
    /// </summary>
    public void FanOut(SessionEvent sessionEvent, HubOutbox outbox)
    {
        // Backwards, so that removing the current member (swapping the last one into its slot)
        // never skips a member or visits one twice.
        for (int i = Count - 1; i >= 0; i--)
        {
            ISessionMember member = _members[i]!;
            switch (member.Deliver(sessionEvent))
            {
                case EnqueueResult.Enqueued:
                    break;
                case EnqueueResult.EnqueuedIdle:
                    SenderWakeup.Add(ref outbox.Idle, member, Count);
                    break;
                default:
                    RemoveAt(i);
                    (outbox.Departed ??= []).Add(member);
                    break;
            }
        }
    }

    /// <summary>Empties the list into <paramref name="into"/>: the members are no longer members.</summary>
    public void TakeAll(List<ISessionMember> into)
    {
        for (int i = 0; i < Count; i++)
        {
            ISessionMember member = _members[i]!;
            member.SessionSlot = -1;
            into.Add(member);
        }

        _members = [];
        Count = 0;
    }

    private void RemoveAt(int slot)
    {
        ISessionMember removed = _members[slot]!;
        int last = --Count;
        if (slot != last)
        {
            ISessionMember moved = _members[last]!;
            _members[slot] = moved;
            moved.SessionSlot = slot;
        }

        _members[last] = null;
        removed.SessionSlot = -1;

        // Give memory back after a crowd has left.
        if (_members.Length > 16 && Count < _members.Length / 4)
        {
            Array.Resize(ref _members, _members.Length / 2);
        }
    }
}
