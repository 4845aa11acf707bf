namespace Commerce.Conformance;

/// <summary>Charging wallets and reading balances through <see cref="IWalletService"/>.</summary>
public abstract class WalletConformanceTests : CommerceConformanceTests
{
    [StoreFact]
    public async Task Charge_returns_the_new_balance_and_the_balance_query_agrees()
    {
        using var shop = CreateShop();

        var first = await shop.Wallets.ChargeAsync(User(1), Money(250));
        var second = await shop.Wallets.ChargeAsync(User(1), Money(100));

        Assert.Equal(Money(250), first.Value);
        Assert.Equal(Money(350), second.Value);
        Assert.Equal(Money(350), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task Charges_to_one_user_do_not_reach_another()
    {
        using var shop = CreateShop();

        await shop.ChargeAsync(1, 500);

        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(2)));
    }

    [StoreFact]
    public async Task A_user_never_charged_has_a_zero_balance()
    {
        using var shop = CreateShop();

        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(42)));
        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(long.MinValue)));
    }

    [StoreTheory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public async Task A_charge_that_is_not_positive_is_InvalidAmount_and_changes_nothing(long amount)
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 100);

        var result = await shop.Wallets.ChargeAsync(User(1), Money(amount));

        AssertFails(result, CommerceErrorCode.InvalidAmount);
        Assert.Equal(Money(100), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_charge_above_the_per_charge_limit_is_ChargeLimitExceeded_and_the_limit_itself_is_allowed()
    {
        using var shop = CreateShop(o => o.MaxChargeAmount = Money(1_000));

        var over = await shop.Wallets.ChargeAsync(User(1), Money(1_001));
        var at = await shop.Wallets.ChargeAsync(User(1), Money(1_000));

        AssertFails(over, CommerceErrorCode.ChargeLimitExceeded);
        Assert.Equal(Money(1_000), at.Value);
    }

    [StoreFact]
    public async Task A_charge_taking_the_balance_above_the_maximum_is_BalanceLimitExceeded_and_reaching_it_is_allowed()
    {
        using var shop = CreateShop(o => o.MaxBalance = Money(1_000));
        await shop.ChargeAsync(1, 900);

        var over = await shop.Wallets.ChargeAsync(User(1), Money(101));
        var exact = await shop.Wallets.ChargeAsync(User(1), Money(100));

        AssertFails(over, CommerceErrorCode.BalanceLimitExceeded);
        Assert.Equal(Money(1_000), exact.Value);
    }

    [StoreFact]
    public async Task A_charge_whose_sum_would_overflow_a_64_bit_amount_is_BalanceLimitExceeded_not_a_wrapped_balance()
    {
        using var shop = CreateShop(o =>
        {
            o.MaxChargeAmount = Money(long.MaxValue);
            o.MaxBalance = Money(long.MaxValue);
        });
        await shop.ChargeAsync(1, long.MaxValue - 10);

        var result = await shop.Wallets.ChargeAsync(User(1), Money(100));

        AssertFails(result, CommerceErrorCode.BalanceLimitExceeded);
        Assert.Equal(Money(long.MaxValue - 10), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_refused_charge_changes_nothing_observable()
    {
        using var shop = CreateShop(o =>
        {
            o.MaxChargeAmount = Money(500);
            o.MaxBalance = Money(1_000);
        });
        await shop.AddProductAsync(1, 10, 5);
        await shop.ChargeAsync(1, 400);
        await shop.ChargeAsync(1, 400);
        await shop.ChargeAsync(2, 50);
        var before = await shop.DescribeAsync(1, 2);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(0)), CommerceErrorCode.InvalidAmount);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(501)), CommerceErrorCode.ChargeLimitExceeded);
        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(201)), CommerceErrorCode.BalanceLimitExceeded);
        AssertFails(await shop.Wallets.ChargeAsync(User(3), Money(-5)), CommerceErrorCode.InvalidAmount);

        Assert.Equal(before, await shop.DescribeAsync(1, 2));
        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(3)));
    }

    [StoreFact]
    public async Task A_charge_cancelled_before_it_starts_throws_and_changes_nothing()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 100);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Wallets.ChargeAsync(User(1), Money(5), cancelled.Token));

        Assert.Equal(Money(100), await shop.Wallets.GetBalanceAsync(User(1)));
    }
}
