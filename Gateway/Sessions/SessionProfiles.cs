using System.Globalization;
using Gateway.Configuration;
using Gateway.Connections;
using Gateway.Protocol;
using Gateway.Security;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

/// <summary>
/// What one session runs with (spec section 20): its profile's settings where the profile gives
/// them, the global ones elsewhere. Immutable, and one instance per profile, so that a session,
/// a hub session and a connection each hold a reference rather than a copy.
/// </summary>
internal sealed class SessionSettings
{
    /// <summary>The profile's key (<c>Gateway:Sessions:Profiles:0</c>), or null for a session no profile matches.</summary>
    public required string? Profile { get; init; }

    /// <summary>How many of the session's latest events history keeps.</summary>
    public required int HistoryMaxEvents { get; init; }

    /// <summary>The most bytes of event data (names and <c>data</c>) history keeps; 0: no such bound.</summary>
    public required long HistoryMaxBytes { get; init; }

    /// <summary>
    /// What each connection's send queue may conflate for a client that falls behind (spec section
    /// 12): the names the profile's <c>Conflate</c> (else the global one) lists, and what publishers mark.
    /// </summary>
    public required ConflationPolicy Conflation { get; init; }

    /// <summary>Whether the session keeps presence (spec section 17).</summary>
    public required bool Presence { get; init; }

    /// <summary>The key <see cref="Presence"/> comes from, for the refusal that names it.</summary>
    public required string PresenceKey { get; init; }

    /// <summary>The event names a client's <c>publish</c> may use here.</summary>
    public required ClientPublishEvents ClientPublishEvents { get; init; }

    /// <summary>The key <see cref="ClientPublishEvents"/> comes from, for the refusal that names it.</summary>
    public required string ClientPublishEventsKey { get; init; }

    /// <summary>How long the session is kept with no clients and no publishes.</summary>
    public required TimeSpan IdleTimeout { get; init; }

    /// <summary>How long the session is kept once complete.</summary>
    public required TimeSpan CompletedRetention { get; init; }

    /// <summary>Each connection's lag bounds, in the gateway clock's timestamps.</summary>
    public required LagLimits Lag { get; init; }

    /// <summary>True when a client may have an event named <paramref name="name"/> conflated.</summary>
    public bool Conflates(string name) => Conflation.ConflatesName(name);
}

/// <summary>
/// <c>Gateway:Sessions:Profiles</c> resolved once at start: <see cref="For"/> finds a session's
/// settings by walking the profiles in order, comparing strings, and allocates nothing. The
/// bounds every session shares a mechanism for (the hub's read size, the expiry sweep's period)
/// are the widest or shortest over all profiles.
/// </summary>
internal sealed class SessionProfiles
{
    private readonly (string Match, bool Prefix, SessionSettings Settings)[] _profiles;

    public SessionProfiles(
        IOptions<HistoryOptions> history, IOptions<SessionsOptions> sessions, IOptions<PresenceOptions> presence,
        IOptions<SecurityOptions> security, IOptions<LimitsOptions> limits, TimeProvider time)
        : this(history.Value, sessions.Value, presence.Value, security.Value, limits.Value, time.TimestampFrequency)
    {
    }

