using Commerce.Tests.Support;

namespace Commerce.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Every_scenario_runs_end_to_end()
    {
        using var shop = new Shop();
        var user = new UserId(1);
        Assert.Equal(new Money(1000), (await shop.Wallets.ChargeAsync(user, new Money(1000))).Value);
        Assert.True((await shop.Catalog.AddProductAsync(new ProductId(1), "Tea", new Money(300), 10)).IsSuccess);
        var order = await shop.Orders.PlaceOrderAsync(user, [new OrderLineRequest(new ProductId(1), 2)]);
        Assert.True(order.IsSuccess, order.ToString());
        Assert.Equal(new Money(400), await shop.Wallets.GetBalanceAsync(user));
        Assert.Equal(8, (await shop.Catalog.GetProductAsync(new ProductId(1))).Value.Stock);
        var popular = await shop.Ranking.GetPopularProductsAsync();
        Assert.Equal(2, Assert.Single(popular).QuantitySold);
        var cart = await shop.Carts.AddItemAsync(user, new ProductId(1), 3);
        Assert.Equal(new Money(900), cart.Value.Total);
        Assert.Equal(order.Value, (await shop.Orders.GetOrderAsync(order.Value.Id)).Value);
        Assert.Single(await shop.Catalog.ListProductsAsync());
    }
}
