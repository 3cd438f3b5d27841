using System.CommandLine;
using Gateway.Bench;
using Gateway.Bench.Load;

var quick = new Option<bool>("--quick") { Description = "A quick pass of every scenario (a few minutes), instead of the full suite." };
var servers = new Option<string[]>("--servers")
{
    Description = "The servers to compare: " + string.Join(", ", BenchRunner.AllServers)
        + "; also gateway-precompiled (the gateway published with ReadyToRun), gateway-redis (two gateway nodes sharing a redis-server), gateway-redis-1 (one node over a redis-server on the other core) and gateway-cluster (two nodes over a three-shard Redis Cluster), when named",
    AllowMultipleArgumentsPerToken = true,
    DefaultValueFactory = _ => BenchRunner.AllServers,
};
var scenarios = new Option<string[]>("--scenarios")
{
    Description = "The scenarios to run: S1 (idle density), S2 (fan-out), S3 (many sessions), S4 (latency; needs S2, or --s4-rate), S5 (slow consumers)",
    AllowMultipleArgumentsPerToken = true,
    DefaultValueFactory = _ => BenchRunner.AllScenarios,
};
var output = new Option<string>("--output") { Description = "Where results go (Markdown and JSON).", DefaultValueFactory = _ => "bench-results" };

var steadyRate = new Option<double>("--s4-rate")
{
    Description = "S4's publish rate for every server alike, in events/s (default: half of each server's own S2 maximum, which needs S2 in the same run).",
};
var slowClients = new Option<int>("--s5-clients") { Description = "S5's clients in its one session (default: 500, quick 200)." };
var slowStalled = new Option<int>("--s5-stalled") { Description = "How many of S5's clients stop reading (default: 25, quick 10)." };
var slowProgress = new Option<string?>("--s5-progress")
{
    Description = "S5 over a progress stream, on the gateway with 256 KiB of lag: 'conflate' marks the events \"conflate\": true (stalled clients should stay and be current), 'plain' does not (the control: they are closed with 4001).",
};
slowProgress.AcceptOnlyFromAmong("conflate", "plain");
var fanOutPayload = new Option<int>("--s2-payload") { Description = "S2's event data in bytes (default 128); past 128, progress-like JSON rows that compress as real events do.", DefaultValueFactory = _ => 128 };
var fanOutDeflate = new Option<bool>("--s2-deflate") { Description = "S2's clients offer permessage-deflate (with client_no_context_takeover), as browsers offer it, and inflate what comes compressed." };
var gatewaySetting = PairsOption("--gateway-setting", "KEY=VALUE", "Gateway:Backplane:Channels=slot",
    "A configuration key and value for every gateway process the bench starts (every node of gateway-redis and gateway-cluster too), such as Gateway:Backplane:Channels=slot; repeat it for more. Peers ignore it.");
var gatewayEnvironment = PairsOption("--gateway-env", "NAME=VALUE", "DOTNET_GCgen0size=0x400000",
    "An environment variable for every gateway process the bench starts, and for nothing else (not the generators), such as DOTNET_GCgen0size=0x400000; repeat it for more. Peers do not get it.");
var redisOptions = new Option<string>("--redis-options")
{
    Description = "Client options after the address in every gateway node's Redis connection string (gateway-redis, gateway-redis-1, gateway-cluster), such as ,sharedSubscriptionConnection=true.",
    DefaultValueFactory = _ => "",
};
var maxSteal = new Option<double>("--max-steal")
{
    Description = "On a shared virtual machine: the most CPU, in percent of the time the machine wanted to run, the hypervisor may take (steal) during a measurement before it is taken again once the machine is quiet; each scenario also waits for a quiet machine first (at most 3 minutes). 0 turns both off. Every measurement's steal is reported either way.",
    DefaultValueFactory = _ => 5,
};
var run = new Command("run", "Run the load scenarios against the gateway and its peers, side by side.") { quick, servers, scenarios, steadyRate, slowClients, slowStalled, slowProgress, fanOutPayload, fanOutDeflate, gatewaySetting, gatewayEnvironment, redisOptions, maxSteal, output };
run.SetAction((result, _) => BenchRunner.RunAsync(
    Split(result.GetValue(servers)!), Split(result.GetValue(scenarios)!), result.GetValue(quick), result.GetValue(steadyRate),
    (result.GetValue(slowClients), result.GetValue(slowStalled)), result.GetValue(output)!,
    "dotnet run --project Gateway.Bench -c Release -- " + string.Join(' ', args),
    result.GetValue(slowProgress) switch { "conflate" => SlowStream.Progress, "plain" => SlowStream.ProgressPlain, _ => SlowStream.Bench },
    (result.GetValue(fanOutPayload), result.GetValue(fanOutDeflate)),
    Pairs(result.GetValue(gatewaySetting), StringComparer.OrdinalIgnoreCase),
    Pairs(result.GetValue(gatewayEnvironment), StringComparer.Ordinal),
    result.GetValue(maxSteal),
    result.GetValue(redisOptions)!));

