using System.Buffers;
using System.Diagnostics.Metrics;
using System.Text;
using Gateway.Configuration;
using Gateway.Diagnostics;
using Gateway.Hub;
using Gateway.Log;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Bench.Micro;

/// <summary>The inputs the benchmarks share.</summary>
internal static class Samples
{
    /// <summary>
    /// A 128-byte JSON object, the typical progress-event payload:
    /// <c>{"step":"compile","progress":42,"message":"xxx..."}</c>.
    /// </summary>
    public static readonly byte[] Data128 = JsonObject(128);

    /// <summary>The session and event name the fan-out benchmarks publish under.</summary>
    public const string Session = "session-42";

    public const string EventName = "step_update";

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Event 1 of <see cref="Session"/>, <see cref="Data128"/>, with its frame built as a publish builds it.</summary>
    public static SessionEvent StepEvent(DateTimeOffset now)
    {
        byte[] frame = ServerFrames.CreateTextFrame(new EventMessage(Session, EventName, 1, now, Data128));
        return new SessionEvent(Session, EventName, 1, now, Data128, frame, id: null, final: false);
    }

    /// <summary>
    /// The memory log and the hub over it, wired as the host wires them, with the default history
    /// budget and <paramref name="historyCapacity"/> events per session.
    /// </summary>
    public static SessionHub NewHub(int historyCapacity)
    {
        // Lives as long as the benchmark: its meter is the hub's.
        ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new GatewayMetrics(services.GetRequiredService<IMeterFactory>());
        IOptions<HistoryOptions> history = Options.Create(new HistoryOptions { MaxEvents = historyCapacity });
        var log = new MemoryLog(history, Options.Create(new SessionsOptions()), Options.Create(new LimitsOptions()), TimeProvider.System, metrics, NullLogger<MemoryLog>.Instance);
        return new SessionHub(log, history, Options.Create(new BackplaneOptions()), Options.Create(new PresenceOptions()), TimeProvider.System, metrics, NullLogger<SessionHub>.Instance);
    }

    /// <summary>Joins <paramref name="member"/> to <see cref="Session"/> (the memory log answers at once).</summary>
    public static void Join(SessionHub hub, ISessionMember member) =>
        hub.JoinAsync(Session, member, from: null, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <summary>Publishes <paramref name="events"/> to <see cref="Session"/>; the latest seq.</summary>
    public static long Publish(SessionHub hub, PublishRequest[] events) =>
        hub.PublishAsync(Session, events, CancellationToken.None).AsTask().GetAwaiter().GetResult() is { Status: PublishStatus.Accepted } result
            ? result.Seq
            : throw new InvalidOperationException("the publish was not accepted");

    /// <summary>A JSON object of exactly <paramref name="size"/> bytes.</summary>
    public static byte[] JsonObject(int size)
    {
        const string Head = "{\"step\":\"compile\",\"progress\":42,\"message\":\"";
        const string Tail = "\"}";
        byte[] json = Utf8(Head + new string('x', size - Head.Length - Tail.Length) + Tail);
        return json.Length == size ? json : throw new InvalidOperationException($"built {json.Length} bytes, wanted {size}");
    }

    /// <summary>
    /// <paramref name="bytes"/> as a sequence of segments cut at <paramref name="cuts"/>, as a pipe
    /// hands over a message that straddles its buffers.
    /// </summary>
    public static ReadOnlySequence<byte> Segmented(byte[] bytes, params int[] cuts)
    {
        var first = new Segment(bytes.AsMemory(0, cuts[0]), 0);
        Segment last = first;
        for (int i = 0; i < cuts.Length; i++)
        {
            int end = i + 1 < cuts.Length ? cuts[i + 1] : bytes.Length;
            last = last.Append(bytes.AsMemory(cuts[i], end - cuts[i]));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
