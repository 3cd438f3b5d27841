using Gateway.Diagnostics;

namespace Gateway.Hub;

/// <summary>What every session's presence on this node shares: the clock, the metrics and the coalescing interval.</summary>
internal sealed class PresenceContext(TimeProvider time, GatewayMetrics metrics)
{
    /// <summary>
    /// How long changes gather before they go out together: 100 ms is below what a person notices
    /// in a list of who is here, and caps what a crowd joining costs each watcher at ten messages a second.
    /// </summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>The clock of the coalescing interval (faked in tests).</summary>
    public TimeProvider Time { get; } = time;

    /// <summary>Where presence messages sent are counted.</summary>
    public GatewayMetrics Metrics { get; } = metrics;

    /// <summary><see cref="Interval"/> in <see cref="Time"/>'s timestamps.</summary>
    public long IntervalTicks { get; } = (long)(Interval.TotalSeconds * time.TimestampFrequency);

    /// <summary>This node's presence members, over every session.</summary>
    public int LocalMembers => Volatile.Read(ref _localMembers);

    private int _localMembers;

    /// <summary>A member of this node joined (1) or left (-1) a session's presence.</summary>
    public void Counted(int delta) => Interlocked.Add(ref _localMembers, delta);
}

/// <summary>
/// One session's presence on this node: its members here (with their identity) and the members
/// here that watch, to whom joins and leaves, of this node's members and (through the log's
/// feed) of other nodes', go out coalesced (<see cref="PresenceBatch"/>). Messages are queued
/// outside the lock, each serialized once for all watchers.
/// </summary>
internal sealed class SessionPresence(string session, PresenceContext context)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PresenceMember> _local = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IPresenceParticipant> _watchers = new(StringComparer.Ordinal);

    // Other nodes' members as the feed told of them: what a resync compares the log's list with.
    private readonly Dictionary<string, PresenceMember> _remote = new(StringComparer.Ordinal);
    private readonly PresenceBatch _batch = new(context.IntervalTicks);

    /// <summary>This node's members, oldest first.</summary>
    public List<PresenceMember> LocalMembers()
    {
        lock (_gate)
        {
            var members = new List<PresenceMember>(_local.Values);
            members.Sort(static (a, b) => a.Since.CompareTo(b.Since));
            return members;
        }
    }

    /// <summary>True when a member here watches: the session's presence must then be kept accurate here.</summary>
    public bool HasWatchers
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count > 0;
            }
        }
    }

    /// <summary>A member of this node joined; it is a watcher too when it asked.</summary>
    public void Join(PresenceMember member, IPresenceParticipant participant)
    {
        lock (_gate)
        {
            if (!_local.TryAdd(member.Connection, member))
            {
                return;
            }

            context.Counted(1);
            if (participant.WatchesPresence)
            {
                _watchers[member.Connection] = participant;
            }
        }

        Changed(new PresenceChange(true, member));
    }

    /// <summary>A member of this node left; null when it was not one.</summary>
    public PresenceMember? Leave(string connection)
    {
        PresenceMember? member;
        lock (_gate)
        {
            if (!_local.Remove(connection, out member))
            {
                return null;
            }

            context.Counted(-1);
            _watchers.Remove(connection);
        }

        Changed(new PresenceChange(false, member));
        return member;
    }

    /// <summary>A member of another node joined or left (the log's feed).</summary>
    public void Remote(PresenceChange change)
    {
        lock (_gate)
        {
            if (change.Joined)
            {
                _remote[change.Member.Connection] = change.Member;
            }
            else
            {
                _remote.Remove(change.Member.Connection);
            }
        }

        Changed(change);
    }

    /// <summary>
    /// After the feed may have missed news (a reconnection): <paramref name="all"/> is every node's
    /// members as the log holds them now. Watchers get a join for each member of another node not
    /// heard of, and a leave for each heard of that is gone.
    /// </summary>
    public void Reconcile(IReadOnlyList<PresenceMember> all)
    {
        var changes = new List<PresenceChange>();
        lock (_gate)
        {
            var listed = new HashSet<string>(StringComparer.Ordinal);
            foreach (PresenceMember member in all)
            {
                if (_local.ContainsKey(member.Connection))
                {
                    continue;
                }

                listed.Add(member.Connection);
                if (_remote.TryAdd(member.Connection, member))
                {
                    changes.Add(new PresenceChange(true, member));
                }
            }

            foreach (PresenceMember member in _remote.Values.Where(m => !listed.Contains(m.Connection)).ToList())
            {
                _remote.Remove(member.Connection);
                changes.Add(new PresenceChange(false, member));
            }
        }

        foreach (PresenceChange change in changes)
        {
            Changed(change);
        }
    }

    private void Changed(PresenceChange change)
    {
        long now = context.Time.GetTimestamp();
        PresenceStep step;
        long due;
        lock (_gate)
        {
            if (_watchers.Count == 0)
            {
                // Nobody here listens: nothing to gather (a watcher that comes later asks for the list).
                return;
            }

            step = _batch.Add(change, now, out due);
        }

        switch (step)
        {
            case PresenceStep.SendNow:
                Flush();
                break;
            case PresenceStep.Schedule:
                TimeSpan wait = TimeSpan.FromSeconds(Math.Max(0, due - now) / (double)context.Time.TimestampFrequency);
                _ = FlushLaterAsync(wait);
                break;
        }
    }

    private async Task FlushLaterAsync(TimeSpan wait)
    {
        try
        {
            await Task.Delay(wait, context.Time).ConfigureAwait(false);
        }
        finally
        {
            Flush();
        }
    }

    private void Flush()
    {
        PresenceMember[] joined, left;
        IPresenceParticipant[] watchers;
        lock (_gate)
        {
            (joined, left) = _batch.Take(context.Time.GetTimestamp());
            if (joined.Length + left.Length == 0 || _watchers.Count == 0)
            {
                return;
            }

            watchers = [.. _watchers.Values];
        }

        if (PresenceNotice.For(session, joined, left) is not { } notice)
        {
            return;
        }

        // A watcher is not told of its own join alone; in a diff with others it may be listed
        // (presence is a set: a join of a connection already known changes nothing).
        string? onlyJoined = joined.Length == 1 && left.Length == 0 ? joined[0].Connection : null;
        int sent = 0;
        foreach (IPresenceParticipant watcher in watchers)
        {
            if (!string.Equals(watcher.Id, onlyJoined, StringComparison.Ordinal))
            {
                watcher.OnPresence(notice);
                sent++;
            }
        }

        context.Metrics.PresenceMessagesSent(notice.Type, sent);
    }
}
