using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Commerce.Events;

/// <summary>
/// The event dispatcher's instruments and spans, on the library's meter and activity source
/// (<see cref="CommerceDiagnostics.MeterName"/>, <see cref="CommerceDiagnostics.ActivitySourceName"/>), named as the
/// core's are (OpenTelemetry semantic conventions: dotted lower-case names, UCUM units, <c>error.type</c> on failures).
/// </summary>
/// <remarks>
/// The meter comes from the host's <see cref="IMeterFactory"/> when one is registered, as the core's does; otherwise
/// one static meter serves every dispatcher of the process. Every measurement is guarded by its instrument's
/// <c>Enabled</c> flag and every span by the source's listeners, so nothing is allocated when nobody listens.
/// </remarks>
internal sealed class DispatcherTelemetry
{
    public const string HandlerTag = "commerce.event.handler";
    public const string EventTypeTag = "commerce.event.type";
    public const string PositionTag = "commerce.event.position";
    public const string PolicyTag = "commerce.event.poison_policy";
    public const string ErrorTypeTag = "error.type";
    public const string SpanName = "commerce.handle_event";

    private static readonly string? Version = typeof(DispatcherTelemetry).Assembly.GetName().Version?.ToString(3);

    /// <summary>The source of the handler calls' spans (the core's source has the same name).</summary>
    public static readonly ActivitySource ActivitySource = new(CommerceDiagnostics.ActivitySourceName, Version);

    // From an event handled at once (in memory) to one a handler catches up on after a day down.
    private static readonly double[] LagBuckets =
        [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];

    private DispatcherTelemetry(Meter meter)
    {
        Handled = meter.CreateCounter<long>("commerce.events.handled", "{event}", "Events a handler handled (its call returned), by handler and event type.");
        Failures = meter.CreateCounter<long>("commerce.events.handler_failures", "{failure}", "Handler calls that threw, each attempt counted; the event is retried, then handled as poison.");
        Poison = meter.CreateCounter<long>("commerce.events.poison", "{event}", "Events a handler failed MaxDeliveryAttempts times: skipped, or the handler stopped (by the poison policy).");
        Purged = meter.CreateCounter<long>("commerce.events.purged", "{event}", "Events the dispatcher's purge removed from the store.");
        Lag = meter.CreateHistogram(
            "commerce.event.delivery.lag",
            "s",
            "The time from an event (its At) to the end of the handler call that handled it: how far behind a handler is.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LagBuckets });
    }

    public Counter<long> Handled { get; }

    public Counter<long> Failures { get; }

    public Counter<long> Poison { get; }

    public Counter<long> Purged { get; }

    public Histogram<double> Lag { get; }

    // Initialised after the fields above, which the constructor uses.
    /// <summary>The instruments on a static meter, for hosts without an <see cref="IMeterFactory"/>.</summary>
    public static DispatcherTelemetry Shared { get; } = new(new Meter(new MeterOptions(CommerceDiagnostics.MeterName) { Version = Version }));

    /// <summary>The instruments on the factory's meter, or <see cref="Shared"/> without a factory.</summary>
    public static DispatcherTelemetry Create(IMeterFactory? meterFactory) =>
        meterFactory is null ? Shared : new(meterFactory.Create(new MeterOptions(CommerceDiagnostics.MeterName) { Version = Version }));

    /// <summary>Starts the span of a handler's call for <paramref name="event"/>, if anyone listens.</summary>
    public static Activity? StartHandling(string handler, CommerceEvent @event)
    {
        var activity = ActivitySource.StartActivity(SpanName, ActivityKind.Consumer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(HandlerTag, handler);
            activity.SetTag(EventTypeTag, @event.GetType().Name);
            activity.SetTag(PositionTag, @event.Position.ToString());
        }

        return activity;
    }

    /// <summary>A handler's call returned: counted, with the event's lag by <paramref name="time"/>.</summary>
    public void RecordHandled(string handler, CommerceEvent @event, TimeProvider time)
    {
        if (Handled.Enabled)
        {
            Handled.Add(1, new(HandlerTag, handler), new(EventTypeTag, @event.GetType().Name));
        }

        if (Lag.Enabled)
        {
            Lag.Record(Math.Max(0, (time.GetUtcNow() - @event.At).TotalSeconds), new KeyValuePair<string, object?>(HandlerTag, handler));
        }
    }

    /// <summary>A handler's call threw: counted, and its span (if any) ends in error with the exception.</summary>
    public void RecordFailure(string handler, CommerceEvent @event, Exception exception, Activity? activity)
    {
        var type = exception.GetType().FullName;
        if (Failures.Enabled)
        {
            Failures.Add(1, new(HandlerTag, handler), new(EventTypeTag, @event.GetType().Name), new(ErrorTypeTag, type));
        }

        if (activity is not null)
        {
            if (activity.IsAllDataRequested)
            {
                activity.SetTag(ErrorTypeTag, type);
                activity.AddException(exception);
            }

            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        }
    }

    /// <summary>An event a handler failed too often: counted, with the policy applied (<c>skip</c> or <c>stop</c>).</summary>
    public void RecordPoison(string handler, CommerceEvent @event, PoisonEventPolicy policy)
    {
        if (Poison.Enabled)
        {
            Poison.Add(1, new(HandlerTag, handler), new(EventTypeTag, @event.GetType().Name), new(PolicyTag, policy == PoisonEventPolicy.Stop ? "stop" : "skip"));
        }
    }

    /// <summary>The purge removed <paramref name="count"/> events.</summary>
    public void RecordPurged(long count)
    {
        if (Purged.Enabled && count > 0)
        {
            Purged.Add(count);
        }
    }
}
