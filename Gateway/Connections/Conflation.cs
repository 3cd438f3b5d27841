using System.Buffers;
using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Security;
using Gateway.Sessions;

namespace Gateway.Connections;

/// <summary>
/// Which events a reader that is behind may skip for a newer one of the same name and key (spec
/// section 12): those published with <c>"conflate": true</c>, and those whose name
/// <c>Sessions:Conflate</c> lists (exact names, and prefixes ending in <c>*</c>). An append is
/// never conflatable: each chunk is part of a text. The one place a connection asks; a connection
/// gets its policy from its session's settings (<see cref="SessionSettings.Conflation"/>: the
/// session profile's <c>Conflate</c>, else the global one).
/// </summary>
/// <param name="names">The conflated names, already validated (<see cref="ClientPublishEvents.IsValid"/>).</param>
internal sealed class ConflationPolicy(NamePatterns names)
{
    /// <summary>Only events their publisher marked conflatable.</summary>
    public static readonly ConflationPolicy MarkedOnly = new(NamePatterns.None);

    /// <summary>True when events named <paramref name="name"/> are conflatable whoever published them.</summary>
    public bool ConflatesName(string name) => names.Allows(name);

    /// <summary>True when a newer event of <paramref name="e"/>'s name and key may replace it while it waits.</summary>
    public bool IsConflatable(SessionEvent e) => !e.Traits.Append && (e.Traits.Conflate || names.Allows(e.Name));
}

/// <summary>
/// The bytes of an event that replaced older ones for one recipient: the shared frame, plus
/// <c>"conflated": n</c>. Built by the send loop when it takes the frame out, so that however many
/// events a frame replaced while it waited, its bytes are built once.
/// </summary>
internal interface IConflatedForm
{
    /// <summary>The event <paramref name="e"/> in this transport's form, saying it replaced <paramref name="conflated"/> older ones.</summary>
    byte[] ConflatedForm(SessionEvent e, int conflated);
}

/// <summary>The conflated forms of an event for each transport, written with the one event writer.</summary>
internal static class ConflatedFrames
{
    /// <summary>An <c>event</c> text frame with <c>conflated</c>.</summary>
    public static byte[] WebSocket(SessionEvent e, int conflated) => ServerFrames.CreateTextFrame(Message(e, conflated));

    /// <summary>
    /// An SSE event with <c>conflated</c> in its data, its lines otherwise those of
    /// <see cref="SessionEvent.ServerSentEvent"/>.
    /// </summary>
    public static byte[] ServerSentEvent(SessionEvent e, string epoch, bool named, int conflated)
    {
        var buffer = new ArrayBufferWriter<byte>(e.Frame.Length + 64);
        buffer.Write(Encoding.ASCII.GetBytes(e.ServerSentEventHead(epoch, named)));
        ServerFrames.WriteJson(Message(e, conflated), buffer);
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static EventMessage Message(SessionEvent e, int conflated) =>
        new(e.Session, e.Name, e.Seq, e.Timestamp, e.Data, e.From, e.Key, e.Traits.Append, conflated);
}

/// <summary>
/// A send queue's index of the newest conflatable frame of each name and key still waiting in it,
/// by the frame's position (how many frames were queued before it, ever). Pure bookkeeping for
/// <see cref="OutboundQueue"/>, under its lock.
/// </summary>
/// <remarks>
/// Nothing is indexed while the queue keeps up: the index starts (<see cref="Start"/>, the queue
/// then notes what already waits) only when a conflatable frame is queued behind another, and ends
/// when the queue empties. A position below the queue's first one has been taken out by the send
/// loop and is no longer there to replace; such entries are not removed one by one but ignored,
/// and thrown away when they outnumber what waits.
/// </remarks>
internal struct ConflationIndex
{
    // An index past this many entries is not kept once the queue empties: a burst over many keys
    // should not pin its dictionary on an idle connection.
    private const int RetainedEntries = 64;

    private Dictionary<(string Name, string? Key), long>? _newest;
    private bool _started;

    /// <summary>True while the queue is behind and has conflatable frames to index.</summary>
    public readonly bool IsStarted => _started;

    /// <summary>Begins indexing: the caller then notes every conflatable frame that waits.</summary>
    public void Start()
    {
        _newest ??= new Dictionary<(string, string?), long>();
        _started = true;
    }

    /// <summary>
    /// The position of the frame of <paramref name="e"/>'s name and key that waits (at or after
    /// <paramref name="firstWaiting"/>), when there is one.
    /// </summary>
    public readonly bool TryFind(SessionEvent e, long firstWaiting, out long position)
    {
        if (_newest!.TryGetValue((e.Name, e.Key), out position) && position >= firstWaiting)
        {
            return true;
        }

        position = -1;
        return false;
    }

    /// <summary>Notes <paramref name="e"/>, at <paramref name="position"/>, as the newest of its name and key.</summary>
    public readonly void Note(SessionEvent e, long position) => _newest![(e.Name, e.Key)] = position;

    /// <summary>
    /// True when the index holds more than twice as many entries as frames wait (plus a margin):
    /// the queue should start it again, from what waits, to drop the stale ones.
    /// </summary>
    public readonly bool IsStale(int waiting) => _newest!.Count > (2 * waiting) + RetainedEntries;

    /// <summary>Ends indexing (the queue emptied, or was discarded).</summary>
    public void Stop()
    {
        if (!_started)
        {
            return;
        }

        _started = false;
        if (_newest!.Count > RetainedEntries)
        {
            _newest = null;
        }
        else
        {
            _newest.Clear();
        }
    }
}
