using System.Globalization;
using Gateway.Log;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Protocol.Messages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Bench;

/// <summary>
/// Measures what full session histories cost: fills sessions of the real memory log with
/// events of a given payload size and reads the managed heap before and after, after full GCs.
/// </summary>
internal static class HistoryMemory
{
    public static int Run(int sessions, int events, int payload)
    {
        using ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var log = new MemoryLog(
            Options.Create(new HistoryOptions { MaxEvents = events }),
            Options.Create(new SessionsOptions()),
            Options.Create(new LimitsOptions()),
            TimeProvider.System,
            new GatewayMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            NullLogger<MemoryLog>.Instance);

        // A JSON string of the requested size, quotes included: {"event":"step_update","data":"xxxx..."}.
        ReadOnlyMemory<byte> data = System.Text.Encoding.UTF8.GetBytes("\"" + new string('x', payload - 2) + "\"");
        string[] names = ["step_update", "build_progress", "terminal_output", "document_status"];
        long before = Heap();
        for (int s = 0; s < sessions; s++)
        {
            string session = "session-" + s.ToString(CultureInfo.InvariantCulture);
            for (int e = 0; e < events; e += 100)
            {
                var batch = new PublishRequest[Math.Min(100, events - e)];
                for (int i = 0; i < batch.Length; i++)
                {
                    // The decoder gives every published event its own copy of the data.
                    batch[i] = new PublishRequest(names[i % names.Length], data.ToArray(), JsonScalar.FromString($"id-{e + i}"));
                }

                log.AppendAsync(session, batch, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
        }

        long after = Heap();
        double perSession = (after - before) / (double)sessions;
        Console.WriteLine($"sessions {sessions}, events per session {events}, payload {payload} B, each with a 9-12 character idempotency id");
        Console.WriteLine($"managed heap: {(after - before) / 1024.0 / 1024.0:F1} MiB in all, {perSession / 1024.0:F1} KiB per session, {perSession / events:F0} B per event");
        GC.KeepAlive(log);
        return 0;
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
