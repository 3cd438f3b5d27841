using System.Text.Json;
using Gateway.Protocol.Json;

namespace Gateway.Protocol.Messages;

/// <summary>A message from the gateway to a client (spec section 3). It writes itself as one JSON object.</summary>
public interface IServerMessage
{
    /// <summary>Writes the message as one JSON object.</summary>
    void WriteTo(Utf8JsonWriter writer);
}

/// <summary>The latest event of one name in a session's state.</summary>
/// <param name="Event">The event name.</param>
/// <param name="Seq">Its seq.</param>
/// <param name="Timestamp">When the gateway accepted it.</param>
/// <param name="Data">Its data, compact JSON.</param>
/// <param name="From">The client connection that published it; null for an event published over HTTP.</param>
public readonly record struct StateEntry(string Event, long Seq, DateTimeOffset Timestamp, ReadOnlyMemory<byte> Data, EventOrigin? From = null)
{
    /// <summary>Writes <c>{name: {seq, ts, data}, ...}</c> for <paramref name="entries"/>.</summary>
    public static void WriteState(Utf8JsonWriter writer, IEnumerable<StateEntry> entries)
    {
        writer.WriteStartObject(ProtocolText.State);
        foreach (StateEntry entry in entries)
        {
            writer.WriteStartObject(entry.Event);
            writer.WriteNumber(ProtocolText.Seq, entry.Seq);
            Timestamps.Write(writer, ProtocolText.Ts, entry.Timestamp);
            writer.WritePropertyName(ProtocolText.Data);
            writer.WriteRawValue(entry.Data.Span, skipInputValidation: true);
            entry.From?.WriteTo(writer);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }
}

/// <summary>
/// The latest event of one name and key in a session's keyed state (spec section 19): for appends,
/// the text assembled so far.
/// </summary>
/// <param name="Event">The event name.</param>
/// <param name="Key">The key.</param>
/// <param name="Seq">The seq of its latest event (for an assembled text, its latest chunk).</param>
/// <param name="Timestamp">When the gateway accepted that event.</param>
/// <param name="Data">Its data, compact JSON; for an assembled text, one JSON string of every chunk so far.</param>
/// <param name="Chunks">How many appends the text was assembled from; 0 when the latest event was not an append.</param>
/// <param name="From">The client connection that published the latest event; null for an event published over HTTP.</param>
public readonly record struct KeyedEntry(string Event, string Key, long Seq, DateTimeOffset Timestamp, ReadOnlyMemory<byte> Data, int Chunks = 0, EventOrigin? From = null)
{
    /// <summary>
    /// Writes <c>keyed: {name: {key: {seq, ts, data, chunks?}, ...}, ...}</c> for
    /// <paramref name="entries"/>, which must come grouped by name (each name's entries together).
    /// </summary>
    public static void WriteKeyed(Utf8JsonWriter writer, IEnumerable<KeyedEntry> entries)
    {
        writer.WriteStartObject(ProtocolText.Keyed);
        string? name = null;
        foreach (KeyedEntry entry in entries)
        {
            if (!string.Equals(name, entry.Event, StringComparison.Ordinal))
            {
                if (name is not null)
                {
                    writer.WriteEndObject();
                }

                name = entry.Event;
                writer.WriteStartObject(name);
            }

            writer.WriteStartObject(entry.Key);
            writer.WriteNumber(ProtocolText.Seq, entry.Seq);
            Timestamps.Write(writer, ProtocolText.Ts, entry.Timestamp);
            writer.WritePropertyName(ProtocolText.Data);
            writer.WriteRawValue(entry.Data.Span, skipInputValidation: true);
            if (entry.Chunks > 0)
            {
                writer.WriteNumber(ProtocolText.Chunks, entry.Chunks);
            }

            entry.From?.WriteTo(writer);
            writer.WriteEndObject();
        }

        if (name is not null)
        {
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }
}

/// <summary><c>welcome</c>: the first message after the upgrade.</summary>
/// <param name="Session">The session's name.</param>
/// <param name="Connection">This connection's id.</param>
/// <param name="Seq">The session's latest seq.</param>
/// <param name="Epoch">The session's current life: a seq means something only with it.</param>
/// <param name="HeartbeatIntervalMs">How often the server pings.</param>
/// <param name="HeartbeatTimeoutMs">How long a silent connection lives.</param>
/// <param name="Complete">True when a final event completed the session.</param>
public readonly record struct WelcomeMessage(string Session, string Connection, long Seq, string Epoch, long HeartbeatIntervalMs, long HeartbeatTimeoutMs, bool Complete) : IServerMessage
{
    /// <summary>The protocol version this library speaks.</summary>
    public const int ProtocolVersion = 1;

    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeWelcome);
        writer.WriteString(ProtocolText.Session, Session);
        writer.WriteString(ProtocolText.Connection, Connection);
        writer.WriteNumber(ProtocolText.Seq, Seq);
        writer.WriteString(ProtocolText.Epoch, Epoch);
        writer.WriteStartObject(ProtocolText.Heartbeat);
        writer.WriteNumber(ProtocolText.Interval, HeartbeatIntervalMs);
        writer.WriteNumber(ProtocolText.Timeout, HeartbeatTimeoutMs);
        writer.WriteEndObject();
        writer.WriteNumber(ProtocolText.Protocol, ProtocolVersion);
        writer.WriteBoolean(ProtocolText.Complete, Complete);
        writer.WriteEndObject();
    }
}