var worker = new Command("worker", "A generator process, driven by the coordinator over stdin (internal).") { Hidden = true };
worker.SetAction((_, _) => Worker.RunAsync());

var microArguments = new Argument<string[]>("arguments") { Description = "BenchmarkDotNet's own arguments, e.g. --filter '*'", Arity = ArgumentArity.ZeroOrMore };
var micro = new Command("micro", "BenchmarkDotNet micro-benchmarks: the codec and the fan-out core.") { microArguments };
micro.TreatUnmatchedTokensAsErrors = false;
micro.SetAction(result => Gateway.Bench.Micro.MicroBenchmarks.Run([.. result.GetValue(microArguments) ?? [], .. result.UnmatchedTokens]));

var sessions = new Option<int>("--sessions") { DefaultValueFactory = _ => 200 };
var events = new Option<int>("--events") { DefaultValueFactory = _ => 1000 };
var payload = new Option<int>("--payload") { DefaultValueFactory = _ => 128 };
var historyMemory = new Command("history-memory", "Memory held by full session histories in the memory backplane.") { sessions, events, payload };
historyMemory.SetAction(result => HistoryMemory.Run(result.GetValue(sessions), result.GetValue(events), result.GetValue(payload)));

var check = new Command("check", "Build and start every server and check that it speaks the scenario contract.");
check.SetAction((_, _) => Gateway.Bench.Servers.ServerCheck.CheckAllAsync());
var serversCommand = new Command("servers", "The servers under test.") { check };

var url = new Option<string>("--url") { Description = "A running server's base address.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
var rate = new Option<double>("--rate") { DefaultValueFactory = _ => 1000 };
var seconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 5 };
var connections = new Option<int>("--connections") { DefaultValueFactory = _ => 16 };
var sessionCount = new Option<int>("--sessions") { DefaultValueFactory = _ => 100 };
var probe = new Command("probe", "Publish open-loop to a running server and print the publish latency (no clients).") { url, rate, seconds, connections, sessionCount };
probe.SetAction(async (result, _) =>
{
    ThreadPools.Prepare();
    await using HttpPublisher publisher = await HttpPublisher.ConnectAsync(new Uri(result.GetValue(url)!), result.GetValue(connections));
    int count = result.GetValue(sessionCount);
    long sent = await RatePublisher.RunAsync(publisher, result.GetValue(rate), TimeSpan.FromSeconds(result.GetValue(seconds)), k => $"probe-{k % count}", 128);
    LatencySummary latency = publisher.Latency.Summarize();
    Console.WriteLine($"{sent} publishes, {publisher.Errors} errors; publish latency p50 {LatencySummary.Milliseconds(latency.P50)} p99 {LatencySummary.Milliseconds(latency.P99)} p99.9 {LatencySummary.Milliseconds(latency.P999)} max {LatencySummary.Milliseconds(latency.Max)} ms");
    return 0;
});

var watchers = new Option<int>("--watchers") { Description = "Clients in the session before the storm, with presence=true; their event latency is measured.", DefaultValueFactory = _ => 50 };
var joiners = new Option<int>("--joiners") { Description = "Clients that join during the storm.", DefaultValueFactory = _ => 1000 };
var stormSeconds = new Option<double>("--storm-seconds") { Description = "Over how long they join.", DefaultValueFactory = _ => 1 };
var eventRate = new Option<double>("--rate") { Description = "Events a second to the session throughout.", DefaultValueFactory = _ => 100 };
var quietSeconds = new Option<double>("--quiet-seconds") { Description = "How long the stream runs before the storm (the baseline), and after it.", DefaultValueFactory = _ => 5 };
var presenceStorm = new Command("presence-storm", "A crowd joins one session of a running gateway while it carries events: delivery latency before and during, presence messages sent.")
{
    url, watchers, joiners, stormSeconds, eventRate, quietSeconds,
};
presenceStorm.SetAction((result, _) => PresenceStorm.RunAsync(new PresenceStorm.Plan(
    new Uri(result.GetValue(url)!), result.GetValue(watchers), result.GetValue(joiners), result.GetValue(stormSeconds), result.GetValue(eventRate), result.GetValue(quietSeconds))));

