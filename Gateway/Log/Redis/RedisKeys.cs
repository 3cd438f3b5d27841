using StackExchange.Redis;

namespace Gateway.Log.Redis;

/// <summary>
/// Every Redis key and channel name this gateway uses, built here and nowhere else: the scripts
/// get each key they touch in <c>KEYS</c>, never a name they make up. A session's keys share the
/// hash tag <c>{session}</c>; see <see cref="RedisScripts"/> for what each holds.
/// </summary>
internal sealed class RedisKeys(string prefix)
{
    /// <summary>The one pub/sub channel that carries every session's events to every node.</summary>
    public string EventsChannel { get; } = prefix + "events";

    /// <summary>A set: the name of every session.</summary>
    public RedisKey Sessions { get; } = prefix + "sessions";

    /// <summary>A sorted set: each live node's id, scored by the time (ms) its liveness runs out.</summary>
    public RedisKey Nodes { get; } = prefix + "nodes";

    /// <summary>
    /// The keys of <paramref name="session"/>, in the order every session script takes them:
    /// meta, events, state, ids, clients, then <see cref="Sessions"/> and <see cref="Nodes"/>, then
    /// presence (a hash: connection id to <c>node \n since(ms) \n user \n info</c>), then keyed (a
    /// hash: <c>name \n key</c> to <c>chunks \n entry</c>, the keyed state of spec section 19).
    /// </summary>
    public RedisKey[] Of(string session)
    {
        string tag = prefix + "{" + session + "}:";
        return [tag + "meta", tag + "events", tag + "state", tag + "ids", tag + "clients", Sessions, Nodes, tag + "presence", tag + "keyed"];
    }
}
