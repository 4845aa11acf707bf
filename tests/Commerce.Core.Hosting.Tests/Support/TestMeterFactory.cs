using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Commerce.Hosting.Tests.Support;

/// <summary>
/// A meter factory of one test's services, with a listener that records what its meters measure (and nothing of
/// the tests beside it: listeners are process-wide, so it keeps only the instruments of the meters it created).
/// Each measurement calls <see cref="Measured"/>, for a test to wait on.
/// </summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly ConcurrentQueue<Meter> _meters = new();
    private readonly ConcurrentQueue<(string Instrument, string? Unit, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();
    private readonly MeterListener _listener = new();

    public TestMeterFactory()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == this)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Called after each measurement is recorded.</summary>
    public Action Measured { get; set; } = static () => { };

    public IReadOnlyList<(string Instrument, string? Unit, double Value, KeyValuePair<string, object?>[] Tags)> Measurements => [.. _measurements];

    /// <summary>The values measured by <paramref name="instrument"/>, each with its tags as text.</summary>
    public IReadOnlyList<(double Value, Dictionary<string, string?> Tags)> Of(string instrument) =>
        [.. _measurements.Where(m => m.Instrument == instrument).Select(m => (m.Value, m.Tags.ToDictionary(t => t.Key, t => t.Value?.ToString())))];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
        _meters.Enqueue(meter);
        return meter;
    }

    public void Dispose()
    {
        _listener.Dispose();
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        _measurements.Enqueue((instrument.Name, instrument.Unit, value, tags.ToArray()));
        Measured();
    }
}
