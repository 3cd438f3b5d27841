using System.Globalization;
using System.Text;

namespace Gateway.Bench.Load;

/// <summary>Everything one run measured, per server.</summary>
internal sealed class SuiteResults
{
    public string Machine { get; set; } = string.Empty;

    public string Command { get; set; } = string.Empty;

    public DateTimeOffset Started { get; set; }

    public bool Quick { get; set; }

    /// <summary>S4's one rate for every server (<c>--s4-rate</c>), or null for half of each server's own S2 maximum.</summary>
    public double? SteadyRate { get; set; }

    public Dictionary<string, IdleResult> Idle { get; } = [];

    public Dictionary<string, List<FanOutResult>> FanOut { get; } = [];

    public Dictionary<string, List<ManyResult>> Many { get; } = [];

    public Dictionary<string, SteadyResult> Steady { get; } = [];

    public Dictionary<string, SlowResult> Slow { get; } = [];

    public Dictionary<string, double> GeneratorCpuSeconds { get; } = [];

    /// <summary>Each server's own CPU seconds over all its scenarios, taken out of <see cref="GeneratorCpuSeconds"/>.</summary>
    public Dictionary<string, double> ServerCpuSeconds { get; } = [];

    /// <summary>The limit on steal (<c>--max-steal</c>) past which a measurement was taken again; 0: none.</summary>
    public double MaxStealPercent { get; set; }

    /// <summary>Of the time the machine wanted to run during each kept measurement, the percentage the hypervisor took.</summary>
    public Dictionary<string, double> StealPercent { get; } = [];

    public List<string> Notes { get; } = [];
}

/// <summary>
/// The results as Markdown tables, the gateway beside each peer, with ratios. Where a server of
/// several processes is in a table (gateway-redis), a column splits its CPU by process.
/// </summary>
internal static class Report
{
    private const string Gateway = "gateway";

    public static string Markdown(SuiteResults results)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Run of {results.Started:yyyy-MM-dd HH:mm} UTC, {(results.Quick ? "quick" : "full")} suite, on {results.Machine}.");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(results.Command);
        md.AppendLine("```");
        md.AppendLine();

        if (results.Idle.Count > 0)
        {
            md.AppendLine("### S1: idle density and connect rate");
            md.AppendLine();
            md.AppendLine("| server | connections | connects/s | server RSS per connection | managed heap per connection | gateway's RSS per connection ÷ this |");
            md.AppendLine("|---|---|---|---|---|---|");
            IdleResult? gateway = results.Idle.GetValueOrDefault(Gateway);
            foreach ((string server, IdleResult r) in results.Idle)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {server} | {r.Connections:#,0}{(r.Failed > 0 ? $" ({r.Failed} failed)" : "")} | {r.ConnectsPerSecond:#,0} | {r.RssBytesPerConnection / 1024:0.0} KB | {(r.HeapBytesPerConnection is { } h ? $"{h / 1024:0.0} KB" : "n/a")} | {Ratio(gateway?.RssBytesPerConnection, r.RssBytesPerConnection)} |");
            }

            md.AppendLine();
        }

