namespace Commerce;

/// <summary>
/// A user's wallet: an immutable balance with pure transitions. Each transition returns the next
/// wallet or a typed error and never changes this instance.
/// </summary>
/// <remarks>
/// The balance is never negative; a charge never takes it above the maximum it is given. Every
/// transition that moves money counts one more entry of the wallet's ledger (<see cref="LedgerLength"/>),
/// so the ledger's sequence numbers follow from the wallet's states without gaps.
/// </remarks>
public sealed record Wallet
{
    /// <summary>Creates a wallet with a given balance (used by stores to rehydrate state).</summary>
    /// <param name="userId">The owner.</param>
    /// <param name="balance">The balance; must not be negative.</param>
    /// <param name="ledgerLength">How many ledger entries the wallet has; must not be negative.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="balance"/> or <paramref name="ledgerLength"/> is negative.</exception>
    public Wallet(UserId userId, Money balance, long ledgerLength = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(balance.Amount, nameof(balance));
        ArgumentOutOfRangeException.ThrowIfNegative(ledgerLength);
        UserId = userId;
        Balance = balance;
        LedgerLength = ledgerLength;
    }

    /// <summary>The owner.</summary>
    public UserId UserId { get; }

    /// <summary>The balance, never negative.</summary>
    public Money Balance { get; }

    /// <summary>How many entries the wallet's ledger has: the sequence number of the last one (0 if none).</summary>
    public long LedgerLength { get; }

    /// <summary>The wallet of a user who was never charged: a zero balance.</summary>
    /// <param name="userId">The owner.</param>
    /// <returns>An empty wallet.</returns>
    public static Wallet Empty(UserId userId) => new(userId, Money.Zero);

    /// <summary>Adds money to the balance.</summary>
    /// <param name="amount">The amount; must be positive and at most <paramref name="maxCharge"/>.</param>
    /// <param name="maxCharge">The largest single charge allowed.</param>
    /// <param name="maxBalance">The largest balance allowed after the charge.</param>
    /// <returns>
    /// The charged wallet, or <see cref="CommerceErrorCode.InvalidAmount"/>,
    /// <see cref="CommerceErrorCode.ChargeLimitExceeded"/> or
    /// <see cref="CommerceErrorCode.BalanceLimitExceeded"/> (also when the sum would overflow).
    /// </returns>
    public Result<Wallet> Charge(Money amount, Money maxCharge, Money maxBalance) =>
        ChargeRefusal(Balance, amount, maxCharge, maxBalance) is { } refusal ? refusal : new Wallet(UserId, new Money(Balance.Amount + amount.Amount), LedgerLength + 1);

    /// <summary>Why a wallet holding <paramref name="balance"/> cannot be charged <paramref name="amount"/> (see <see cref="Charge"/>), or <see langword="null"/> if it can.</summary>
    internal static CommerceError? ChargeRefusal(Money balance, Money amount, Money maxCharge, Money maxBalance)
    {
        if (!amount.IsPositive)
        {
            return Errors.NonPositiveAmount(amount);
        }

        if (amount > maxCharge)
        {
            return Errors.ChargeLimitExceeded(amount, maxCharge);
        }

        return !balance.TryAdd(amount, out var next) || next > maxBalance ? Errors.BalanceLimitExceeded(balance, amount, maxBalance) : null;
    }

    /// <summary>Takes a payment from the balance.</summary>
    /// <param name="amount">The amount; must not be negative (zero is a free order).</param>
    /// <returns>
    /// The debited wallet (with one more ledger entry, also for a free order's zero payment), or
    /// <see cref="CommerceErrorCode.InvalidAmount"/> or <see cref="CommerceErrorCode.InsufficientBalance"/>.
    /// </returns>
    public Result<Wallet> Debit(Money amount)
    {
        if (amount.IsNegative)
        {
            return Errors.NegativeDebit(amount);
        }

        if (amount > Balance)
        {
            return Errors.InsufficientBalance(Balance, amount);
        }

        return new Wallet(UserId, new Money(Balance.Amount - amount.Amount), LedgerLength + 1);
    }

    /// <summary>Returns a payment to the balance.</summary>
    /// <param name="amount">The amount; must be positive.</param>
    /// <param name="maxBalance">The largest balance allowed after the refund.</param>
    /// <returns>The refunded wallet, or <see cref="CommerceErrorCode.InvalidAmount"/> or <see cref="CommerceErrorCode.BalanceLimitExceeded"/>.</returns>
    public Result<Wallet> Refund(Money amount, Money maxBalance) =>
        RefundRefusal(Balance, amount, maxBalance) is { } refusal ? refusal : new Wallet(UserId, new Money(Balance.Amount + amount.Amount), LedgerLength + 1);

    /// <summary>Why a wallet holding <paramref name="balance"/> cannot be refunded <paramref name="amount"/> (see <see cref="Refund"/>), or <see langword="null"/> if it can.</summary>
    internal static CommerceError? RefundRefusal(Money balance, Money amount, Money maxBalance) =>
        !amount.IsPositive ? Errors.NonPositiveAmount(amount)
        : !balance.TryAdd(amount, out var next) || next > maxBalance ? Errors.BalanceLimitExceeded(balance, amount, maxBalance)
        : null;

    /// <summary>The ledger entry that records the transition from this wallet to <paramref name="next"/>.</summary>
    /// <param name="next">The wallet a charge, debit or refund of this one returned.</param>
    /// <param name="kind">What moved the money.</param>
    /// <param name="orderId">The order paid or refunded, if any.</param>
    /// <param name="at">When, from the host's clock.</param>
    /// <returns>The entry, numbered <c>next.LedgerLength</c>.</returns>
    internal LedgerEntry EntryTo(Wallet next, LedgerEntryKind kind, OrderId? orderId, DateTimeOffset at) =>
        new(next.LedgerLength, UserId, kind, new Money(Math.Abs(next.Balance.Amount - Balance.Amount)), next.Balance, orderId, at);
}
