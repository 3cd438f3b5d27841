namespace Gateway.Security;

/// <summary>How a caller proved who it is.</summary>
internal enum CredentialKind
{
    /// <summary>Auth is off (<c>Auth:Mode none</c>): everyone is trusted.</summary>
    Anonymous,

    /// <summary>A JWT, from <c>?token=</c>, <c>Authorization: Bearer</c> or an <c>auth</c> message.</summary>
    Token,

    /// <summary>A single-use ticket from <c>POST /api/tickets</c>.</summary>
    Ticket,

    /// <summary>A server-side key from <c>X-Api-Key</c>.</summary>
    ApiKey,
}

/// <summary>
/// Who a caller is and what it may do: which sessions it may watch and publish to, whether it may
/// list and delete sessions, and until when.
/// </summary>
/// <param name="Subject">The token's <c>sub</c>, or a label for keys and anonymous callers. Safe to log.</param>
/// <param name="Kind">How the caller proved it.</param>
/// <param name="Watch">The sessions it may connect to, stream and poll.</param>
/// <param name="Publish">The sessions it may publish to.</param>
/// <param name="Admin">Whether it may list and delete sessions.</param>
/// <param name="ExpiresAt">When its credential expires (a live connection is then closed with 1008), or null.</param>
internal sealed record GatewayPrincipal(string Subject, CredentialKind Kind, SessionGrant Watch, SessionGrant Publish, bool Admin, DateTimeOffset? ExpiresAt)
{
    /// <summary>The caller when auth is off: trusted with everything.</summary>
    public static readonly GatewayPrincipal Anonymous = new("anonymous", CredentialKind.Anonymous, SessionGrant.All, SessionGrant.All, Admin: true, ExpiresAt: null);

    /// <summary>The token's <c>info</c> claim, compact JSON (an object of at most 1 KiB), or null.</summary>
    public byte[]? Info { get; init; }

    /// <summary>
    /// The token's payload, its claims as a JSON object, for the backend's authorize call
    /// (<c>Hooks:Authorize</c>); null for other credentials, and when that call is off (a
    /// connection holds no more than it must).
    /// </summary>
    public byte[]? Claims { get; init; }

    /// <summary>
    /// Whether it may watch <paramref name="session"/> (connect, stream, poll, read it): its
    /// <c>sessions</c> grant covers it, or it is an admin. The one rule for every way in.
    /// </summary>
    public bool MayWatch(string session) => Watch.Allows(session) || Admin;
}
