using System.Globalization;
using System.Text;

namespace TaskQueueConsumer;

/// <summary>What this consumer has seen: outcomes per worker since the last drained run, and in all.</summary>
internal sealed class QueueTally
{
    private readonly SortedDictionary<string, WorkerTally> _sinceDrained = new(StringComparer.Ordinal);
    private int _completed;
    private int _failed;

    /// <summary>Counts one outcome and returns the line to print for it.</summary>
    public string Record(bool completed, TaskOutcome outcome)
    {
        if (!_sinceDrained.TryGetValue(outcome.Worker, out WorkerTally? worker))
        {
            _sinceDrained[outcome.Worker] = worker = new WorkerTally();
        }

        if (completed)
        {
            worker.Completed++;
            worker.CompletedMs += outcome.DurationMs;
            _completed++;
            return Invariant($"completed {outcome.Id} {outcome.Kind} on {outcome.Worker} in {Seconds(outcome.DurationMs)}: {outcome.Result}");
        }

        worker.Failed++;
        _failed++;
        return Invariant($"failed    {outcome.Id} {outcome.Kind} on {outcome.Worker} after {Seconds(outcome.DurationMs)}: {outcome.Error}");
    }

    /// <summary>The summary of a drained run: the workers' own counts, then what reached this consumer, by worker.</summary>
    public string Summary(RunSummary run)
    {
        int completed = _sinceDrained.Values.Sum(w => w.Completed);
        int failed = _sinceDrained.Values.Sum(w => w.Failed);
        double perSecond = run.ElapsedMs > 0 ? (run.Completed + run.Failed) * 1000.0 / run.ElapsedMs : 0;
        var line = new StringBuilder(Invariant(
            $"summary: run {run.Run} drained, {run.Completed} completed and {run.Failed} failed in {Seconds(run.ElapsedMs)} ({perSecond:0.0} tasks/s); seen here: {completed} completed, {failed} failed"));
        foreach ((string name, WorkerTally worker) in _sinceDrained)
        {
            string average = worker.Completed > 0 ? Seconds(worker.CompletedMs / worker.Completed) : "-";
            line.Append(Invariant($"; {name} {worker.Completed} done, {worker.Failed} failed, avg {average}"));
        }

        _sinceDrained.Clear();
        return line.ToString();
    }

    /// <summary>Everything this consumer saw, for when it stops.</summary>
    public string Total() => Invariant($"total: {_completed} completed, {_failed} failed");

    private static string Seconds(long milliseconds) => Invariant($"{milliseconds / 1000.0:0.0} s");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class WorkerTally
    {
        public int Completed { get; set; }

        public int Failed { get; set; }

        public long CompletedMs { get; set; }
    }
}
