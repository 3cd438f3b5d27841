using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Gateway.Protocol.Json;

namespace Gateway.Security;

/// <summary>
/// Who a client connection says it is to the others (spec section 17): its <c>user</c>, and an
/// <c>info</c> JSON object of at most <see cref="MaxInfoBytes"/>. From a token, its <c>sub</c> and
/// its <c>info</c> claim (a ticket carries its token's); with auth off, the <c>user=</c> and
/// <c>info=</c> query parameters; none for an API key.
/// </summary>
/// <param name="User">The user, or null.</param>
/// <param name="Info">The info object as compact JSON, or null.</param>
internal sealed record ClientIdentity(string? User, byte[]? Info)
{
    /// <summary>The most bytes <c>info</c> may take, as compact JSON.</summary>
    public const int MaxInfoBytes = 1024;

    /// <summary>The longest <c>user</c>, in characters.</summary>
    public const int MaxUserLength = 256;

    /// <summary>A client that said nothing about itself.</summary>
    public static readonly ClientIdentity None = new(null, null);

    /// <summary>What a principal says: a token's (or its ticket's) <c>sub</c> and <c>info</c>; nothing for other credentials.</summary>
    public static ClientIdentity Of(GatewayPrincipal principal) =>
        principal.Kind is CredentialKind.Token or CredentialKind.Ticket ? new ClientIdentity(principal.Subject, principal.Info) : None;

    /// <summary>
    /// Reads <c>user=</c> and <c>info=</c> (URL-encoded JSON): what a client says of itself when
    /// auth is off. False, with what was wrong and what is accepted, when either is malformed.
    /// </summary>
    public static bool TryParseQuery(IQueryCollection query, out ClientIdentity identity, out string? error)
    {
        identity = None;
        error = null;
        string? user = null;
        if (query.TryGetValue("user", out var users))
        {
            user = users.Count == 1 ? users[0] : null;
            if (user is null || user.Length is 0 or > MaxUserLength || user.Any(char.IsControl))
            {
                error = $"user must be given once, 1 to {MaxUserLength} characters without control characters";
                return false;
            }
        }

        byte[]? info = null;
        if (query.TryGetValue("info", out var infos))
        {
            if (infos.Count != 1)
            {
                error = "info must be given once";
                return false;
            }

            if (!TryParseInfo(Encoding.UTF8.GetBytes(infos[0] ?? ""), out info, out string? problem))
            {
                error = "info " + problem + " (URL-encoded)";
                return false;
            }
        }

        identity = user is null && info is null ? None : new ClientIdentity(user, info);
        return true;
    }

    /// <summary>
    /// Checks that <paramref name="json"/> is one JSON object of at most <see cref="MaxInfoBytes"/>
    /// once compacted, and returns it compacted; otherwise says what is accepted (the caller names the field).
    /// </summary>
    public static bool TryParseInfo(ReadOnlySpan<byte> json, out byte[]? compact, out string? error)
    {
        compact = null;
        error = $"must be a JSON object of at most {MaxInfoBytes} bytes";
        if (json.Length > 16 * MaxInfoBytes)
        {
            // Whitespace aside, this could never compact to the limit: not worth parsing.
            return false;
        }

        if (!Utf8.IsValid(json))
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject || !reader.TrySkip() || reader.Read())
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }

        // Without whitespace, as every member is sent it: that is the size that counts.
        byte[] copy = json.ToArray();
        int length = JsonCompaction.CompactInPlace(copy);
        if (length > MaxInfoBytes)
        {
            return false;
        }

        compact = copy.AsSpan(0, length).ToArray();
        error = null;
        return true;
    }
}
