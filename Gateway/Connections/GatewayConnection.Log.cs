namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    private static partial class Log
    {
        // 101 to 104 and 106 (open, close, eviction, slow consumer, close timeout) are every
        // transport's: ClientConnection and SlowConsumer log them.

        [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Connection {ConnectionId} to session {Session} closed with {CloseCode} for bad input: {Reason}")]
        public static partial void ClosedForBadInput(ILogger logger, string connectionId, string session, int closeCode, string reason);

        [LoggerMessage(EventId = 107, Level = LogLevel.Error, Message = "Connection {ConnectionId} to session {Session} failed")]
        public static partial void Failed(ILogger logger, string connectionId, string session, Exception exception);

        [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "Connection {ConnectionId} could not join session {Session}: {Reason}; closing with 1011")]
        public static partial void JoinFailed(ILogger logger, string connectionId, string session, string reason);
    }
}
