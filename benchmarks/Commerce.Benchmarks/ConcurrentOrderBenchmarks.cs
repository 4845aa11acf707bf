using BenchmarkDotNet.Attributes;

namespace Commerce.Benchmarks;

/// <summary>The contention patterns of the concurrent workloads.</summary>
public enum Contention
{
    /// <summary>Orders of 1–3 lines over 10,000 products by 10,000 users.</summary>
    Low,

    /// <summary>Like <see cref="Low"/>, but every order includes product 1.</summary>
    HotProduct,

    /// <summary>Every operation charges the same user's wallet.</summary>
    HotWallet,
}

/// <summary>
/// Order placement (charges, for <see cref="Contention.HotWallet"/>) by N concurrent workers. Each
/// invocation runs <see cref="OperationsPerInvoke"/> operations split across the workers.
/// </summary>
[MemoryDiagnoser]
public class ConcurrentOrderBenchmarks
{
    public const int OperationsPerInvoke = 2400;
    private const int Ring = 4096;

    private Shop? _shop;
    private HandWrittenShop? _hand;
    private WorkerPool? _pool;
    private OrderLineRequest[][][] _orders = [];
    private UserId[][] _users = [];
    private long _operations;
    private long _failures;
    private string _name = "";

    [Params(1, 2, 4, 8)]
    public int Workers { get; set; }

    [Params(Contention.Low, Contention.HotProduct, Contention.HotWallet)]
    public Contention Workload { get; set; }

    [GlobalSetup(Target = nameof(GlobalLock))]
    public void SetupGlobalLock() => SetupLibrary(StoreKind.GlobalLock);

    [GlobalSetup(Target = nameof(PerKeyLock))]
    public void SetupPerKeyLock() => SetupLibrary(StoreKind.PerKeyLock);

    [GlobalSetup(Target = nameof(LockFree))]
    public void SetupLockFree() => SetupLibrary(StoreKind.LockFree);

    [GlobalSetup(Target = nameof(HandWritten))]
    public void SetupHandWritten()
    {
        _name = "HandWritten";
        Generate();
        var hand = _hand = new HandWrittenShop(TimeProvider.System);
        for (var p = 1; p <= Shop.Products; p++)
        {
            hand.AddProduct(p, Shop.PriceOf(p).Amount, Shop.InitialStock);
        }

        for (var u = 1; u <= Shop.Users; u++)
        {
            hand.Charge(u, Shop.InitialBalance);
        }

        _pool = new WorkerPool(Workers, OperationsPerInvoke, Workload == Contention.HotWallet
            ? (_, _) => Count(hand.Charge(1, 1))
            : (w, i) => Count(hand.PlaceOrder(_users[w][i % Ring].Value, _orders[w][i % Ring])));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        var conflicts = _shop?.Conflicts.Conflicts ?? 0;
        var exhausted = _shop?.Conflicts.Exhausted ?? 0;
        Console.WriteLine(
            $"STATS store={_name} workload={Workload} workers={Workers} operations={_operations} failures={_failures} " +
            $"conflicts={conflicts} exhausted={exhausted} conflicts-per-op={(double)conflicts / Math.Max(1, _operations):F4}");
        _shop?.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = OperationsPerInvoke)]
    public void GlobalLock() => Run();

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public void PerKeyLock() => Run();

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public void LockFree() => Run();

    [Benchmark(OperationsPerInvoke = OperationsPerInvoke)]
    public void HandWritten() => Run();

    private void Run()
    {
        _pool!.RunOnce();
        _operations += OperationsPerInvoke;
    }

    private void SetupLibrary(StoreKind kind)
    {
        _name = kind.ToString();
        Generate();
        var shop = _shop = new Shop(kind);
        var hotUser = new UserId(1);
        var one = new Money(1);
        _pool = new WorkerPool(Workers, OperationsPerInvoke, Workload == Contention.HotWallet
            ? (_, _) => Count(Sync.Wait(shop.Wallets.ChargeAsync(hotUser, one)).IsSuccess)
            : (w, i) => Count(Sync.Wait(shop.Orders.PlaceOrderAsync(_users[w][i % Ring], _orders[w][i % Ring])).IsSuccess));
    }

    private void Generate()
    {
        _orders = new OrderLineRequest[Workers][][];
        _users = new UserId[Workers][];
        for (var w = 0; w < Workers; w++)
        {
            _orders[w] = Requests.Orders(100 + w, Ring, Workload == Contention.HotProduct);
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
