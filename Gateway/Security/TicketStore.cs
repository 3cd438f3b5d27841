using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>
/// Single-use, short-lived tickets (spec section 14): a browser connects with <c>?ticket=</c>
/// instead of a token, so that a URL that ends up in a log is worth nothing.
/// </summary>
internal sealed class TicketStore(IOptions<AuthOptions> options, TimeProvider time)
{
    /// <summary>At most this many unused tickets are held; an issuer that mints more gets 503.</summary>
    public const int MaxOutstanding = 100_000;

    private readonly ConcurrentDictionary<string, (GatewayPrincipal Principal, long ExpiresAt)> _tickets = new(StringComparer.Ordinal);
    private readonly TimeSpan _lifetime = options.Value.TicketLifetime;

    public TimeSpan Lifetime => _lifetime;

    /// <summary>Mints a ticket for <paramref name="principal"/>; null when too many are outstanding.</summary>
    public string? Issue(GatewayPrincipal principal)
    {
        if (_tickets.Count >= MaxOutstanding && Sweep() == 0)
        {
            return null;
        }

        Span<byte> random = stackalloc byte[32];
        RandomNumberGenerator.Fill(random);
        string ticket = Base64Url.EncodeToString(random);
        long expiresAt = time.GetTimestamp() + (long)(_lifetime.TotalSeconds * time.TimestampFrequency);
        _tickets[ticket] = (principal with { Kind = CredentialKind.Ticket }, expiresAt);
        return ticket;
    }

    /// <summary>Takes the ticket out, so that it cannot be used again; null when unknown, used or expired.</summary>
    public GatewayPrincipal? Redeem(string ticket)
    {
        if (!_tickets.TryRemove(ticket, out var entry))
        {
            return null;
        }

        return time.GetTimestamp() < entry.ExpiresAt ? entry.Principal : null;
    }

    /// <summary>Drops expired tickets; returns how many.</summary>
    public int Sweep()
    {
        long now = time.GetTimestamp();
        int dropped = 0;
        foreach (KeyValuePair<string, (GatewayPrincipal, long ExpiresAt)> entry in _tickets)
        {
            if (entry.Value.ExpiresAt <= now && _tickets.TryRemove(entry))
            {
                dropped++;
            }
        }

        return dropped;
    }
}
