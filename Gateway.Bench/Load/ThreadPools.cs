namespace Gateway.Bench.Load;

/// <summary>Thread pool settings for the generator's processes.</summary>
internal static class ThreadPools
{
    /// <summary>
    /// Pinned to one core, a process's pool starts with one thread, and a thread blocked on a pipe
    /// (the coordinator's and workers' stdin and stdout are pipes, read by blocking calls on Unix)
    /// stalls every socket continuation until the pool injects another, twice a second at most:
    /// half-second pauses that would read as server latency. A few threads ready up front avoid that.
    /// </summary>
    public static void Prepare()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), Math.Max(io, 16));
    }
}
