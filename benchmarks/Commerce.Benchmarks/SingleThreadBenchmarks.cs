using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Commerce.Benchmarks;

/// <summary>The cost of one operation on one thread, per store (baseline: the global-lock store).</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class SingleThreadBenchmarks
{
    private const int Ring = 4096;
    private readonly Dictionary<StoreKind, Shop> _shops = [];
    private HandWrittenShop _hand = null!;
    private OrderLineRequest[][] _orders = [];
    private UserId[] _users = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        foreach (var kind in Enum.GetValues<StoreKind>())
        {
            _shops[kind] = new Shop(kind);
        }

        _hand = HandWrittenShop.Seeded(TimeProvider.System);

        _orders = Requests.Orders(7, Ring, hot: false);
        _users = Requests.Users(8, Ring);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var shop in _shops.Values)
        {
            shop.Dispose();
        }
    }

    [BenchmarkCategory("Charge"), Benchmark(Baseline = true)]
    public Result<Money> Charge_GlobalLock() => Charge(StoreKind.GlobalLock);

    [BenchmarkCategory("Charge"), Benchmark]
    public Result<Money> Charge_PerKeyLock() => Charge(StoreKind.PerKeyLock);

    [BenchmarkCategory("Charge"), Benchmark]
    public Result<Money> Charge_LockFree() => Charge(StoreKind.LockFree);

    [BenchmarkCategory("Balance"), Benchmark(Baseline = true)]
    public Money Balance_GlobalLock() => Balance(StoreKind.GlobalLock);

    [BenchmarkCategory("Balance"), Benchmark]
    public Money Balance_PerKeyLock() => Balance(StoreKind.PerKeyLock);

    [BenchmarkCategory("Balance"), Benchmark]
    public Money Balance_LockFree() => Balance(StoreKind.LockFree);

    [BenchmarkCategory("ListPage"), Benchmark(Baseline = true)]
    public int ListPage_GlobalLock() => ListPage(StoreKind.GlobalLock);

    [BenchmarkCategory("ListPage"), Benchmark]
    public int ListPage_PerKeyLock() => ListPage(StoreKind.PerKeyLock);

    [BenchmarkCategory("ListPage"), Benchmark]
    public int ListPage_LockFree() => ListPage(StoreKind.LockFree);

    [BenchmarkCategory("PlaceOrder"), Benchmark(Baseline = true)]
    public bool PlaceOrder_GlobalLock() => PlaceOrder(StoreKind.GlobalLock);

    [BenchmarkCategory("PlaceOrder"), Benchmark]
    public bool PlaceOrder_PerKeyLock() => PlaceOrder(StoreKind.PerKeyLock);

    [BenchmarkCategory("PlaceOrder"), Benchmark]
    public bool PlaceOrder_LockFree() => PlaceOrder(StoreKind.LockFree);

    [BenchmarkCategory("PlaceOrder"), Benchmark]
    public bool PlaceOrder_HandWritten()
    {
        var i = Next();
        return _hand.PlaceOrder(_users[i].Value, _orders[i]);
    }

    // An order placed and then cancelled (a cancel needs an order of its own): its time less PlaceOrder's is a cancel's.
    [BenchmarkCategory("PlaceCancel"), Benchmark(Baseline = true)]
    public bool PlaceCancel_GlobalLock() => PlaceCancel(StoreKind.GlobalLock);

    [BenchmarkCategory("PlaceCancel"), Benchmark]
    public bool PlaceCancel_PerKeyLock() => PlaceCancel(StoreKind.PerKeyLock);

    [BenchmarkCategory("PlaceCancel"), Benchmark]
    public bool PlaceCancel_LockFree() => PlaceCancel(StoreKind.LockFree);

    [BenchmarkCategory("CartAdd"), Benchmark(Baseline = true)]
    public bool CartAdd_GlobalLock() => CartAdd(StoreKind.GlobalLock);

    [BenchmarkCategory("CartAdd"), Benchmark]
    public bool CartAdd_PerKeyLock() => CartAdd(StoreKind.PerKeyLock);

    [BenchmarkCategory("CartAdd"), Benchmark]
    public bool CartAdd_LockFree() => CartAdd(StoreKind.LockFree);

    [BenchmarkCategory("CartView"), Benchmark(Baseline = true)]
    public int CartView_GlobalLock() => CartView(StoreKind.GlobalLock);

    [BenchmarkCategory("CartView"), Benchmark]
    public int CartView_PerKeyLock() => CartView(StoreKind.PerKeyLock);

    [BenchmarkCategory("CartView"), Benchmark]
    public int CartView_LockFree() => CartView(StoreKind.LockFree);

    private int Next() => _next++ & (Ring - 1);

    private Result<Money> Charge(StoreKind kind) => Sync.Wait(_shops[kind].Wallets.ChargeAsync(_users[Next()], new Money(1)));

    private Money Balance(StoreKind kind) => Sync.Wait(_shops[kind].Wallets.GetBalanceAsync(_users[Next()]));

    private int ListPage(StoreKind kind) => Sync.Wait(_shops[kind].Catalog.ListProductsAsync()).Count;

    private bool PlaceOrder(StoreKind kind)
    {
        var i = Next();
        return Sync.Wait(_shops[kind].Orders.PlaceOrderAsync(_users[i], _orders[i])).IsSuccess;
    }

    private bool PlaceCancel(StoreKind kind)
    {
        var i = Next();
        var orders = _shops[kind].Orders;
        var placed = Sync.Wait(orders.PlaceOrderAsync(_users[i], _orders[i]));
        return placed.IsSuccess && Sync.Wait(orders.CancelOrderAsync(placed.Value.Id)).IsSuccess;
    }

    // Carts hold at most 4 products, so they stay small however long the benchmark runs.
    private bool CartAdd(StoreKind kind)
    {
        var i = Next();
        return Sync.Wait(_shops[kind].Carts.AddItemAsync(_users[i], new ProductId(1 + (i & 3)), 1)).IsSuccess;
    }

    private int CartView(StoreKind kind) => Sync.Wait(_shops[kind].Carts.GetCartAsync(_users[Next()])).Lines.Count;
}