/// <summary><c>event</c>: one event of the session.</summary>
/// <param name="Session">The session's name.</param>
/// <param name="Event">The event's name.</param>
/// <param name="Seq">Its seq.</param>
/// <param name="Timestamp">When the gateway accepted it.</param>
/// <param name="Data">Its data, compact JSON.</param>
/// <param name="From">The client connection that published it; null for an event published over HTTP.</param>
/// <param name="Key">Its key (spec section 19), or null.</param>
/// <param name="Append">True when it is a chunk appended to its key's text.</param>
/// <param name="Conflated">How many older events of its name and key it replaced for this recipient (spec section 12); 0 for none.</param>
public readonly record struct EventMessage(string Session, string Event, long Seq, DateTimeOffset Timestamp, ReadOnlyMemory<byte> Data, EventOrigin? From = null, string? Key = null, bool Append = false, int Conflated = 0) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer) => WriteTo(writer, out _);

    /// <summary>
    /// Writes the event, and where in what <paramref name="writer"/> wrote its data begins: the
    /// data goes out verbatim, so those bytes are <see cref="Data"/> and a holder of the frame
    /// needs no second copy of it.
    /// </summary>
    public void WriteTo(Utf8JsonWriter writer, out long dataAt)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeEvent);
        writer.WriteString(ProtocolText.Session, Session);
        writer.WriteString(ProtocolText.Event, Event);
        writer.WriteNumber(ProtocolText.Seq, Seq);
        Timestamps.Write(writer, ProtocolText.Ts, Timestamp);
        writer.WritePropertyName(ProtocolText.Data);
        dataAt = writer.BytesCommitted + writer.BytesPending;
        writer.WriteRawValue(Data.Span, skipInputValidation: true);
        if (Key is not null)
        {
            writer.WriteString(ProtocolText.Key, Key);
        }

        if (Append)
        {
            writer.WriteBoolean(ProtocolText.Append, true);
        }

        From?.WriteTo(writer);
        if (Conflated > 0)
        {
            writer.WriteNumber(ProtocolText.Conflated, Conflated);
        }

        writer.WriteEndObject();
    }
}

/// <summary><c>pong</c>: the reply to <c>ping</c>.</summary>
public readonly record struct PongMessage(JsonScalar? Id, JsonScalar? Ts, long ServerTs) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypePong);
        WriteScalar(writer, ProtocolText.Id, Id);
        WriteScalar(writer, ProtocolText.Ts, Ts);
        writer.WriteNumber(ProtocolText.ServerTs, ServerTs);
        writer.WriteEndObject();
    }

    internal static void WriteScalar(Utf8JsonWriter writer, JsonEncodedText name, JsonScalar? value)
    {
        if (value is { } scalar)
        {
            writer.WritePropertyName(name);
            scalar.WriteTo(writer);
        }
    }
}

/// <summary><c>subscribed</c>: the reply to <c>subscribe</c> and <c>unsubscribe</c>, with the whole filter.</summary>
/// <param name="Id">The request's id.</param>
/// <param name="Events">The filter now; <c>["*"]</c> means every event.</param>
public readonly record struct SubscribedMessage(JsonScalar? Id, IReadOnlyCollection<string> Events) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeSubscribed);
        PongMessage.WriteScalar(writer, ProtocolText.Id, Id);
        writer.WriteStartArray(ProtocolText.Events);
        foreach (string name in Events)
        {
            writer.WriteStringValue(name);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}

