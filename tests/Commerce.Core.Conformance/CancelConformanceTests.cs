namespace Commerce.Conformance;

/// <summary>
/// Cancelling orders through <see cref="IOrderService.CancelOrderAsync"/>: refund, restock and ranking in
/// one commit; all or nothing; a cancelled order stays readable and listed.
/// </summary>
public abstract class CancelConformanceTests : CommerceConformanceTests
{
    /// <summary>Two products (1 at 300, 10 in stock; 2 at 125, 4 in stock) and users 1 and 2 with 2,000 each.</summary>
    private async Task<Shop> StockedShopAsync(Action<CommerceOptions>? configure = null)
    {
        var shop = CreateShop(configure);
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.AddProductAsync(2, 125, 4, "Cup");
        await shop.ChargeAsync(1, 2_000);
        await shop.ChargeAsync(2, 2_000);
        return shop;
    }

    [StoreFact]
    public async Task A_cancel_refunds_restocks_takes_the_units_out_of_the_ranking_and_marks_the_order()
    {
        using var shop = await StockedShopAsync();
        var kept = await shop.PlacedAsync(2, (1, 1));
        var order = await shop.PlacedAsync(1, (1, 2), (2, 3));
        shop.Time.Advance(TimeSpan.FromSeconds(90));

        var cancelled = await shop.Orders.CancelOrderAsync(order.Id);

        Assert.Equal(OrderStatus.Cancelled, cancelled.Value.Status);
        Assert.Equal(shop.Time.GetUtcNow(), cancelled.Value.CancelledAt);
        Assert.Equal(order.Id, cancelled.Value.Id);
        Assert.Equal(order.UserId, cancelled.Value.UserId);
        Assert.Equal(order.Lines, cancelled.Value.Lines);
        Assert.Equal(order.Total, cancelled.Value.Total);
        Assert.Equal(order.PlacedAt, cancelled.Value.PlacedAt);
        Assert.Equal(Money(2_000), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(Money(1_700), await shop.Wallets.GetBalanceAsync(User(2)));
        Assert.Equal(9, await shop.StockOfAsync(1));
        Assert.Equal(4, await shop.StockOfAsync(2));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 1 }, await shop.SoldAsync());
        Assert.Equal(OrderStatus.Placed, (await shop.Orders.GetOrderAsync(kept.Id)).Value.Status);
    }

    [StoreFact]
    public async Task A_cancelled_order_reads_back_with_its_status_and_time_and_is_still_listed()
    {
        using var shop = await StockedShopAsync();
        var order = await shop.PlacedAsync(1, (1, 1));
        shop.Time.Advance(TimeSpan.FromMinutes(2));
        var cancelled = (await shop.Orders.CancelOrderAsync(order.Id)).Value;

        var read = (await shop.Orders.GetOrderAsync(order.Id)).Value;

        Assert.Equal(cancelled, read);
        Assert.Equal(OrderStatus.Cancelled, read.Status);
        Assert.Equal(order.PlacedAt.AddMinutes(2), read.CancelledAt);
        Assert.NotEqual(order, read);
        var listed = Assert.Single(await shop.Orders.ListOrdersAsync(User(1)));
        Assert.Equal(cancelled, listed);
        Assert.Equal(OrderStatus.Cancelled, listed.Status);
    }

    [StoreFact]
    public async Task A_placed_order_has_status_Placed_and_no_cancel_time()
    {
        using var shop = await StockedShopAsync();

        var order = await shop.PlacedAsync(1, (1, 1));

        Assert.Equal(OrderStatus.Placed, order.Status);
        Assert.Null(order.CancelledAt);
        Assert.Equal(OrderStatus.Placed, (await shop.Orders.GetOrderAsync(order.Id)).Value.Status);
    }

    [StoreFact]
    public async Task Cancelling_twice_is_OrderAlreadyCancelled_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        var order = await shop.PlacedAsync(1, (1, 2));
        var cancelled = (await shop.Orders.CancelOrderAsync(order.Id)).Value;
        shop.Time.Advance(TimeSpan.FromMinutes(1));
        var before = await shop.DescribeAllAsync(1, 2);

        AssertFails(await shop.Orders.CancelOrderAsync(order.Id), CommerceErrorCode.OrderAlreadyCancelled);

        Assert.Equal(before, await shop.DescribeAllAsync(1, 2));
        Assert.Equal(cancelled.CancelledAt, (await shop.Orders.GetOrderAsync(order.Id)).Value.CancelledAt);
    }

    [StoreFact]
    public async Task Cancelling_an_unknown_order_is_OrderNotFound_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        await shop.PlacedAsync(1, (1, 2));
        var before = await shop.DescribeAllAsync(1, 2);

        AssertFails(await shop.Orders.CancelOrderAsync(new OrderId(Guid.NewGuid())), CommerceErrorCode.OrderNotFound);
        AssertFails(await shop.Orders.CancelOrderAsync(default), CommerceErrorCode.OrderNotFound);

        Assert.Equal(before, await shop.DescribeAllAsync(1, 2));
    }

    [StoreFact]
    public async Task A_refund_above_the_maximum_balance_is_BalanceLimitExceeded_and_changes_nothing()
    {
        using var shop = CreateShop(o => o.MaxBalance = Money(1_000));
        await shop.AddProductAsync(1, 300, 10);
        await shop.ChargeAsync(1, 1_000);
        var order = await shop.PlacedAsync(1, (1, 1));
        await shop.ChargeAsync(1, 200);
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Orders.CancelOrderAsync(order.Id), CommerceErrorCode.BalanceLimitExceeded);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(OrderStatus.Placed, (await shop.Orders.GetOrderAsync(order.Id)).Value.Status);

        // Once the balance leaves room for the refund, the cancel goes through.
        await shop.PlacedAsync(1, (1, 1));
        Assert.True((await shop.Orders.CancelOrderAsync(order.Id)).IsSuccess);
        Assert.Equal(Money(900), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_restock_that_would_overflow_is_InvalidQuantity_and_changes_nothing()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, int.MaxValue - 5);
        await shop.AddProductAsync(2, 20, 5);
        await shop.ChargeAsync(1, 1_000);
        var order = await shop.PlacedAsync(1, (2, 1), (1, 3));
        Assert.True((await shop.Catalog.RestockAsync(Product(1), 8)).IsSuccess);
        Assert.Equal(int.MaxValue, await shop.StockOfAsync(1));
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Orders.CancelOrderAsync(order.Id), CommerceErrorCode.InvalidQuantity);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(4, await shop.StockOfAsync(2));
        Assert.Equal(OrderStatus.Placed, (await shop.Orders.GetOrderAsync(order.Id)).Value.Status);
    }

    [StoreFact]
    public async Task Cancelling_a_free_order_restocks_and_moves_no_money()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 0, 5);
        var order = await shop.PlacedAsync(7, (1, 2));

        var cancelled = await shop.Orders.CancelOrderAsync(order.Id);

        Assert.Equal(OrderStatus.Cancelled, cancelled.Value.Status);
        Assert.Equal(5, await shop.StockOfAsync(1));
        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(7)));
        var payment = Assert.Single(await shop.LedgerOfAsync(7)); // the free order's zero payment; no refund
        Assert.Equal((LedgerEntryKind.Payment, Money(0)), (payment.Kind, payment.Amount));
        Assert.Empty(await shop.SoldAsync());
    }

    [StoreFact]
    public async Task The_restocked_units_can_be_bought_again()
    {
        using var shop = await StockedShopAsync();
        var order = await shop.PlacedAsync(1, (2, 4));
        AssertFails(await shop.OrderAsync(2, (2, 1)), CommerceErrorCode.InsufficientStock);

        await shop.Orders.CancelOrderAsync(order.Id);

        Assert.Equal(Money(500), (await shop.PlacedAsync(2, (2, 4))).Total);
        Assert.Equal(0, await shop.StockOfAsync(2));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(2)] = 4 }, await shop.SoldAsync());
    }

    [StoreFact]
    public async Task A_cancel_takes_units_out_of_the_bucket_the_order_was_placed_in()
    {
        using var shop = await StockedShopAsync();
        var early = await shop.PlacedAsync(1, (1, 2));
        shop.Time.Advance(TimeSpan.FromMinutes(30));
        await shop.PlacedAsync(2, (1, 3));
        shop.Time.Advance(TimeSpan.FromMinutes(30));

        await shop.Orders.CancelOrderAsync(early.Id);

        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 3 }, await shop.SoldAsync());
        var lastHalfHour = await shop.Ranking.GetPopularProductsAsync(10, TimeSpan.FromMinutes(31));
        Assert.Equal(3, Assert.Single(lastHalfHour).QuantitySold);
    }

    [StoreFact]
    public async Task A_product_whose_every_sale_was_cancelled_leaves_the_ranking()
    {
        using var shop = await StockedShopAsync();
        var first = await shop.PlacedAsync(1, (1, 1), (2, 1));
        var second = await shop.PlacedAsync(2, (2, 2));

        await shop.Orders.CancelOrderAsync(second.Id);
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 1, [Product(2)] = 1 }, await shop.SoldAsync());
        await shop.Orders.CancelOrderAsync(first.Id);

        Assert.Empty(await shop.SoldAsync());
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync());
    }

    [StoreFact]
    public async Task A_cancel_reorders_the_ranking_and_a_short_top_list_follows()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 1, 100);
        await shop.AddProductAsync(2, 1, 100);
        await shop.AddProductAsync(3, 1, 100);
        await shop.ChargeAsync(1, 1_000);
        var big = await shop.PlacedAsync(1, (1, 8));
        await shop.PlacedAsync(1, (1, 1), (2, 5), (3, 3));
        Assert.Equal([Product(1), Product(2)], (await shop.Ranking.GetPopularProductsAsync(2, TimeSpan.FromHours(1))).Select(p => p.ProductId));

        await shop.Orders.CancelOrderAsync(big.Id);

        Assert.Equal(
            [(Product(2), 5L), (Product(3), 3L)],
            (await shop.Ranking.GetPopularProductsAsync(2, TimeSpan.FromHours(1))).Select(p => (p.ProductId, p.QuantitySold)));
        Assert.Equal(
            [(1, Product(2), 5L), (2, Product(3), 3L), (3, Product(1), 1L)],
            (await shop.Ranking.GetPopularProductsAsync(10, TimeSpan.FromHours(1))).Select(p => (p.Rank, p.ProductId, p.QuantitySold)));
    }

    [StoreFact]
    public async Task A_cancel_cancelled_before_it_starts_throws_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        var order = await shop.PlacedAsync(1, (1, 1));
        var before = await shop.DescribeAllAsync(1);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Orders.CancelOrderAsync(order.Id, cancelled.Token));

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreFact]
    public async Task Cancelling_a_checked_out_order_refunds_it_and_leaves_the_cart_alone()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 2, 2);
        var order = (await shop.Carts.CheckoutAsync(User(1))).Value;
        await shop.AddToCartAsync(1, 1, 1);

        await shop.Orders.CancelOrderAsync(order.Id);

        Assert.Equal(Money(2_000), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(4, await shop.StockOfAsync(2));
        Assert.Equal(Product(1), Assert.Single((await shop.Carts.GetCartAsync(User(1))).Lines).ProductId);
    }
}
