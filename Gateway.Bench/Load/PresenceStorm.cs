using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace Gateway.Bench.Load;

/// <summary>
/// A crowd joins one session while it carries a steady stream of events (spec section 17): the
/// event delivery latency to the session's watchers before and during the joins, and the presence
/// messages the gateway sent them (read from its <c>/metrics</c>). Against a gateway started
/// separately, so that the generator's CPU is not the server's.
/// </summary>
internal static partial class PresenceStorm
{
    /// <summary>What to run.</summary>
    /// <param name="Server">The gateway's base address.</param>
    /// <param name="Watchers">Clients in the session before the storm, with <c>presence=true</c>: their event latency is measured.</param>
    /// <param name="Joiners">Clients that join during the storm.</param>
    /// <param name="StormSeconds">Over how long they join, evenly spread.</param>
    /// <param name="Rate">Events a second published to the session throughout.</param>
    /// <param name="QuietSeconds">How long the stream runs before the storm (the baseline), and after it.</param>
    public sealed record Plan(Uri Server, int Watchers, int Joiners, double StormSeconds, double Rate, double QuietSeconds);

    public static async Task<int> RunAsync(Plan plan)
    {
        ThreadPools.Prepare();
        string session = "presence-storm-" + Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);
        var endpoint = new IPEndPoint(IPAddress.Parse(plan.Server.Host), plan.Server.Port);
        var latency = new LatencyHistogram();
        using var stop = new CancellationTokenSource();
        var clients = new List<BenchClient>();
        var readers = new List<Task>();

        for (int i = 0; i < plan.Watchers; i++)
        {
            BenchClient watcher = await BenchClient.ConnectAsync(endpoint, $"/ws/{session}?presence=true&user=watcher-{i}", signalR: false, latency, receiveBufferBytes: 0, stop.Token);
            clients.Add(watcher);
            readers.Add(watcher.RunAsync(stop.Token));
        }

        using var http = new HttpClient { BaseAddress = plan.Server };
        Dictionary<string, double> metricsBefore = await PresenceMessagesAsync(http);
        await using HttpPublisher publisher = await HttpPublisher.ConnectAsync(plan.Server, connections: 4);
        TimeSpan total = TimeSpan.FromSeconds((2 * plan.QuietSeconds) + plan.StormSeconds);
        Task<long> publishing = RatePublisher.RunAsync(publisher, plan.Rate, total, _ => session, 128);

        await Task.Delay(TimeSpan.FromSeconds(plan.QuietSeconds));
        List<long[]> before = latency.ToSparse();

        // The crowd: one connection every StormSeconds/Joiners, each reading as a browser would.
        var joined = Stopwatch.StartNew();
        long start = Stopwatch.GetTimestamp();
        double spacing = plan.StormSeconds * Stopwatch.Frequency / Math.Max(1, plan.Joiners);
        var crowd = new LatencyHistogram();
        var connecting = new List<Task<BenchClient>>();
        for (int i = 0; i < plan.Joiners; i++)
        {
            long due = start + (long)(i * spacing);
            long wait = due - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 1000)
            {
                await Task.Delay(TimeSpan.FromSeconds(wait / (double)Stopwatch.Frequency));
            }

            connecting.Add(BenchClient.ConnectAsync(endpoint, $"/ws/{session}?user=joiner-{i}", signalR: false, crowd, receiveBufferBytes: 0, stop.Token));
        }

        foreach (BenchClient joiner in await Task.WhenAll(connecting))
        {
            clients.Add(joiner);
            readers.Add(joiner.RunAsync(stop.Token));
        }

        TimeSpan joinTook = joined.Elapsed;
        long sent = await publishing;
        List<long[]> all = latency.ToSparse();
        Dictionary<string, double> metricsAfter = await PresenceMessagesAsync(http);

        var baseline = new LatencyHistogram();
        baseline.Add(before);
        var during = new LatencyHistogram();
        during.Add(all);
        during.Add(before.Select(pair => new[] { pair[0], -pair[1] }));
        LatencySummary b = baseline.Summarize();
        LatencySummary d = during.Summarize();

        Console.WriteLine($"session {session}: {plan.Watchers} watchers (presence=true), {plan.Joiners} joiners over {plan.StormSeconds:0.##} s (all connected after {joinTook.TotalSeconds:0.00} s), {sent} events at {plan.Rate:0} /s, {publisher.Errors} publish errors");
        Console.WriteLine($"event delivery to the watchers, before the storm: {b.Count} deliveries, p50 {LatencySummary.Milliseconds(b.P50)} p99 {LatencySummary.Milliseconds(b.P99)} max {LatencySummary.Milliseconds(b.Max)} ms");
        Console.WriteLine($"event delivery to the watchers, during and after:  {d.Count} deliveries, p50 {LatencySummary.Milliseconds(d.P50)} p99 {LatencySummary.Milliseconds(d.P99)} max {LatencySummary.Milliseconds(d.Max)} ms");
        foreach (string type in new[] { "join", "leave", "presence_diff" })
        {
            double count = metricsAfter.GetValueOrDefault(type) - metricsBefore.GetValueOrDefault(type);
            Console.WriteLine($"presence messages sent, {type}: {count:0} ({count / Math.Max(1, plan.Watchers):0.#} per watcher)");
        }

        await stop.CancelAsync();
        foreach (BenchClient client in clients)
        {
            client.Dispose();
        }

        await Task.WhenAll(readers);
        return 0;
    }

    /// <summary>The gateway's <c>gateway_presence_messages_total</c> by type.</summary>
    private static async Task<Dictionary<string, double>> PresenceMessagesAsync(HttpClient http)
    {
        string text = await http.GetStringAsync("/metrics");
        var counts = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (Match match in PresenceCounter().Matches(text))
        {
            counts[match.Groups[1].Value] = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        }

        return counts;
    }

    [GeneratedRegex(@"^gateway_presence_messages_total\{[^}]*type=""([a-z_]+)""[^}]*\} ([0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex PresenceCounter();
}
