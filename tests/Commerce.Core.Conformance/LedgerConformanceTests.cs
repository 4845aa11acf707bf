namespace Commerce.Conformance;

/// <summary>
/// The wallet ledger through <see cref="IWalletService.GetLedgerAsync"/>: one entry per charge, payment and
/// refund, numbered per user without gaps, with positive amounts, the balance after, the order and the time;
/// pages oldest first; and the balance is always what the ledger adds up to.
/// </summary>
public abstract class LedgerConformanceTests : CommerceConformanceTests
{
    [StoreFact]
    public async Task A_user_never_charged_has_an_empty_ledger()
    {
        using var shop = CreateShop();

        Assert.Empty(await shop.Wallets.GetLedgerAsync(User(1)));
        Assert.Empty(await shop.Wallets.GetLedgerAsync(User(long.MinValue), 0, 1000));
    }

    [StoreFact]
    public async Task A_charge_writes_one_Charge_entry_with_the_balance_after_and_the_time()
    {
        using var shop = CreateShop();
        var start = shop.Time.GetUtcNow();
        await shop.ChargeAsync(1, 250);
        shop.Time.Advance(TimeSpan.FromSeconds(7));
        await shop.ChargeAsync(1, 100);

        var ledger = await shop.Wallets.GetLedgerAsync(User(1));

        Assert.Equal(
            [
                new LedgerEntry(1, User(1), LedgerEntryKind.Charge, Money(250), Money(250), null, start),
                new LedgerEntry(2, User(1), LedgerEntryKind.Charge, Money(100), Money(350), null, start.AddSeconds(7)),
            ],
            ledger);
    }

