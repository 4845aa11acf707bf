namespace Commerce;

/// <summary>What moved money in or out of a wallet.</summary>
public enum LedgerEntryKind
{
    /// <summary>A charge (money added by <see cref="IWalletService.ChargeAsync(UserId, Money, CancellationToken)"/>).</summary>
    Charge = 0,

    /// <summary>The payment of an order.</summary>
    Payment = 1,

    /// <summary>The refund of a cancelled order.</summary>
    Refund = 2,
}

/// <summary>
/// One entry of a wallet's ledger, written in the same commit as the balance change it records.
/// A wallet's entries are numbered 1, 2, 3, … without gaps, and for every wallet the balance is the sum
/// of its charges and refunds minus its payments; <see cref="BalanceAfter"/> of the last entry is the balance.
/// </summary>
/// <param name="Sequence">The entry's number in the wallet's ledger, from 1.</param>
/// <param name="UserId">The wallet's owner.</param>
/// <param name="Kind">What moved the money.</param>
/// <param name="Amount">
/// How much moved: positive for every kind, except the payment of a free order (a total of zero), which is
/// recorded with a zero amount so that every order a user placed has its payment entry.
/// </param>
/// <param name="BalanceAfter">The balance right after the entry.</param>
/// <param name="OrderId">The order paid or refunded; <see langword="null"/> for a charge.</param>
/// <param name="At">When, from the host's <see cref="TimeProvider"/>.</param>
public sealed record LedgerEntry(long Sequence, UserId UserId, LedgerEntryKind Kind, Money Amount, Money BalanceAfter, OrderId? OrderId, DateTimeOffset At);
