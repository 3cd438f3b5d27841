using System.Text.Json;

namespace Gateway.Protocol.Json;

/// <summary>Property names and type names of the protocol, encoded once for the reader and the writer.</summary>
internal static class ProtocolText
{
    public static readonly JsonEncodedText Type = JsonEncodedText.Encode("type");
    public static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
    public static readonly JsonEncodedText Ts = JsonEncodedText.Encode("ts");
    public static readonly JsonEncodedText Events = JsonEncodedText.Encode("events");
    public static readonly JsonEncodedText Since = JsonEncodedText.Encode("since");
    public static readonly JsonEncodedText Epoch = JsonEncodedText.Encode("epoch");
    public static readonly JsonEncodedText Event = JsonEncodedText.Encode("event");
    public static readonly JsonEncodedText Data = JsonEncodedText.Encode("data");
    public static readonly JsonEncodedText Final = JsonEncodedText.Encode("final");
    public static readonly JsonEncodedText Key = JsonEncodedText.Encode("key");
    public static readonly JsonEncodedText Append = JsonEncodedText.Encode("append");
    public static readonly JsonEncodedText Conflate = JsonEncodedText.Encode("conflate");
    public static readonly JsonEncodedText Conflated = JsonEncodedText.Encode("conflated");
    public static readonly JsonEncodedText Token = JsonEncodedText.Encode("token");
    public static readonly JsonEncodedText Method = JsonEncodedText.Encode("method");
    public static readonly JsonEncodedText Session = JsonEncodedText.Encode("session");
    public static readonly JsonEncodedText Connection = JsonEncodedText.Encode("connection");
    public static readonly JsonEncodedText From = JsonEncodedText.Encode("from");
    public static readonly JsonEncodedText User = JsonEncodedText.Encode("user");
    public static readonly JsonEncodedText Seq = JsonEncodedText.Encode("seq");
    public static readonly JsonEncodedText Heartbeat = JsonEncodedText.Encode("heartbeat");
    public static readonly JsonEncodedText Interval = JsonEncodedText.Encode("interval");
    public static readonly JsonEncodedText Timeout = JsonEncodedText.Encode("timeout");
    public static readonly JsonEncodedText Protocol = JsonEncodedText.Encode("protocol");
    public static readonly JsonEncodedText Complete = JsonEncodedText.Encode("complete");
    public static readonly JsonEncodedText ServerTs = JsonEncodedText.Encode("serverTs");
    public static readonly JsonEncodedText Clients = JsonEncodedText.Encode("clients");
    public static readonly JsonEncodedText State = JsonEncodedText.Encode("state");
    public static readonly JsonEncodedText Keyed = JsonEncodedText.Encode("keyed");
    public static readonly JsonEncodedText Chunks = JsonEncodedText.Encode("chunks");
    public static readonly JsonEncodedText Replayed = JsonEncodedText.Encode("replayed");
    public static readonly JsonEncodedText Code = JsonEncodedText.Encode("code");
    public static readonly JsonEncodedText Message = JsonEncodedText.Encode("message");
    public static readonly JsonEncodedText Info = JsonEncodedText.Encode("info");
    public static readonly JsonEncodedText Users = JsonEncodedText.Encode("users");
    public static readonly JsonEncodedText Members = JsonEncodedText.Encode("members");
    public static readonly JsonEncodedText Joined = JsonEncodedText.Encode("joined");
    public static readonly JsonEncodedText Left = JsonEncodedText.Encode("left");

    public static readonly JsonEncodedText TypePing = JsonEncodedText.Encode("ping");
    public static readonly JsonEncodedText TypeSubscribe = JsonEncodedText.Encode("subscribe");
    public static readonly JsonEncodedText TypeUnsubscribe = JsonEncodedText.Encode("unsubscribe");
    public static readonly JsonEncodedText TypeStatus = JsonEncodedText.Encode("status");
    public static readonly JsonEncodedText TypeResume = JsonEncodedText.Encode("resume");
    public static readonly JsonEncodedText TypePublish = JsonEncodedText.Encode("publish");
    public static readonly JsonEncodedText TypeAuth = JsonEncodedText.Encode("auth");
    public static readonly JsonEncodedText TypeRpc = JsonEncodedText.Encode("rpc");
    public static readonly JsonEncodedText TypePresence = JsonEncodedText.Encode("presence");

    public static readonly JsonEncodedText TypeWelcome = JsonEncodedText.Encode("welcome");
    public static readonly JsonEncodedText TypeEvent = JsonEncodedText.Encode("event");
    public static readonly JsonEncodedText TypePong = JsonEncodedText.Encode("pong");
    public static readonly JsonEncodedText TypeSubscribed = JsonEncodedText.Encode("subscribed");
    public static readonly JsonEncodedText TypeResumed = JsonEncodedText.Encode("resumed");
    public static readonly JsonEncodedText TypeAck = JsonEncodedText.Encode("ack");
    public static readonly JsonEncodedText TypeError = JsonEncodedText.Encode("error");
    public static readonly JsonEncodedText TypeRpcResult = JsonEncodedText.Encode("rpc_result");
    public static readonly JsonEncodedText TypeJoin = JsonEncodedText.Encode("join");
    public static readonly JsonEncodedText TypeLeave = JsonEncodedText.Encode("leave");
    public static readonly JsonEncodedText TypePresenceDiff = JsonEncodedText.Encode("presence_diff");
}
