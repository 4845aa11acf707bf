using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;

namespace Commerce.Benchmarks;

/// <summary>
/// What the library's metrics and traces cost: order placement on one thread (lock-free store), with
/// nobody listening to the <c>Commerce</c> meter and activity source, and with a listener that records
/// every measurement and samples every span (as an OpenTelemetry exporter would), each callback doing
/// the least an exporter can (adding up).
/// </summary>
[MemoryDiagnoser]
public class TelemetryBenchmarks
{
    private const int Ring = 4096;
    private Shop _shop = null!;
    private OrderLineRequest[][] _orders = [];
    private UserId[] _users = [];
    private int _next;
    private MeterListener? _meters;
    private ActivityListener? _spans;
    private double _sum;
    private long _stopped;

    [Params(false, true)]
    public bool Listened { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _shop = new Shop(StoreKind.LockFree);
        _orders = Requests.Orders(7, Ring, hot: false);
        _users = Requests.Users(8, Ring);
        if (!Listened)
        {
            return;
        }

        _meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == CommerceDiagnostics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _meters.SetMeasurementEventCallback<long>((_, value, _, _) => _sum += value);
        _meters.SetMeasurementEventCallback<double>((_, value, _, _) => _sum += value);
        _meters.Start();
        _spans = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CommerceDiagnostics.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ => _stopped++,
        };
        ActivitySource.AddActivityListener(_spans);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _meters?.Dispose();
        _spans?.Dispose();
        _shop.Dispose();
    }

    [Benchmark]
    public bool PlaceOrder()
    {
        var i = _next++ & (Ring - 1);
        return Sync.Wait(_shop.Orders.PlaceOrderAsync(_users[i], _orders[i])).IsSuccess;
    }
}