        foreach (int clients in results.FanOut.Values.SelectMany(v => v).Select(r => r.Clients).Distinct().Order())
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"### S2: fan-out to one session of {clients:#,0}");
            md.AppendLine();
            bool split = results.FanOut.Values.SelectMany(list => list).Any(r => r.Clients == clients && r.CpuSecondsPerMillionByProcess.Count > 1);
            md.AppendLine("| server | highest rate passing | deliveries/s | p99 there | server CPU s per million deliveries |" + (split ? " of which, by process |" : "") + " gateway ÷ this (deliveries/s) |");
            md.AppendLine("|---|---|---|---|---|" + (split ? "---|" : "") + "---|");
            FanOutResult? gateway = results.FanOut.GetValueOrDefault(Gateway)?.FirstOrDefault(r => r.Clients == clients);
            foreach ((string server, List<FanOutResult> list) in results.FanOut)
            {
                if (list.FirstOrDefault(r => r.Clients == clients) is not { } r)
                {
                    continue;
                }

                md.AppendLine(CultureInfo.InvariantCulture, $"| {server} | {r.MaxRate:#,0.#}/s | {r.DeliveriesPerSecond:#,0} | {LatencySummary.Milliseconds(r.AtMax.P99)} ms | {r.CpuSecondsPerMillion:0.00} |{(split ? $" {ByProcess(r.CpuSecondsPerMillionByProcess)} |" : "")} {Ratio(gateway?.DeliveriesPerSecond, r.DeliveriesPerSecond)} |");
            }

            md.AppendLine();
        }

        if (results.Many.Count > 0)
        {
            md.AppendLine("### S3: many sessions (5 clients each)");
            md.AppendLine();
            bool split = results.Many.Values.SelectMany(list => list).Any(r => r.CpuSecondsPerMillionByProcess.Count > 1);
            md.AppendLine("| server | publishes/s | publish p99 | delivery p99 | delivered / due | server CPU s per million deliveries |" + (split ? " of which, by process |" : ""));
            md.AppendLine("|---|---|---|---|---|---|" + (split ? "---|" : ""));
            foreach ((string server, List<ManyResult> list) in results.Many)
            {
                foreach (ManyResult r in list)
                {
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {server} | {r.Rate:#,0} | {LatencySummary.Milliseconds(r.Publish.P99)} ms | {LatencySummary.Milliseconds(r.Delivery.P99)} ms | {r.Received:#,0} / {r.Expected:#,0}{(r.PublishErrors > 0 ? $" ({r.PublishErrors} publish errors)" : "")} | {r.CpuSecondsPerMillion:0.00} |{(split ? $" {ByProcess(r.CpuSecondsPerMillionByProcess)} |" : "")}");
                }
            }

            md.AppendLine();
        }

        if (results.Steady.Count > 0)
        {
            md.AppendLine(results.SteadyRate is { } common
                ? string.Create(CultureInfo.InvariantCulture, $"### S4: latency at one rate for every server ({common:0.#} events/s), and single bursts")
                : "### S4: latency at half of each server's own S2 maximum, and single bursts");
            md.AppendLine();
            md.AppendLine("| server | rate | p50 | p99 | p99.9 | max | delivered / due | burst: time to the last client p50 / p99 / max |");
            md.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach ((string server, SteadyResult r) in results.Steady)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {server} | {r.Rate:#,0.#}/s to {r.Clients:#,0} | {Ms(r.Delivery.P50)} | {Ms(r.Delivery.P99)} | {Ms(r.Delivery.P999)} | {Ms(r.Delivery.Max)} | {r.Received:#,0} / {r.Expected:#,0} | {Ms(r.TimeToLast.P50)} / {Ms(r.TimeToLast.P99)} / {Ms(r.TimeToLast.Max)} ({r.TimeToLast.Count} bursts to {r.BurstClients:#,0}) |");
            }

            md.AppendLine();
        }

        if (results.Slow.Count > 0)
        {
            md.AppendLine("### S5: slow-consumer isolation");
            md.AppendLine();
            md.AppendLine("| server | healthy p99 before → after the stall | healthy clients delivered / due | stalled clients closed after | close codes | server RSS start → max → end |");
            md.AppendLine("|---|---|---|---|---|---|");
            foreach ((string server, SlowResult r) in results.Slow)
            {
                string closed = r.SlowClosedAfterSeconds.Length == 0 ? "not closed" : $"{r.SlowClosedAfterSeconds.Length} in {r.SlowClosedAfterSeconds.Min():0.0}-{r.SlowClosedAfterSeconds.Max():0.0} s";
                string codes = r.CloseCodes.Count == 0 ? "none" : string.Join(", ", r.CloseCodes.Select(c => $"{c.Key}×{c.Value}"));
                string rss = r.ServerRssMiB.Length == 0 ? "n/a" : $"{r.ServerRssMiB[0]:0} → {r.ServerRssMiB.Max():0} → {r.ServerRssMiB[^1]:0} MiB";
                md.AppendLine(CultureInfo.InvariantCulture, $"| {server} | {Ms(r.HealthyBefore.P99)} → {Ms(r.HealthyAfter.P99)} | {r.HealthyReceived:#,0} / {r.HealthyExpected:#,0} | {closed} | {codes} | {rss} |");
            }

            md.AppendLine();
            if (results.Slow.Values.Any(r => r.Progress is not null))
            {
                md.AppendLine("S5 over a progress stream, from the stall on (received plus `conflated` equal to due: nothing lost, every client current):");
                md.AppendLine();
                md.AppendLine("| server | stream | stall | due | received | conflated | stalled closed | p99 after they read again |");
                md.AppendLine("|---|---|---|---|---|---|---|---|");
                foreach ((string server, SlowResult r) in results.Slow)
                {
                    if (r.Progress is { } p)
                    {
                        md.AppendLine(CultureInfo.InvariantCulture,
                            $"| {server} | {p.Rate:0}/s, {(p.Conflating ? "conflate: true" : "not conflatable")} | {p.StallSeconds:0.#} s | {p.Due:#,0} | {p.Received:#,0} | {p.Conflated:#,0} | {p.StalledClosed} | {Ms(p.AfterResume.P99)} |");
                    }
                }

                md.AppendLine();
            }
        }

        if (results.GeneratorCpuSeconds.Count > 0)
        {
            md.AppendLine("Generator CPU seconds (all worker processes and the coordinator, the servers' own taken out), per server: " +
                string.Join(", ", results.GeneratorCpuSeconds.Select(g => $"{g.Key} {g.Value:0.0}")) + ".");
            md.AppendLine();
        }

        if (results.StealPercent.Count > 0)
        {
            md.AppendLine(results.MaxStealPercent > 0
                ? string.Create(CultureInfo.InvariantCulture, $"CPU stolen by the hypervisor during each measurement kept, as a share of the time the machine wanted to run (a measurement above {results.MaxStealPercent:0.#}% was taken again once, after waiting up to 3 minutes for a probe to find the machine quiet, and the quieter attempt kept):")
                : "CPU stolen by the hypervisor during each measurement, as a share of the time the machine wanted to run:");
            md.AppendLine();
            foreach (IGrouping<string, KeyValuePair<string, double>> server in results.StealPercent.GroupBy(s => s.Key.Split(' ')[0]))
            {
                string each = string.Join(", ", server.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Key[(server.Key.Length + 1)..]} {s.Value:0.0}%")));
                md.AppendLine(CultureInfo.InvariantCulture, $"- {server.Key}: {each}");
            }

            md.AppendLine();
        }

        foreach (string note in results.Notes)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        }

        return md.ToString();
    }

    private static string Ms(long microseconds) => LatencySummary.Milliseconds(microseconds) + " ms";

    /// <summary>A server of several processes' split, or "-" for one of a single process.</summary>
    private static string ByProcess(Dictionary<string, double> perMillion) =>
        CpuByProcess.Describe(perMillion) is { Length: > 0 } split ? split : "-";

    /// <summary>The gateway's value over this one's; "-" on the gateway's own row or where either is missing.</summary>
    private static string Ratio(double? gateway, double value) =>
        gateway is { } g && value > 0 && g > 0 ? (g / value).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "-";
}
