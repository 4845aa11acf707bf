using Commerce.Tests.Support;

namespace Commerce.Tests;

public sealed class ConcurrencySmokeTests
{
    [Fact]
    public async Task More_buyers_than_stock_sell_exactly_the_stock()
    {
        using var shop = new Shop();
        var product = new ProductId(7);
        await shop.Catalog.AddProductAsync(product, "Scarce", new Money(10), 100);
        for (var u = 0; u < 1000; u++)
        {
            await shop.Wallets.ChargeAsync(new UserId(u), new Money(100));
        }

        var results = new Result<Order>[1000];
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            for (var u = t; u < 1000; u += 8)
            {
                results[u] = shop.Orders.PlaceOrderAsync(new UserId(u), [new OrderLineRequest(product, 1)]).AsTask().GetAwaiter().GetResult();
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(100, results.Count(r => r.IsSuccess));
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.InsufficientStock, r.Error!.Code));
        Assert.Equal(0, (await shop.Catalog.GetProductAsync(product)).Value.Stock);
        Assert.Equal(100, Assert.Single(await shop.Ranking.GetPopularProductsAsync()).QuantitySold);
    }

    [Fact]
    public async Task Concurrent_charges_on_one_wallet_lose_nothing()
    {
        using var shop = new Shop();
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (var i = 0; i < 5000; i++)
            {
                shop.Wallets.ChargeAsync(new UserId(1), new Money(1)).AsTask().GetAwaiter().GetResult();
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(new Money(20000), await shop.Wallets.GetBalanceAsync(new UserId(1)));
    }
}
