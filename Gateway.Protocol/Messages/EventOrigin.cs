using System.Text.Json;
using Gateway.Protocol.Framing;
using Gateway.Protocol.Json;

namespace Gateway.Protocol.Messages;

/// <summary>
/// Who published an event from a client connection: the event's <c>from</c>,
/// <c>{"connection","user"}</c> (spec section 13). Only the gateway sets it, so that receivers can
/// tell a user's message from the backend's; an event published over HTTP has none.
/// </summary>
/// <param name="Connection">The publishing connection's id.</param>
/// <param name="User">Its user (spec section 17), or null.</param>
public sealed record EventOrigin(string Connection, string? User)
{
    /// <summary>The longest <see cref="Connection"/> or <see cref="User"/> read back from a store.</summary>
    private const int MaxTextLength = 256;

    /// <summary>Writes the <c>from</c> property: <c>"from":{"connection":"...","user":"..."|null}</c>.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject(ProtocolText.From);
        WriteMembers(writer);
        writer.WriteEndObject();
    }

    /// <summary>The object alone, compact JSON, one line: how a store keeps it beside the event.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream(64 + Connection.Length + (User?.Length ?? 0));
        using (var writer = new Utf8JsonWriter(buffer, ServerFrames.WriterOptions))
        {
            writer.WriteStartObject();
            WriteMembers(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads what <see cref="ToJson"/> wrote; null for anything else. Never throws.</summary>
    public static EventOrigin? TryParse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 2 });
            string? connection = null, user = null;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isConnection = reader.ValueTextEquals(ProtocolText.Connection.EncodedUtf8Bytes);
                bool isUser = reader.ValueTextEquals(ProtocolText.User.EncodedUtf8Bytes);
                reader.Read();
                if (isConnection && reader.TokenType == JsonTokenType.String)
                {
                    connection = reader.GetString();
                }
                else if (isUser && reader.TokenType == JsonTokenType.String)
                {
                    user = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }

            return connection is { Length: > 0 and <= MaxTextLength } && user is null or { Length: <= MaxTextLength } && !reader.Read()
                ? new EventOrigin(connection, user)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private void WriteMembers(Utf8JsonWriter writer)
    {
        writer.WriteString(ProtocolText.Connection, Connection);
        writer.WriteString(ProtocolText.User, User);
    }
}
