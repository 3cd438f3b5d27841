using Gateway.Protocol;

namespace Gateway.Security;

/// <summary>
/// The sessions a grant covers: exact names, and prefixes written with a trailing <c>*</c>
/// (<c>build-*</c>); <c>*</c> alone covers every session.
/// </summary>
internal sealed class SessionGrant
{
    public static readonly SessionGrant None = new(NamePatterns.None);

    public static readonly SessionGrant All = new(NamePatterns.All);

    private readonly NamePatterns _patterns;

    private SessionGrant(NamePatterns patterns) => _patterns = patterns;

    public bool IsNone => _patterns.IsNone;

    public bool Allows(string session) => _patterns.Allows(session);

    /// <summary>
    /// Parses patterns: session names, or names with one trailing <c>*</c>. False with an error
    /// text when one is neither.
    /// </summary>
    public static bool TryParse(IEnumerable<string> patterns, out SessionGrant grant, out string? error)
    {
        var checkedPatterns = new List<string>();
        foreach (string pattern in patterns)
        {
            string name = pattern.EndsWith('*') && pattern != "*" ? pattern[..^1] : pattern;
            if (pattern != "*" && !Names.IsValidSessionName(name))
            {
                grant = None;
                error = $"'{Truncate(pattern)}' is neither a session name nor a prefix ending in *";
                return false;
            }

            checkedPatterns.Add(pattern);
        }

        NamePatterns parsed = NamePatterns.Of(checkedPatterns);
        grant = parsed.IsNone ? None : ReferenceEquals(parsed, NamePatterns.All) ? All : new SessionGrant(parsed);
        error = null;
        return true;
    }

    /// <summary>The named sessions this grant covers, as a grant of exactly those.</summary>
    public SessionGrant Restrict(IEnumerable<string> sessions)
    {
        NamePatterns names = NamePatterns.Exactly(sessions.Where(Allows));
        return names.IsNone ? None : new SessionGrant(names);
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "...";
}
