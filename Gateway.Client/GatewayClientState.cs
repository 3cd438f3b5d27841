using System.Net.WebSockets;

namespace Gateway.Client;

/// <summary>Where a <see cref="GatewayClient"/> stands with its connection.</summary>
public enum GatewayClientState
{
    /// <summary>Not started yet, or making its first connection.</summary>
    Connecting,

    /// <summary>Connected: the gateway's <c>welcome</c> has arrived.</summary>
    Open,

    /// <summary>The connection dropped; the client is waiting out its backoff or connecting again.</summary>
    Reconnecting,

    /// <summary>Done for good: the session completed, or the client was disposed. Nothing reconnects.</summary>
    Closed,
}

/// <summary>A change of <see cref="GatewayClient.State"/>.</summary>
public sealed class GatewayStateChange : EventArgs
{
    /// <summary>The new state.</summary>
    public required GatewayClientState State { get; init; }

    /// <summary>While <see cref="GatewayClientState.Reconnecting"/>: which attempt comes next, from 1; 0 otherwise.</summary>
    public int Attempt { get; init; }

    /// <summary>How long the client waits before that attempt; zero otherwise.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>The close code the gateway sent, when a close from the gateway caused the change.</summary>
    public WebSocketCloseStatus? CloseStatus { get; init; }

    /// <summary>The close reason the gateway sent, such as <c>session complete</c>.</summary>
    public string? CloseReason { get; init; }

    /// <summary>The failure that caused the change, if one did (a refused or broken connection).</summary>
    public Exception? Error { get; init; }
}

/// <summary>The end of a replay: the gateway's <c>resumed</c> after a reconnection asked for what was missed.</summary>
/// <param name="Since">The seq the client resumed after.</param>
/// <param name="Replayed">How many events the gateway sent again (after the filter).</param>
/// <param name="Complete">False when history no longer held every event after <paramref name="Since"/>, or the session began a new life: events may have been missed.</param>
/// <param name="Epoch">The session's current life.</param>
public sealed record GatewayResume(long Since, long Replayed, bool Complete, string? Epoch);
