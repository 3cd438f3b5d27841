using System.IO.Enumeration;
using Gateway.Configuration;
using Gateway.Hub;
using Gateway.Log;
using Gateway.Protocol.Messages;
using Gateway.Sessions;

namespace Gateway.Sources;

/// <summary>
/// One watched folder. The watcher's notifications only say which names to look at: when a name
/// has been quiet for the debounce, the file itself is looked at and compared with what was last
/// reported for it, which decides created, changed or deleted. So a burst of writes is one event,
/// a file created and deleted within a burst is none, and after anything that may have lost
/// notifications (a watcher error, the folder replaced or gone) a fresh look at the folder
/// reports exactly what differs.
/// </summary>
internal sealed partial class WatchedFolder
{
    /// <summary>One append at most as large as the HTTP API's largest batch.</summary>
    private const int MaxBatch = 1000;

    /// <summary>
    /// A file written without pause is still published at least every this many debounce periods,
    /// so a progress file rewritten continuously streams instead of waiting for silence.
    /// </summary>
    private const int MaxDebounces = 10;

    private readonly WatchEntry _entry;
    private readonly string _path;
    private readonly string? _parentPath;
    private readonly string _folderName;
    private readonly SessionHub _hub;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly FileReport _report;
    private readonly TimeSpan _debounce;
    private readonly TimeSpan _retryInterval;

    // What was last reported of each file (or seen at the first look): only the loop touches it.
    private readonly Dictionary<string, FileStamp> _known = new(StringComparer.Ordinal);

    // The names the watchers' callbacks (thread pool) marked, and why the loop should look again.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);
    private bool _woken;
    private Exception? _watcherError;
    private bool _folderEvent;

    private FileSystemWatcher? _files;
    private FileSystemWatcher? _parent;
    private bool _looked;
    private bool _missing;
    private long _nextCheck;

