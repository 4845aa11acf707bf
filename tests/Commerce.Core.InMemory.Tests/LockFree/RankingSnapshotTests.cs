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
            (descriptor, i) => ReferenceEquals(descriptor.Updates[i].Cell, shop.InMemoryStore().Sales.Find(new CellKey(bucket, first.Value))),
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
}
