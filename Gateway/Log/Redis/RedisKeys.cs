using StackExchange.Redis;

namespace Gateway.Log.Redis;

/// <summary>
/// Every Redis key and channel name this gateway uses, built here and nowhere else: the scripts
/// get each key they touch in <c>KEYS</c>, never a name they make up. A session's keys and its
/// channel share the hash tag <c>{session}</c>, so that in a Redis Cluster they all live in one
/// hash slot and every session script runs on one shard; see <see cref="RedisScripts"/> for what
/// each holds. The two keys outside any session (<see cref="Sessions"/>, <see cref="Nodes"/>) are
/// never given to a session script: they are written by commands of their own.
/// </summary>
/// <param name="prefix">What every key and channel starts with (<c>Gateway:Backplane:KeyPrefix</c>).</param>
/// <param name="perSlot">
/// True for one channel per hash slot, shared by the sessions of that slot, rather than one per
/// session (<c>Gateway:Backplane:Channels</c>); see <see cref="Channel"/>.
/// </param>
internal sealed class RedisKeys(string prefix, bool perSlot = false)
{
    /// <summary>A set: the name of every session.</summary>
    public RedisKey Sessions { get; } = prefix + "sessions";

    /// <summary>A sorted set: each node's id, scored by the time (ms) its liveness runs out.</summary>
    public RedisKey Nodes { get; } = prefix + "nodes";

    /// <summary>
    /// The keys of <paramref name="session"/>, in the order every session script takes them:
    /// meta, events, state, ids, clients, presence (a hash: connection id to
    /// <c>node \n since(ms) \n user \n info</c>), keyed (a hash: <c>name \n key</c> to
    /// <c>chunks \n entry</c>, the keyed state of spec section 19).
    /// </summary>
    public RedisKey[] Of(string session)
    {
        string tag = Tag(session);
        return [tag + "meta", tag + "events", tag + "state", tag + "ids", tag + "clients", tag + "presence", tag + "keyed"];
    }

    /// <summary>The session's meta hash alone (<see cref="Of"/>'s first key).</summary>
    public RedisKey Meta(string session) => Tag(session) + "meta";

    /// <summary>
    /// The sharded pub/sub channel of <paramref name="session"/>'s events, presence changes and
    /// deletion: in the session's hash slot, so that its scripts may <c>SPUBLISH</c> to it. Its
    /// own (<c>prefix{session}:events</c>), or the one of its slot
    /// (<c>prefix{tag}:slot</c>, where <c>tag</c> is <see cref="RedisSlots.TagOf"/> the session's
    /// slot): every message starts with the session's name, so a node tells the sessions of a
    /// slot's channel apart and drops those it has no members of.
    /// </summary>
    /// <remarks>A session's name has no braces, so its own slot is its keys' slot.</remarks>
    public string Channel(string session) =>
        perSlot ? prefix + "{" + RedisSlots.TagOf(RedisSlots.Of(session)) + "}:slot" : Tag(session) + "events";

    private string Tag(string session) => prefix + "{" + session + "}:";
}