/// <summary><c>status</c>: the reply to <c>status</c>.</summary>
/// <param name="Id">The request's id.</param>
/// <param name="Session">The session's name.</param>
/// <param name="Seq">The session's latest seq.</param>
/// <param name="Epoch">The session's current life.</param>
/// <param name="Clients">The session's clients on every node.</param>
/// <param name="Complete">True when a final event completed the session.</param>
/// <param name="State">The latest event of each name.</param>
/// <param name="Keyed">The latest event of each name and key, assembled texts included, grouped by name (spec section 19).</param>
public readonly record struct StatusReply(JsonScalar? Id, string Session, long Seq, string Epoch, int Clients, bool Complete, IReadOnlyCollection<StateEntry> State, IReadOnlyCollection<KeyedEntry>? Keyed = null) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeStatus);
        PongMessage.WriteScalar(writer, ProtocolText.Id, Id);
        writer.WriteString(ProtocolText.Session, Session);
        writer.WriteNumber(ProtocolText.Seq, Seq);
        writer.WriteString(ProtocolText.Epoch, Epoch);
        writer.WriteNumber(ProtocolText.Clients, Clients);
        writer.WriteBoolean(ProtocolText.Complete, Complete);
        StateEntry.WriteState(writer, State);
        KeyedEntry.WriteKeyed(writer, Keyed ?? []);
        writer.WriteEndObject();
    }
}

/// <summary><c>resumed</c>: sent after a replay.</summary>
/// <param name="Id">The <c>resume</c> request's id (none after a <c>since=</c> replay).</param>
/// <param name="Since">The seq the replay started after.</param>
/// <param name="Replayed">How many events were replayed.</param>
/// <param name="Complete">
/// False when history no longer held every event after <paramref name="Since"/>, or when the
/// client's epoch was of another life (the replay is then the current life from its start).
/// </param>
/// <param name="Epoch">The session's current life, to resume with next time.</param>
public readonly record struct ResumedMessage(JsonScalar? Id, long Since, int Replayed, bool Complete, string Epoch) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeResumed);
        PongMessage.WriteScalar(writer, ProtocolText.Id, Id);
        writer.WriteNumber(ProtocolText.Since, Since);
        writer.WriteNumber(ProtocolText.Replayed, Replayed);
        writer.WriteBoolean(ProtocolText.Complete, Complete);
        writer.WriteString(ProtocolText.Epoch, Epoch);
        writer.WriteEndObject();
    }
}

/// <summary><c>ack</c>: the reply to a client <c>publish</c>.</summary>
public readonly record struct AckMessage(JsonScalar? Id, long Seq) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeAck);
        PongMessage.WriteScalar(writer, ProtocolText.Id, Id);
        writer.WriteNumber(ProtocolText.Seq, Seq);
        writer.WriteEndObject();
    }
}

/// <summary><c>error</c>: bad input or a refused operation. The connection stays open.</summary>
public readonly record struct ErrorMessage(JsonScalar? Id, ErrorCode Code, string Message) : IServerMessage
{
    /// <summary>The error message for a decoding error.</summary>
    public static ErrorMessage From(ProtocolError error) => new(error.Id, error.Code, error.Message);

    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeError);
        PongMessage.WriteScalar(writer, ProtocolText.Id, Id);
        writer.WriteString(ProtocolText.Code, Code.ToWireName());
        writer.WriteString(ProtocolText.Message, Message);
        writer.WriteEndObject();
    }
}

/// <summary><c>rpc_result</c>: the backend's answer to an <c>rpc</c>.</summary>
public readonly record struct RpcResultMessage(JsonScalar? Id, ReadOnlyMemory<byte> Data) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeRpcResult);
        PongMessage.WriteScalar(writer, ProtocolText.Id, Id);
        writer.WritePropertyName(ProtocolText.Data);
        writer.WriteRawValue(Data.Span, skipInputValidation: true);
        writer.WriteEndObject();
    }
}