    private SessionProfiles(HistoryOptions history, SessionsOptions sessions, PresenceOptions presence, SecurityOptions security, LimitsOptions limits, long frequency)
    {
        const string globalPresence = PresenceOptions.Section + ":" + nameof(PresenceOptions.Enabled);
        const string globalClientPublish = SecurityOptions.Section + ":" + nameof(SecurityOptions.ClientPublishEvents);
        Default = new SessionSettings
        {
            Profile = null,
            HistoryMaxEvents = history.MaxEvents,
            HistoryMaxBytes = history.MaxBytes,
            Conflation = new ConflationPolicy(NamePatterns.Of(sessions.Conflate)),
            Presence = presence.Enabled,
            PresenceKey = globalPresence,
            ClientPublishEvents = new ClientPublishEvents(security.ClientPublishEvents),
            ClientPublishEventsKey = globalClientPublish,
            IdleTimeout = sessions.IdleTimeout,
            CompletedRetention = sessions.CompletedRetention,
            Lag = LagLimits.From(limits.MaxLagBytes, limits.MaxLagTime, frequency),
        };

        _profiles = new (string, bool, SessionSettings)[sessions.Profiles.Length];
        for (int i = 0; i < _profiles.Length; i++)
        {
            SessionProfileOptions p = sessions.Profiles[i];
            string key = string.Create(CultureInfo.InvariantCulture, $"{SessionsOptions.Section}:{nameof(SessionsOptions.Profiles)}:{i}");
            SessionSettings d = Default;
            var settings = new SessionSettings
            {
                Profile = key,
                HistoryMaxEvents = p.History?.MaxEvents ?? d.HistoryMaxEvents,
                HistoryMaxBytes = p.History?.MaxBytes ?? d.HistoryMaxBytes,
                Conflation = p.Conflate is { } conflate ? new ConflationPolicy(NamePatterns.Of(conflate)) : d.Conflation,
                Presence = p.Presence ?? d.Presence,
                PresenceKey = p.Presence is null ? d.PresenceKey : key + ":" + nameof(p.Presence),
                ClientPublishEvents = p.ClientPublishEvents is { } names ? new ClientPublishEvents(names) : d.ClientPublishEvents,
                ClientPublishEventsKey = p.ClientPublishEvents is null ? d.ClientPublishEventsKey : key + ":" + nameof(p.ClientPublishEvents),
                IdleTimeout = p.IdleTimeout ?? d.IdleTimeout,
                CompletedRetention = p.CompletedRetention ?? d.CompletedRetention,
                Lag = p.MaxLagBytes is null && p.MaxLagTime is null
                    ? d.Lag
                    : LagLimits.From(p.MaxLagBytes ?? limits.MaxLagBytes, p.MaxLagTime ?? limits.MaxLagTime, frequency),
            };
            bool prefix = p.Match.EndsWith('*');
            _profiles[i] = (prefix ? p.Match[..^1] : p.Match, prefix, settings);
        }

        var all = new List<SessionSettings>(_profiles.Length + 1) { Default };
        all.AddRange(_profiles.Select(p => p.Settings));
        LongestHistory = all.Max(s => s.HistoryMaxEvents);
        ShortestIdleTimeout = all.Min(s => s.IdleTimeout);
        ShortestCompletedRetention = all.Min(s => s.CompletedRetention);
    }

    /// <summary>The settings of a session no profile matches: the global ones.</summary>
    public SessionSettings Default { get; }

    /// <summary>The largest history of any session: what one read of the log must be able to cover.</summary>
    public int LongestHistory { get; }

    /// <summary>The shortest idle timeout of any session.</summary>
    public TimeSpan ShortestIdleTimeout { get; }

    /// <summary>The shortest completed retention of any session.</summary>
    public TimeSpan ShortestCompletedRetention { get; }

    /// <summary>Profiles from options as they stand (no validation): for code that builds its parts by hand.</summary>
    public static SessionProfiles Of(HistoryOptions history, SessionsOptions sessions, PresenceOptions? presence = null) =>
        new(history, sessions, presence ?? new PresenceOptions(), new SecurityOptions(), new LimitsOptions(), TimeProvider.System.TimestampFrequency);

    /// <summary>True when <paramref name="match"/> is a session name, a prefix of one followed by <c>*</c>, or <c>*</c> alone.</summary>
    public static bool IsValidMatch(string? match) =>
        match is not null
        && (match == "*"
            || Names.IsValidSessionName(match)
            || (match.Length > 1 && match.EndsWith('*') && Names.IsValidSessionName(match.AsSpan(0, match.Length - 1))));

    /// <summary>True when every session <paramref name="later"/> matches is matched by <paramref name="earlier"/> too (both valid).</summary>
    public static bool Covers(string earlier, string later)
    {
        if (!earlier.EndsWith('*'))
        {
            return earlier == later;
        }

        // A prefix covers a name or a prefix that starts with it.
        return later.StartsWith(earlier.AsSpan(0, earlier.Length - 1), StringComparison.Ordinal);
    }

    /// <summary>The settings of <paramref name="session"/>: those of the first profile that matches its name.</summary>
    public SessionSettings For(string session)
    {
        foreach ((string match, bool prefix, SessionSettings settings) in _profiles)
        {
            if (prefix ? session.StartsWith(match, StringComparison.Ordinal) : session == match)
            {
                return settings;
            }
        }

        return Default;
    }
}
