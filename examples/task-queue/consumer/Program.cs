// Follows a task queue's session and prints a line for every task that ends, and a summary each
// time a run of tasks has drained. Gateway.Client resumes after a dropped connection from the
// last event it delivered, so no task is printed twice or missed while the gateway's history
// holds it.
//
//   dotnet run --project examples/task-queue/consumer -- --session queue:default
using Gateway.Client;
using TaskQueueConsumer;

if (!ConsumerArguments.TryParse(args, out ConsumerArguments? arguments, out string? problem))
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine(ConsumerArguments.Usage);
    return 2;
}

if (arguments.Help)
{
    Console.WriteLine(ConsumerArguments.Usage);
    return 0;
}

string gateway = Environment.GetEnvironmentVariable("GATEWAY_URL") ?? ConsumerArguments.DefaultGateway;
if (!ConsumerArguments.TryWebSocketUrl(gateway, arguments.Session, out Uri? sessionUrl, out problem))
{
    Console.Error.WriteLine(problem);
    return 2;
}

await using var client = new GatewayClient(sessionUrl, new GatewayClientOptions
{
    // Only the outcomes: progress and the rest of the task events never cross the wire to this consumer.
    Events = [QueueEvents.Completed, QueueEvents.Failed, QueueEvents.Drained],
    Since = arguments.Since,
});

// Connection news goes to stderr, so stdout is one line per task and the summaries.
client.StateChanged += (_, change) => Console.Error.WriteLine(change.State switch
{
    GatewayClientState.Reconnecting => $"connection lost ({Why(change)}); reconnecting, attempt {change.Attempt} in {change.Delay.TotalSeconds:0.0} s",
    GatewayClientState.Closed => $"closed{(change.CloseReason is { Length: > 0 } reason ? $": {reason}" : string.Empty)}",
    _ => change.State.ToString().ToLowerInvariant(),
});
client.Resumed += (_, resume) => Console.Error.WriteLine(resume.Complete
    ? $"resumed after seq {resume.Since}: {resume.Replayed} missed events replayed"
    : $"resumed after seq {resume.Since}: {resume.Replayed} events replayed, and some may be lost (history no longer held them)");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

try
{
    await client.StartAsync(stop.Token);
}
catch (GatewayConnectException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
catch (OperationCanceledException)
{
    return 0;
}

Console.Error.WriteLine($"watching {arguments.Session} at {sessionUrl} for {QueueEvents.Completed}, {QueueEvents.Failed} and {QueueEvents.Drained}");
var tally = new QueueTally();
try
{
    await foreach (GatewayEvent e in client.Events(stop.Token))
    {
        if (e.EpochChanged)
        {
            Console.Error.WriteLine("the session started over (deleted, expired, or its gateway restarted without Redis): what it held before is gone");
        }

        switch (e.Name)
        {
            case QueueEvents.Completed or QueueEvents.Failed:
                TaskOutcome outcome = e.DataAs<TaskOutcome>(QueueEvents.Json)
                    ?? throw new InvalidDataException($"event {e.Seq} ({e.Name}) has no data");
                Console.WriteLine(tally.Record(e.Name == QueueEvents.Completed, outcome));
                break;
            case QueueEvents.Drained:
                RunSummary run = e.DataAs<RunSummary>(QueueEvents.Json)
                    ?? throw new InvalidDataException($"event {e.Seq} ({e.Name}) has no data");
                Console.WriteLine(tally.Summary(run));
                if (arguments.UntilDrained)
                {
                    return 0;
                }

                break;
        }
    }

    // The loop ends by itself when the session completes (a final event was published).
    Console.WriteLine(tally.Total());
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.WriteLine(tally.Total());
}

return 0;

static string Why(GatewayStateChange change) =>
    change.CloseStatus is { } status ? $"closed with {(int)status} {change.CloseReason}".TrimEnd()
    : change.Error?.Message ?? "dropped";
