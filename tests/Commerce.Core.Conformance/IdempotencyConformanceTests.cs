namespace Commerce.Conformance;

/// <summary>
/// Idempotency keys on charges, orders and checkouts: the first call runs, a repeat of the same request
/// returns the stored outcome (success or refusal) and runs nothing, another request under the key is
/// refused, invalid keys change nothing, keys are scoped per user and per operation, and they expire.
/// </summary>
public abstract class IdempotencyConformanceTests : CommerceConformanceTests
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

    private static IdempotencyKey Key(string value) => new(value);

    public static TheoryData<string?> InvalidKeys => new()
    {
        null,
        string.Empty,
        new string('k', IdempotencyKey.MaxLength + 1),
        "line\nbreak",
        "tab\there",
        "\0",
        "bell\u0007",
        "del\u007f",
        "caf\u00e9",
        "emoji\ud83d\ude00",
        "\u00a0",
    };

    // ---- charges ---------------------------------------------------------------------------------

    [StoreFact]
    public async Task A_keyed_charge_runs_once_and_a_repeat_returns_the_same_balance_without_charging_again()
    {
        using var shop = CreateShop();

        var first = await shop.Wallets.ChargeAsync(User(1), Money(100), Key("charge-1"));
        var repeat = await shop.Wallets.ChargeAsync(User(1), Money(100), Key("charge-1"));

        Assert.Equal(Money(100), first.Value);
        Assert.Equal(Money(100), repeat.Value);
        Assert.Equal(Money(100), await shop.Wallets.GetBalanceAsync(User(1)));
        var entry = Assert.Single(await shop.AssertLedgerConsistentAsync(1));
        Assert.Equal(LedgerEntryKind.Charge, entry.Kind);
    }

    [StoreFact]
    public async Task A_repeated_charge_returns_the_stored_balance_not_the_current_one()
    {
        using var shop = CreateShop();
        await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"));
        await shop.ChargeAsync(1, 50);
        var before = await shop.DescribeAllAsync(1);

        var repeat = await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"));

        Assert.Equal(Money(100), repeat.Value);
        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(Money(150), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Different_keys_are_different_charges()
    {
        using var shop = CreateShop();

        await shop.Wallets.ChargeAsync(User(1), Money(100), Key("a"));
        var second = await shop.Wallets.ChargeAsync(User(1), Money(100), Key("b"));

        Assert.Equal(Money(200), second.Value);
        Assert.Equal(2, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task A_keyed_charge_refusal_is_stored_and_replayed_even_once_the_charge_would_succeed()
    {
        using var shop = CreateShop(o => o.MaxBalance = Money(1_000));
        await shop.AddProductAsync(1, 500, 5);
        await shop.ChargeAsync(1, 900);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(200), Key("top-up")), CommerceErrorCode.BalanceLimitExceeded);
        await shop.PlacedAsync(1, (1, 1));
        var before = await shop.DescribeAllAsync(1);

        var repeat = await shop.Wallets.ChargeAsync(User(1), Money(200), Key("top-up"));

        AssertFails(repeat, CommerceErrorCode.BalanceLimitExceeded);
        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(Money(400), await shop.Wallets.GetBalanceAsync(User(1)));

        // The same amount under a new key runs, and succeeds now.
        Assert.Equal(Money(600), (await shop.Wallets.ChargeAsync(User(1), Money(200), Key("top-up-2"))).Value);
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-5)]
    public async Task A_keyed_charge_that_is_not_positive_is_InvalidAmount_every_time_and_changes_nothing(long amount)
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 10);
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(amount), Key("bad")), CommerceErrorCode.InvalidAmount);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(amount), Key("bad")), CommerceErrorCode.InvalidAmount);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreFact]
    public async Task Reusing_a_charge_key_for_another_amount_is_IdempotencyKeyReused_and_changes_nothing()
    {
        using var shop = CreateShop();
        await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"));
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(101), Key("k")), CommerceErrorCode.IdempotencyKeyReused);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(0), Key("k")), CommerceErrorCode.InvalidAmount); // checked before the key

        Assert.Equal(before, await shop.DescribeAllAsync(1));

        // The key still answers its own request.
        Assert.Equal(Money(100), (await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"))).Value);
    }

    [StoreFact]
    public async Task A_charge_refused_without_reading_state_is_not_stored_so_its_key_runs_a_valid_request()
    {
        using var shop = CreateShop(o => o.MaxChargeAmount = Money(1_000));
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(5_000), Key("k")), CommerceErrorCode.ChargeLimitExceeded);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(-1), Key("k")), CommerceErrorCode.InvalidAmount);
        Assert.Empty(await shop.LedgerOfAsync(1));

        Assert.Equal(Money(500), (await shop.Wallets.ChargeAsync(User(1), Money(500), Key("k"))).Value);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(600), Key("k")), CommerceErrorCode.IdempotencyKeyReused);
        Assert.Equal(Money(500), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    // ---- orders ----------------------------------------------------------------------------------

    [StoreFact]
    public async Task A_keyed_order_is_placed_once_and_a_repeat_returns_the_same_order()
    {
        using var shop = await StockedShopAsync();

        var first = await shop.KeyedOrderAsync(1, Key("order-1"), (1, 2), (2, 1));
        var afterFirst = await shop.DescribeAllAsync(1);
        shop.Time.Advance(TimeSpan.FromMinutes(5));
        var repeat = await shop.KeyedOrderAsync(1, Key("order-1"), (1, 2), (2, 1));

        Assert.Equal(first.Value, repeat.Value);
        Assert.Equal(first.Value.PlacedAt, repeat.Value.PlacedAt);
        Assert.Equal(afterFirst, await shop.DescribeAllAsync(1));
        Assert.Equal(Money(2_000 - 725), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(8, await shop.StockOfAsync(1));
        Assert.Equal(3, await shop.StockOfAsync(2));
        Assert.Equal(first.Value.Id, Assert.Single(await shop.Orders.ListOrdersAsync(User(1))).Id);
        Assert.Single(await shop.AssertLedgerConsistentAsync(1), e => e.Kind == LedgerEntryKind.Payment);
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 2, [Product(2)] = 1 }, await shop.SoldAsync());
    }

    [StoreFact]
    public async Task A_repeat_whose_lines_merge_to_the_same_request_returns_the_stored_order()
    {
        using var shop = await StockedShopAsync();
        var first = (await shop.KeyedOrderAsync(1, Key("k"), (1, 3), (2, 1))).Value;
        var before = await shop.DescribeAllAsync(1);

        var split = await shop.KeyedOrderAsync(1, Key("k"), (1, 1), (2, 1), (1, 2));

        Assert.Equal(first, split.Value);
        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreFact]
    public async Task A_keyed_order_with_duplicate_lines_is_repeated_by_its_merged_form()
    {
        using var shop = await StockedShopAsync();
        var first = (await shop.KeyedOrderAsync(1, Key("k"), (2, 1), (2, 1))).Value;
        var before = await shop.DescribeAllAsync(1);

        var merged = await shop.KeyedOrderAsync(1, Key("k"), (2, 2));

        Assert.Equal(first, merged.Value);
        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreTheory]
    [InlineData(1, 3)]
    [InlineData(2, 2)]
    [InlineData(1, 1)]
    public async Task Reusing_an_order_key_for_other_lines_is_IdempotencyKeyReused_and_changes_nothing(long product, int quantity)
    {
        using var shop = await StockedShopAsync();
        var first = (await shop.KeyedOrderAsync(1, Key("k"), (1, 2))).Value;
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (product, quantity)), CommerceErrorCode.IdempotencyKeyReused);
        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (1, 2), (2, 1)), CommerceErrorCode.IdempotencyKeyReused);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(first, (await shop.KeyedOrderAsync(1, Key("k"), (1, 2))).Value);
    }

    [StoreFact]
    public async Task An_InsufficientBalance_refusal_is_stored_and_replayed_after_the_wallet_is_topped_up()
    {
        using var shop = await StockedShopAsync();
        AssertFails(await shop.KeyedOrderAsync(1, Key("big"), (1, 7)), CommerceErrorCode.InsufficientBalance);
        await shop.ChargeAsync(1, 5_000);
        var before = await shop.DescribeAllAsync(1);

        var repeat = await shop.KeyedOrderAsync(1, Key("big"), (1, 7));

        AssertFails(repeat, CommerceErrorCode.InsufficientBalance);
        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Empty(await shop.Orders.ListOrdersAsync(User(1)));

        // The same lines under a new key are a new request, which now succeeds.
        Assert.True((await shop.KeyedOrderAsync(1, Key("big-2"), (1, 7))).IsSuccess);
    }

    [StoreFact]
    public async Task An_InsufficientStock_refusal_is_stored_and_replayed_after_a_restock()
    {
        using var shop = await StockedShopAsync();
        var refused = AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (2, 5)), CommerceErrorCode.InsufficientStock);
        Assert.Equal([Product(2)], refused.ProductIds);
        Assert.True((await shop.Catalog.RestockAsync(Product(2), 10)).IsSuccess);
        var before = await shop.DescribeAllAsync(1);

        var repeat = await shop.KeyedOrderAsync(1, Key("k"), (2, 5));

        // Equal to the refusal first returned, whether the store keeps that object or a copy of its fields.
        Assert.Equal(refused, AssertFails(repeat, CommerceErrorCode.InsufficientStock));
        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreFact]
    public async Task A_ProductNotFound_refusal_is_stored_and_replayed_after_the_product_is_added()
    {
        using var shop = await StockedShopAsync();
        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (9, 1)), CommerceErrorCode.ProductNotFound);
        await shop.AddProductAsync(9, 10, 10);
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (9, 1)), CommerceErrorCode.ProductNotFound);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreFact]
    public async Task Reusing_the_key_of_a_refused_order_for_other_lines_is_IdempotencyKeyReused()
    {
        using var shop = await StockedShopAsync();
        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (1, 7)), CommerceErrorCode.InsufficientBalance);
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (1, 1)), CommerceErrorCode.IdempotencyKeyReused);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task A_keyed_order_refused_without_reading_state_is_not_stored_as_documented(int quantity)
    {
        using var shop = await StockedShopAsync();
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.KeyedOrderAsync(1, Key("k")), CommerceErrorCode.EmptyOrder);
        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (1, quantity)), CommerceErrorCode.InvalidQuantity);
        Assert.Equal(before, await shop.DescribeAllAsync(1));

        // Nothing was stored under the key, so a valid request with it runs.
        var placed = await shop.KeyedOrderAsync(1, Key("k"), (1, 1));
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(placed.Value, (await shop.KeyedOrderAsync(1, Key("k"), (1, 1))).Value);
    }

    [StoreFact]
    public async Task A_repeat_after_the_order_was_cancelled_returns_it_as_it_stands_and_places_nothing()
    {
        using var shop = await StockedShopAsync();
        var placed = (await shop.KeyedOrderAsync(1, Key("k"), (1, 1))).Value;
        shop.Time.Advance(TimeSpan.FromSeconds(3));
        var cancelled = (await shop.Orders.CancelOrderAsync(placed.Id)).Value;
        var before = await shop.DescribeAllAsync(1);

        var repeat = await shop.KeyedOrderAsync(1, Key("k"), (1, 1));

        Assert.Equal(cancelled, repeat.Value);
        Assert.Equal(OrderStatus.Cancelled, repeat.Value.Status);
        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(Money(2_000), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    // ---- checkouts -------------------------------------------------------------------------------

    [StoreFact]
    public async Task A_keyed_checkout_runs_once_and_a_repeat_returns_the_same_order_without_touching_the_new_cart()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 2);
        var first = (await shop.Carts.CheckoutAsync(User(1), Key("checkout"))).Value;
        await shop.AddToCartAsync(1, 2, 1);
        var before = await shop.DescribeAllAsync(1);

        var repeat = await shop.Carts.CheckoutAsync(User(1), Key("checkout"));

        Assert.Equal(first, repeat.Value);
        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(Product(2), Assert.Single((await shop.Carts.GetCartAsync(User(1))).Lines).ProductId);
        Assert.Equal(Money(1_400), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_keyed_checkout_of_an_empty_cart_stores_EmptyOrder_and_a_repeat_after_filling_the_cart_still_gets_it()
    {
        using var shop = await StockedShopAsync();
        AssertFails(await shop.Carts.CheckoutAsync(User(1), Key("k")), CommerceErrorCode.EmptyOrder);
        await shop.AddToCartAsync(1, 1, 1);
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Carts.CheckoutAsync(User(1), Key("k")), CommerceErrorCode.EmptyOrder);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.True((await shop.Carts.CheckoutAsync(User(1), Key("k2"))).IsSuccess);
    }

    [StoreFact]
    public async Task A_keyed_checkout_refused_for_balance_is_replayed_after_a_top_up_and_the_cart_stays()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 8);
        AssertFails(await shop.Carts.CheckoutAsync(User(1), Key("k")), CommerceErrorCode.InsufficientBalance);
        await shop.ChargeAsync(1, 1_000);
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Carts.CheckoutAsync(User(1), Key("k")), CommerceErrorCode.InsufficientBalance);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(8, Assert.Single((await shop.Carts.GetCartAsync(User(1))).Lines).Quantity);
    }

    // ---- keys ------------------------------------------------------------------------------------

    [StoreTheory]
    [MemberData(nameof(InvalidKeys))]
    public async Task An_invalid_key_is_InvalidIdempotencyKey_for_every_operation_and_changes_nothing(string? key)
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 1, 1);
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(100), new IdempotencyKey(key!)), CommerceErrorCode.InvalidIdempotencyKey);
        AssertFails(await shop.KeyedOrderAsync(1, new IdempotencyKey(key!), (1, 1)), CommerceErrorCode.InvalidIdempotencyKey);
        AssertFails(await shop.Carts.CheckoutAsync(User(1), new IdempotencyKey(key!)), CommerceErrorCode.InvalidIdempotencyKey);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreFact]
    public async Task The_default_key_is_invalid_and_changes_nothing()
    {
        using var shop = await StockedShopAsync();
        var before = await shop.DescribeAllAsync(1);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(100), default(IdempotencyKey)), CommerceErrorCode.InvalidIdempotencyKey);
        AssertFails(await shop.KeyedOrderAsync(1, default, (1, 1)), CommerceErrorCode.InvalidIdempotencyKey);
        AssertFails(await shop.Carts.CheckoutAsync(User(1), default(IdempotencyKey)), CommerceErrorCode.InvalidIdempotencyKey);

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }

    [StoreTheory]
    [InlineData(" ")]
    [InlineData("~")]
    [InlineData("a")]
    [InlineData("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")]
    public async Task Keys_of_printable_ASCII_are_valid_and_answer_repeats(string key)
    {
        using var shop = CreateShop();

        Assert.Equal(Money(5), (await shop.Wallets.ChargeAsync(User(1), Money(5), Key(key))).Value);
        Assert.Equal(Money(5), (await shop.Wallets.ChargeAsync(User(1), Money(5), Key(key))).Value);

        Assert.Equal(Money(5), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_key_of_exactly_128_characters_is_valid_and_distinct_from_its_127_character_prefix()
    {
        using var shop = CreateShop();
        var longest = new string('x', 127) + "y";

        Assert.Equal(Money(5), (await shop.Wallets.ChargeAsync(User(1), Money(5), Key(longest))).Value);
        Assert.Equal(Money(10), (await shop.Wallets.ChargeAsync(User(1), Money(5), Key(longest[..127]))).Value);
        Assert.Equal(Money(5), (await shop.Wallets.ChargeAsync(User(1), Money(5), Key(longest))).Value);

        Assert.Equal(Money(10), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Keys_are_case_sensitive()
    {
        using var shop = CreateShop();

        await shop.Wallets.ChargeAsync(User(1), Money(5), Key("key"));
        await shop.Wallets.ChargeAsync(User(1), Money(7), Key("KEY"));

        Assert.Equal(Money(12), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Keys_are_scoped_per_user()
    {
        using var shop = await StockedShopAsync();
        await shop.ChargeAsync(2, 2_000);

        Assert.Equal(Money(100), (await shop.Wallets.ChargeAsync(User(3), Money(100), Key("shared"))).Value);
        Assert.Equal(Money(250), (await shop.Wallets.ChargeAsync(User(4), Money(250), Key("shared"))).Value);
        var first = (await shop.KeyedOrderAsync(1, Key("shared"), (1, 1))).Value;
        var second = (await shop.KeyedOrderAsync(2, Key("shared"), (2, 2))).Value;

        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(User(2), second.UserId);
        Assert.Equal(Money(100), await shop.Wallets.GetBalanceAsync(User(3)));
        Assert.Equal(Money(250), await shop.Wallets.GetBalanceAsync(User(4)));
        Assert.Equal(Money(2_000 - 250), await shop.Wallets.GetBalanceAsync(User(2)));
    }

    [StoreFact]
    public async Task Keys_are_scoped_per_operation_kind()
    {
        using var shop = await StockedShopAsync();
        await shop.AddToCartAsync(1, 2, 1);

        var charged = await shop.Wallets.ChargeAsync(User(1), Money(100), Key("same"));
        var ordered = await shop.KeyedOrderAsync(1, Key("same"), (1, 1));
        var checkedOut = await shop.Carts.CheckoutAsync(User(1), Key("same"));

        Assert.Equal(Money(2_100), charged.Value);
        Assert.True(ordered.IsSuccess, ordered.ToString());
        Assert.True(checkedOut.IsSuccess, checkedOut.ToString());
        Assert.NotEqual(ordered.Value.Id, checkedOut.Value.Id);
        Assert.Equal(Money(2_100 - 300 - 125), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(2, (await shop.Orders.ListOrdersAsync(User(1))).Count);
    }

    // ---- expiry and purge ------------------------------------------------------------------------

    [StoreFact]
    public async Task A_key_answers_repeats_until_the_retention_has_passed_and_then_runs_again()
    {
        var retention = TimeSpan.FromHours(2);
        using var shop = CreateShop(o => o.IdempotencyRetention = retention);
        await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"));

        shop.Time.Advance(retention - TimeSpan.FromSeconds(1));
        Assert.Equal(Money(100), (await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"))).Value);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(7), Key("k")), CommerceErrorCode.IdempotencyKeyReused);
        Assert.Equal(Money(100), await shop.Wallets.GetBalanceAsync(User(1)));

        shop.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(Money(200), (await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"))).Value);

        // The new run is stored afresh: a repeat now answers with its outcome.
        Assert.Equal(Money(200), (await shop.Wallets.ChargeAsync(User(1), Money(100), Key("k"))).Value);
        Assert.Equal(Money(200), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(2, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task A_key_recorded_before_the_clock_was_set_back_stays_live_until_the_clock_passes_its_expiry_again()
    {
        // Its record is stamped in the clock's future: neither expired nor purged by the keyed requests after the step.
        var retention = TimeSpan.FromHours(1);
        using var shop = await StockedShopAsync(o => o.IdempotencyRetention = retention);
        var order = (await shop.KeyedOrderAsync(1, Key("k"), (1, 1))).Value;

        shop.Time.AdjustTime(TestClock.Start - TimeSpan.FromDays(1));
        Assert.Equal(Money(1), (await shop.Wallets.ChargeAsync(User(2), Money(1), Key("after-the-step"))).Value);
        Assert.Equal(order, (await shop.KeyedOrderAsync(1, Key("k"), (1, 1))).Value);
        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (2, 1)), CommerceErrorCode.IdempotencyKeyReused);

        shop.Time.Advance(TimeSpan.FromDays(1) + retention);
        Assert.NotEqual(order.Id, (await shop.KeyedOrderAsync(1, Key("k"), (1, 1))).Value.Id);
        Assert.Equal(Money(2_000 - 600), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task An_expired_key_may_be_used_for_a_different_request()
    {
        var retention = TimeSpan.FromMinutes(10);
        using var shop = await StockedShopAsync(o => o.IdempotencyRetention = retention);
        var first = (await shop.KeyedOrderAsync(1, Key("k"), (1, 1))).Value;

        shop.Time.Advance(retention + TimeSpan.FromSeconds(1));
        var second = await shop.KeyedOrderAsync(1, Key("k"), (2, 1));

        Assert.True(second.IsSuccess, second.ToString());
        Assert.NotEqual(first.Id, second.Value.Id);
        Assert.Equal(Money(2_000 - 300 - 125), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task An_expired_stored_refusal_is_forgotten_and_the_request_runs_again()
    {
        var retention = TimeSpan.FromMinutes(10);
        using var shop = await StockedShopAsync(o => o.IdempotencyRetention = retention);
        AssertFails(await shop.KeyedOrderAsync(1, Key("k"), (1, 7)), CommerceErrorCode.InsufficientBalance);
        await shop.ChargeAsync(1, 1_000);

        shop.Time.Advance(retention);
        var again = await shop.KeyedOrderAsync(1, Key("k"), (1, 7));

        Assert.True(again.IsSuccess, again.ToString());
        Assert.Equal(Money(3_000 - 2_100), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task An_expired_checkout_key_checks_out_the_cart_as_it_is_then()
    {
        var retention = TimeSpan.FromMinutes(10);
        using var shop = await StockedShopAsync(o => o.IdempotencyRetention = retention);
        await shop.AddToCartAsync(1, 1, 1);
        var first = (await shop.Carts.CheckoutAsync(User(1), Key("k"))).Value;
        await shop.AddToCartAsync(1, 2, 1);

        shop.Time.Advance(retention);
        var second = (await shop.Carts.CheckoutAsync(User(1), Key("k"))).Value;

        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(Product(2), Assert.Single(second.Lines).ProductId);
        Assert.Empty((await shop.Carts.GetCartAsync(User(1))).Lines);
    }

    [StoreFact]
    public async Task After_the_retention_a_keyed_request_purges_old_keys_which_then_run_again_and_are_stored_afresh()
    {
        var retention = TimeSpan.FromHours(1);
        using var shop = await StockedShopAsync(o => o.IdempotencyRetention = retention);
        await shop.Wallets.ChargeAsync(User(1), Money(100), Key("old-charge"));
        var oldOrder = (await shop.KeyedOrderAsync(1, Key("old-order"), (1, 1))).Value;

        shop.Time.Advance(retention + TimeSpan.FromMinutes(1));

        // Any keyed request once a quarter of the retention has passed purges what expired.
        Assert.Equal(Money(5), (await shop.Wallets.ChargeAsync(User(2), Money(5), Key("trigger"))).Value);

        // The purged keys run again, even for other requests, and what they store answers repeats.
        Assert.Equal(Money(1_807), (await shop.Wallets.ChargeAsync(User(1), Money(7), Key("old-charge"))).Value);
        Assert.Equal(Money(1_807), (await shop.Wallets.ChargeAsync(User(1), Money(7), Key("old-charge"))).Value);
        var newOrder = (await shop.KeyedOrderAsync(1, Key("old-order"), (1, 1))).Value;
        Assert.NotEqual(oldOrder.Id, newOrder.Id);
        Assert.Equal(newOrder, (await shop.KeyedOrderAsync(1, Key("old-order"), (1, 1))).Value);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(100), Key("old-charge")), CommerceErrorCode.IdempotencyKeyReused);

        Assert.Equal(Money(1_807 - 300), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(2, (await shop.Orders.ListOrdersAsync(User(1))).Count);
        await shop.AssertLedgerConsistentAsync(1);
    }

    [StoreFact]
    public async Task A_purge_keeps_the_keys_still_within_the_retention()
    {
        var retention = TimeSpan.FromHours(1);
        using var shop = CreateShop(o => o.IdempotencyRetention = retention);
        await shop.Wallets.ChargeAsync(User(1), Money(100), Key("early"));

        shop.Time.Advance(TimeSpan.FromMinutes(50));
        await shop.Wallets.ChargeAsync(User(1), Money(10), Key("late"));

        // 50 minutes in (past a quarter of the retention) "late" triggered a purge; "early" is still live.
        Assert.Equal(Money(100), (await shop.Wallets.ChargeAsync(User(1), Money(100), Key("early"))).Value);
        Assert.Equal(Money(110), await shop.Wallets.GetBalanceAsync(User(1)));

        shop.Time.Advance(TimeSpan.FromMinutes(20));
        await shop.Wallets.ChargeAsync(User(2), Money(1), Key("trigger"));

        Assert.Equal(Money(210), (await shop.Wallets.ChargeAsync(User(1), Money(100), Key("early"))).Value);
        Assert.Equal(Money(110), (await shop.Wallets.ChargeAsync(User(1), Money(10), Key("late"))).Value);
        Assert.Equal(Money(210), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Many_expired_keys_are_purged_and_each_runs_again_exactly_once()
    {
        var retention = TimeSpan.FromMinutes(4);
        using var shop = CreateShop(o => o.IdempotencyRetention = retention);
        for (var i = 0; i < 30; i++)
        {
            await shop.Wallets.ChargeAsync(User(1), Money(1), Key($"k{i}"));
        }

        for (var round = 1; round <= 3; round++)
        {
            shop.Time.Advance(retention + TimeSpan.FromSeconds(1));
            for (var i = 0; i < 30; i++)
            {
                Assert.Equal(Money((30 * round) + i + 1), (await shop.Wallets.ChargeAsync(User(1), Money(1), Key($"k{i}"))).Value);
            }

            for (var i = 0; i < 30; i++)
            {
                Assert.Equal(Money((30 * round) + i + 1), (await shop.Wallets.ChargeAsync(User(1), Money(1), Key($"k{i}"))).Value);
            }
        }

        Assert.Equal(Money(120), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(120, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task A_keyed_call_cancelled_before_it_starts_throws_stores_nothing_and_a_later_call_runs()
    {
        using var shop = await StockedShopAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var before = await shop.DescribeAllAsync(1);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Wallets.ChargeAsync(User(1), Money(5), Key("c"), cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Orders.PlaceOrderAsync(User(1), LedgerShopExtensions.Lines((1, 1)), Key("o"), cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Carts.CheckoutAsync(User(1), Key("x"), cancelled.Token));

        Assert.Equal(before, await shop.DescribeAllAsync(1));
        Assert.Equal(Money(2_005), (await shop.Wallets.ChargeAsync(User(1), Money(5), Key("c"))).Value);
        Assert.True((await shop.KeyedOrderAsync(1, Key("o"), (1, 1))).IsSuccess);
    }

    [StoreFact]
    public async Task A_call_cancelled_before_it_starts_throws_even_when_its_arguments_alone_would_be_refused()
    {
        using var shop = await StockedShopAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var before = await shop.DescribeAllAsync(1);
        var token = cancelled.Token;

        // Each of these requests is refused without reading state when its token is not cancelled; the
        // documented answer to a cancelled token is the exception, as for a request the store would judge.
        Func<Task>[] calls =
        [
            async () => await shop.Wallets.ChargeAsync(User(1), Money(0), Key("c"), token),
            async () => await shop.Wallets.ChargeAsync(User(1), Money(5), new IdempotencyKey(string.Empty), token),
            async () => await shop.Orders.PlaceOrderAsync(User(1), [], token),
            async () => await shop.Orders.PlaceOrderAsync(User(1), LedgerShopExtensions.Lines((1, 0)), token),
            async () => await shop.Orders.PlaceOrderAsync(User(1), [], Key("o"), token),
            async () => await shop.Orders.PlaceOrderAsync(User(1), LedgerShopExtensions.Lines((1, 1)), new IdempotencyKey(string.Empty), token),
            async () => await shop.Carts.CheckoutAsync(User(1), new IdempotencyKey(string.Empty), token),
            async () => await shop.Carts.AddItemAsync(User(1), Product(1), 0, token),
            async () => await shop.Catalog.AddProductAsync(Product(3), " ", Money(1), 1, token),
            async () => await shop.Catalog.AddProductAsync(Product(3), "Pot", Money(1), -1, token),
            async () => await shop.Catalog.RestockAsync(Product(1), 0, token),
        ];
        var answered = new List<int>();
        for (var i = 0; i < calls.Length; i++)
        {
            if (await Record.ExceptionAsync(calls[i]) is not OperationCanceledException)
            {
                answered.Add(i);
            }
        }

        Assert.True(answered.Count == 0, $"Calls {string.Join(", ", answered)} did not throw OperationCanceledException.");

        Assert.Equal(before, await shop.DescribeAllAsync(1));
    }
}