    [StoreFact]
    public async Task An_order_writes_one_Payment_entry_naming_the_order()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 300, 10);
        await shop.AddProductAsync(2, 125, 10);
        await shop.ChargeAsync(1, 2_000);
        shop.Time.Advance(TimeSpan.FromMinutes(3));

        var order = await shop.PlacedAsync(1, (1, 2), (2, 1));

        var ledger = await shop.AssertLedgerConsistentAsync(1);
        Assert.Equal(2, ledger.Count);
        Assert.Equal(new LedgerEntry(2, User(1), LedgerEntryKind.Payment, Money(725), Money(1_275), order.Id, order.PlacedAt), ledger[1]);
    }

    [StoreFact]
    public async Task A_cancel_writes_one_Refund_entry_naming_the_order()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 300, 10);
        await shop.ChargeAsync(1, 1_000);
        var order = await shop.PlacedAsync(1, (1, 3));
        shop.Time.Advance(TimeSpan.FromHours(5));

        var cancelled = (await shop.Orders.CancelOrderAsync(order.Id)).Value;

        var ledger = await shop.AssertLedgerConsistentAsync(1);
        Assert.Equal(3, ledger.Count);
        Assert.Equal(new LedgerEntry(3, User(1), LedgerEntryKind.Refund, Money(900), Money(1_000), order.Id, cancelled.CancelledAt!.Value), ledger[2]);
        Assert.Equal(shop.Time.GetUtcNow(), ledger[2].At);
    }

    [StoreFact]
    public async Task A_checkout_writes_one_Payment_entry_naming_its_order()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 40, 10);
        await shop.ChargeAsync(1, 100);
        await shop.AddToCartAsync(1, 1, 2);

        var order = (await shop.Carts.CheckoutAsync(User(1))).Value;

        var payment = (await shop.AssertLedgerConsistentAsync(1))[^1];
        Assert.Equal(new LedgerEntry(2, User(1), LedgerEntryKind.Payment, Money(80), Money(20), order.Id, order.PlacedAt), payment);
    }

    [StoreFact]
    public async Task A_free_order_is_a_zero_payment_and_its_cancel_refunds_nothing()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 0, 10);
        await shop.ChargeAsync(1, 50);

        var free = await shop.PlacedAsync(1, (1, 3));
        var freeForNewUser = await shop.PlacedAsync(2, (1, 1));
        Assert.True((await shop.Orders.CancelOrderAsync(free.Id)).IsSuccess);
        Assert.True((await shop.Orders.CancelOrderAsync(freeForNewUser.Id)).IsSuccess);

        var first = await shop.AssertLedgerConsistentAsync(1);
        Assert.Equal(new LedgerEntry(2, User(1), LedgerEntryKind.Payment, Money(0), Money(50), free.Id, free.PlacedAt), first[^1]);
        Assert.Equal(2, first.Count);
        var second = Assert.Single(await shop.AssertLedgerConsistentAsync(2));
        Assert.Equal((LedgerEntryKind.Payment, Money(0), freeForNewUser.Id), (second.Kind, second.Amount, second.OrderId));
    }

    [StoreFact]
    public async Task Refused_operations_write_no_entries()
    {
        using var shop = CreateShop(o =>
        {
            o.MaxChargeAmount = Money(500);
            o.MaxBalance = Money(1_000);
        });
        await shop.AddProductAsync(1, 300, 1);
        await shop.ChargeAsync(1, 400);
        var before = await shop.LedgerOfAsync(1);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(0)), CommerceErrorCode.InvalidAmount);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(501)), CommerceErrorCode.ChargeLimitExceeded);
        AssertFails(await shop.OrderAsync(1, (1, 2)), CommerceErrorCode.InsufficientBalance);
        AssertFails(await shop.OrderAsync(1, (9, 1)), CommerceErrorCode.ProductNotFound);
        AssertFails(await shop.Carts.CheckoutAsync(User(1)), CommerceErrorCode.EmptyOrder);
        AssertFails(await shop.Orders.CancelOrderAsync(new OrderId(Guid.NewGuid())), CommerceErrorCode.OrderNotFound);

        Assert.Equal(before, await shop.LedgerOfAsync(1));
    }

    [StoreFact]
    public async Task Each_user_has_its_own_sequence()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 10);
        await shop.ChargeAsync(2, 20);
        await shop.ChargeAsync(1, 30);
        await shop.ChargeAsync(2, 40);

        Assert.Equal([1L, 2L], (await shop.Wallets.GetLedgerAsync(User(1))).Select(e => e.Sequence));
        Assert.Equal([Money(10), Money(30)], (await shop.Wallets.GetLedgerAsync(User(1))).Select(e => e.Amount));
        Assert.Equal([Money(20), Money(60)], (await shop.Wallets.GetLedgerAsync(User(2))).Select(e => e.BalanceAfter));
        Assert.All(await shop.Wallets.GetLedgerAsync(User(2)), e => Assert.Equal(User(2), e.UserId));
    }

    [StoreFact]
    public async Task Pages_read_oldest_first_after_a_sequence_and_end_empty()
    {
        using var shop = CreateShop();
        for (var i = 1; i <= 25; i++)
        {
            await shop.ChargeAsync(1, i);
        }

        var first = await shop.Wallets.GetLedgerAsync(User(1), 0, 10);
        var second = await shop.Wallets.GetLedgerAsync(User(1), 10, 10);
        var third = await shop.Wallets.GetLedgerAsync(User(1), 20, 10);

        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), first.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(11, 10).Select(i => (long)i), second.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(21, 5).Select(i => (long)i), third.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(21, 5).Select(i => Money(i)), third.Select(e => e.Amount));
        Assert.Empty(await shop.Wallets.GetLedgerAsync(User(1), 25, 10));
        Assert.Empty(await shop.Wallets.GetLedgerAsync(User(1), 1_000_000, 10));
        Assert.Equal([7L], (await shop.Wallets.GetLedgerAsync(User(1), 6, 1)).Select(e => e.Sequence));
        Assert.Equal(first.Concat(second).Concat(third), await shop.Wallets.GetLedgerAsync(User(1), 0, 1000));
        Assert.Equal(Money(25 * 26 / 2), (await shop.Wallets.GetLedgerAsync(User(1), 24, 1))[0].BalanceAfter);
    }

    [StoreTheory]
    [InlineData(3L, 10)]
    [InlineData(4L, 1000)]
    [InlineData(1_000_000L, 1)]
    [InlineData(long.MaxValue - 1000, 1000)]
    [InlineData(long.MaxValue - 1, 10)]
    [InlineData(long.MaxValue, 10)]
    [InlineData(long.MaxValue, 1000)]
    public async Task An_afterSequence_at_or_past_the_end_reads_nothing(long after, int limit)
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 1);
        await shop.ChargeAsync(1, 2);
        await shop.ChargeAsync(1, 3);

        Assert.Empty(await shop.Wallets.GetLedgerAsync(User(1), after, limit));
        Assert.Empty(await shop.Wallets.GetLedgerAsync(User(2), after, limit));
    }

    [StoreFact]
    public async Task The_default_page_is_100_entries()
    {
        using var shop = CreateShop();
        for (var i = 0; i < 105; i++)
        {
            await shop.ChargeAsync(1, 1);
        }

        Assert.Equal(100, (await shop.Wallets.GetLedgerAsync(User(1))).Count);
        Assert.Equal(5, (await shop.Wallets.GetLedgerAsync(User(1), 100)).Count);
        Assert.Equal(105, (await shop.Wallets.GetLedgerAsync(User(1), 0, 1000)).Count);
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1001)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public async Task A_limit_outside_1_to_1000_throws_ArgumentOutOfRangeException(int limit)
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await shop.Wallets.GetLedgerAsync(User(1), 0, limit));
    }

    [StoreTheory]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public async Task A_negative_afterSequence_throws_ArgumentOutOfRangeException(long after)
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await shop.Wallets.GetLedgerAsync(User(1), after, 10));
    }

    [StoreTheory]
    [InlineData(1)]
    [InlineData(1000)]
    public async Task The_limits_1_and_1000_are_allowed(int limit)
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);
        await shop.ChargeAsync(1, 6);

        Assert.Equal(Math.Min(limit, 2), (await shop.Wallets.GetLedgerAsync(User(1), 0, limit)).Count);
    }

    [StoreFact]
    public async Task The_ledger_adds_up_to_the_balance_after_charges_orders_cancels_and_checkouts()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 70, 100);
        await shop.AddProductAsync(2, 0, 100);
        await shop.AddProductAsync(3, 15, 100);
        await shop.ChargeAsync(1, 1_000);
        var a = await shop.PlacedAsync(1, (1, 2), (3, 1));
        await shop.PlacedAsync(1, (2, 5));
        await shop.ChargeAsync(1, 33);
        await shop.AddToCartAsync(1, 3, 4);
        await shop.AddToCartAsync(1, 2, 1);
        var c = (await shop.Carts.CheckoutAsync(User(1))).Value;
        Assert.True((await shop.Orders.CancelOrderAsync(a.Id)).IsSuccess);
        await shop.PlacedAsync(1, (1, 1));
        Assert.True((await shop.Orders.CancelOrderAsync(c.Id)).IsSuccess);

        var ledger = await shop.AssertLedgerConsistentAsync(1);

        Assert.Equal(
            [LedgerEntryKind.Charge, LedgerEntryKind.Payment, LedgerEntryKind.Payment, LedgerEntryKind.Charge, LedgerEntryKind.Payment, LedgerEntryKind.Refund, LedgerEntryKind.Payment, LedgerEntryKind.Refund],
            ledger.Select(e => e.Kind));
        Assert.Equal(Money(1_000 + 33 - 70), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_cancelled_read_throws_and_a_later_read_works()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Wallets.GetLedgerAsync(User(1), 0, 10, cancelled.Token));

        Assert.Single(await shop.Wallets.GetLedgerAsync(User(1)));
    }
}
