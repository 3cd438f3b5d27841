using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Gateway.Diagnostics;

namespace Gateway.Tests.Infrastructure;

/// <summary>Sums what one gateway's meter records (other gateways in this process are ignored).</summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _sums = new();

    internal MetricRecorder(GatewayMetrics metrics)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            _sums.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value);
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                _sums.AddOrUpdate($"{instrument.Name}|{tag.Key}={tag.Value}", value, (_, sum) => sum + value);
            }
        });
        _listener.Start();
    }

    /// <summary>The sum of <paramref name="instrument"/>, or of its measurements with one tag (<c>reason=heartbeat_timeout</c>).</summary>
    public long Sum(string instrument, string? tag = null) =>
        _sums.GetValueOrDefault(tag is null ? instrument : $"{instrument}|{tag}");

    public void Dispose() => _listener.Dispose();
}
