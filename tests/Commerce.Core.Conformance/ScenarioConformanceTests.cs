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

    [StoreFact]
    public async Task A_clock_set_back_and_jumped_ahead_between_orders_keeps_orders_listing_ranking_and_money_right()
    {
        // Orders placed while the clock steps back a day (twice in one millisecond), jumps two days ahead, and is
        // set right: ids stay distinct and found, the listing follows the order of placement, cancels of orders
        // whose buckets lie before or after the clock's now take their units out of those buckets, and money and
        // stock add up.
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 100, "Tea");
        await shop.AddProductAsync(2, 20, 100, "Cup");
        await shop.ChargeAsync(1, 10_000);
        var start = TestClock.Start;
        DateTimeOffset[] instants = [start, start.AddHours(1), start.AddDays(-1), start.AddDays(-1), start.AddDays(2), start.AddMinutes(5)];
        var placed = new List<Order>();
        foreach (var instant in instants)
        {
            shop.Time.AdjustTime(instant);
            placed.Add(await shop.PlacedAsync(1, (1, 1), (2, 1)));
        }

        Assert.Equal(placed.Count, placed.Select(o => o.Id).Distinct().Count());
        foreach (var order in placed)
        {
            Assert.Equal(order, (await shop.Orders.GetOrderAsync(order.Id)).Value);
        }

        Assert.Equal(placed.Select(o => o.Id).Reverse(), (await shop.Orders.ListOrdersAsync(User(1))).Select(o => o.Id));

        // At start + 5 minutes: the orders of an hour and of two days later are stamped after the window's end.
        Assert.True((await shop.Orders.CancelOrderAsync(placed[0].Id)).IsSuccess);
        Assert.True((await shop.Orders.CancelOrderAsync(placed[4].Id)).IsSuccess);
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 3, [Product(2)] = 3 }, await shop.SoldAsync());

        shop.Time.AdjustTime(start.AddDays(2).AddMinutes(1));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 4, [Product(2)] = 4 }, await shop.SoldAsync());
        Assert.Equal(Money(10_000 - (4 * 30)), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(96, await shop.StockOfAsync(1));
        Assert.Equal(96, await shop.StockOfAsync(2));
        Assert.Equal(placed.Count + 3, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }
}
