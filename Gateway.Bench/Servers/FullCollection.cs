using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;

namespace Gateway.Bench.Servers;

/// <summary>
/// Makes a running .NET process collect its whole heap, from outside, over the runtime's
/// diagnostics port. Enabling the runtime's event provider with its heap-collect keyword is the
/// runtime's own signal for "collect everything now" (heap-dump tools send it before they walk the
/// heap); the session carries no other events and is closed again at once.
/// </summary>
/// <remarks>
/// The peers' <c>/stats</c> collect fully before they report their heap. The gateway has no such
/// endpoint, and should not: anyone who could call it could pause the gateway. Without a
/// collection, its heap as of its last collection depended on when the collector last ran: with
/// a few thousand idle clients there may have been no collection at all since they connected
/// (the quick suite reported 0.0 KB a connection).
/// </remarks>
internal static class FullCollection
{
    private const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";

    /// <summary>The runtime provider's keyword that asks for a full, blocking collection.</summary>
    private const long HeapCollectKeyword = 0x800000;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Asks process <paramref name="pid"/> for a full collection and keeps asking
    /// <paramref name="collected"/> (which reads the process's own count of full collections) until
    /// it is true. False when the process has no diagnostics port, refuses the session, or the
    /// collection is not seen within <paramref name="deadline"/>.
    /// </summary>
    public static async Task<bool> RunAsync(int pid, Func<Task<bool>> collected, TimeSpan deadline)
    {
        using var cancellation = new CancellationTokenSource(deadline);
        EventPipeSession session;
        try
        {
            session = await new DiagnosticsClient(pid).StartEventPipeSessionAsync(
                [new EventPipeProvider(RuntimeProvider, EventLevel.Informational, HeapCollectKeyword)],
                requestRundown: false, circularBufferMB: 1, cancellation.Token);
        }
        catch (Exception e) when (e is DiagnosticsClientException or IOException or TimeoutException or OperationCanceledException)
        {
            return false;
        }

        using (session)
        {
            // The runtime streams the session's events; they are read and dropped so that it never
            // waits on a full socket.
            Task drained = session.EventStream.CopyToAsync(Stream.Null);
            try
            {
                while (!await collected())
                {
                    if (cancellation.IsCancellationRequested)
                    {
                        return false;
                    }

                    await Task.Delay(PollInterval);
                }

                return true;
            }
            finally
            {
                try
                {
                    await session.StopAsync(CancellationToken.None);
                    await drained;
                }
                catch (Exception e) when (e is DiagnosticsClientException or IOException or ObjectDisposedException)
                {
                    // The process went away or closed the session first; the collection's answer stands.
                }
            }
        }
    }
}
