using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Backplane;

/// <summary>
/// One session held in memory. A single lock orders everything: seq assignment, history, state
/// and the hand-over to members happen together, so that every member sees events in seq order
/// and a joining member gets exactly the events after the seq it joined at.
/// </summary>
internal sealed class MemorySession(string name, int historyCapacity, long createdAt)
{
    private readonly Lock _gate = new();
    private readonly EventHistory _history = new(historyCapacity);
    private readonly Dictionary<string, SessionEvent> _state = new(StringComparer.Ordinal);
    private ISessionMember?[] _members = [];
    private int _memberCount;
    private long _seq;
    private long _idleSince = createdAt;
    private DateTimeOffset? _lastEventAt;
    private bool _removed;

    public string Name { get; } = name;

    /// <summary>Publishes under the lock; false when the session was removed meanwhile (the caller retries on a new one).</summary>
    public bool TryPublish(IReadOnlyList<PublishRequest> requests, DateTimeOffset now, long timestamp, long[] seqs)
    {
        lock (_gate)
        {
            if (_removed)
            {
                return false;
            }

            for (int i = 0; i < requests.Count; i++)
            {
                PublishRequest request = requests[i];
                long seq = ++_seq;
                byte[] frame = ServerFrames.CreateTextFrame(new EventMessage(Name, request.Event, seq, now, request.Data));
                var sessionEvent = new SessionEvent(Name, request.Event, seq, now, request.Data, frame, request.Id, request.Final);
                _history.Add(sessionEvent);
                _state[request.Event] = sessionEvent;
                seqs[i] = seq;
                FanOut(sessionEvent);
            }

            _lastEventAt = now;
            _idleSince = timestamp;
            return true;
        }
    }

    /// <summary>Adds a member; false when the session was removed meanwhile.</summary>
    public bool TryJoin(ISessionMember member, out long seq)
    {
        lock (_gate)
        {
            seq = _seq;
            if (_removed)
            {
                return false;
            }

            if (_memberCount == _members.Length)
            {
                Array.Resize(ref _members, Math.Max(4, _members.Length * 2));
            }

            member.SessionSlot = _memberCount;
            _members[_memberCount++] = member;
            member.OnJoined(seq);
            return true;
        }
    }

    public void Leave(ISessionMember member, long timestamp)
    {
        lock (_gate)
        {
            int slot = member.SessionSlot;
            if (slot >= 0 && slot < _memberCount && ReferenceEquals(_members[slot], member))
            {
                RemoveAt(slot);
            }

            if (_memberCount == 0)
            {
                _idleSince = timestamp;
            }
        }
    }

    public SessionSummary Summary()
    {
        lock (_gate)
        {
            return new SessionSummary(Name, _seq, _memberCount, _lastEventAt);
        }
    }

    public SessionSnapshot Snapshot()
    {
        StateEntry[] state;
        lock (_gate)
        {
            state = new StateEntry[_state.Count];
            int i = 0;
            foreach (SessionEvent e in _state.Values)
            {
                state[i++] = e.ToStateEntry();
            }

            Array.Sort(state, static (a, b) => a.Seq.CompareTo(b.Seq));
            return new SessionSnapshot(Name, _seq, _memberCount, _lastEventAt, state);
        }
    }

    /// <summary>Marks the session removed when it has had no member and no publish for <paramref name="idleFor"/>.</summary>
    public bool TryExpire(long now, TimeSpan idleFor, TimeProvider time)
    {
        lock (_gate)
        {
            if (_removed || _memberCount > 0 || time.GetElapsedTime(_idleSince, now) < idleFor)
            {
                return false;
            }

            _removed = true;
            return true;
        }
    }

    /// <summary>Marks the session removed and returns its members, who are no longer members.</summary>
    public ISessionMember[] Remove()
    {
        lock (_gate)
        {
            _removed = true;
            var members = new ISessionMember[_memberCount];
            for (int i = 0; i < _memberCount; i++)
            {
                members[i] = _members[i]!;
                members[i].SessionSlot = -1;
            }

            _members = [];
            _memberCount = 0;
            return members;
        }
    }

    private void FanOut(SessionEvent sessionEvent)
    {
        // Backwards, so that removing the current member (swapping the last one into its slot)
        // never skips a member or visits one twice.
        for (int i = _memberCount - 1; i >= 0; i--)
        {
            if (_members[i]!.Deliver(sessionEvent) != EnqueueResult.Enqueued)
            {
                RemoveAt(i);
            }
        }
    }

    private void RemoveAt(int slot)
    {
        ISessionMember removed = _members[slot]!;
        int last = --_memberCount;
        if (slot != last)
        {
            ISessionMember moved = _members[last]!;
            _members[slot] = moved;
            moved.SessionSlot = slot;
        }

        _members[last] = null;
        removed.SessionSlot = -1;

        // Give memory back after a crowd has left.
        if (_members.Length > 16 && _memberCount < _members.Length / 4)
        {
            Array.Resize(ref _members, _members.Length / 2);
        }
    }
}