/// <summary>One connection in a session's presence (spec section 17).</summary>
/// <param name="Connection">The connection's id.</param>
/// <param name="User">Its user, or null.</param>
/// <param name="Info">Its info object as compact JSON; empty for none (written as <c>null</c>).</param>
/// <param name="Since">When it joined the session.</param>
public readonly record struct PresenceEntry(string Connection, string? User, ReadOnlyMemory<byte> Info, DateTimeOffset Since)
{
    /// <summary>Writes <c>{connection, user[, info][, since]}</c>.</summary>
    internal void WriteTo(Utf8JsonWriter writer, bool withInfo, bool withSince)
    {
        writer.WriteStartObject();
        WriteFields(writer, withInfo);
        if (withSince)
        {
            Timestamps.Write(writer, ProtocolText.Since, Since);
        }

        writer.WriteEndObject();
    }

    /// <summary>Writes <c>connection</c>, <c>user</c> and, with <paramref name="withInfo"/>, <c>info</c> into the open object.</summary>
    internal void WriteFields(Utf8JsonWriter writer, bool withInfo)
    {
        writer.WriteString(ProtocolText.Connection, Connection);
        if (User is null)
        {
            writer.WriteNull(ProtocolText.User);
        }
        else
        {
            writer.WriteString(ProtocolText.User, User);
        }

        if (withInfo)
        {
            writer.WritePropertyName(ProtocolText.Info);
            if (Info.IsEmpty)
            {
                writer.WriteNullValue();
            }
            else
            {
                writer.WriteRawValue(Info.Span, skipInputValidation: true);
            }
        }
    }
}

/// <summary>
/// <c>presence</c>: the reply to <c>presence</c>, and the body of <c>GET /api/sessions/{session}/presence</c>.
/// </summary>
/// <param name="Id">The request's id (none over HTTP).</param>
/// <param name="Session">The session's name.</param>
/// <param name="Clients">The session's connections, on every node.</param>
/// <param name="Users">The distinct users among them (connections without a user not counted).</param>
/// <param name="Members">At most <c>Presence:MaxListed</c> of the connections, oldest first.</param>
public readonly record struct PresenceReply(JsonScalar? Id, string Session, int Clients, int Users, IReadOnlyList<PresenceEntry> Members) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypePresence);
        PongMessage.WriteScalar(writer, ProtocolText.Id, Id);
        writer.WriteString(ProtocolText.Session, Session);
        writer.WriteNumber(ProtocolText.Clients, Clients);
        writer.WriteNumber(ProtocolText.Users, Users);
        writer.WriteStartArray(ProtocolText.Members);
        foreach (PresenceEntry member in Members)
        {
            member.WriteTo(writer, withInfo: true, withSince: true);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}

/// <summary><c>join</c>: another connection joined the session (to clients that asked with <c>presence=true</c>). Not an event: no seq.</summary>
public readonly record struct JoinMessage(string Session, PresenceEntry Member) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeJoin);
        writer.WriteString(ProtocolText.Session, Session);
        Member.WriteFields(writer, withInfo: true);
        writer.WriteEndObject();
    }
}

/// <summary><c>leave</c>: another connection left the session (to clients that asked with <c>presence=true</c>). Not an event: no seq.</summary>
public readonly record struct LeaveMessage(string Session, PresenceEntry Member) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypeLeave);
        writer.WriteString(ProtocolText.Session, Session);
        Member.WriteFields(writer, withInfo: false);
        writer.WriteEndObject();
    }
}

/// <summary>
/// <c>presence_diff</c>: several joins and leaves at once, coalesced so that a crowd joining costs
/// one message per interval rather than one per connection. <c>joined</c> entries are
/// <c>{connection, user, info}</c>, <c>left</c> entries <c>{connection, user}</c>.
/// </summary>
public readonly record struct PresenceDiffMessage(string Session, IReadOnlyList<PresenceEntry> Joined, IReadOnlyList<PresenceEntry> Left) : IServerMessage
{
    /// <inheritdoc />
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString(ProtocolText.Type, ProtocolText.TypePresenceDiff);
        writer.WriteString(ProtocolText.Session, Session);
        writer.WriteStartArray(ProtocolText.Joined);
        foreach (PresenceEntry member in Joined)
        {
            member.WriteTo(writer, withInfo: true, withSince: false);
        }

        writer.WriteEndArray();
        writer.WriteStartArray(ProtocolText.Left);
        foreach (PresenceEntry member in Left)
        {
            member.WriteTo(writer, withInfo: false, withSince: false);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
