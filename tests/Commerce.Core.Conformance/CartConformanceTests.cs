namespace Commerce.Conformance;

/// <summary>Adding to, removing from and viewing carts through <see cref="ICartService"/>.</summary>
public abstract class CartConformanceTests : CommerceConformanceTests
{
    /// <summary>Products 1 ("Tea" at 300) and 2 ("Cup" at 125).</summary>
    private async Task<Shop> ShopAsync(Action<CommerceOptions>? configure = null)
    {
        var shop = CreateShop(configure);
        await shop.AddProductAsync(1, 300, 10, "Tea");
        await shop.AddProductAsync(2, 125, 0, "Cup");
        return shop;
    }

    private static async Task<CommerceError> AssertRefusedAsync(Shop shop, CommerceErrorCode code, Func<ValueTask<Result<CartView>>> change)
    {
        var before = await shop.DescribeAsync(1, 2);
        var error = AssertFails(await change(), code);
        Assert.Equal(before, await shop.DescribeAsync(1, 2));
        return error;
    }

    [StoreFact]
    public async Task A_new_user_sees_an_empty_cart()
    {
        using var shop = await ShopAsync();

        var cart = await shop.Carts.GetCartAsync(User(1));

        Assert.Equal(User(1), cart.UserId);
        Assert.Empty(cart.Lines);
        Assert.Equal(Money(0), cart.Total);
    }

    [StoreFact]
    public async Task Adding_an_item_creates_the_cart_with_that_line()
    {
        using var shop = await ShopAsync();

        var added = await shop.Carts.AddItemAsync(User(1), Product(1), 2);

        var expected = new CartLineView(Product(1), "Tea", Money(300), 2, Money(600));
        Assert.Equal(User(1), added.Value.UserId);
        Assert.Equal([expected], added.Value.Lines);
        Assert.Equal(Money(600), added.Value.Total);
        Assert.Equal([expected], (await shop.Carts.GetCartAsync(User(1))).Lines);
    }

