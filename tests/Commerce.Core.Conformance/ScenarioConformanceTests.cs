namespace Commerce.Conformance;

/// <summary>Every scenario once, end to end, in the order a host would use them.</summary>
public abstract class ScenarioConformanceTests : CommerceConformanceTests
{
    [StoreFact]
    public async Task Every_scenario_runs_end_to_end()
    {
        using var shop = CreateShop();
        var user = User(1);

        Assert.Equal(Money(1_000), (await shop.Wallets.ChargeAsync(user, Money(1_000))).Value);
        Assert.True((await shop.Catalog.AddProductAsync(Product(1), "Tea", Money(300), 10)).IsSuccess);
        Assert.True((await shop.Catalog.AddProductAsync(Product(2), "Cup", Money(50), 3)).IsSuccess);

        var cart = await shop.Carts.AddItemAsync(user, Product(1), 2);
        Assert.Equal(Money(600), cart.Value.Total);
        cart = await shop.Carts.AddItemAsync(user, Product(2), 1);
        Assert.Equal(Money(650), cart.Value.Total);
        cart = await shop.Carts.RemoveItemAsync(user, Product(2));
        Assert.Equal(Money(600), cart.Value.Total);

        var lines = (await shop.Carts.GetCartAsync(user)).Lines.Select(l => new OrderLineRequest(l.ProductId, l.Quantity)).ToArray();
        var order = await shop.Orders.PlaceOrderAsync(user, lines);
        Assert.True(order.IsSuccess, order.ToString());
        Assert.Equal(Money(400), await shop.Wallets.GetBalanceAsync(user));
        Assert.Equal(8, (await shop.Catalog.GetProductAsync(Product(1))).Value.Stock);
        Assert.Equal(order.Value, (await shop.Orders.GetOrderAsync(order.Value.Id)).Value);

        var popular = Assert.Single(await shop.Ranking.GetPopularProductsAsync());
        Assert.Equal(new PopularProduct(1, Product(1), "Tea", Money(300), 2), popular);
        Assert.Equal([Product(1), Product(2)], (await shop.Catalog.ListProductsAsync()).Select(p => p.Id));
    }
}
