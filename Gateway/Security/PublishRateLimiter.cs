using System.Collections.Concurrent;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Security;

/// <summary>
/// <c>Limits:PublishesPerSecond</c>: a token bucket per publisher (API key, token subject, or IP
/// address when auth is off), counting events, so that a batch of 1000 costs 1000.
/// </summary>
internal sealed class PublishRateLimiter(IOptions<LimitsOptions> options, TimeProvider time)
{
    /// <summary>Above this many publishers, idle ones (whose buckets have refilled) are forgotten.</summary>
    private const int SweepAbove = 10_000;

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly double _rate = options.Value.PublishesPerSecond;
    private readonly double _burst = options.Value.PublishBurst;

    public bool Enabled => _rate > 0;

    /// <summary>Takes <paramref name="events"/> from the publisher's bucket; false with the wait when it is short.</summary>
    public bool TryAcquire(string publisher, int events, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (!Enabled)
        {
            return true;
        }

        long now = time.GetTimestamp();
        if (_buckets.Count > SweepAbove)
        {
            Sweep(now);
        }

        Bucket bucket = _buckets.GetOrAdd(publisher, static (_, state) => new Bucket(state.burst, state.now), (burst: _burst, now));
        lock (bucket)
        {
            return bucket.State.TryTake(now, events, _rate, _burst, time.TimestampFrequency, out retryAfter);
        }
    }

    private void Sweep(long now)
    {
        foreach (KeyValuePair<string, Bucket> entry in _buckets)
        {
            bool idle;
            lock (entry.Value)
            {
                idle = entry.Value.State.IsFullAt(now, _rate, _burst, time.TimestampFrequency);
            }

            if (idle)
            {
                _buckets.TryRemove(entry);
            }
        }
    }

    private sealed class Bucket(double burst, long now)
    {
        public TokenBucket State = new(burst, now);
    }
}
