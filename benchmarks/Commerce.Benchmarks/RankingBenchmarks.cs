using BenchmarkDotNet.Attributes;

namespace Commerce.Benchmarks;

/// <summary>
/// The default best-sellers query (top 5 over 3 days, 1-minute buckets) over 10,000 products and
/// 100,000 orders spread evenly over the 3 days before "now", on one worker.
/// </summary>
[MemoryDiagnoser]
public class RankingBenchmarks
{
    public const int Orders = 100_000;
    private Shop? _shop;

    [GlobalSetup(Target = nameof(GlobalLock))]
    public void SetupGlobalLock() => Setup(StoreKind.GlobalLock);

    [GlobalSetup(Target = nameof(PerKeyLock))]
    public void SetupPerKeyLock() => Setup(StoreKind.PerKeyLock);

    [GlobalSetup(Target = nameof(LockFree))]
    public void SetupLockFree() => Setup(StoreKind.LockFree);

    [GlobalCleanup]
    public void Cleanup() => _shop?.Dispose();

    [Benchmark(Baseline = true)]
    public int GlobalLock() => Query();

    [Benchmark]
    public int PerKeyLock() => Query();

    [Benchmark]
    public int LockFree() => Query();

    private int Query() => Sync.Wait(_shop!.Ranking.GetPopularProductsAsync()).Count;

    private void Setup(StoreKind kind)
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var shop = _shop = new Shop(kind, clock);
        var orders = Requests.Orders(11, Orders, hot: false);
        var users = Requests.Users(12, Orders);
        var step = TimeSpan.FromDays(3) / Orders;
        for (var i = 0; i < Orders; i++)
        {
            Sync.Check(shop.Orders.PlaceOrderAsync(users[i], orders[i]));
            clock.Advance(step);
        }

        if (Query() != 5)
        {
            throw new InvalidOperationException("The ranking should list 5 products.");
        }
    }
}

/// <summary>A clock the benchmark moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
