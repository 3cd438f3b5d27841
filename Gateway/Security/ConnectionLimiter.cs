using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>
/// <c>Limits:MaxConnections</c>, <c>MaxConnectionsPerIp</c> and <c>MaxConnectionsPerSession</c>:
/// a WebSocket or SSE client takes a slot before it is accepted and gives it back when it ends,
/// so that the limits are exact even under a flood of concurrent upgrades.
/// </summary>
internal sealed class ConnectionLimiter(IOptions<LimitsOptions> options)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _perIp = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _perSession = new(StringComparer.Ordinal);
    private readonly int _max = options.Value.MaxConnections;
    private readonly int _maxPerIp = options.Value.MaxConnectionsPerIp;
    private readonly int _maxPerSession = options.Value.MaxConnectionsPerSession;
    private int _total;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    /// <summary>Takes a slot; null with the refusal's reason when a limit is reached.</summary>
    public Slot? TryAcquire(string ip, string session, out string? reason)
    {
        lock (_gate)
        {
            reason = _total >= _max ? "max_connections"
                : _maxPerIp > 0 && _perIp.GetValueOrDefault(ip) >= _maxPerIp ? "max_connections_per_ip"
                : _maxPerSession > 0 && _perSession.GetValueOrDefault(session) >= _maxPerSession ? "max_connections_per_session"
                : null;
            if (reason is not null)
            {
                return null;
            }

            _total++;
            Increment(_perIp, ip, _maxPerIp);
            Increment(_perSession, session, _maxPerSession);
            return new Slot(this, ip, session);
        }
    }

    private void Release(string ip, string session)
    {
        lock (_gate)
        {
            _total--;
            Decrement(_perIp, ip, _maxPerIp);
            Decrement(_perSession, session, _maxPerSession);
        }
    }

    // The maps are only kept when their limit is on; otherwise they would grow with every address.
    private static void Increment(Dictionary<string, int> counts, string key, int limit)
    {
        if (limit > 0)
        {
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
    }

    private static void Decrement(Dictionary<string, int> counts, string key, int limit)
    {
        if (limit > 0 && counts.TryGetValue(key, out int count))
        {
            if (count <= 1)
            {
                counts.Remove(key);
            }
            else
            {
                counts[key] = count - 1;
            }
        }
    }

    /// <summary>A taken slot; disposing gives it back, once.</summary>
    public sealed class Slot(ConnectionLimiter owner, string ip, string session) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(ip, session);
            }
        }
    }
}
