namespace Gateway.Security;

/// <summary>
/// A set of names written as patterns: exact names, and prefixes with one trailing <c>*</c>
/// (<c>build-*</c>); <c>*</c> alone is every name. What a token's session grant and
/// <c>Security:ClientPublishEvents</c> both are; each checks its own name rules first.
/// </summary>
internal sealed class NamePatterns
{
    public static readonly NamePatterns None = new([], [], all: false);

    public static readonly NamePatterns All = new([], [], all: true);

    private readonly HashSet<string> _names;
    private readonly string[] _prefixes;
    private readonly bool _all;

    private NamePatterns(HashSet<string> names, string[] prefixes, bool all)
    {
        _names = names;
        _prefixes = prefixes;
        _all = all;
    }

    /// <summary>True when no name matches.</summary>
    public bool IsNone => !_all && _names.Count == 0 && _prefixes.Length == 0;

    /// <summary>Sorts already-checked patterns into names and prefixes.</summary>
    public static NamePatterns Of(IEnumerable<string> patterns)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var prefixes = new List<string>();
        foreach (string pattern in patterns)
        {
            if (pattern == "*")
            {
                return All;
            }

            if (pattern.EndsWith('*'))
            {
                prefixes.Add(pattern[..^1]);
            }
            else
            {
                names.Add(pattern);
            }
        }

        return names.Count == 0 && prefixes.Count == 0 ? None : new NamePatterns(names, [.. prefixes], all: false);
    }

    /// <summary>Exactly these names.</summary>
    public static NamePatterns Exactly(IEnumerable<string> names)
    {
        var set = new HashSet<string>(names, StringComparer.Ordinal);
        return set.Count == 0 ? None : new NamePatterns(set, [], all: false);
    }

    public bool Allows(string name)
    {
        if (_all || _names.Contains(name))
        {
            return true;
        }

        foreach (string prefix in _prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
