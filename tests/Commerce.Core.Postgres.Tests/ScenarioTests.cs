using Commerce.Postgres.Tests.Support;

namespace Commerce.Postgres.Tests;

/// <summary>Every use case end to end on PostgreSQL.</summary>
public sealed class ScenarioTests
{
    private static readonly UserId Alice = new(1);
    private static readonly ProductId Apple = new(10);
    private static readonly ProductId Pear = new(20);

    [PostgresFact]
    public async Task Charging_a_wallet_adds_to_its_balance_and_is_stored()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.Equal(new Money(0), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(new Money(500), (await shop.Wallets.ChargeAsync(Alice, new Money(500))).Value);
        Assert.Equal(new Money(800), (await shop.Wallets.ChargeAsync(Alice, new Money(300))).Value);
        Assert.Equal(new Money(800), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(800L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets WHERE user_id = 1"));
    }

    [PostgresFact]
    public async Task A_refused_charge_changes_nothing()
    {
        await using var shop = await PgShop.CreateAsync(o => o.MaxBalance = new Money(1000));
        await shop.Wallets.ChargeAsync(Alice, new Money(900));
        var refused = await shop.Wallets.ChargeAsync(Alice, new Money(200));
        Assert.Equal(CommerceErrorCode.BalanceLimitExceeded, refused.Error!.Code);
        Assert.Equal(CommerceErrorCode.InvalidAmount, (await shop.Wallets.ChargeAsync(Alice, new Money(-1))).Error!.Code);
        Assert.Equal(new Money(900), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT version FROM {s}.wallets WHERE user_id = 1"));
    }

    [PostgresFact]
    public async Task Adding_a_product_stores_it_with_its_stock_and_a_duplicate_id_is_refused()
    {
        await using var shop = await PgShop.CreateAsync();
        var added = await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        Assert.True(added.IsSuccess);
        var duplicate = await shop.Catalog.AddProductAsync(Apple, "Other", new Money(1), 1);
        Assert.Equal(CommerceErrorCode.ProductAlreadyExists, duplicate.Error!.Code);
        Assert.Equal(new ProductSummary(Apple, "Apple", new Money(30), 5), (await shop.Catalog.GetProductAsync(Apple)).Value);
        Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.Catalog.GetProductAsync(Pear)).Error!.Code);
    }

    [PostgresFact]
    public async Task Restocking_adds_to_the_stock_and_an_unknown_product_is_refused()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        Assert.Equal(12, (await shop.Catalog.RestockAsync(Apple, 7)).Value.Stock);
        Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.Catalog.RestockAsync(Pear, 1)).Error!.Code);
        Assert.Equal(12, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
    }

    [PostgresFact]
    public async Task Listing_pages_through_products_in_id_order()
    {
        await using var shop = await PgShop.CreateAsync();
        foreach (var id in new long[] { 5, 1, 4, 2, 3, long.MinValue })
        {
            await shop.Catalog.AddProductAsync(new ProductId(id), "P" + id, new Money(id == long.MinValue ? 0 : id), (int)(id & 7));
        }

        var first = await shop.Catalog.ListProductsAsync(null, 3);
        Assert.Equal(new long[] { long.MinValue, 1, 2 }, first.Select(p => p.Id.Value));
        Assert.Equal(2, first[2].Stock);
        var second = await shop.Catalog.ListProductsAsync(first[^1].Id, 3);
        Assert.Equal(new long[] { 3, 4, 5 }, second.Select(p => p.Id.Value));
        Assert.Empty(await shop.Catalog.ListProductsAsync(second[^1].Id, 3));
        Assert.Empty(await shop.Catalog.ListProductsAsync(new ProductId(long.MaxValue), 3));
    }

    [PostgresFact]
    public async Task A_placed_order_debits_the_wallet_deducts_stock_and_reads_back_exactly()
    {
        await using var shop = await PgShop.CreateAsync();
        shop.Time.Advance(TimeSpan.FromTicks(1_234_567));
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(50), 5);
        await shop.Wallets.ChargeAsync(Alice, new Money(1000));

        var placed = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2), new(Pear, 1), new(Apple, 1)]);

        Assert.True(placed.IsSuccess);
        Assert.Equal(new Money(140), placed.Value.Total);
        Assert.Equal(new Money(860), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(2, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(4, (await shop.Catalog.GetProductAsync(Pear)).Value.Stock);
        var read = await shop.Orders.GetOrderAsync(placed.Value.Id);
        Assert.Equal(placed.Value, read.Value);
        Assert.Equal(placed.Value.PlacedAt.UtcTicks, read.Value.PlacedAt.UtcTicks);
        Assert.Equal(CommerceErrorCode.OrderNotFound, (await shop.Orders.GetOrderAsync(new OrderId(Guid.NewGuid()))).Error!.Code);
    }

    [PostgresFact]
    public async Task Each_refused_order_changes_nothing()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 2);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));

        Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.Orders.PlaceOrderAsync(Alice, [new(Pear, 1)])).Error!.Code);
        Assert.Equal(CommerceErrorCode.InsufficientBalance, (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 4)])).Error!.Code);
        Assert.Equal(CommerceErrorCode.InsufficientStock, (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 3)])).Error!.Code);
        Assert.Equal(CommerceErrorCode.InsufficientBalance, (await shop.Orders.PlaceOrderAsync(new UserId(2), [new(Apple, 1)])).Error!.Code);
        Assert.Equal(CommerceErrorCode.EmptyOrder, (await shop.Orders.PlaceOrderAsync(Alice, [])).Error!.Code);
        Assert.Equal(CommerceErrorCode.InvalidQuantity, (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 0)])).Error!.Code);

        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(2, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.sales"));
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync());
    }

    [PostgresFact]
    public async Task The_ranking_counts_units_in_the_window_best_first_ties_by_lower_id()
    {
        await using var shop = await PgShop.CreateAsync();
        var user = new UserId(7);
        await shop.Wallets.ChargeAsync(user, new Money(1_000_000));
        for (var id = 1; id <= 4; id++)
        {
            await shop.Catalog.AddProductAsync(new ProductId(id), "P" + id, new Money(id), 1000);
        }

        await shop.Orders.PlaceOrderAsync(user, [new(new ProductId(1), 9)]); // leaves the window later
        shop.Time.Advance(TimeSpan.FromDays(2));
        await shop.Orders.PlaceOrderAsync(user, [new(new ProductId(2), 3), new(new ProductId(3), 5)]);
        shop.Time.Advance(TimeSpan.FromDays(1.5));
        await shop.Orders.PlaceOrderAsync(user, [new(new ProductId(4), 3), new(new ProductId(3), 1)]);

        var ranking = await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromDays(3));

        Assert.Equal(
            [new PopularProduct(1, new ProductId(3), "P3", new Money(3), 6), new PopularProduct(2, new ProductId(2), "P2", new Money(2), 3), new PopularProduct(3, new ProductId(4), "P4", new Money(4), 3)],
            ranking);
        Assert.Single(await shop.Ranking.GetPopularProductsAsync(1, TimeSpan.FromDays(3)));
        Assert.Equal(4, (await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromDays(10))).Count);
    }

    [PostgresFact]
    public async Task A_cart_keeps_its_lines_in_order_and_removing_a_missing_item_is_refused()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(50), 5);

        Assert.Empty((await shop.Carts.GetCartAsync(Alice)).Lines);
        await shop.Carts.AddItemAsync(Alice, Pear, 1);
        await shop.Carts.AddItemAsync(Alice, Apple, 2);
        var view = (await shop.Carts.AddItemAsync(Alice, Pear, 2)).Value;
        Assert.Equal([(Pear, 3), (Apple, 2)], view.Lines.Select(l => (l.ProductId, l.Quantity)));
        Assert.Equal(new Money(210), view.Total);
        Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.Carts.AddItemAsync(Alice, new ProductId(99), 1)).Error!.Code);

        await shop.Carts.RemoveItemAsync(Alice, Pear);
        Assert.Equal(CommerceErrorCode.CartItemNotFound, (await shop.Carts.RemoveItemAsync(Alice, Pear)).Error!.Code);
        var stored = await shop.Carts.GetCartAsync(Alice);
        Assert.Equal([(Apple, 2)], stored.Lines.Select(l => (l.ProductId, l.Quantity)));
    }
}
