using BenchmarkDotNet.Attributes;

namespace Commerce.Benchmarks;

/// <summary>The contention patterns of the concurrent workloads.</summary>
public enum Contention
{
    /// <summary>Orders of 1–3 lines over 10,000 products by 10,000 users.</summary>
    Low,

    /// <summary>Like <see cref="Low"/>, but every order includes product 1.</summary>
    HotProduct,

    /// <summary>Every operation charges the same user's wallet (<see cref="HotWalletBenchmarks"/>).</summary>
    HotWallet,
}

/// <summary>
/// Order placement by N concurrent workers on each store, and on the hand-written ceiling. Each
/// invocation runs <see cref="ConcurrentBenchmarks.OperationsPerInvoke"/> orders split across the workers.
/// </summary>
/// <remarks>
/// The invocation count is fixed (48 × 2,400 orders, about half a second per iteration), so that no
/// time goes into a pilot stage that would measure the code before the JIT has optimized it.
/// </remarks>
[InvocationCount(48, 16)]
public class ConcurrentOrderBenchmarks : ConcurrentBenchmarks
{
    [Params(Contention.Low, Contention.HotProduct)]
    public Contention Workload { get; set; }

    [GlobalSetup(Target = nameof(HandWritten))]
    public void SetupHandWritten() => SetupHandWritten(Workload);

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public void HandWritten() => Run();

    [GlobalSetup(Target = nameof(HandWrittenBufferedIds))]
    public void SetupHandWrittenBufferedIds() => SetupHandWritten(Workload, bufferedIds: true);

    /// <summary>The hand-written shop with its order ids made as the library makes them (see <see cref="HandWrittenShop"/>).</summary>
    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public void HandWrittenBufferedIds() => Run();

    protected override Contention Kind => Workload;
}

/// <summary>
/// Charges of one hot wallet by N concurrent workers on each store. Each invocation runs
/// <see cref="ConcurrentBenchmarks.OperationsPerInvoke"/> charges split across the workers.
/// </summary>
[InvocationCount(512, 16)]
public class HotWalletBenchmarks : ConcurrentBenchmarks
{
    protected override Contention Kind => Contention.HotWallet;
}

/// <summary>What the concurrent benchmark classes share: the workers, the stores, the statistics.</summary>
[MemoryDiagnoser]
public abstract class ConcurrentBenchmarks
{
    public const int OperationsPerInvoke = 2400;
    private const int Ring = 4096;

    private Shop? _shop;
    private WorkerPool? _pool;
    private OrderLineRequest[][][] _orders = [];
    private UserId[][] _users = [];
    private long _operations;
    private long _failures;
    private string _name = "";

    [Params(1, 2, 4, 8)]
    public int Workers { get; set; }

    protected abstract Contention Kind { get; }

    [GlobalSetup(Target = nameof(GlobalLock))]
    public void SetupGlobalLock() => SetupLibrary(StoreKind.GlobalLock);

    [GlobalSetup(Target = nameof(PerKeyLock))]
    public void SetupPerKeyLock() => SetupLibrary(StoreKind.PerKeyLock);

    [GlobalSetup(Target = nameof(LockFree))]
    public void SetupLockFree() => SetupLibrary(StoreKind.LockFree);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        var conflicts = _shop?.Conflicts.Conflicts ?? 0;
        var exhausted = _shop?.Conflicts.Exhausted ?? 0;
        Console.WriteLine(
            $"STATS store={_name} workload={Kind} workers={Workers} operations={_operations} failures={_failures} " +
            $"conflicts={conflicts} exhausted={exhausted} conflicts-per-op={(double)conflicts / Math.Max(1, _operations):F4}");
        _shop?.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = OperationsPerInvoke)]
    public void GlobalLock() => Run();

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public void PerKeyLock() => Run();

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public void LockFree() => Run();

    protected void Run()
    {
        _pool!.RunOnce();
        _operations += OperationsPerInvoke;
    }

    protected void SetupHandWritten(Contention workload, bool bufferedIds = false)
    {
        _name = bufferedIds ? "HandWrittenBufferedIds" : "HandWritten";
        Generate();
        var hand = HandWrittenShop.Seeded(TimeProvider.System, bufferedIds);

        _pool = new WorkerPool(Workers, OperationsPerInvoke, workload == Contention.HotWallet
            ? (_, _) => Count(hand.Charge(1, 1))
            : (w, i) => Count(hand.PlaceOrder(_users[w][i % Ring].Value, _orders[w][i % Ring])));
    }

    private void SetupLibrary(StoreKind kind)
    {
        _name = kind.ToString();
        Generate();
        var shop = _shop = new Shop(kind);
        var hotUser = new UserId(1);
        var one = new Money(1);
        _pool = new WorkerPool(Workers, OperationsPerInvoke, Kind == Contention.HotWallet
            ? (_, _) => Count(Sync.Wait(shop.Wallets.ChargeAsync(hotUser, one)).IsSuccess)
            : (w, i) => Count(Sync.Wait(shop.Orders.PlaceOrderAsync(_users[w][i % Ring], _orders[w][i % Ring])).IsSuccess));
    }

    private void Generate()
    {
        _orders = new OrderLineRequest[Workers][][];
        _users = new UserId[Workers][];
        for (var w = 0; w < Workers; w++)
        {
            _orders[w] = Requests.Orders(100 + w, Ring, Kind == Contention.HotProduct);
            _users[w] = Requests.Users(200 + w, Ring);
        }
    }

    private void Count(bool succeeded)
    {
        if (!succeeded)
        {
            Interlocked.Increment(ref _failures);
        }
    }
}
