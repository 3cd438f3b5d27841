namespace Gateway.Hub;

/// <summary>What <see cref="PresenceBatch.Add"/> asks of its caller.</summary>
internal enum PresenceStep
{
    /// <summary>Nothing went out for an interval: take the batch now (<see cref="PresenceBatch.Take"/>) and send it.</summary>
    SendNow,

    /// <summary>The change waits: arrange a <see cref="PresenceBatch.Take"/> at the time given.</summary>
    Schedule,

    /// <summary>The change waits for the <see cref="PresenceBatch.Take"/> already arranged.</summary>
    Pending,
}

/// <summary>
/// One session's presence changes on their way to its watchers, coalesced: a change after a quiet
/// interval goes out at once, alone (<c>join</c> or <c>leave</c>); changes that follow within the
/// interval wait for its end and go out together, one <c>presence_diff</c> when there are several.
/// So a crowd of joins costs each watcher one message per interval, whatever its size. A connection
/// that joins and leaves within one wait is never announced. No clock and no lock: the caller
/// passes the time (timestamps of its clock) and holds its own lock.
/// </summary>
internal sealed class PresenceBatch(long interval)
{
    private readonly Dictionary<string, PresenceMember> _joined = new(StringComparer.Ordinal);
    private readonly List<PresenceMember> _left = [];
    private long _lastSent = long.MinValue;
    private bool _scheduled;

    /// <summary>Changes waiting.</summary>
    public int Count => _joined.Count + _left.Count;

    /// <summary>
    /// Adds <paramref name="change"/> at <paramref name="now"/>. With <see cref="PresenceStep.Schedule"/>,
    /// <paramref name="due"/> is when the caller must take the batch.
    /// </summary>
    public PresenceStep Add(PresenceChange change, long now, out long due)
    {
        due = 0;
        if (change.Joined)
        {
            _joined[change.Member.Connection] = change.Member;
        }
        else if (!_joined.Remove(change.Member.Connection))
        {
            _left.Add(change.Member);
        }

        if (_scheduled)
        {
            return PresenceStep.Pending;
        }

        if (Count == 1 && (_lastSent == long.MinValue || now - _lastSent >= interval))
        {
            return PresenceStep.SendNow;
        }

        if (Count == 0)
        {
            // A join and its leave cancelled out before anything was arranged: nothing to send.
            return PresenceStep.Pending;
        }

        _scheduled = true;
        due = _lastSent + interval;
        return PresenceStep.Schedule;
    }

    /// <summary>Takes what waits (possibly nothing, when changes cancelled out), at <paramref name="now"/>.</summary>
    public (PresenceMember[] Joined, PresenceMember[] Left) Take(long now)
    {
        _scheduled = false;
        if (Count == 0)
        {
            return ([], []);
        }

        _lastSent = now;
        PresenceMember[] joined = [.. _joined.Values];
        PresenceMember[] left = [.. _left];
        _joined.Clear();
        _left.Clear();
        return (joined, left);
    }
}
