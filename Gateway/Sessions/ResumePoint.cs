namespace Gateway.Sessions;

/// <summary>
/// Where a client resumes from: the last seq it saw, and the epoch of the session's life that seq
/// belongs to (spec section 4). Without an epoch the seq is trusted as is.
/// </summary>
/// <param name="Seq">The last seq the client saw.</param>
/// <param name="Epoch">The life that seq belongs to; null when the client did not say.</param>
internal readonly record struct ResumePoint(long Seq, string? Epoch = null)
{
    /// <summary>True when the client's seq belongs to the life <paramref name="epoch"/> (or the client named no life).</summary>
    public bool IsIn(string epoch) => Epoch is null || string.Equals(Epoch, epoch, StringComparison.Ordinal);

    /// <summary>The seq to replay after in the life <paramref name="epoch"/>: the client's, or 0 (from the start) when its seq is of another life.</summary>
    public long SinceIn(string epoch) => IsIn(epoch) ? Seq : 0;
}

/// <summary>Makes epochs: one per life of a session.</summary>
internal static class SessionEpoch
{
    /// <summary>
    /// A new epoch: 12 random hex digits (48 bits), so that two lives of one session, on any node,
    /// practically never share one, and short enough to sit in every SSE id.
    /// </summary>
    /// <remarks>
    /// An epoch is no secret (every client is told it), so it comes from the process's own generator,
    /// seeded afresh in each process, rather than the operating system's: a publish over Redis takes
    /// one each time, in case it creates the session, and the system's cost several microseconds.
    /// </remarks>
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[6];
        Random.Shared.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
