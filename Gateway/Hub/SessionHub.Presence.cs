using Gateway.Log;
using Gateway.Protocol.Json;
using Gateway.Sessions;

namespace Gateway.Hub;

/// <summary>A session's presence as an answer gives it: every connection counted, some listed.</summary>
/// <param name="Clients">The session's connections, on every node.</param>
/// <param name="Users">The distinct users among them (those without a user not counted).</param>
/// <param name="Listed">At most <c>Presence:MaxListed</c> of them, oldest first.</param>
internal sealed record PresenceView(int Clients, int Users, IReadOnlyList<PresenceMember> Listed);

/// <summary>Presence (spec section 17): written once here, over any log.</summary>
/// <remarks>
/// A client connection is a presence member from its join to its leave, the same two points that
/// make it a session member. This node tells its own watchers at once (coalesced), and the log
/// tells the other nodes (with Redis: a hash per session and the events channel); the memory log
/// has no other nodes, so this node's members are the whole presence.
/// </remarks>
internal sealed partial class SessionHub
{
    private readonly PresenceContext _presence;
    private readonly int _maxListed;

    /// <summary>
    /// The settings of <paramref name="session"/>: its <see cref="SessionSettings.Presence"/> is false
    /// when <c>Gateway:Presence:Enabled</c> is off, or its profile turns presence off; nothing of
    /// presence is kept for it then.
    /// </summary>
    public SessionSettings SettingsFor(string session) => _profiles.For(session);

    /// <summary>
    /// Who is connected to <paramref name="session"/>, on every node; null when the session does not
    /// exist. Only while its settings keep presence.
    /// </summary>
    public async ValueTask<PresenceView?> GetPresenceAsync(string session, CancellationToken cancellationToken)
    {
        PresenceRead read = await _log.ReadPresenceAsync(session, cancellationToken);
        if (!read.Found)
        {
            return null;
        }

        IReadOnlyList<PresenceMember> members = read.Members
            ?? (_sessions.TryGetValue(session, out HubSession? hub) && hub.Presence is { } here ? here.LocalMembers() : []);
        var users = new HashSet<string>(StringComparer.Ordinal);
        foreach (PresenceMember member in members)
        {
            if (member.User is { } user)
            {
                users.Add(user);
            }
        }

        List<PresenceMember> listed = [.. members];
        listed.Sort(static (a, b) => a.Since != b.Since ? a.Since.CompareTo(b.Since) : string.CompareOrdinal(a.Connection, b.Connection));
        if (listed.Count > _maxListed)
        {
            listed.RemoveRange(_maxListed, listed.Count - _maxListed);
        }

        return new PresenceView(members.Count, users.Count, listed);
    }

    void ILogFeed.OnPresence(string session, PresenceChange change)
    {
        if (_sessions.TryGetValue(session, out HubSession? hub))
        {
            hub.Presence?.Remote(change);
        }
    }

    void ILogFeed.ListPresence(List<(string Session, List<PresenceMember> Members, bool Watched)> into)
    {
        foreach (HubSession hub in _sessions.Values)
        {
            if (hub.Presence is { } presence)
            {
                into.Add((hub.Name, presence.LocalMembers(), presence.HasWatchers));
            }
        }
    }

    /// <summary>
    /// The feed may have missed joins and leaves of other nodes (the link to the store came back):
    /// a session with watchers here reads the list again, in the background, and its watchers are
    /// told what changed.
    /// </summary>
    private void ResyncPresence(HubSession hub)
    {
        if (hub.Presence is not { HasWatchers: true } presence)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                PresenceRead read = await _log.ReadPresenceAsync(hub.Name, CancellationToken.None);
                if (read is { Found: true, Members: { } members })
                {
                    presence.Reconcile(members);
                }
            }
            catch (BackplaneUnavailableException)
            {
                // Down again: the next reconnection resyncs again.
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log.PresenceResyncFailed(_logger, hub.Name, e);
            }
        });
    }

    /// <summary>A member was added to <paramref name="hub"/>: a presence member too, when it is a client and presence is on.</summary>
    private bool JoinPresence(HubSession hub, ISessionMember member)
    {
        if (!hub.Settings.Presence || member is not IPresenceParticipant participant)
        {
            return false;
        }

        var joined = new PresenceMember(participant.Id, participant.Identity.User, participant.Identity.Info, Timestamps.TruncateToMilliseconds(_time.GetUtcNow()));
        hub.PresenceIn(_presence).Join(joined, participant);
        _log.PresenceChanged(hub.Name, new PresenceChange(true, joined));
        return true;
    }

    private void LeavePresence(HubSession hub, IPresenceParticipant participant)
    {
        if (hub.Presence?.Leave(participant.Id) is { } left)
        {
            _log.PresenceChanged(hub.Name, new PresenceChange(false, left));
        }
    }
}
