using Commerce.Events;

namespace Commerce.Simulation;

/// <summary>
/// The store-independent check of a fault simulation's events against the state they report: an event
/// exists if, and only if, its commit does. Shared by the simulations of every store.
/// </summary>
internal sealed class EventAudit
{
    private readonly List<CommerceEvent> _events;

    private EventAudit(List<CommerceEvent> events) => _events = events;

    /// <summary>How many events the store holds.</summary>
    public int Count => _events.Count;

    /// <summary>
    /// Reads every event from the start, page by page, and checks that each stripe's numbers run 1, 2, 3…
    /// without gaps or repeats.
    /// </summary>
    public static async Task<EventAudit> ReadAsync(ICommerceEventFeed feed, Action<bool, string> expect)
    {
        var events = new List<CommerceEvent>();
        var cursor = EventCursor.Start;
        while (true)
        {
            var page = await feed.ReadAsync(cursor, 1_000).ConfigureAwait(false);
            if (page.Events.Count == 0)
            {
                break;
            }

            events.AddRange(page.Events);
            cursor = page.Next;
        }

        foreach (var stripe in events.GroupBy(e => e.Position.Stripe))
        {
            var numbers = stripe.Select(e => e.Position.Sequence).Order().ToArray();
            expect(numbers.SequenceEqual(Enumerable.Range(1, numbers.Length).Select(i => (long)i)), $"events: stripe {stripe.Key} is numbered {Describe(numbers)}");
        }

        return new EventAudit(events);
    }

    /// <summary>
    /// Checks a user's stream against the ledger, entry for entry in order: a charge is a
    /// <see cref="WalletCharged"/> of its amount and balance after, a payment an <see cref="OrderPlaced"/> of
    /// its order and total, a refund an <see cref="OrderCancelled"/> of its order and amount (a free order's
    /// cancellation refunds nothing, so it has an event and no entry).
    /// </summary>
    public void CheckUser(UserId user, IReadOnlyList<LedgerEntry> ledger, Action<bool, string> expect)
    {
        var stream = EventStream.ForUser(user);
        var moves = _events.Where(e => e.Stream == stream)
            .OrderBy(e => e.Position.Sequence)
            .Where(e => e is not OrderCancelled { Refunded.Amount: 0 })
            .Select(e => e switch
            {
                WalletCharged c => $"charge {c.Amount} → {c.BalanceAfter}",
                OrderPlaced o => $"payment {o.Total} for {o.OrderId}",
                OrderCancelled c => $"refund {c.Refunded} for {c.OrderId}",
                _ => $"unexpected {e.GetType().Name}",
            })
            .ToList();
        var entries = ledger.Select(e => e.Kind switch
        {
            LedgerEntryKind.Charge => $"charge {e.Amount} → {e.BalanceAfter}",
            LedgerEntryKind.Payment => $"payment {e.Amount} for {e.OrderId}",
            _ => $"refund {e.Amount} for {e.OrderId}",
        }).ToList();
        expect(
            moves.SequenceEqual(entries),
            $"user {user}: the events [{string.Join("; ", moves.TakeLast(6))}] differ from the ledger [{string.Join("; ", entries.TakeLast(6))}] ({moves.Count} against {entries.Count})");
    }

    /// <summary>
    /// Checks a product's stock against its events: its initial stock, plus restocks, minus the units of
    /// every order placed, plus those of every order cancelled; and that it was added once.
    /// </summary>
    public void CheckProduct(ProductId product, int stock, Action<bool, string> expect)
    {
        var added = _events.OfType<ProductAdded>().Where(a => a.ProductId == product).ToList();
        expect(added.Count == 1, $"product {product}: added {added.Count} times in the events");
        long units = added.Sum(a => (long)a.InitialStock)
            + _events.OfType<ProductRestocked>().Where(r => r.ProductId == product).Sum(r => (long)r.Quantity)
            - _events.OfType<OrderPlaced>().SelectMany(o => o.Lines).Where(l => l.ProductId == product).Sum(l => (long)l.Quantity)
            + _events.OfType<OrderCancelled>().SelectMany(o => o.Lines).Where(l => l.ProductId == product).Sum(l => (long)l.Quantity);
        expect(units == stock, $"product {product}: the events leave {units} on hand, the store has {stock}");
    }

    private static string Describe(long[] numbers) =>
        numbers.Length <= 8 ? string.Join(", ", numbers) : $"{numbers[0]}…{numbers[^1]} ({numbers.Length} events)";
}
