using Gateway.Protocol.Messages;

namespace Gateway.Connections;

/// <summary>
/// A connection's subscription filter (spec section 3). Immutable: a change builds a new filter,
/// so that the fan-out reads it without a lock.
/// </summary>
internal sealed class EventFilter
{
    public static readonly EventFilter All = new(null);

    private static readonly string[] AllNames = [EventFilterNames.All];

    private readonly HashSet<string>? _names;

    private EventFilter(HashSet<string>? names) => _names = names;

    public bool IsAll => _names is null;

    /// <summary>The filter as the <c>subscribed</c> reply lists it: sorted names, or <c>["*"]</c>.</summary>
    public IReadOnlyCollection<string> Names => _names is null ? AllNames : _names.Order(StringComparer.Ordinal).ToArray();

    public bool Accepts(string eventName) => _names is null || _names.Contains(eventName);

    /// <summary>
    /// Parses the <c>events=</c> query: comma-separated event names, or <c>*</c>. Null when absent
    /// or empty (every event); false with an error text when a name is invalid.
    /// </summary>
    public static bool TryParseQuery(string? query, out EventFilter filter, out string? error)
    {
        filter = All;
        error = null;
        if (string.IsNullOrEmpty(query) || query == EventFilterNames.All)
        {
            return true;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in query.Split(','))
        {
            if (!Protocol.Names.IsValidEventName(name) || names.Count == EventFilterNames.MaxNames)
            {
                error = $"query parameter 'events' must be a comma-separated list of 1 to {EventFilterNames.MaxNames} event names ({Protocol.Names.MaxEventNameLength} characters at most, from {Protocol.Names.AllowedCharacters}), or *";
                return false;
            }

            names.Add(name);
        }

        filter = new EventFilter(names);
        return true;
    }

    /// <summary>
    /// Applies <c>subscribe</c>: on the all-events filter the first subscribe narrows it to exactly
    /// the names given; otherwise the names are added. <c>["*"]</c> makes it all events again.
    /// </summary>
    public bool TrySubscribe(SubscribeMessage message, out EventFilter result)
    {
        if (message.IsAll)
        {
            result = All;
            return true;
        }

        var names = _names is null ? new HashSet<string>(StringComparer.Ordinal) : new HashSet<string>(_names, StringComparer.Ordinal);
        names.UnionWith(message.Events);
        result = names.Count <= EventFilterNames.MaxNames ? new EventFilter(names) : this;
        return names.Count <= EventFilterNames.MaxNames;
    }

    /// <summary>Applies <c>unsubscribe</c>; false on the all-events filter, where there is nothing to remove.</summary>
    public bool TryUnsubscribe(UnsubscribeMessage message, out EventFilter result)
    {
        result = this;
        if (_names is null)
        {
            return false;
        }

        var names = new HashSet<string>(_names, StringComparer.Ordinal);
        names.ExceptWith(message.Events);
        result = new EventFilter(names);
        return true;
    }
}