    public WatchedFolder(WatchEntry entry, SourcesOptions options, SessionHub hub, TimeProvider time, ILogger logger)
    {
        _entry = entry;
        _path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(entry.Path));
        _parentPath = Path.GetDirectoryName(_path);
        _folderName = Path.GetFileName(_path);
        _hub = hub;
        _time = time;
        _logger = logger;
        _report = new FileReport(options.MaxFileBytes);
        _debounce = options.Debounce;
        _retryInterval = options.RetryInterval;
    }

    /// <summary>The first look: what the folder holds now is where changes are counted from.</summary>
    public void Start()
    {
        try
        {
            Check(force: true);
        }
        catch (Exception e)
        {
            Log.Failed(_logger, _entry.Path, _retryInterval, e);
            StopWatchers();
        }
    }

    /// <summary>Publishes the folder's changes until <paramref name="stoppingToken"/> fires; never throws.</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _wake.WaitAsync(NextWait(), stoppingToken);
                lock (_gate)
                {
                    _woken = false;
                }

                try
                {
                    Check(force: false);
                    await PublishDueAsync(stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // Never let one folder's trouble stop the gateway or its other folders: start
                    // over at the next check, from a fresh look at the folder.
                    Log.Failed(_logger, _entry.Path, _retryInterval, e);
                    StopWatchers();
                    _nextCheck = _time.GetTimestamp() + Ticks(_retryInterval);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            StopWatchers();
        }
    }

    /// <summary>
    /// Starts watching when the folder exists and nothing watches it; starts over when a watcher
    /// failed or the folder was replaced; reports the files of a folder that went away as deleted.
    /// </summary>
    private void Check(bool force)
    {
        Exception? error;
        bool folderEvent;
        lock (_gate)
        {
            error = _watcherError;
            folderEvent = _folderEvent;
            _watcherError = null;
            _folderEvent = false;
        }

        long now = _time.GetTimestamp();
        if (!force && error is null && !folderEvent && now < _nextCheck)
        {
            return;
        }

        _nextCheck = now + Ticks(_retryInterval);
        bool exists = Directory.Exists(_path);
        if (error is not null)
        {
            // Either watcher: both start afresh, and the look below finds what they missed.
            Log.WatcherFailed(_logger, _entry.Path, error);
            StopWatchers();
        }
        else if (_files is not null)
        {
            if (exists && !folderEvent)
            {
                return;
            }

            if (exists)
            {
                Log.FolderReplaced(_logger, _entry.Path);
            }

            // The parent's watcher stays: it is what hears the folder made again.
            _files.Dispose();
            _files = null;
        }

        if (!exists)
        {
            if (!_missing)
            {
                if (_looked)
                {
                    Log.FolderGone(_logger, _entry.Path, _retryInterval);
                }
                else
                {
                    Log.FolderMissing(_logger, _entry.Path, _retryInterval);
                }

                _missing = true;
            }

            _looked = true;
            Compare(new Dictionary<string, FileStamp>(StringComparer.Ordinal));
            if (WatchParent() && Directory.Exists(_path))
            {
                // Made between the look and the parent's watch: nothing would tell of it but the
                // next check, so look again now.
                OnFolderEvent(this, new FileSystemEventArgs(WatcherChangeTypes.Created, _parentPath!, _folderName));
            }

            return;
        }

        // Watch first, then look: a change in between is both seen and marked, never lost.
        _files = Watch(_path, "*", NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size, OnFileEvent, OnFileRenamed);
        WatchParent();
        Dictionary<string, FileStamp> present = List();
        if (_looked)
        {
            Compare(present);
        }
        else
        {
            foreach ((string name, FileStamp stamp) in present)
            {
                _known[name] = stamp;
            }
        }

        _looked = true;
        _missing = false;
        Log.Watching(_logger, _entry.Path, _entry.Filter, _entry.Event, _entry.Session);
    }

    /// <summary>
    /// The folder's parent is watched for the folder itself, so a folder deleted and made again
    /// (a build that starts with <c>rm -rf</c>) is noticed at once: a watcher on the old folder
    /// hears nothing once that folder is gone.
    /// </summary>
    /// <returns>True when the parent's watcher was started by this call.</returns>
    private bool WatchParent()
    {
        if (_parent is not null || _parentPath is null || _folderName.Length == 0 || !Directory.Exists(_parentPath))
        {
            return false;
        }

        try
        {
            _parent = Watch(_parentPath, _folderName, NotifyFilters.DirectoryName, OnFolderEvent, OnFolderEvent);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // The parent vanished in between or may not be watched: the periodic check still covers the folder.
            return false;
        }
    }

    private FileSystemWatcher Watch(string path, string filter, NotifyFilters notify, FileSystemEventHandler onEvent, RenamedEventHandler onRenamed)
    {
        var watcher = new FileSystemWatcher(path, filter) { NotifyFilter = notify, IncludeSubdirectories = false };
        watcher.Created += onEvent;
        watcher.Changed += onEvent;
        watcher.Deleted += onEvent;
        watcher.Renamed += onRenamed;
        watcher.Error += OnError;
        try
        {
            watcher.EnableRaisingEvents = true;
        }
        catch
        {
            watcher.Dispose();
            throw;
        }

        return watcher;
    }

    private void StopWatchers()
    {
        _files?.Dispose();
        _files = null;
        _parent?.Dispose();
        _parent = null;
    }

    /// <summary>The files of the folder that match the filter, with their sizes and write times.</summary>
    private Dictionary<string, FileStamp> List()
    {
        var present = new Dictionary<string, FileStamp>(StringComparer.Ordinal);
        foreach (FileInfo file in new DirectoryInfo(_path).EnumerateFiles())
        {
            if (Matches(file.Name))
            {
                present[file.Name] = new FileStamp(file.Length, file.LastWriteTimeUtc);
            }
        }

        return present;
    }

    /// <summary>Marks every file that differs from what was last reported of it: new, changed or gone.</summary>
    private void Compare(Dictionary<string, FileStamp> present)
    {
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            foreach ((string name, FileStamp stamp) in present)
            {
                if (!_known.TryGetValue(name, out FileStamp known) || known != stamp)
                {
                    MarkLocked(name, now);
                }
            }

            foreach (string name in _known.Keys)
            {
                if (!present.ContainsKey(name))
                {
                    MarkLocked(name, now);
                }
            }
        }
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e) => Mark(e.Name);

    private void OnFileRenamed(object sender, RenamedEventArgs e)
    {
        // A rename is the old name gone and the new one there: an editor's save by rename over
        // the file is a change of the file, and its temporary name is not reported at all.
        Mark(e.OldName);
        Mark(e.Name);
    }

    private void OnFolderEvent(object sender, FileSystemEventArgs e)
    {
        lock (_gate)
        {
            _folderEvent = true;
            WakeLocked();
        }
    }

    private void OnError(object sender, ErrorEventArgs e)
    {
        lock (_gate)
        {
            _watcherError = e.GetException();
            WakeLocked();
        }
    }

    private void Mark(string? name)
    {
        if (name is null || !Matches(name))
        {
            return;
        }

        long now = _time.GetTimestamp();
        lock (_gate)
        {
            MarkLocked(name, now);
        }
    }

    private void MarkLocked(string name, long now)
    {
        // Each mark pushes the file's turn back by the debounce, but never past a bound counted
        // from the burst's first mark.
        long debounce = Ticks(_debounce);
        long first = _pending.TryGetValue(name, out Pending pending) ? pending.First : now;
        _pending[name] = new Pending(first, Math.Min(now + debounce, first + (debounce * MaxDebounces)));
        WakeLocked();
    }

    private void WakeLocked()
    {
        if (!_woken)
        {
            _woken = true;
            _wake.Release();
        }
    }

    private bool Matches(string name) =>
        name.Length > 0 && FileSystemName.MatchesSimpleExpression(_entry.Filter, name, ignoreCase: !OperatingSystem.IsLinux());

    /// <summary>Until the earliest file's turn or the next check of the folder, whichever is first.</summary>
    private TimeSpan NextWait()
    {
        long next = _nextCheck;
        lock (_gate)
        {
            foreach (Pending pending in _pending.Values)
            {
                next = Math.Min(next, pending.Due);
            }
        }

        long now = _time.GetTimestamp();
        return next <= now ? TimeSpan.Zero : _time.GetElapsedTime(now, next);
    }

    private async Task PublishDueAsync(CancellationToken cancellationToken)
    {
        List<string>? due = null;
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            foreach ((string name, Pending pending) in _pending)
            {
                if (pending.Due <= now)
                {
                    (due ??= []).Add(name);
                }
            }

            foreach (string name in due ?? [])
            {
                _pending.Remove(name);
            }
        }

        if (due is null)
        {
            return;
        }

        due.Sort(StringComparer.Ordinal);
        var events = new List<PublishRequest>(Math.Min(due.Count, MaxBatch));
        foreach (string name in due)
        {
            if (_report.Look(_path, name, _known) is { } data)
            {
                events.Add(new PublishRequest(_entry.Event, data));
            }

            if (events.Count == MaxBatch)
            {
                await PublishAsync(events, cancellationToken);
                events = new List<PublishRequest>(MaxBatch);
            }
        }

        if (events.Count > 0)
        {
            await PublishAsync(events, cancellationToken);
        }
    }

    /// <summary>Publishes as a publish over HTTP does, so history, state and delivery all apply.</summary>
    private async Task PublishAsync(List<PublishRequest> events, CancellationToken cancellationToken)
    {
        PublishResult result;
        try
        {
            result = await _hub.PublishAsync(_entry.Session, events, cancellationToken);
        }
        catch (BackplaneUnavailableException e)
        {
            // Nothing to retry into: the file's next change is published afresh.
            Log.StoreUnavailable(_logger, events.Count, _entry.Path, _entry.Session, e);
            return;
        }

        string? reason = result.Status switch
        {
            PublishStatus.Accepted => null,
            PublishStatus.SessionComplete => "the session is complete (a final event ended it); delete it to start a new life",
            PublishStatus.TooManyEventNames => "the session has Gateway:Sessions:MaxEventNames event names already",
            PublishStatus.MemoryFull => "history memory is full (Gateway:History:MaxTotalBytes, or Redis's maxmemory)",
            PublishStatus.SessionLimit => "the gateway holds Gateway:Sessions:MaxSessions sessions already",
            _ => result.Status.ToString(),
        };
        if (reason is not null)
        {
            Log.NotPublished(_logger, events.Count, _entry.Path, _entry.Session, reason);
        }
    }

    /// <summary>A duration in the time provider's timestamp units.</summary>
    private long Ticks(TimeSpan span) => (long)(span.Ticks * (_time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));

    /// <summary>A file's turn to be looked at: <see cref="Due"/>, unless it is marked again before.</summary>
    private readonly record struct Pending(long First, long Due);
}

/// <summary>What tells one version of a file from another without reading it.</summary>
internal readonly record struct FileStamp(long Length, DateTime LastWriteUtc);
