using System.Text.Json;

namespace Gateway.Client;

/// <summary>Who is connected to a session, as the <c>presence</c> message answers it.</summary>
public sealed class GatewayPresence
{
    /// <summary>The session's name.</summary>
    public required string Session { get; init; }

    /// <summary>How many connections are members.</summary>
    public int Clients { get; init; }

    /// <summary>How many distinct users are among them (connections without a user are not counted).</summary>
    public int Users { get; init; }

    /// <summary>The members the gateway lists (at most its configured maximum), those that joined first first.</summary>
    public required IReadOnlyList<PresenceMember> Members { get; init; }
}

/// <summary>One connection that is a member of a session.</summary>
/// <param name="Connection">The connection's id.</param>
/// <param name="User">Its user, or null when unknown.</param>
/// <param name="Info">The object it (or its token) describes itself with; a JSON <c>null</c> when none.</param>
/// <param name="Since">When it joined; null in join notifications, which do not carry it.</param>
public sealed record PresenceMember(string Connection, string? User, JsonElement Info, DateTimeOffset? Since);

/// <summary>
/// Members that joined or left a session (the gateway's <c>join</c>, <c>leave</c> and
/// <c>presence_diff</c>, as one shape). Apply it to a set: a join of a member already listed changes nothing.
/// </summary>
/// <param name="Joined">The members that joined.</param>
/// <param name="Left">The members that left (their <see cref="PresenceMember.Info"/> is a JSON <c>null</c>).</param>
public sealed record PresenceChange(IReadOnlyList<PresenceMember> Joined, IReadOnlyList<PresenceMember> Left);
