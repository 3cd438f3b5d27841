using System.Text;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Messages;
using Gateway.Security;

namespace Gateway.Hub;

/// <summary>One connection in a session's presence (spec section 17), on this node or another.</summary>
/// <param name="Connection">The connection's id (unique across nodes).</param>
/// <param name="User">Its user, or null.</param>
/// <param name="Info">Its info object as compact JSON, or null.</param>
/// <param name="Since">When it joined the session.</param>
internal sealed record PresenceMember(string Connection, string? User, byte[]? Info, DateTimeOffset Since)
{
    /// <summary>The member as the wire writes it.</summary>
    public PresenceEntry ToEntry() => new(Connection, User, Info ?? default(ReadOnlyMemory<byte>), Since);
}

/// <summary>A member joined (<see cref="Joined"/>) or left a session.</summary>
internal readonly record struct PresenceChange(bool Joined, PresenceMember Member);

/// <summary>
/// A session member that takes part in presence: a client connection. It is listed with its
/// identity, and with <see cref="WatchesPresence"/> it is told of the others' joins and leaves.
/// </summary>
internal interface IPresenceParticipant
{
    /// <summary>The connection's id.</summary>
    string Id { get; }

    /// <summary>Who the client says it is to the others.</summary>
    ClientIdentity Identity { get; }

    /// <summary>True when the client asked for <c>join</c> and <c>leave</c> messages (<c>presence=true</c>).</summary>
    bool WatchesPresence { get; }

    /// <summary>Queues a <c>join</c>, <c>leave</c> or <c>presence_diff</c>. Never waits; called outside every hub lock.</summary>
    void OnPresence(PresenceNotice notice);
}

/// <summary>
/// A presence message for the watchers of a session: serialized once, and put in each transport's
/// form once, whatever the number of watchers. Not an event: no seq, not in history.
/// </summary>
internal sealed class PresenceNotice
{
    private byte[]? _frame;
    private byte[]? _serverSentEvent;
    private byte[]? _namedServerSentEvent;

    private PresenceNotice(string type, byte[] json)
    {
        Type = type;
        Json = json;
    }

    /// <summary>The message's <c>type</c>: <c>join</c>, <c>leave</c> or <c>presence_diff</c>.</summary>
    public string Type { get; }

    /// <summary>The message as JSON.</summary>
    public byte[] Json { get; }

    /// <summary>The message as one WebSocket text frame.</summary>
    public byte[] Frame => _frame ??= WebSocketFrameWriter.CreateFrame(WebSocketOpcode.Text, Json);

    /// <summary>
    /// The message as an SSE event without an <c>id</c> line (it moves no Last-Event-ID); named after
    /// its type when <paramref name="named"/>, as the streams that ask with <c>named=true</c> get it.
    /// </summary>
    public byte[] ServerSentEvent(bool named) =>
        named ? _namedServerSentEvent ??= BuildServerSentEvent($"event: {Type}\ndata: ") : _serverSentEvent ??= BuildServerSentEvent("data: ");

    /// <summary>The message for the changes <paramref name="joined"/> and <paramref name="left"/>: one <c>join</c> or <c>leave</c>, or a <c>presence_diff</c> for several.</summary>
    public static PresenceNotice? For(string session, IReadOnlyList<PresenceMember> joined, IReadOnlyList<PresenceMember> left)
    {
        switch (joined.Count + left.Count)
        {
            case 0:
                return null;
            case 1 when joined.Count == 1:
                return new PresenceNotice(PresenceTypes.Join, ServerFrames.CreateJson(new JoinMessage(session, joined[0].ToEntry())));
            case 1:
                return new PresenceNotice(PresenceTypes.Leave, ServerFrames.CreateJson(new LeaveMessage(session, left[0].ToEntry())));
            default:
                var diff = new PresenceDiffMessage(session, joined.Select(m => m.ToEntry()).ToArray(), left.Select(m => m.ToEntry()).ToArray());
                return new PresenceNotice(PresenceTypes.Diff, ServerFrames.CreateJson(diff));
        }
    }

    private byte[] BuildServerSentEvent(string lines)
    {
        byte[] head = Encoding.ASCII.GetBytes(lines);
        byte[] bytes = new byte[head.Length + Json.Length + 2];
        head.CopyTo(bytes, 0);
        Json.CopyTo(bytes, head.Length);
        bytes[^2] = (byte)'\n';
        bytes[^1] = (byte)'\n';
        return bytes;
    }
}

/// <summary>The <c>type</c> of each presence message, as the metric's tag and the SSE event name.</summary>
internal static class PresenceTypes
{
    public const string Join = "join";
    public const string Leave = "leave";
    public const string Diff = "presence_diff";
}
