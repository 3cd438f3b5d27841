namespace Gateway.Security;

/// <summary>What a message rate check decided.</summary>
internal enum RateDecision
{
    /// <summary>Within the rate: handle the message.</summary>
    Allowed,

    /// <summary>Over the rate: answer <c>rate_limited</c> and drop the message.</summary>
    Limited,

    /// <summary>Far over the rate, a whole burst past the limit: close with 1008.</summary>
    Abused,
}

/// <summary>
/// A token bucket: <c>rate</c> tokens a second, holding at most <c>burst</c>. Timestamps come
/// from a <see cref="TimeProvider"/>, so that tests can move the clock. Not thread-safe: each
/// bucket belongs to one connection's receive loop, or sits behind its owner's lock.
/// </summary>
internal struct TokenBucket(double burst, long now)
{
    private double _tokens = burst;
    private long _last = now;

    /// <summary>
    /// Takes <paramref name="count"/> tokens when they are there. Otherwise takes none and says
    /// how long until they would be.
    /// </summary>
    public bool TryTake(long now, double count, double rate, double burst, long frequency, out TimeSpan retryAfter)
    {
        Refill(now, rate, burst, frequency);
        if (_tokens >= count)
        {
            _tokens -= count;
            retryAfter = TimeSpan.Zero;
            return true;
        }

        retryAfter = TimeSpan.FromSeconds((count - _tokens) / rate);
        return false;
    }

    /// <summary>
    /// One message: allowed while a token is there. Past that, each message still takes one, into
    /// debt, and is refused; a debt of a whole burst means the client ignores the refusals.
    /// </summary>
    public RateDecision TakeMessage(long now, double rate, double burst, long frequency)
    {
        Refill(now, rate, burst, frequency);
        _tokens -= 1;
        if (_tokens >= 0)
        {
            return RateDecision.Allowed;
        }

        return _tokens < -burst ? RateDecision.Abused : RateDecision.Limited;
    }

    /// <summary>True when the bucket is full again (an idle publisher's bucket can be forgotten).</summary>
    public readonly bool IsFullAt(long now, double rate, double burst, long frequency) =>
        _tokens + ((now - _last) / (double)frequency * rate) >= burst;

    private void Refill(long now, double rate, double burst, long frequency)
    {
        double elapsed = (now - _last) / (double)frequency;
        _last = now;
        _tokens = Math.Min(burst, _tokens + (elapsed * rate));
    }
}
