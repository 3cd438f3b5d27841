using System.Globalization;

namespace Gateway.Connections;

/// <summary>
/// The slow-consumer close as every transport words, counts and logs it: a connection that fell
/// further behind than its lag bounds (spec section 4) is closed with 4001.
/// </summary>
internal static partial class SlowConsumer
{
    /// <summary>The close reason (the WebSocket close frame's, the SSE <c>@closed</c> notice's): which bound was passed.</summary>
    public static string Reason(LagVerdict verdict, ConnectionEnvironment env, LagLimits lag) => verdict == LagVerdict.TooOld
        ? string.Create(CultureInfo.InvariantCulture, $"slow consumer: a message waited more than {(double)lag.MaxAge / env.Time.TimestampFrequency:0.###} s to be sent")
        : string.Create(CultureInfo.InvariantCulture, $"slow consumer: more than {lag.MaxBytes} bytes behind");

    /// <summary>Counts the close and logs it once, with how far behind the connection was.</summary>
    public static void Closed(ConnectionEnvironment env, LagLimits lag, string transport, string connectionId, string session, string remoteAddress, LagVerdict verdict, long unsentBytes, long oldestAge)
    {
        env.Metrics.SendQueueOverflowed();
        double frequency = env.Time.TimestampFrequency;
        Log.Closing(env.Logger, transport, connectionId, session, remoteAddress,
            verdict == LagVerdict.TooOld ? "time" : "bytes",
            unsentBytes, (long)(oldestAge * 1000 / frequency), lag.MaxBytes, (long)(lag.MaxAge * 1000 / frequency));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "{Transport} connection {ConnectionId} to session {Session} from {RemoteAddress} is a slow consumer past its {Bound} bound: {UnsentBytes} bytes unsent, the oldest waiting {OldestMs} ms (bounds {MaxLagBytes} bytes, {MaxLagMs} ms); closing with 4001")]
        public static partial void Closing(ILogger logger, string transport, string connectionId, string session, string remoteAddress, string bound, long unsentBytes, long oldestMs, long maxLagBytes, long maxLagMs);
    }
}
