namespace Commerce.Conformance;

/// <summary>Listing a user's orders through <see cref="IOrderService.ListOrdersAsync"/>: newest first, cancelled ones included, up to a limit.</summary>
public abstract class OrderListingConformanceTests : CommerceConformanceTests
{
    private async Task<Shop> StockedShopAsync()
    {
        var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 1_000);
        await shop.AddProductAsync(2, 0, 1_000);
        await shop.ChargeAsync(1, 10_000);
        await shop.ChargeAsync(2, 10_000);
        return shop;
    }

    [StoreFact]
    public async Task A_user_without_orders_lists_none()
    {
        using var shop = await StockedShopAsync();

        Assert.Empty(await shop.Orders.ListOrdersAsync(User(1)));
        Assert.Empty(await shop.Orders.ListOrdersAsync(User(99), 1000));
    }

    [StoreFact]
    public async Task Orders_are_listed_newest_first_and_only_the_buyers()
    {
        using var shop = await StockedShopAsync();
        var placed = new List<Order>();
        for (var i = 1; i <= 5; i++)
        {
            placed.Add(await shop.PlacedAsync(1, (1, i)));
            await shop.PlacedAsync(2, (1, 1));
            await shop.ChargeAsync(1, 1);
            shop.Time.Advance(TimeSpan.FromSeconds(1));
        }

        var listed = await shop.Orders.ListOrdersAsync(User(1));

        Assert.Equal(placed.AsEnumerable().Reverse(), listed);
        Assert.All(listed, o => Assert.Equal(User(1), o.UserId));
        Assert.Equal(5, (await shop.Orders.ListOrdersAsync(User(2))).Count);
    }

    [StoreFact]
    public async Task The_limit_keeps_the_newest_orders()
    {
        using var shop = await StockedShopAsync();
        var placed = new List<Order>();
        for (var i = 1; i <= 30; i++)
        {
            placed.Add(await shop.PlacedAsync(1, (1, 1)));
            if (i % 4 == 0)
            {
                await shop.ChargeAsync(1, 3);
            }
        }

        var newest = placed.AsEnumerable().Reverse().ToList();
        Assert.Equal(newest.Take(20), await shop.Orders.ListOrdersAsync(User(1)));
        Assert.Equal(newest.Take(1), await shop.Orders.ListOrdersAsync(User(1), 1));
        Assert.Equal(newest.Take(7), await shop.Orders.ListOrdersAsync(User(1), 7));
        Assert.Equal(newest, await shop.Orders.ListOrdersAsync(User(1), 1000));
    }

    [StoreFact]
    public async Task Cancelled_orders_are_listed_where_they_were_placed_with_their_status()
    {
        using var shop = await StockedShopAsync();
        var first = await shop.PlacedAsync(1, (1, 1));
        var second = await shop.PlacedAsync(1, (1, 2));
        var third = await shop.PlacedAsync(1, (1, 3));

        var cancelled = (await shop.Orders.CancelOrderAsync(second.Id)).Value;

        Assert.Equal([third, cancelled, first], await shop.Orders.ListOrdersAsync(User(1)));
    }

    [StoreFact]
    public async Task Checked_out_and_keyed_orders_are_listed_once()
    {
        using var shop = await StockedShopAsync();
        var keyed = (await shop.KeyedOrderAsync(1, new IdempotencyKey("k"), (1, 1))).Value;
        await shop.KeyedOrderAsync(1, new IdempotencyKey("k"), (1, 1));
        await shop.AddToCartAsync(1, 1, 2);
        var checkedOut = (await shop.Carts.CheckoutAsync(User(1))).Value;

        Assert.Equal([checkedOut, keyed], await shop.Orders.ListOrdersAsync(User(1)));
    }

    /// <remarks>A free order moves no money, but it is an order all the same (its payment entry has a zero amount).</remarks>
    [StoreFact]
    public async Task Free_orders_are_listed_too()
    {
        using var shop = await StockedShopAsync();
        var paid = await shop.PlacedAsync(1, (1, 1));
        var free = await shop.PlacedAsync(1, (2, 1));
        var freeForNewUser = await shop.PlacedAsync(3, (2, 1));

        Assert.Equal([free, paid], await shop.Orders.ListOrdersAsync(User(1)));
        Assert.Equal([freeForNewUser], await shop.Orders.ListOrdersAsync(User(3)));
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public async Task A_limit_outside_1_to_1000_throws_ArgumentOutOfRangeException(int limit)
    {
        using var shop = await StockedShopAsync();
        await shop.PlacedAsync(1, (1, 1));

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await shop.Orders.ListOrdersAsync(User(1), limit));
    }
}
