namespace Gateway.Connections;

/// <summary>A client's open connection (WebSocket or SSE stream), as the heartbeat scanner and shutdown see it.</summary>
internal interface IClientConnection
{
    string Id { get; }

    /// <summary>The scanner's visit: ping, evict, or abort a close that ran past its deadline.</summary>
    void OnHeartbeatTick(long now);

    /// <summary>Shutdown: close after what is already queued.</summary>
    void CloseForShutdown();

    /// <summary>Drops the connection without ceremony. Idempotent, any thread.</summary>
    void Abort();
}
