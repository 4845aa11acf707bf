using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Conformance;

/// <summary>
/// Checking out carts through <see cref="ICartService.CheckoutAsync(UserId, CancellationToken)"/>: an order
/// from the cart's lines, placed with the same checks as any order, and the cart emptied in the same commit;
/// every refusal leaves the cart and everything else as they were.
/// </summary>
public abstract class CheckoutConformanceTests : CommerceConformanceTests
{
    /// <summary>Two products (1 at 300, 10 in stock; 2 at 125, 4 in stock) and user 1 with 2,000.</summary>
    private async Task<Shop> StockedShopAsync(Action<CommerceOptions>? configure = null)
    {
        var shop = CreateShop(configure);
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.AddProductAsync(2, 125, 4, "Cup");
        await shop.ChargeAsync(1, 2_000);
        return shop;
    }

    /// <summary>Asserts that a checkout fails with a code and that nothing observable changed.</summary>
    private static async Task<CommerceError> AssertRefusedAsync(Shop shop, CommerceErrorCode code)
    {
        var before = await shop.DescribeAllAsync(1, 2);
        var error = AssertFails(await shop.Carts.CheckoutAsync(User(1)), code);
        Assert.Equal(before, await shop.DescribeAllAsync(1, 2));
        return error;
    }

    [StoreFact]
    public async Task A_checkout_places_the_carts_lines_as_an_order_and_empties_the_cart()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 2, 3);
        await shop.AddToCartAsync(1, 1, 1);
        await shop.AddToCartAsync(1, 1, 1);
        shop.Time.Advance(TimeSpan.FromSeconds(12));

        var order = (await shop.Carts.CheckoutAsync(User(1))).Value;

        Assert.Equal(User(1), order.UserId);
        Assert.Equal([new OrderLine(Product(2), 3, Money(125)), new OrderLine(Product(1), 2, Money(300))], order.Lines);
        Assert.Equal(Money(975), order.Total);
        Assert.Equal(shop.Time.GetUtcNow(), order.PlacedAt);
        Assert.Equal(OrderStatus.Placed, order.Status);
        Assert.Equal(order, (await shop.Orders.GetOrderAsync(order.Id)).Value);
        var cart = await shop.Carts.GetCartAsync(User(1));
        Assert.Empty(cart.Lines);
        Assert.Equal(Money(0), cart.Total);
        Assert.Equal(Money(2_000 - 975), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(8, await shop.StockOfAsync(1));
        Assert.Equal(1, await shop.StockOfAsync(2));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 2, [Product(2)] = 3 }, await shop.SoldAsync());
        Assert.Equal([order], await shop.Orders.ListOrdersAsync(User(1)));
        await shop.AssertLedgerConsistentAsync(1);
    }

    [StoreFact]
    public async Task A_checkout_leaves_other_users_carts_alone()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 1);
        await shop.AddToCartAsync(2, 1, 2);

        Assert.True((await shop.Carts.CheckoutAsync(User(1))).IsSuccess);

        Assert.Equal(2, Assert.Single((await shop.Carts.GetCartAsync(User(2))).Lines).Quantity);
    }

    [StoreFact]
    public async Task A_second_checkout_finds_the_cart_empty()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 1);
        Assert.True((await shop.Carts.CheckoutAsync(User(1))).IsSuccess);

        await AssertRefusedAsync(shop, CommerceErrorCode.EmptyOrder);
    }

    [StoreFact]
    public async Task A_user_without_a_cart_is_EmptyOrder_and_nothing_changes()
    {
        using var shop = await StockedShopAsync();

        await AssertRefusedAsync(shop, CommerceErrorCode.EmptyOrder);
    }

    [StoreFact]
    public async Task A_cart_emptied_by_removing_its_lines_is_EmptyOrder()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 1);
        Assert.True((await shop.Carts.RemoveItemAsync(User(1), Product(1))).IsSuccess);

        await AssertRefusedAsync(shop, CommerceErrorCode.EmptyOrder);
    }

    [StoreFact]
    public async Task A_cart_above_the_balance_is_InsufficientBalance_and_the_cart_stays()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 7);

        await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientBalance);

        Assert.Equal(7, Assert.Single((await shop.Carts.GetCartAsync(User(1))).Lines).Quantity);
    }

    [StoreFact]
    public async Task A_cart_above_the_stock_is_InsufficientStock_naming_every_short_product_and_the_cart_stays()
    {
        using var shop = await StockedShopAsync();
        await shop.ChargeAsync(1, 10_000);
        await shop.AddProductAsync(3, 1, 0);
        await shop.AddToCartAsync(1, 3, 1);
        await shop.AddToCartAsync(1, 1, 1);
        await shop.AddToCartAsync(1, 2, 5);

        var error = await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientStock);

        Assert.Equal([Product(2), Product(3)], error.ProductIds);
        Assert.Equal(3, (await shop.Carts.GetCartAsync(User(1))).Lines.Count);
    }

    [StoreFact]
    public async Task When_both_balance_and_stock_are_short_the_checkout_is_InsufficientBalance()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 2, 5);
        await shop.AddToCartAsync(1, 1, 7);

        await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientBalance);
    }

    [StoreFact]
    public async Task A_cart_with_more_products_than_the_line_limit_is_TooManyLines_and_the_cart_stays()
    {
        // A cart is filled to the limit of the instance that filled it; one with a lower limit checks it out.
        using var shop = await StockedShopAsync(o => o.MaxOrderLines = 3);
        await shop.AddProductAsync(3, 1, 10);
        await shop.AddToCartAsync(1, 1, 1);
        await shop.AddToCartAsync(1, 2, 1);
        await shop.AddToCartAsync(1, 3, 1);
        var store = shop.Services.GetRequiredService<ICommerceStore>();
        using var stricter = CreateShop(o => o.MaxOrderLines = 2, wrapStore: _ => store);

        await AssertRefusedAsync(stricter, CommerceErrorCode.TooManyLines);

        Assert.True((await stricter.Carts.RemoveItemAsync(User(1), Product(3))).IsSuccess);
        Assert.Equal(Money(425), (await stricter.Carts.CheckoutAsync(User(1))).Value.Total);
    }

    [StoreFact]
    public async Task A_free_cart_checks_out_for_a_user_never_charged()
    {
        using var shop = await StockedShopAsync();
        await shop.AddProductAsync(5, 0, 3);
        await shop.AddToCartAsync(9, 5, 2);

        var order = (await shop.Carts.CheckoutAsync(User(9))).Value;

        Assert.Equal(Money(0), order.Total);
        Assert.Equal(1, await shop.StockOfAsync(5));
        Assert.Empty((await shop.Carts.GetCartAsync(User(9))).Lines);
        var payment = Assert.Single(await shop.LedgerOfAsync(9));
        Assert.Equal((LedgerEntryKind.Payment, Money(0), Money(0)), (payment.Kind, payment.Amount, payment.BalanceAfter));
    }

    [StoreFact]
    public async Task A_checkout_may_spend_the_whole_balance_and_the_whole_stock()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(2, 125, 4);
        await shop.ChargeAsync(1, 500);
        await shop.AddToCartAsync(1, 2, 4);

        Assert.Equal(Money(500), (await shop.Carts.CheckoutAsync(User(1))).Value.Total);

        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(0, await shop.StockOfAsync(2));
    }

    [StoreFact]
    public async Task A_refused_checkout_succeeds_once_the_shortage_is_fixed()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 2, 6);
        await AssertRefusedAsync(shop, CommerceErrorCode.InsufficientStock);

        Assert.True((await shop.Catalog.RestockAsync(Product(2), 2)).IsSuccess);
        var order = await shop.Carts.CheckoutAsync(User(1));

        Assert.Equal(Money(750), order.Value.Total);
        Assert.Empty((await shop.Carts.GetCartAsync(User(1))).Lines);
    }

    [StoreFact]
    public async Task A_checkout_cancelled_before_it_starts_throws_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 1);
        var before = await shop.DescribeAllAsync(1);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Carts.CheckoutAsync(User(1), cancelled.Token));

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreFact]
    public async Task A_checkout_prices_at_the_catalog_price_and_the_order_keeps_it()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 2);
        var view = await shop.Carts.GetCartAsync(User(1));

        var order = (await shop.Carts.CheckoutAsync(User(1))).Value;

        Assert.Equal(view.Total, order.Total);
        Assert.Equal(Money(300), Assert.Single(order.Lines).UnitPrice);
    }
}
