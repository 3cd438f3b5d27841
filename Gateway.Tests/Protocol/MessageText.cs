using System.Text;
using Gateway.Protocol.Messages;

namespace Gateway.Tests.Protocol;

/// <summary>
/// Canonical one-line renderings of decoded messages and errors. Records holding
/// <see cref="ReadOnlyMemory{T}"/> or lists compare by reference, so tests compare these instead.
/// </summary>
internal static class MessageText
{
    public static string Render(ClientMessage message)
    {
        string head = $"{message.Type.ToString().ToLowerInvariant()} id={Render(message.Id)}";
        return message switch
        {
            PingMessage ping => $"{head} ts={Render(ping.Ts)}",
            SubscribeMessage subscribe => $"{head} events=[{string.Join(",", subscribe.Events)}] all={Render(subscribe.IsAll)}",
            UnsubscribeMessage unsubscribe => $"{head} events=[{string.Join(",", unsubscribe.Events)}]",
            StatusRequest => head,
            PresenceRequest => head,
            ResumeMessage resume => $"{head} since={resume.Since}" + (resume.Epoch is { } epoch ? $" epoch={epoch}" : ""),
            PublishMessage publish => $"{head} event={publish.Event} final={Render(publish.Final)} data={Render(publish.Data)}{Render(publish.Traits)}",
            AuthMessage auth => $"{head} token={auth.Token}",
            RpcRequest rpc => $"{head} method={rpc.Method} data={Render(rpc.Data)}",
            _ => throw new ArgumentException($"unexpected message {message.GetType()}", nameof(message)),
        };
    }

    public static string Render(PublishRequest request) =>
        $"event={request.Event} id={Render(request.Id)} final={Render(request.Final)} data={Render(request.Data)}{Render(request.Traits)}";

    /// <summary>Nothing for the traits of a plain event, so that rows without them read as before.</summary>
    public static string Render(EventTraits traits) =>
        (traits.Key is null ? "" : $" key={traits.Key}") + (traits.Append ? " append" : "") + (traits.Conflate ? " conflate" : "");

    public static string Render(ProtocolError error) =>
        $"{error.Code.ToWireName()} id={Render(error.Id)}: {error.Message}";

    /// <summary>A string id in quotes, a number id bare, none as a dash.</summary>
    public static string Render(JsonScalar? scalar) => scalar switch
    {
        null => "-",
        { IsString: true } s => $"\"{s.Text}\"",
        { } s => s.Text,
    };

    private static string Render(bool value) => value ? "true" : "false";

    private static string Render(ReadOnlyMemory<byte> data) => Encoding.UTF8.GetString(data.Span);

    /// <summary>The expected rendering of an error, to write tables with.</summary>
    public static string Error(ErrorCode code, string message, string id = "-") => $"{code.ToWireName()} id={id}: {message}";
}
