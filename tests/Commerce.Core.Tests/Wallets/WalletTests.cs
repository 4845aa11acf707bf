using Commerce.Tests.Support;
using FsCheck.Xunit;

namespace Commerce.Tests.Wallets;

[Properties(Replay = "20261206,1442695040888963407")]
public sealed class WalletTests
{
    private static readonly UserId Owner = new(3);

    /// <summary>A valid balance from any generated amount.</summary>
    private static Money Balance(Money any) => new(any.Amount & long.MaxValue);

    /// <summary>A valid positive limit from any generated amount.</summary>
    private static Money Limit(Money any) => new(Math.Max(1, any.Amount & long.MaxValue));

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Charge_adds_a_positive_amount_within_both_limits_and_otherwise_says_which_rule_failed(Money start, Money amount, Money maxCharge, Money maxBalance)
    {
        var wallet = new Wallet(Owner, Balance(start));
        maxCharge = Limit(maxCharge);
        maxBalance = Limit(maxBalance);
        var result = wallet.Charge(amount, maxCharge, maxBalance);

        var exact = (Int128)wallet.Balance.Amount + amount.Amount;
        CommerceErrorCode? expected = amount.Amount <= 0 ? CommerceErrorCode.InvalidAmount
            : amount > maxCharge ? CommerceErrorCode.ChargeLimitExceeded
            : exact > maxBalance.Amount ? CommerceErrorCode.BalanceLimitExceeded
            : null;
        return expected is null
            ? result.IsSuccess && result.Value.Balance.Amount == exact && result.Value.UserId == Owner
            : result.IsFailure && result.Error.Code == expected;
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Debit_takes_at_most_the_balance_and_never_leaves_it_negative(Money start, Money amount)
    {
        var wallet = new Wallet(Owner, Balance(start));
        var result = wallet.Debit(amount);

        if (amount.IsNegative)
        {
            return result.Error?.Code == CommerceErrorCode.InvalidAmount;
        }

        return amount > wallet.Balance
            ? result.Error?.Code == CommerceErrorCode.InsufficientBalance
            : result.IsSuccess && result.Value.Balance == wallet.Balance - amount && !result.Value.Balance.IsNegative;
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Refund_adds_a_positive_amount_up_to_the_maximum_balance(Money start, Money amount, Money maxBalance)
    {
        var wallet = new Wallet(Owner, Balance(start));
        maxBalance = Limit(maxBalance);
        var result = wallet.Refund(amount, maxBalance);

        var exact = (Int128)wallet.Balance.Amount + amount.Amount;
        if (!amount.IsPositive)
        {
            return result.Error?.Code == CommerceErrorCode.InvalidAmount;
        }

        return exact > maxBalance.Amount
            ? result.Error?.Code == CommerceErrorCode.BalanceLimitExceeded
            : result.IsSuccess && result.Value.Balance.Amount == exact;
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool A_debit_then_a_refund_of_the_same_amount_restores_the_balance(Money start, Money amount)
    {
        var wallet = new Wallet(Owner, Balance(start));
        var debited = wallet.Debit(amount);
        return !debited.IsSuccess || !amount.IsPositive || debited.Value.Refund(amount, new Money(long.MaxValue)).Value.Balance == wallet.Balance;
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Transitions_never_change_the_wallet_they_start_from(Money start, Money amount)
    {
        var wallet = new Wallet(Owner, Balance(start));
        var copy = new Wallet(Owner, wallet.Balance);
        _ = wallet.Charge(amount, new Money(long.MaxValue), new Money(long.MaxValue));
        _ = wallet.Debit(amount);
        _ = wallet.Refund(amount, new Money(long.MaxValue));
        return wallet == copy;
    }

    [Fact]
    public void A_negative_debit_is_InvalidAmount_called_a_debit_not_a_price()
    {
        var refused = new Wallet(Owner, new Money(10)).Debit(new Money(-5));

        Assert.Equal(CommerceErrorCode.InvalidAmount, refused.Error?.Code);
        Assert.Equal("A debit cannot be negative, but was -5.", refused.Error?.Message);
    }

    [Fact]
    public void A_negative_balance_cannot_be_rehydrated() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Wallet(Owner, new Money(-1)));

    [Fact]
    public void An_empty_wallet_has_a_zero_balance() => Assert.Equal(Money.Zero, Wallet.Empty(Owner).Balance);
}
