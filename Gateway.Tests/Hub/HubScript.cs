using System.Diagnostics.Metrics;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Sessions;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Hub;

/// <summary>One step of a script: what it does, in words, and how.</summary>
public sealed class Step(string text, Func<HubScript, Task> run)
{
    internal Func<HubScript, Task> Run { get; } = run;

    public override string ToString() => text;
}

/// <summary>
/// The real <see cref="SessionHub"/> over a <see cref="ScriptedLog"/>, with recording members of
/// one session: scripts of appends, feed deliveries, joins, resumes and leaves run against it,
/// and every member's stream is checked at the end.
/// </summary>
public sealed class HubScript : IDisposable
{
    public const string Session = "s";

    private readonly ServiceProvider _services;
    private readonly Dictionary<string, RecordingMember> _members = new(StringComparer.Ordinal);
    private readonly List<(string What, string Member, Task Task)> _pending = [];

    /// <summary>
    /// A hub over a log whose history holds <paramref name="historyCapacity"/> events per life;
    /// the hub reads at most <paramref name="readLimit"/> events at once (as many as history holds,
    /// unless given). Waits give up at <paramref name="deadline"/> (the test's, unless given).
    /// </summary>
    public HubScript(int historyCapacity, int? readLimit = null, CancellationToken? deadline = null)
    {
        Deadline = deadline ?? TestClient.Deadline;
        Log = new ScriptedLog(historyCapacity, Changes);
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());

        // The host reads as many events as history holds. The clock stands still: a join that
        // reads again is never "outpaced", however long a script holds it.
        IOptions<HistoryOptions> history = Options.Create(new HistoryOptions { MaxEvents = readLimit ?? historyCapacity });
        Hub = new SessionHub(Log, history, Options.Create(new BackplaneOptions()), Options.Create(new PresenceOptions()), Time, metrics, NullLogger<SessionHub>.Instance);
    }

    internal CancellationToken Deadline { get; }

    internal Signal Changes { get; } = new();

    internal ScriptedLog Log { get; }

    internal SessionHub Hub { get; }

    internal ManualTimeProvider Time { get; } = new();

    /// <summary>True once a delete or a loss of the session was scripted: members may then be closed with 1001 at any point.</summary>
    internal bool MayBeDropped { get; set; }

    internal IReadOnlyCollection<RecordingMember> Members => _members.Values;

    internal RecordingMember Member(string name) =>
        _members.TryGetValue(name, out RecordingMember? member) ? member : throw new ArgumentException($"no member {name} in the script");

    /// <summary>Starts <paramref name="name"/>'s join; it completes when the log answers (at once, unless reads are held).</summary>
    internal Task JoinAsync(string name, ResumePoint? from)
    {
        var member = new RecordingMember(name, Changes) { JoinFrom = from };
        _members.Add(name, member);
        Task join = Track($"join {name}", name, async () =>
        {
            SessionMembership membership = await Hub.JoinAsync(Session, member, from, Deadline);
            member.Membership = membership;
            if (member.Closed is not null || member.Joined is { SessionComplete: true })
            {
                // Closed before its membership was known to the hub's outbox: leave as its connection would.
                member.Leave();
            }
        });
        return join;
    }

    /// <summary>Starts <paramref name="name"/>'s resume from <paramref name="from"/>.</summary>
    internal Task ResumeAsync(string name, ResumePoint from) =>
        Track($"resume {name} after {from}", name, () => Member(name).ResumeAsync(from, Deadline).AsTask());

    /// <summary>True while a join or resume of <paramref name="name"/> waits for the log.</summary>
    internal bool IsBusy(string name) => _pending.Any(p => p.Member == name && !p.Task.IsCompleted);

    /// <summary>Waits, with the test's deadline, until <paramref name="condition"/> holds; fails saying what it waited for.</summary>
    internal async Task UntilAsync(Func<bool> condition, string what)
    {
        try
        {
            while (true)
            {
                Task changed = Changes.Next;
                if (condition())
                {
                    return;
                }

                await changed.WaitAsync(Deadline);
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"timed out waiting for {what}\n{Describe()}");
        }
    }

    /// <summary>
    /// Lets everything through: no read is held any more, every queued feed item is delivered,
    /// and a resync makes the hub read what it was never told of; then waits until every join and
    /// resume has returned and every member still in the session has reached the session's end.
    /// </summary>
    internal async Task SettleAsync()
    {
        Log.ReleaseAll();
        Log.DeliverAll();
        Log.Resync();
        await UntilAsync(
            () =>
            {
                Log.ReleaseAll();
                Log.DeliverAll();
                return _pending.All(p => p.Task.IsCompleted) && Members.All(AtEnd);
            },
            "the hub to settle");
        foreach ((string what, _, Task task) in _pending)
        {
            try
            {
                await task;
            }
            catch (Exception e)
            {
                Assert.Fail($"{what} failed: {e}\n{Describe()}");
            }
        }
    }

    /// <summary>Every member's stream problems, one line each; empty when all is well.</summary>
    internal List<string> Faults(bool drained) =>
        [.. Members.SelectMany(m => m.Check(Log, Session, drained, MayBeDropped).Select(f => $"{m.Name}: {f}"))];

    internal string Describe()
    {
        ScriptedLog.Life? life = Log.Current(Session);
        string session = life is null ? "the session does not exist" : $"the session is at {life.Seq} of {life.Epoch}{(life.Complete ? ", complete" : "")}";
        return $"{session}; {Log.Queued} feed items queued, {Log.Held} reads held\n" + string.Join("\n", Members.Select(m => "  " + m));
    }

    public void Dispose() => _services.Dispose();

    private bool AtEnd(RecordingMember member)
    {
        if (member.Closed is not null || member.HasLeft || member.Joined is null or { SessionComplete: true })
        {
            return true;
        }

        ScriptedLog.Life? life = Log.Current(Session);
        return life is not null && member.Joined.Epoch == life.Epoch && member.Seq == life.Seq;
    }

    private Task Track(string what, string member, Func<Task> operation)
    {
        Task task = Run();
        _pending.Add((what, member, task));
        return task;

        async Task Run()
        {
            try
            {
                await operation();
            }
            finally
            {
                Changes.Pulse();
            }
        }
    }
}