    [StoreFact]
    public async Task Adding_a_product_already_in_the_cart_increases_its_quantity()
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(1), 2);

        var added = await shop.Carts.AddItemAsync(User(1), Product(1), 3);

        Assert.Equal(5, Assert.Single(added.Value.Lines).Quantity);
        Assert.Equal(Money(1_500), added.Value.Total);
    }

    [StoreFact]
    public async Task A_product_out_of_stock_can_still_be_put_in_a_cart()
    {
        using var shop = await ShopAsync();

        var added = await shop.Carts.AddItemAsync(User(1), Product(2), 1);

        Assert.Equal(Money(125), added.Value.Total);
    }

    [StoreFact]
    public async Task The_view_joins_names_and_prices_keeps_first_added_order_and_totals_the_lines()
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(2), 3);
        await shop.Carts.AddItemAsync(User(1), Product(1), 1);
        await shop.Carts.AddItemAsync(User(1), Product(2), 1);

        var cart = await shop.Carts.GetCartAsync(User(1));

        Assert.Equal(
            [
                new CartLineView(Product(2), "Cup", Money(125), 4, Money(500)),
                new CartLineView(Product(1), "Tea", Money(300), 1, Money(300)),
            ],
            cart.Lines);
        Assert.Equal(Money(800), cart.Total);
    }

    [StoreFact]
    public async Task Carts_of_different_users_are_separate()
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(1), 1);

        Assert.Empty((await shop.Carts.GetCartAsync(User(2))).Lines);
    }

    [StoreFact]
    public async Task Adding_an_unknown_product_is_ProductNotFound_and_changes_nothing()
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(1), 1);

        var error = await AssertRefusedAsync(shop, CommerceErrorCode.ProductNotFound, () => shop.Carts.AddItemAsync(User(1), Product(3), 1));
        await AssertRefusedAsync(shop, CommerceErrorCode.ProductNotFound, () => shop.Carts.AddItemAsync(User(2), Product(3), 1));

        Assert.Equal([Product(3)], error.ProductIds);
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task Adding_a_quantity_that_is_not_positive_is_InvalidQuantity_and_changes_nothing(int quantity)
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(1), 1);

        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.Carts.AddItemAsync(User(1), Product(1), quantity));
        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.Carts.AddItemAsync(User(2), Product(1), quantity));
    }

    [StoreFact]
    public async Task Adding_past_the_line_limit_is_InvalidQuantity_and_changes_nothing_while_reaching_it_is_allowed()
    {
        using var shop = await ShopAsync(o => o.MaxLineQuantity = 5);
        await shop.Carts.AddItemAsync(User(1), Product(1), 3);

        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.Carts.AddItemAsync(User(1), Product(1), 3));
        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.Carts.AddItemAsync(User(2), Product(1), 6));

        Assert.Equal(5, Assert.Single((await shop.Carts.AddItemAsync(User(1), Product(1), 2)).Value.Lines).Quantity);
    }

    [StoreFact]
    public async Task Adding_past_int_MaxValue_is_InvalidQuantity_not_a_wrapped_quantity()
    {
        using var shop = await ShopAsync(o => o.MaxLineQuantity = int.MaxValue);
        await shop.Carts.AddItemAsync(User(1), Product(2), int.MaxValue);

        await AssertRefusedAsync(shop, CommerceErrorCode.InvalidQuantity, () => shop.Carts.AddItemAsync(User(1), Product(2), 1));
    }

    [StoreFact]
    public async Task Removing_a_line_leaves_the_others_in_order()
    {
        using var shop = await ShopAsync();
        await shop.AddProductAsync(3, 7, 1, "Spoon");
        await shop.Carts.AddItemAsync(User(1), Product(1), 1);
        await shop.Carts.AddItemAsync(User(1), Product(2), 2);
        await shop.Carts.AddItemAsync(User(1), Product(3), 3);

        var removed = await shop.Carts.RemoveItemAsync(User(1), Product(2));

        Assert.Equal(new long[] { 1, 3 }, removed.Value.Lines.Select(l => l.ProductId.Value));
        Assert.Equal(Money(321), removed.Value.Total);
        Assert.Equal(removed.Value.Lines, (await shop.Carts.GetCartAsync(User(1))).Lines);
    }

    [StoreFact]
    public async Task Removing_the_last_line_leaves_an_empty_cart()
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(1), 4);

        var removed = await shop.Carts.RemoveItemAsync(User(1), Product(1));

        Assert.Empty(removed.Value.Lines);
        Assert.Equal(Money(0), removed.Value.Total);
        Assert.Empty((await shop.Carts.GetCartAsync(User(1))).Lines);
    }

    [StoreFact]
    public async Task Removing_a_product_not_in_the_cart_is_CartItemNotFound_and_changes_nothing()
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(1), 1);

        var error = await AssertRefusedAsync(shop, CommerceErrorCode.CartItemNotFound, () => shop.Carts.RemoveItemAsync(User(1), Product(2)));
        await AssertRefusedAsync(shop, CommerceErrorCode.CartItemNotFound, () => shop.Carts.RemoveItemAsync(User(1), Product(99)));

        Assert.Equal([Product(2)], error.ProductIds);
    }

    [StoreFact]
    public async Task Removing_from_a_user_who_never_had_a_cart_is_CartItemNotFound()
    {
        using var shop = await ShopAsync();

        await AssertRefusedAsync(shop, CommerceErrorCode.CartItemNotFound, () => shop.Carts.RemoveItemAsync(User(2), Product(1)));
    }

    [StoreFact]
    public async Task Removing_a_line_twice_fails_the_second_time()
    {
        using var shop = await ShopAsync();
        await shop.Carts.AddItemAsync(User(1), Product(1), 1);
        Assert.True((await shop.Carts.RemoveItemAsync(User(1), Product(1))).IsSuccess);

        await AssertRefusedAsync(shop, CommerceErrorCode.CartItemNotFound, () => shop.Carts.RemoveItemAsync(User(1), Product(1)));
    }

    [StoreFact]
    public async Task A_cart_total_that_overflows_is_AmountOverflow_and_changes_nothing()
    {
        using var shop = await ShopAsync();
        await shop.AddProductAsync(3, long.MaxValue / 2, 1);
        await shop.Carts.AddItemAsync(User(1), Product(3), 2);

        await AssertRefusedAsync(shop, CommerceErrorCode.AmountOverflow, () => shop.Carts.AddItemAsync(User(1), Product(1), 1));
    }
}
