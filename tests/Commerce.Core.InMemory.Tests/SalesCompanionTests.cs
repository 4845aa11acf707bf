using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A stock cell keeps its product's sales count cell of the bucket its orders wrote last (its companion), so
/// that an order's commit finds it without a lookup; a commit whose bucket is another one (the next minute,
/// or a cancel of an older order) looks its cell up instead, and counts land in their own buckets.
/// </summary>
public sealed class SalesCompanionTests
{
    private static readonly ProductId Product = new(1);

    [Fact]
    public async Task Each_order_and_cancel_counts_in_its_own_bucket_whichever_bucket_the_companion_is()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(Product.Value, 10, 1_000);
        await shop.ChargeAsync(1, 100_000);
        var store = shop.InMemoryStore();
        var resolution = shop.Options.RankingResolution;
        var stock = (StockCell)MultiWordCas.Read(store.Inventory.Find(new CellKey(0, Product.Value))!); // the stock cell its keyed cell holds
        var first = SalesWindow.BucketOf(shop.Time.GetUtcNow(), resolution);

        var cancelled = (await shop.OrderAsync(1, (Product.Value, 2))).Value; // creates the bucket's cell
        Assert.True((await shop.OrderAsync(1, (Product.Value, 1))).IsSuccess); // finds it, keeps it as the companion
        Assert.Equal(new CellKey(first, Product.Value), stock.Companion?.Key);
        Assert.True((await shop.OrderAsync(1, (Product.Value, 1))).IsSuccess); // through the companion
        Assert.Equal(4, SoldIn(store, first));

        shop.Time.Advance(resolution);
        var second = first + 1;
        Assert.True((await shop.OrderAsync(1, (Product.Value, 5))).IsSuccess); // the companion is the first bucket's
        Assert.True((await shop.OrderAsync(1, (Product.Value, 1))).IsSuccess);
        Assert.Equal(new CellKey(second, Product.Value), stock.Companion?.Key);
        Assert.True((await shop.Orders.CancelOrderAsync(cancelled.Id)).IsSuccess); // adjusts the first bucket
        Assert.True((await shop.OrderAsync(1, (Product.Value, 1))).IsSuccess);

        Assert.Equal(2, SoldIn(store, first));
        Assert.Equal(7, SoldIn(store, second));
        Assert.Equal(9, Assert.Single(await shop.Ranking.GetPopularProductsAsync()).QuantitySold);
        Assert.Equal(1_000 - 9, await shop.StockOfAsync(Product.Value));
    }

    private static long SoldIn(InMemoryCommerceStore store, long bucket) =>
        store.Sales.Bucket(bucket)!.Cells.Single(pair => pair.Key == Product.Value).Value.Count;
}
