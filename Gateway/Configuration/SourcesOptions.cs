namespace Gateway.Configuration;

/// <summary>
/// The <c>Gateway:Sources</c> section: folders whose files become events (spec section 16), so a
/// program that writes checkpoint files streams to browsers without publishing anything itself.
/// </summary>
internal sealed class SourcesOptions
{
    /// <summary>The section's path in configuration.</summary>
    public const string Section = "Gateway:Sources";

    /// <summary>1 MiB, the default publish limit (<c>Limits:MaxPublishBytes</c>): a checkpoint is a small JSON document.</summary>
    public const int DefaultMaxFileBytes = 1024 * 1024;

    /// <summary>
    /// 300 ms: a program that rewrites a file (truncate, then a few writes) is done well within it,
    /// and a person watching a build still sees the change at once.
    /// </summary>
    public static readonly TimeSpan DefaultDebounce = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// 2 s: a folder a build creates at its start is picked up before its first checkpoint matters,
    /// and checking whether a folder exists that often costs nothing.
    /// </summary>
    public static readonly TimeSpan DefaultRetryInterval = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The folders to watch; each file created, changed or deleted in one becomes an event. Empty
    /// (the default): nothing is watched.
    /// </summary>
    public WatchEntry[] Watch { get; set; } = [];

    /// <summary>
    /// The largest JSON file whose content goes into its event, in bytes (1 to 64 MiB); a larger
    /// one still gives an event, without content and with <c>contentError</c> <c>too_large</c>.
    /// </summary>
    public int MaxFileBytes { get; set; } = DefaultMaxFileBytes;

    /// <summary>
    /// How long a file must be left alone before its change is published (10 ms to 1 min): a
    /// burst of writes to one file gives one event.
    /// </summary>
    public TimeSpan Debounce { get; set; } = DefaultDebounce;

    /// <summary>
    /// How often a watched folder that does not exist is looked for again, and a watched folder
    /// checked to still be there (100 ms to 1 h).
    /// </summary>
    public TimeSpan RetryInterval { get; set; } = DefaultRetryInterval;
}

/// <summary>One watched folder of <see cref="SourcesOptions.Watch"/>.</summary>
internal sealed class WatchEntry
{
    /// <summary>The event name when none is given.</summary>
    public const string DefaultEvent = "file_changed";

    /// <summary>Every file when no filter is given.</summary>
    public const string DefaultFilter = "*";

    /// <summary>
    /// The folder to watch; a relative path is taken from the gateway's working directory. Files
    /// directly in it are watched, not those in its subfolders. It need not exist yet.
    /// </summary>
    public string Path { get; set; } = "";

    /// <summary>Which file names count: a name with <c>*</c> (any characters) and <c>?</c> (one character), like <c>*.json</c>.</summary>
    public string Filter { get; set; } = DefaultFilter;

    /// <summary>The session the events go to (a session name).</summary>
    public string Session { get; set; } = "";

    /// <summary>The events' name.</summary>
    public string Event { get; set; } = DefaultEvent;
}
