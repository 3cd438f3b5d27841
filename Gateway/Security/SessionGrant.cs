using Gateway.Protocol;

namespace Gateway.Security;

/// <summary>
/// The sessions a grant covers: exact names, and prefixes written with a trailing <c>*</c>
/// (<c>build-*</c>); <c>*</c> alone covers every session.
/// </summary>
internal sealed class SessionGrant
{
    public static readonly SessionGrant None = new([], [], all: false);

    public static readonly SessionGrant All = new([], [], all: true);

    private readonly HashSet<string> _names;
    private readonly string[] _prefixes;
    private readonly bool _all;

    private SessionGrant(HashSet<string> names, string[] prefixes, bool all)
    {
        _names = names;
        _prefixes = prefixes;
        _all = all;
    }

    public bool IsNone => !_all && _names.Count == 0 && _prefixes.Length == 0;

    public bool Allows(string session)
    {
        if (_all || _names.Contains(session))
        {
            return true;
        }

        foreach (string prefix in _prefixes)
        {
            if (session.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Parses patterns: session names, or names with one trailing <c>*</c>. False with an error
    /// text when one is neither.
    /// </summary>
    public static bool TryParse(IEnumerable<string> patterns, out SessionGrant grant, out string? error)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var prefixes = new List<string>();
        foreach (string pattern in patterns)
        {
            if (pattern == "*")
            {
                grant = All;
                error = null;
                return true;
            }

            string name = pattern.EndsWith('*') ? pattern[..^1] : pattern;
            if (!Names.IsValidSessionName(name))
            {
                grant = None;
                error = $"'{Truncate(pattern)}' is neither a session name nor a prefix ending in *";
                return false;
            }

            if (pattern.EndsWith('*'))
            {
                prefixes.Add(name);
            }
            else
            {
                names.Add(name);
            }
        }

        grant = names.Count == 0 && prefixes.Count == 0 ? None : new SessionGrant(names, [.. prefixes], all: false);
        error = null;
        return true;
    }

    /// <summary>The named sessions this grant covers, as a grant of exactly those.</summary>
    public SessionGrant Restrict(IEnumerable<string> sessions)
    {
        var names = new HashSet<string>(sessions.Where(Allows), StringComparer.Ordinal);
        return names.Count == 0 ? None : new SessionGrant(names, [], all: false);
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
