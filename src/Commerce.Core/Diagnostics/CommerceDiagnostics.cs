namespace Commerce;

/// <summary>
/// The names under which the library reports its metrics (<see cref="System.Diagnostics.Metrics.Meter"/>) and
/// traces (<see cref="System.Diagnostics.ActivitySource"/>), for a host to subscribe to, for example with
/// OpenTelemetry: <c>.WithMetrics(m =&gt; m.AddMeter(CommerceDiagnostics.MeterName))</c> and
/// <c>.WithTracing(t =&gt; t.AddSource(CommerceDiagnostics.ActivitySourceName))</c>.
/// </summary>
/// <remarks>
/// Nothing is measured or traced unless a listener subscribes: the instruments and the activity source then
/// cost a flag check per use case. The instrument and span names are listed in the README.
/// </remarks>
public static class CommerceDiagnostics
{
    /// <summary>The name of the meter: <c>Commerce</c>. It is created through the host's <see cref="System.Diagnostics.Metrics.IMeterFactory"/> when one is registered.</summary>
    public const string MeterName = "Commerce";

    /// <summary>The name of the activity source: <c>Commerce</c>. Each use case is one span named <c>commerce.</c> and the operation, for example <c>commerce.place_order</c>.</summary>
    public const string ActivitySourceName = "Commerce";
}
