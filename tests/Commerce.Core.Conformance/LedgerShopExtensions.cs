using System.Globalization;
using System.Text;

namespace Commerce.Conformance;

/// <summary>
/// Helpers the ledger, idempotency, cancel and checkout suites share: keyed calls, reading a whole
/// ledger, a description of the state that includes ledgers and order lists, and the ledger invariant.
/// </summary>
public static class LedgerShopExtensions
{
    /// <summary>Places an order of (product, quantity) lines under an idempotency key.</summary>
    public static ValueTask<Result<Order>> KeyedOrderAsync(this Shop shop, long user, IdempotencyKey key, params (long Product, int Quantity)[] lines)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(lines);
        return shop.Orders.PlaceOrderAsync(new UserId(user), Lines(lines), key);
    }

    /// <summary>Order line requests from (product, quantity) pairs.</summary>
    public static OrderLineRequest[] Lines(params (long Product, int Quantity)[] lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        return lines.Select(l => new OrderLineRequest(new ProductId(l.Product), l.Quantity)).ToArray();
    }

    /// <summary>Puts a product in a user's cart and asserts that it went in.</summary>
    public static async Task AddToCartAsync(this Shop shop, long user, long product, int quantity)
    {
        ArgumentNullException.ThrowIfNull(shop);
        var added = await shop.Carts.AddItemAsync(new UserId(user), new ProductId(product), quantity);
        Assert.True(added.IsSuccess, added.ToString());
    }

    /// <summary>Places an order and returns it, asserting that it was placed.</summary>
    public static async Task<Order> PlacedAsync(this Shop shop, long user, params (long Product, int Quantity)[] lines)
    {
        ArgumentNullException.ThrowIfNull(shop);
        var placed = await shop.OrderAsync(user, lines);
        Assert.True(placed.IsSuccess, placed.ToString());
        return placed.Value;
    }

    /// <summary>A user's whole ledger, oldest first, read in pages of <paramref name="pageSize"/>.</summary>
    public static async Task<List<LedgerEntry>> LedgerOfAsync(this Shop shop, long user, int pageSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(shop);
        var all = new List<LedgerEntry>();
        while (true)
        {
            var page = await shop.Wallets.GetLedgerAsync(new UserId(user), all.Count == 0 ? 0 : all[^1].Sequence, pageSize);
            all.AddRange(page);
            if (page.Count < pageSize)
            {
                return all;
            }
        }
    }

    /// <summary>
    /// <see cref="Shop.DescribeAsync"/> plus, for each user, every ledger entry and every order as
    /// <see cref="IOrderService.ListOrdersAsync"/> lists it: two equal descriptions mean that nothing
    /// observable changed, money movements and orders included.
    /// </summary>
    public static async Task<string> DescribeAllAsync(this Shop shop, params long[] users)
    {
        ArgumentNullException.ThrowIfNull(shop);
        ArgumentNullException.ThrowIfNull(users);
        var text = new StringBuilder(await shop.DescribeAsync(users));
        foreach (var user in users)
        {
            foreach (var entry in await shop.LedgerOfAsync(user))
            {
                text.AppendLine(Describe(entry));
            }

            foreach (var order in await shop.Orders.ListOrdersAsync(new UserId(user), 1000))
            {
                text.AppendLine(Describe(order));
            }
        }

        return text.ToString();
    }

    /// <summary>An order as one line of text: id, buyer, status, times, total and lines.</summary>
    public static string Describe(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"order {order.Id} of user {order.UserId}: {order.Status}, placed {order.PlacedAt:O}");
        text.Append(CultureInfo.InvariantCulture, $", cancelled {order.CancelledAt?.ToString("O", CultureInfo.InvariantCulture) ?? "never"}, total {order.Total}");
        foreach (var line in order.Lines)
        {
            text.Append(CultureInfo.InvariantCulture, $" [{line.ProductId} x{line.Quantity} @{line.UnitPrice} = {line.LineTotal}]");
        }

        return text.ToString();
    }

    /// <summary>A ledger entry as one line of text.</summary>
    public static string Describe(LedgerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"ledger {entry.UserId} #{entry.Sequence}: {entry.Kind} {entry.Amount} -> {entry.BalanceAfter}, order {entry.OrderId?.ToString() ?? "none"}, at {entry.At:O}");
    }

    /// <summary>
    /// Asserts the ledger invariant for a user: entries numbered 1, 2, 3, … without gaps, all of that user,
    /// positive amounts, an order id exactly on payments and refunds, each BalanceAfter the previous one plus
    /// a charge or refund or minus a payment, and the last one equal to the balance.
    /// </summary>
    /// <returns>The ledger.</returns>
    public static async Task<List<LedgerEntry>> AssertLedgerConsistentAsync(this Shop shop, long user)
    {
        ArgumentNullException.ThrowIfNull(shop);
        var ledger = await shop.LedgerOfAsync(user);
        var balance = await shop.Wallets.GetBalanceAsync(new UserId(user));
        var running = 0L;
        for (var i = 0; i < ledger.Count; i++)
        {
            var entry = ledger[i];
            Assert.Equal(i + 1, entry.Sequence);
            Assert.Equal(new UserId(user), entry.UserId);
            Assert.True(entry.Amount.IsPositive || (entry.Kind == LedgerEntryKind.Payment && entry.Amount == Money.Zero), $"Entry {Describe(entry)} has an amount that is not positive (only a free order's payment is zero).");
            Assert.Equal(entry.Kind != LedgerEntryKind.Charge, entry.OrderId is not null);
            running += entry.Kind == LedgerEntryKind.Payment ? -entry.Amount.Amount : entry.Amount.Amount;
            Assert.Equal(new Money(running), entry.BalanceAfter);
        }

        Assert.Equal(new Money(running), balance);
        return ledger;
    }
}

/// <summary>Real threads released together by a <see cref="Barrier"/>.</summary>
public static class RealThreads
{
    /// <summary>Runs <paramref name="body"/> on <paramref name="threads"/> new threads released at the same moment, and rethrows every failure.</summary>
    public static void RunTogether(int threads, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var start = new Barrier(threads);
        var failures = new Exception?[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                body(t);
            }
            catch (Exception e)
            {
                failures[t] = e;
            }
        })
        { IsBackground = true, Name = $"worker {t}" }).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        if (failures.Any(f => f is not null))
        {
            throw new AggregateException(failures.OfType<Exception>());
        }
    }

    /// <summary>Waits for a service call on a worker thread (which has no synchronization context).</summary>
    public static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
}
