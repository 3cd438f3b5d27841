using Gateway.Configuration;
using Gateway.Hub;
using Microsoft.Extensions.Options;

namespace Gateway.Sources;

/// <summary>
/// The file-watch source (spec section 16): each folder of <c>Gateway:Sources:Watch</c> is watched
/// for as long as the gateway runs, and its files' changes are published like any other event.
/// </summary>
internal sealed class FileWatchService(
    IOptions<SourcesOptions> options, SessionHub hub, TimeProvider time, ILogger<FileWatchService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        SourcesOptions sources = options.Value;
        if (sources.Watch.Length == 0)
        {
            return Task.CompletedTask;
        }

        var folders = new WatchedFolder[sources.Watch.Length];
        for (int i = 0; i < folders.Length; i++)
        {
            folders[i] = new WatchedFolder(sources.Watch[i], sources, hub, time, logger);

            // The first look at each folder happens here, before the host finishes starting: a file
            // written once the gateway is up is a change, never part of what was there already.
            folders[i].Start();
        }

        return Task.WhenAll(folders.Select(folder => folder.RunAsync(stoppingToken)));
    }
}
