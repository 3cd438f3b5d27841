namespace Gateway.Sources;

internal sealed partial class WatchedFolder
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 801, Level = LogLevel.Information, Message = "Watching {Path} for files matching {Filter}: their changes are events {Event} in session {Session}")]
        public static partial void Watching(ILogger logger, string path, string filter, string @event, string session);

        [LoggerMessage(EventId = 802, Level = LogLevel.Warning, Message = "The watched folder {Path} does not exist or is not a folder; looking for it again every {RetryInterval} (Gateway:Sources:RetryInterval)")]
        public static partial void FolderMissing(ILogger logger, string path, TimeSpan retryInterval);

        [LoggerMessage(EventId = 803, Level = LogLevel.Warning, Message = "The watched folder {Path} is gone: the files it held are reported deleted, and it is looked for again every {RetryInterval}")]
        public static partial void FolderGone(ILogger logger, string path, TimeSpan retryInterval);

        [LoggerMessage(EventId = 804, Level = LogLevel.Warning, Message = "Watching {Path} failed (changes may have been missed); watching it afresh and comparing its files with what was reported")]
        public static partial void WatcherFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(EventId = 805, Level = LogLevel.Information, Message = "The watched folder {Path} was replaced by a new one; watching the new one and comparing its files with what was reported")]
        public static partial void FolderReplaced(ILogger logger, string path);

        [LoggerMessage(EventId = 806, Level = LogLevel.Warning, Message = "{Count} file events from {Path} were not published to session {Session}: {Reason}")]
        public static partial void NotPublished(ILogger logger, int count, string path, string session, string reason);

        [LoggerMessage(EventId = 807, Level = LogLevel.Warning, Message = "{Count} file events from {Path} were not published to session {Session}: the session store is unavailable")]
        public static partial void StoreUnavailable(ILogger logger, int count, string path, string session, Exception exception);

        [LoggerMessage(EventId = 808, Level = LogLevel.Error, Message = "Watching {Path} failed; trying again in {RetryInterval}")]
        public static partial void Failed(ILogger logger, string path, TimeSpan retryInterval, Exception exception);
    }
}
