using System.Globalization;
using BenchmarkDotNet.Attributes;

namespace Commerce.Benchmarks;

/// <summary>
/// What an idempotency key costs: order placement on the lock-free store (low contention) with a fresh key
/// per order against the same orders without one, by 2 and 8 workers. The key's text is made per call, as a
/// host gets it from each request, so its allocation is part of the keyed figure.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(48, 16)]
public class KeyedOrderBenchmarks
{
    private const int Ring = 4096;

    private Shop? _shop;
    private WorkerPool? _pool;
    private OrderLineRequest[][][] _orders = [];
    private UserId[][] _users = [];
    private long[] _next = [];

    [Params(2, 8)]
    public int Workers { get; set; }

    [GlobalSetup(Target = nameof(WithoutKey))]
    public void SetupWithoutKey() => Setup(keyed: false);

    [GlobalSetup(Target = nameof(WithKey))]
    public void SetupWithKey() => Setup(keyed: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        _shop?.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ConcurrentBenchmarks.OperationsPerInvoke)]
    public void WithoutKey() => _pool!.RunOnce();

    [Benchmark(OperationsPerInvoke = ConcurrentBenchmarks.OperationsPerInvoke)]
    public void WithKey() => _pool!.RunOnce();

    private void Setup(bool keyed)
    {
        _orders = new OrderLineRequest[Workers][][];
        _users = new UserId[Workers][];
        _next = new long[Workers * 8];
        for (var w = 0; w < Workers; w++)
        {
            _orders[w] = Requests.Orders(100 + w, Ring, hot: false);
            _users[w] = Requests.Users(200 + w, Ring);
        }

        var shop = _shop = new Shop(StoreKind.LockFree);
        _pool = new WorkerPool(Workers, ConcurrentBenchmarks.OperationsPerInvoke, keyed
            ? (w, i) => Check(Sync.Wait(shop.Orders.PlaceOrderAsync(_users[w][i % Ring], _orders[w][i % Ring], NextKey(w))).IsSuccess)
            : (w, i) => Check(Sync.Wait(shop.Orders.PlaceOrderAsync(_users[w][i % Ring], _orders[w][i % Ring])).IsSuccess));
    }

    /// <summary>A key no order used before (per worker, on its own cache line of the counter array).</summary>
    private IdempotencyKey NextKey(int worker) =>
        new(string.Create(CultureInfo.InvariantCulture, $"order-{worker}-{++_next[worker * 8]}"));

    private static void Check(bool succeeded)
    {
        if (!succeeded)
        {
            throw new InvalidOperationException("An order was refused; the benchmark's stock and balances are meant to suffice.");
        }
    }
}
