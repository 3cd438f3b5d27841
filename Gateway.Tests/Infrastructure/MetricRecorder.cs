using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Gateway.Diagnostics;

namespace Gateway.Tests.Infrastructure;

/// <summary>Sums what one gateway's meter records (other gateways in this process are ignored).</summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _sums = new();
    private readonly Lock _waitersGate = new();
    private readonly List<(string Key, long Target, TaskCompletionSource Reached)> _waiters = [];

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

            ReleaseWaiters();
        });
        _listener.Start();
    }

    /// <summary>The sum of <paramref name="instrument"/>, or of its measurements with one tag (<c>reason=heartbeat_timeout</c>).</summary>
    public long Sum(string instrument, string? tag = null) =>
        _sums.GetValueOrDefault(tag is null ? instrument : $"{instrument}|{tag}");

    /// <summary>
    /// Completes once <see cref="Sum"/> of <paramref name="instrument"/> reaches <paramref name="target"/>:
    /// a test learns that the gateway has done something it cannot see from a socket (registered
    /// a connection that has not been welcomed yet, say).
    /// </summary>
    public Task WhenSumReachesAsync(string instrument, long target, string? tag = null)
    {
        string key = tag is null ? instrument : $"{instrument}|{tag}";
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waitersGate)
        {
            _waiters.Add((key, target, reached));
        }

        ReleaseWaiters();
        return reached.Task;
    }

    public void Dispose() => _listener.Dispose();

    private void ReleaseWaiters()
    {
        lock (_waitersGate)
        {
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_sums.GetValueOrDefault(_waiters[i].Key) >= _waiters[i].Target)
                {
                    _waiters[i].Reached.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
