using BenchmarkDotNet.Attributes;

namespace Commerce.Benchmarks;

/// <summary>
/// What the transactional outbox costs: order placement on the lock-free store (low contention) with events
/// published in every commit (the default) against the same orders with <see cref="CommerceOptions.PublishEvents"/>
/// off, by 2 and 8 workers, in one run.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(48, 16)]
public class EventOrderBenchmarks
{
    private const int Ring = 4096;

    private Shop? _shop;
    private WorkerPool? _pool;
    private OrderLineRequest[][][] _orders = [];
    private UserId[][] _users = [];

    [Params(2, 8)]
    public int Workers { get; set; }

    [GlobalSetup(Target = nameof(WithoutEvents))]
    public void SetupWithoutEvents() => Setup(publish: false);

    [GlobalSetup(Target = nameof(WithEvents))]
    public void SetupWithEvents() => Setup(publish: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        _shop?.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ConcurrentBenchmarks.OperationsPerInvoke)]
    public void WithoutEvents() => _pool!.RunOnce();

    [Benchmark(OperationsPerInvoke = ConcurrentBenchmarks.OperationsPerInvoke)]
    public void WithEvents() => _pool!.RunOnce();

    private void Setup(bool publish)
    {
        _orders = new OrderLineRequest[Workers][][];
        _users = new UserId[Workers][];
        for (var w = 0; w < Workers; w++)
        {
            _orders[w] = Requests.Orders(100 + w, Ring, hot: false);
            _users[w] = Requests.Users(200 + w, Ring);
        }

        var shop = _shop = new Shop(StoreKind.LockFree, configure: o => o.PublishEvents = publish);
        _pool = new WorkerPool(Workers, ConcurrentBenchmarks.OperationsPerInvoke, (w, i) =>
        {
            if (!Sync.Wait(shop.Orders.PlaceOrderAsync(_users[w][i % Ring], _orders[w][i % Ring])).IsSuccess)
            {
                throw new InvalidOperationException("An order was refused; the benchmark's stock and balances are meant to suffice.");
            }
        });
    }
}
