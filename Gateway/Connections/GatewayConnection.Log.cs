namespace Gateway.Connections;

internal sealed partial class GatewayConnection
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Connection {ConnectionId} opened to session {Session} from {RemoteAddress}")]
        public static partial void Connected(ILogger logger, string connectionId, string session, string remoteAddress);

        [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Connection {ConnectionId} to session {Session} from {RemoteAddress} closed with {CloseCode} after {DurationMs} ms; {MessagesIn} messages in, {MessagesOut} out")]
        public static partial void Disconnected(ILogger logger, string connectionId, string session, string remoteAddress, int closeCode, long durationMs, long messagesIn, long messagesOut);

        [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Connection {ConnectionId} to session {Session} from {RemoteAddress} evicted: {Reason}")]
        public static partial void Evicted(ILogger logger, string connectionId, string session, string remoteAddress, string reason);

        // 104, the slow-consumer close, is SlowConsumer's: every transport logs it the same way.

        [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Connection {ConnectionId} to session {Session} closed with {CloseCode} for bad input: {Reason}")]
        public static partial void ClosedForBadInput(ILogger logger, string connectionId, string session, int closeCode, string reason);

        [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Connection {ConnectionId} to session {Session} did not finish its close handshake ({CloseCode}) in time; aborted")]
        public static partial void CloseTimedOut(ILogger logger, string connectionId, string session, int closeCode);

        [LoggerMessage(EventId = 107, Level = LogLevel.Error, Message = "Connection {ConnectionId} to session {Session} failed")]
        public static partial void Failed(ILogger logger, string connectionId, string session, Exception exception);

        [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "Connection {ConnectionId} could not join session {Session}: {Reason}; closing with 1011")]
        public static partial void JoinFailed(ILogger logger, string connectionId, string session, string reason);
    }
}
