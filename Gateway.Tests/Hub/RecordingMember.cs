using System.Text;
using Gateway.Hub;
using Gateway.Sessions;

namespace Gateway.Tests.Hub;

/// <summary>
/// A session member that keeps what the hub handed it, in order: its join (where the session
/// stood, and the replay it asked for), every event, each resume's replay, and its close.
/// </summary>
internal sealed class RecordingMember(string name, Signal changes) : ISessionMember
{
    private readonly Lock _gate = new();
    private readonly List<Entry> _entries = [];
    private readonly List<string> _faults = [];
    private bool _left;

    public string Name { get; } = name;

    public int SessionSlot { get; set; } = -1;

    public SessionMembership? Membership { get; set; }

    /// <summary>Where the member asked its join to replay from, set before the join.</summary>
    public ResumePoint? JoinFrom { get; set; }

    /// <summary>The seq the member's stream has reached: its join's, its last replay's or its last event's; -1 before its join.</summary>
    public long Seq
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count == 0 ? -1 : SeamOf(_entries.Count);
            }
        }
    }

    public JoinState? Joined
    {
        get
        {
            lock (_gate)
            {
                return _entries.FirstOrDefault(e => e.Joined is not null)?.Joined;
            }
        }
    }

    /// <summary>The code and reason of the member's close, or null while it is open.</summary>
    public (ushort Code, string Reason)? Closed
    {
        get
        {
            lock (_gate)
            {
                return _entries.FirstOrDefault(e => e.CloseCode > 0) is { } close ? (close.CloseCode, close.Reason!) : null;
            }
        }
    }

    /// <summary>The replay of the join or of the latest resume.</summary>
    public Replay? LastReplay
    {
        get
        {
            lock (_gate)
            {
                return _entries.LastOrDefault(e => e.Replay is not null)?.Replay;
            }
        }
    }

    /// <summary>The seqs of the events delivered live, in order.</summary>
    public long[] Delivered
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries.Where(e => e.Event is not null).Select(e => e.Event!.Seq)];
            }
        }
    }

    /// <summary>True once <see cref="Leave"/> has returned.</summary>
    public bool HasLeft
    {
        get
        {
            lock (_gate)
            {
                return _left;
            }
        }
    }

    public void OnJoined(JoinState state) => Record(new Entry { Joined = state, Replay = state.Replay, From = JoinFrom });

    public EnqueueResult Deliver(SessionEvent sessionEvent)
    {
        lock (_gate)
        {
            if (_left)
            {
                _faults.Add($"event {sessionEvent.Seq} delivered after the member left");
            }
        }

        Record(new Entry { Event = sessionEvent });
        return EnqueueResult.Enqueued;
    }

    public void Wake()
    {
    }

    public void OnSessionClosed(ushort code, string reason) => Record(new Entry { CloseCode = code, Reason = reason });

    /// <summary>Asks for the events after <paramref name="from"/> again, as a client's resume does.</summary>
    public ValueTask ResumeAsync(ResumePoint from, CancellationToken cancellationToken) =>
        Membership!.ReplayAsync(from, replay => Record(new Entry { Replay = replay, From = from }), cancellationToken);

    /// <summary>Leaves the session, as a connection that closes does.</summary>
    public void Leave()
    {
        Membership?.Leave();
        lock (_gate)
        {
            _left = true;
        }
    }

    /// <summary>
    /// What is wrong with the member's stream, or nothing: every segment (the join, and each resume)
    /// is a replay that ends where the live events go on, then live events one seq after the other,
    /// each of the segment's life, none after a close or a leave. A complete replay holds exactly the
    /// events after its resume point; an incomplete one is so for a reason (another life, a point
    /// ahead of the session, or history that no longer holds the next event). With
    /// <paramref name="drained"/> (the feed is quiet), a member still in the session has reached
    /// the session's latest seq. <paramref name="mayBeDropped"/> says whether a delete or a loss of
    /// the session happened, which may close a member with 1001 at any point.
    /// </summary>
    public List<string> Check(ScriptedLog log, string session, bool drained, bool mayBeDropped)
    {
        var faults = new List<string>();
        ScriptedLog.Life? life = log.Current(session);
        lock (_gate)
        {
            faults.AddRange(_faults);
            long next = -1;
            string? epoch = null;
            bool closed = false;
            bool joinedComplete = false;
            SessionEvent? last = null;
            for (int i = 0; i < _entries.Count; i++)
            {
                Entry entry = _entries[i];
                if (entry.Joined is { } state)
                {
                    epoch = state.Epoch;
                    next = state.Seq + 1;
                    joinedComplete = state.SessionComplete;
                    if (state.Replay is { } replay)
                    {
                        CheckReplay(replay, entry.From!.Value, state.Seq, $"join replay", faults, life, log);
                    }
                }
                else if (entry.Event is { } e)
                {
                    if (closed)
                    {
                        faults.Add($"event {e.Seq} delivered after the close");
                    }
                    else if (joinedComplete)
                    {
                        faults.Add($"event {e.Seq} delivered after a join to a complete session");
                    }

                    if (e.Seq != next)
                    {
                        faults.Add($"event {e.Seq} delivered where {next} was due");
                    }

                    if (log.EpochOf(e) != epoch)
                    {
                        faults.Add($"event {e.Seq} of {log.EpochOf(e)} delivered in a stream of {epoch}");
                    }

                    next = e.Seq + 1;
                    last = e;
                }
                else if (entry.Replay is { } replay)
                {
                    // A resume after the close is the client's own affair: the hub owes it nothing more.
                    if (!closed)
                    {
                        if (replay.Epoch != epoch)
                        {
                            faults.Add($"resume replay of {replay.Epoch} in a stream of {epoch}");
                        }

                        CheckReplay(replay, entry.From!.Value, next - 1, "resume replay", faults, life, log);
                    }
                }
                else
                {
                    if (closed)
                    {
                        faults.Add("closed twice");
                    }

                    closed = true;
                    string why = $"closed {entry.CloseCode} '{entry.Reason}'";
                    if (entry.CloseCode == 1000 && last is not { Final: true })
                    {
                        faults.Add($"{why} after event {next - 1}, which is not final");
                    }
                    else if (entry.CloseCode == 1001 && entry.Reason!.StartsWith("events were missed", StringComparison.Ordinal))
                    {
                        // History only ever lets go of events: one it holds now, it held then.
                        if (life is not null && life.Epoch == epoch && life.Holds(next))
                        {
                            faults.Add($"{why}, yet history still holds event {next}");
                        }
                    }
                    else if (entry.CloseCode == 1001 && !mayBeDropped)
                    {
                        faults.Add($"{why}, yet the session was neither deleted nor lost");
                    }
                    else if (entry.CloseCode is not (1000 or 1001))
                    {
                        faults.Add($"{why}: no such close");
                    }
                }
            }

            if (drained && _entries.Count > 0 && !closed && !_left && !joinedComplete)
            {
                if (life is null)
                {
                    faults.Add($"still a member at {next - 1} of a session that no longer exists");
                }
                else if (life.Epoch != epoch || next - 1 != life.Seq)
                {
                    faults.Add($"still a member at {next - 1} of {epoch}, the session is at {life.Seq} of {life.Epoch}");
                }
            }
        }

        return faults;
    }

    /// <summary>The member's stream: its join, events (runs of seqs), resumes and close.</summary>
    public override string ToString()
    {
        var text = new StringBuilder(Name).Append(':');
        lock (_gate)
        {
            long runStart = -1;
            long runEnd = -1;
            void EndRun()
            {
                if (runStart >= 0)
                {
                    text.Append(runStart == runEnd ? $" {runStart}" : $" {runStart}-{runEnd}");
                    runStart = -1;
                }
            }

            foreach (Entry entry in _entries)
            {
                if (entry.Event is { } e)
                {
                    if (runStart >= 0 && e.Seq == runEnd + 1)
                    {
                        runEnd = e.Seq;
                    }
                    else
                    {
                        EndRun();
                        runStart = runEnd = e.Seq;
                    }

                    continue;
                }

                EndRun();
                if (entry.Joined is { } state)
                {
                    text.Append($" [joined at {state.Seq} of {state.Epoch}{(state.SessionComplete ? ", complete" : "")}");
                    text.Append(state.Replay is { } r ? $", replay after {entry.From} {Describe(r)}]" : "]");
                }
                else if (entry.Replay is { } replay)
                {
                    text.Append($" [resumed after {entry.From}: {Describe(replay)}]");
                }
                else
                {
                    text.Append($" [closed {entry.CloseCode} '{entry.Reason}']");
                }
            }

            EndRun();
            if (_left)
            {
                text.Append(" [left]");
            }
        }

        return text.ToString();
    }

    private static string Describe(Replay replay) =>
        $"({string.Join(",", replay.Events.Select(e => e.Seq))}){(replay.Complete ? "" : " incomplete")} of {replay.Epoch}";

    private static void CheckReplay(Replay replay, ResumePoint from, long seam, string what, List<string> faults, ScriptedLog.Life? life, ScriptedLog log)
    {
        long since = from.SinceIn(replay.Epoch);
        long[] seqs = [.. replay.Events.Select(e => e.Seq)];
        string describe = $"{what} after {from} ({string.Join(",", seqs)}){(replay.Complete ? "" : " incomplete")} at {seam}";
        for (int i = 1; i < seqs.Length; i++)
        {
            if (seqs[i] != seqs[i - 1] + 1)
            {
                faults.Add($"{describe}: not consecutive");
            }
        }

        if (replay.Events.Any(e => log.EpochOf(e) != replay.Epoch))
        {
            faults.Add($"{describe}: holds events of another life than {replay.Epoch}");
        }

        if (seqs.Length > 0 && seqs[^1] != seam)
        {
            faults.Add($"{describe}: does not end where live events go on");
        }

        if (replay.Since != from.Seq)
        {
            faults.Add($"{describe}: says it is after {replay.Since}");
        }

        if (replay.Complete)
        {
            if (!from.IsIn(replay.Epoch) || since > seam || (seqs.Length > 0 ? seqs[0] != since + 1 : since != seam))
            {
                faults.Add($"{describe}: complete, yet not exactly the events after {since}");
            }
        }
        else if (from.IsIn(replay.Epoch) && (since == seam || (since < seam && life is not null && life.Epoch == replay.Epoch && life.Holds(since + 1))))
        {
            faults.Add($"{describe}: incomplete, yet history holds event {since + 1} of its life");
        }
    }

    private long SeamOf(int count)
    {
        for (int i = count - 1; i >= 0; i--)
        {
            Entry entry = _entries[i];
            if (entry.Event is { } e)
            {
                return e.Seq;
            }

            if (entry.Joined is { } state)
            {
                return state.Seq;
            }
        }

        return -1;
    }

    private void Record(Entry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
        }

        changes.Pulse();
    }

    private sealed class Entry
    {
        public JoinState? Joined { get; init; }

        public Replay? Replay { get; init; }

        public ResumePoint? From { get; init; }

        public SessionEvent? Event { get; init; }

        public ushort CloseCode { get; init; }

        public string? Reason { get; init; }
    }
}
