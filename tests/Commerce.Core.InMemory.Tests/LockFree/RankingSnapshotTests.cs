using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>A ranking taken while a multi-product order commits must count all of the order or none of it.</summary>
public sealed class RankingSnapshotTests
{
    [Fact]
    public void A_ranking_never_counts_part_of_an_order()
    {
        using var shop = InMemoryShop.Create();
        var (first, second) = (new ProductId(2), new ProductId(1));
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(first, "First", new Money(1), 10)).IsSuccess);
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(second, "Second", new Money(1), 10)).IsSuccess);
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(new UserId(1), new Money(100))).IsSuccess);
        var bucket = SalesWindow.BucketOf(shop.Time.GetUtcNow(), shop.Options.RankingResolution);

        // Park the order right after it installs in the sales cell of its first line, before the second.
        using var paused = new PausedCommit(
            (descriptor, i) => ReferenceEquals(descriptor.InstalledAt(i), shop.InMemoryStore().Sales.Find(new CellKey(bucket, first.Value))),
            hook =>
            {
                shop.InMemoryStore().AfterInstall = hook;
                return Sync.Run(shop.Orders.PlaceOrderAsync(new UserId(1), [new(first, 1), new(second, 1)])).IsSuccess;
            });
        paused.Start();

        var ranking = PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Ranking.GetPopularProductsAsync()));
        Assert.True(paused.Resume());

        var counted = ranking.Select(p => p.ProductId).Order().ToArray();
        Assert.True(counted.Length is 0 or 2, $"The ranking counted only part of the order: {string.Join(", ", ranking)}");
    }

    [Fact]
    public void A_ranking_never_counts_part_of_an_order_whose_committing_thread_died_on_the_way()
    {
        using var shop = InMemoryShop.Create();
        var (first, second) = (new ProductId(2), new ProductId(1));
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(first, "First", new Money(1), 10)).IsSuccess);
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(second, "Second", new Money(1), 10)).IsSuccess);
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(new UserId(1), new Money(100))).IsSuccess);
        var bucket = SalesWindow.BucketOf(shop.Time.GetUtcNow(), shop.Options.RankingResolution);
        var store = shop.InMemoryStore();

        // The order's thread dies right after it installs in the sales cell of its first line, before the second:
        // its descriptor stays undecided in the cells it reached, for whoever meets it to decide.
        store.AfterInstall = (descriptor, i) =>
        {
            if (ReferenceEquals(descriptor.InstalledAt(i), store.Sales.Find(new CellKey(bucket, first.Value))))
            {
                throw new InvalidOperationException("The committing thread dies here.");
            }
        };
        Assert.Throws<InvalidOperationException>(() => Sync.Run(shop.Orders.PlaceOrderAsync(new UserId(1), [new(first, 1), new(second, 1)])));
        store.AfterInstall = null;

        // The first ranking meets the order and helps it to its decision; neither it nor a later one counts part of it.
        var during = Sync.Run(shop.Ranking.GetPopularProductsAsync());
        Assert.True(during.Count is 0 or 2, $"The ranking counted only part of the order: {string.Join(", ", during)}");
        Assert.Equal(9, Sync.Run(shop.Catalog.GetProductAsync(second)).Value.Stock); // decided: it succeeded
        var after = Sync.Run(shop.Ranking.GetPopularProductsAsync());
        Assert.Equal([(second, 1L), (first, 1L)], after.Select(p => (p.ProductId, p.QuantitySold)).OrderBy(p => p.ProductId.Value));
    }
}
