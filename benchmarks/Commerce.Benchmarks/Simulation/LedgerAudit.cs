namespace Commerce.Simulation;

/// <summary>
/// The store-independent half of a fault simulation's check of one user: the ledger against the
/// balance, and against what the user's client was told (its charges, its standing and cancelled
/// orders). Shared by the simulations of every store.
/// </summary>
internal static class LedgerAudit
{
    /// <summary>
    /// Checks that the ledger is numbered 1, 2, 3… without gaps, that every entry's balance after follows
    /// from the one before and the last is <paramref name="balance"/>, that its charges are exactly the
    /// client's (nothing applied twice, nothing lost), and that every order the client placed has exactly
    /// one payment of its total and a refund iff the client cancelled it.
    /// </summary>
    /// <returns>The sums of the ledger's charges, payments and refunds.</returns>
    public static (long Charged, long Paid, long Refunded) Check(
        UserId user,
        IReadOnlyList<LedgerEntry> ledger,
        Money balance,
        IReadOnlyCollection<(long Amount, long BalanceAfter)> knownCharges,
        IReadOnlyList<Order> live,
        IReadOnlyList<Order> cancelled,
        Action<bool, string> expect)
    {
        long running = 0;
        for (var i = 0; i < ledger.Count; i++)
        {
            var entry = ledger[i];
            expect(entry.Sequence == i + 1, $"user {user}: ledger entry {i + 1} is numbered {entry.Sequence}");
            running += entry.Kind == LedgerEntryKind.Payment ? -entry.Amount.Amount : entry.Amount.Amount;
            expect(entry.BalanceAfter.Amount == running, $"user {user}: entry {entry.Sequence} says {entry.BalanceAfter}, the entries sum to {running}");
        }

        expect(balance.Amount == running, $"user {user}: balance {balance} but the ledger sums to {running}");

        var charges = ledger.Where(e => e.Kind == LedgerEntryKind.Charge).ToList();
        expect(charges.Count == knownCharges.Count, $"user {user}: {charges.Count} charges in the ledger, the client knows {knownCharges.Count}");
        expect(charges.Sum(e => e.Amount.Amount) == knownCharges.Sum(c => c.Amount), $"user {user}: the ledger's charges and the client's differ in sum");
        foreach (var (amount, balanceAfter) in knownCharges)
        {
            expect(charges.Any(e => e.Amount.Amount == amount && e.BalanceAfter.Amount == balanceAfter), $"user {user}: no charge of {amount} leaving {balanceAfter}, which the client was told");
        }

        var payments = ledger.Where(e => e.Kind == LedgerEntryKind.Payment).ToList();
        var refunds = ledger.Where(e => e.Kind == LedgerEntryKind.Refund).ToList();
        var placed = live.Concat(cancelled).ToList();
        expect(
            payments.Count == placed.Count,
            $"user {user}: {payments.Count} payments, the client placed {placed.Count} orders; unknown to it: " +
            string.Join(", ", payments.Where(e => !placed.Any(o => o.Id == e.OrderId)).Select(e => $"entry {e.Sequence} of {e.Amount} for {e.OrderId}")));
        expect(refunds.Count == cancelled.Count, $"user {user}: {refunds.Count} refunds, the client cancelled {cancelled.Count} orders");
        foreach (var order in placed)
        {
            expect(payments.Count(e => e.OrderId == order.Id) == 1 && payments.Single(e => e.OrderId == order.Id).Amount == order.Total, $"order {order.Id}: not exactly one payment of its total");
            expect(refunds.Count(e => e.OrderId == order.Id) == (cancelled.Contains(order) ? 1 : 0), $"order {order.Id}: wrong number of refunds");
        }

        return (charges.Sum(e => e.Amount.Amount), payments.Sum(e => e.Amount.Amount), refunds.Sum(e => e.Amount.Amount));
    }
}
