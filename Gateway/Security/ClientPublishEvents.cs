using Gateway.Configuration;
using Gateway.Protocol;

namespace Gateway.Security;

/// <summary>
/// Which event names WebSocket clients may publish (<c>Security:ClientPublishEvents</c>, spec
/// section 13): exact names, and prefixes written with a trailing <c>*</c>; <c>*</c> alone is
/// every name. So a chat can let its users publish <c>chat.message</c> while the names its agent
/// publishes (<c>status</c>, <c>message_chunk</c>) stay the backend's.
/// </summary>
internal sealed class ClientPublishEvents
{
    private readonly NamePatterns _patterns;

    public ClientPublishEvents(string[] patterns)
    {
        if (patterns.Length == 0)
        {
            patterns = SecurityOptions.DefaultClientPublishEvents;
        }

        _patterns = NamePatterns.Of(patterns);
        Text = string.Join(", ", patterns);
    }

    /// <summary>The setting as written, for the refusal that names it.</summary>
    public string Text { get; }

    /// <summary>True when a pattern is <c>*</c>, an event name, or the start of one followed by <c>*</c>.</summary>
    public static bool IsValid(string pattern) =>
        pattern == "*"
        || Names.IsValidEventName(pattern)
        || (pattern.Length > 1 && pattern.EndsWith('*') && Names.IsValidEventName(pattern.AsSpan(0, pattern.Length - 1)));

    /// <summary>True when a client may publish an event named <paramref name="name"/>.</summary>
    public bool Allows(string name) => _patterns.Allows(name);
}