var ingestUrl = new Option<string?>("--url") { Description = "A running gateway's base address; without it the bench builds and starts one, pinned to core 0, and itself to core 1." };
var ingestWatchers = new Option<int>("--watchers") { Description = "WebSocket clients in the session; each line's latency is measured at each.", DefaultValueFactory = _ => 100 };
var ingestLines = new Option<int>("--lines") { Description = "Lines each way.", DefaultValueFactory = _ => 100_000 };
var ingestSeconds = new Option<double>("--seconds") { Description = "At most this long sending each way (0: no bound).", DefaultValueFactory = _ => 60 };
var lineBytes = new Option<int>("--line-bytes") { Description = "About how long each line is.", DefaultValueFactory = _ => 100 };
var format = new Option<string>("--format") { Description = "The ingest body: text (text/plain, a line an event) or ndjson (an event object a line).", DefaultValueFactory = _ => "text" };
format.AcceptOnlyFromAmong("text", "ndjson");
var postConnections = new Option<int>("--connections") { Description = "Keep-alive connections of the POST per line.", DefaultValueFactory = _ => 8 };
var lineRate = new Option<double>("--rate") { Description = "Lines a second, paced, both ways (0: as fast as the gateway takes them).", DefaultValueFactory = _ => 0 };
var warmupLines = new Option<int>("--warmup-lines") { Description = "Lines each way before measuring, not measured.", DefaultValueFactory = _ => 5000 };
var ingestCommand = new Command("ingest", "Lines a second from one piped PUT into a session with watchers, and each line's delivery latency, beside the same lines as one POST each.")
{
    ingestUrl, ingestWatchers, ingestLines, ingestSeconds, lineBytes, format, postConnections, lineRate, warmupLines,
};
ingestCommand.SetAction((result, _) =>
{
    string? address = result.GetValue(ingestUrl);
    return IngestBench.RunAsync(
        new IngestBench.Plan(
            address is null ? null : new Uri(address), result.GetValue(ingestWatchers), result.GetValue(ingestLines), result.GetValue(ingestSeconds),
            result.GetValue(lineBytes), result.GetValue(format) == "ndjson", result.GetValue(postConnections), result.GetValue(lineRate), result.GetValue(warmupLines)),
        "dotnet run --project Gateway.Bench -c Release -- " + string.Join(' ', args));
});

var idleUrl = new Option<string>("--url") { Description = "A running server's base address.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
var idleConnections = new Option<int>("--connections") { Description = "Idle WebSocket clients, as S1 connects them (256 handshakes in flight).", DefaultValueFactory = _ => 16_000 };
var idleSessions = new Option<int>("--sessions") { Description = "Over how many sessions, dealt in turn (S1: 160).", DefaultValueFactory = _ => 160 };
var holdSeconds = new Option<double>("--hold-seconds") { Description = "How long to keep them connected once they all are.", DefaultValueFactory = _ => 120 };
var idleCpus = new Option<string>("--cpus") { Description = "The generators' CPUs, as taskset takes them (default: any).", DefaultValueFactory = _ => "" };
var idleHold = new Command("idle-hold", "S1's idle clients against a running server, held open for a while (to take a heap dump of the server meanwhile).")
{
    idleUrl, idleConnections, idleSessions, holdSeconds, idleCpus,
};
idleHold.SetAction((result, _) => IdleHold.RunAsync(new IdleHold.Plan(
    new Uri(result.GetValue(idleUrl)!), result.GetValue(idleConnections), result.GetValue(idleSessions), result.GetValue(holdSeconds), result.GetValue(idleCpus)!)));

var replayUrl = new Option<string>("--url") { Description = "A running gateway's base address.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
var replayClients = new Option<int>("--clients") { Description = "Clients that join at once with since=0.", DefaultValueFactory = _ => 200 };
var replayEvents = new Option<int>("--events") { Description = "Events in the session's history, each client reads all of them.", DefaultValueFactory = _ => 1000 };
var replayRounds = new Option<int>("--rounds") { Description = "How many times the crowd joins, one after another.", DefaultValueFactory = _ => 4 };
var replayDeflate = new Option<bool>("--deflate") { Description = "The clients offer permessage-deflate, as browsers do." };
var replayStorm = new Command("replay-storm", "A crowd joins one session of a running gateway at once, each client replaying its whole history: time, and the gateway's CPU per event replayed.")
{
    replayUrl, replayClients, replayEvents, replayRounds, replayDeflate,
};
replayStorm.SetAction((result, _) => ReplayStorm.RunAsync(new ReplayStorm.Plan(
    new Uri(result.GetValue(replayUrl)!), result.GetValue(replayClients), result.GetValue(replayEvents), result.GetValue(replayRounds), result.GetValue(replayDeflate))));

var root = new RootCommand("Gateway.Bench: measurements of the gateway beside the peers users would pick instead.")
{
    run, worker, micro, historyMemory, serversCommand, probe, presenceStorm, ingestCommand, idleHold, replayStorm,
};
return await root.Parse(args).InvokeAsync();

// An option of NAME=VALUE pairs, one per use of the option, each refused without its '='.
static Option<string[]> PairsOption(string name, string shape, string example, string description)
{
    var option = new Option<string[]>(name) { Description = description, AllowMultipleArgumentsPerToken = false };
    option.Validators.Add(result =>
    {
        foreach (string pair in result.GetValueOrDefault<string[]>() ?? [])
        {
            if (pair.IndexOf('=', StringComparison.Ordinal) <= 0)
            {
                result.AddError($"{name} takes {shape}, such as {example}; got '{pair}'");
            }
        }
    });
    return option;
}

// What a PairsOption was given, by name (configuration keys are case-insensitive, environment variables not).
static Dictionary<string, string> Pairs(string[]? pairs, StringComparer names) =>
    (pairs ?? []).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], names);

// "--servers a,b" and "--servers a b" both work.
static string[] Split(string[] values) => values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
