using Commerce.Conformance;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A commit that fails only because adjusted stock or sales counts moved on (another order for the same
/// product got there first) is retried by the store with the counts recomputed, without running its use
/// case again; one whose adjustment's guard no longer holds fails, and the use case refuses on its re-run.
/// </summary>
public sealed class CommutativeRetryTests
{
    private static readonly ProductId Hot = new(1);
    private static readonly UserId Alice = new(1);
    private static readonly UserId Bob = new(2);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_order_whose_product_another_order_took_from_meanwhile_commits_in_its_one_attempt(bool publishEvents)
    {
        // A single attempt: only the store's own retry can save the commit.
        using var shop = InMemoryShop.Create(o =>
        {
            o.MaxCommitAttempts = 1;
            o.PublishEvents = publishEvents;
        });
        Seed(shop, stock: 10);
        var casAttempts = BobOrdersThreeBeforeTheFirstCas(shop);

        var placed = Sync.Run(shop.Orders.PlaceOrderAsync(Alice, [new(Hot, 2)]));

        Assert.True(placed.IsSuccess, placed.IsFailure ? placed.Error.Message : null);
        Assert.Equal(3, casAttempts()); // Alice's first CAS, Bob's, Alice's retry in the store
        Assert.Equal(5, Sync.Run(shop.Catalog.GetProductAsync(Hot)).Value.Stock);
        Assert.Equal(new Money(100 - 20), Sync.Run(shop.Wallets.GetBalanceAsync(Alice)));
        Assert.Equal(new Money(100 - 30), Sync.Run(shop.Wallets.GetBalanceAsync(Bob)));
        var ranking = Sync.Run(shop.Ranking.GetPopularProductsAsync());
        Assert.Equal(5, Assert.Single(ranking).QuantitySold);
    }

    [Fact]
    public void An_order_whose_stock_ran_short_meanwhile_is_refused_on_its_re_run_and_nothing_of_it_applies()
    {
        using var shop = InMemoryShop.Create(o => o.MaxCommitAttempts = 2);
        Seed(shop, stock: 4);
        BobOrdersThreeBeforeTheFirstCas(shop);

        var placed = Sync.Run(shop.Orders.PlaceOrderAsync(Alice, [new(Hot, 2)]));

        Assert.Equal(CommerceErrorCode.InsufficientStock, placed.Error?.Code);
        Assert.Equal(1, Sync.Run(shop.Catalog.GetProductAsync(Hot)).Value.Stock);
        Assert.Equal(new Money(100), Sync.Run(shop.Wallets.GetBalanceAsync(Alice)));
        Assert.Equal(LedgerEntryKind.Charge, Assert.Single(Sync.Run(shop.Wallets.GetLedgerAsync(Alice))).Kind); // the charge only
    }

    [Fact]
    public void Concurrent_orders_for_one_product_with_a_single_attempt_each_never_conflict_and_sell_exactly_what_they_say()
    {
        // Distinct buyers, one product: only stock and sales counts are shared, and the store retries those.
        const int Threads = 4;
        const int OrdersPerThread = 500;
        using var shop = InMemoryShop.Create(o => o.MaxCommitAttempts = 1);
        // Ten units more than are sold: no order takes the last unit (a checked write, which is not retried in the store).
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(Hot, "Hot", new Money(1), (Threads * OrdersPerThread) + 10)).IsSuccess);
        for (var t = 0; t < Threads; t++)
        {
            Assert.True(Sync.Run(shop.Wallets.ChargeAsync(new UserId(10 + t), new Money(OrdersPerThread))).IsSuccess);
        }

        RealThreads.RunTogether(Threads, t =>
        {
            for (var i = 0; i < OrdersPerThread; i++)
            {
                var placed = Sync.Run(shop.Orders.PlaceOrderAsync(new UserId(10 + t), [new(Hot, 1)]));
                Assert.True(placed.IsSuccess, placed.IsFailure ? placed.Error.Message : null);
            }
        });

        Assert.Equal(10, Sync.Run(shop.Catalog.GetProductAsync(Hot)).Value.Stock);
        Assert.Equal(Threads * OrdersPerThread, Assert.Single(Sync.Run(shop.Ranking.GetPopularProductsAsync())).QuantitySold);
        Assert.All(Enumerable.Range(0, Threads), t => Assert.Equal(Money.Zero, Sync.Run(shop.Wallets.GetBalanceAsync(new UserId(10 + t)))));
    }

    /// <summary>
    /// Once, right before the first CAS of the shop's next commit: Bob's order for three of the hot product
    /// commits (on its own thread, as a commit uses its thread's scratch). Returns the CAS attempts seen.
    /// </summary>
    private static Func<int> BobOrdersThreeBeforeTheFirstCas(Shop shop)
    {
        var casAttempts = 0;
        shop.InMemoryStore().BeforeCas = () =>
        {
            if (Interlocked.Increment(ref casAttempts) == 1)
            {
                Assert.True(PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Orders.PlaceOrderAsync(Bob, [new(Hot, 3)]))).IsSuccess);
            }
        };
        return () => Volatile.Read(ref casAttempts);
    }

    private static void Seed(Shop shop, int stock)
    {
        shop.AddProductAsync(Hot.Value, 10, stock, "Hot").GetAwaiter().GetResult();
        shop.ChargeAsync(Alice.Value, 100).GetAwaiter().GetResult();
        shop.ChargeAsync(Bob.Value, 100).GetAwaiter().GetResult();
    }
}
