using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Commerce.Tests.Support;

/// <summary>
/// Records what one test's services measure and trace, and nothing of the tests that run beside it: the
/// measurements of the meters that one <see cref="IMeterFactory"/> created (each service provider has its
/// own), and the spans under one root activity (its trace id), although listeners are process-wide.
/// </summary>
internal sealed class TelemetryCapture : IDisposable
{
    private static readonly ActivitySource TestSource = new("Commerce.Tests.Telemetry");

    private readonly MeterListener _meters = new();
    private readonly ActivityListener _spans;
    private readonly ConcurrentQueue<Measurement> _measurements = new();
    private readonly ConcurrentDictionary<Instrument, byte> _instruments = new();
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public TelemetryCapture(IMeterFactory meterFactory)
    {
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == meterFactory && instrument.Meter.Name == CommerceDiagnostics.MeterName)
            {
                _instruments.TryAdd(instrument, 0);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _meters.Start();

        _spans = new ActivityListener
        {
            ShouldListenTo = source => source.Name is CommerceDiagnostics.ActivitySourceName or "Commerce.Tests.Telemetry",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Root is { } root && activity.TraceId == root.TraceId && activity != root)
                {
                    _stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_spans);
        Root = TestSource.StartActivity("test");
    }

    /// <summary>The test's root span: the spans of the services it calls are its descendants.</summary>
    public Activity? Root { get; }

    public IReadOnlyCollection<Instrument> Instruments => _instruments.Keys.ToList();

    public IReadOnlyList<Measurement> Measurements => [.. _measurements];

    public IReadOnlyList<Activity> Spans => [.. _stopped];

    public IEnumerable<Measurement> Of(string instrument) => _measurements.Where(m => m.Instrument == instrument);

    /// <summary>The sum of an instrument's values, by the value of one tag.</summary>
    public Dictionary<string, double> SumBy(string instrument, string tag) =>
        Of(instrument).GroupBy(m => m.Tag(tag) ?? "").ToDictionary(g => g.Key, g => g.Sum(m => m.Value));

    public void Dispose()
    {
        Root?.Dispose();
        _spans.Dispose();
        _meters.Dispose();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        _measurements.Enqueue(new Measurement(instrument.Name, instrument.Unit, value, tags.ToArray()));

    public sealed record Measurement(string Instrument, string? Unit, double Value, KeyValuePair<string, object?>[] Tags)
    {
        public string? Tag(string name) => Tags.FirstOrDefault(t => t.Key == name).Value?.ToString();
    }
}
