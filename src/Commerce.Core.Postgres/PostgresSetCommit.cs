using Commerce.Events;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// A set-based group commit: the commits of a group that only place orders and charge or pay from wallets
/// sent as one statement per kind of write (<see cref="PostgresGroupSql"/>) instead of one per write, so
/// that a group of 64 orders costs the server seven statements rather than five hundred.
/// </summary>
/// <remarks>
/// <para>
/// <b>Which commits.</b> A change set qualifies (<see cref="Qualifies"/>) when each of its changes is one of:
/// a wallet updated from the version read, a ledger entry or an order inserted, a guarded adjustment of
/// stock, an increment of sales, or a read that needs no check (a product, or any state stable for the
/// unit of work); with any events, and no listed pages. Orders (without a depletion) and charges of
/// wallets that exist qualify; everything else goes through the statements of a single commit.
/// </para>
/// <para>
/// <b>Equivalence.</b> Members that write one wallet, ledger entry or order never share a group (see
/// <see cref="TryClaim"/>): a member that would is kept for the next send. Stock is the only state members
/// of a group share, and its statement checks each member's bound after the adjustments of the members
/// before it, so a group that applies is the same as its members run one after the other in the group's
/// order. The statements take their locks table by table, each in key order: the one global order of
/// single commits.
/// </para>
/// <para>
/// <b>Refusals.</b> A member whose write does not hold is named by the statement (<c>expect_member</c>,
/// raising <c>CM409</c>): the group is rolled back and sent again without it, and the member gets the
/// conflict a single commit would have had (its use case runs again, reading what the rest wrote).
/// </para>
/// </remarks>
internal static class PostgresSetCommit
{
    /// <summary>Whether a change set can join a set-based group (see the remarks of <see cref="PostgresSetCommit"/>).</summary>
    public static bool Qualifies(ChangeSet changes)
    {
        if (changes.ProductRanges.Count > 0)
        {
            return false;
        }

        foreach (ref readonly var change in changes.Changes)
        {
            var qualifies = (change.Kind, change.Key.Table) switch
            {
                (ChangeKind.Stable, _) => true,
                (ChangeKind.Read, _) => change.Key.IsWriteOnce && change.Seen.State is not null,
                (ChangeKind.Update, StoreTable.Wallets) => change.Seen.State is Wallet && change.State is Wallet,
                (ChangeKind.Insert, StoreTable.Ledger) => change.State is LedgerEntry,
                (ChangeKind.Insert, StoreTable.Orders) => change.State is Order { CancelledAt: null },
                (ChangeKind.Adjust, StoreTable.Stock) => true,
                (ChangeKind.Adjust, StoreTable.Sales) => change.Delta > 0 && change.Delta >= change.Minimum,
                _ => false,
            };

            if (!qualifies)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Claims the keys a qualifying change set writes alone (its wallets, ledger entries and orders) in
    /// <paramref name="claimed"/>: false, claiming nothing, if a member before it in the group holds one.
    /// </summary>
    public static bool TryClaim(ChangeSet changes, HashSet<StoreKey> claimed)
    {
        foreach (ref readonly var change in changes.Changes)
        {
            if (change.Kind is ChangeKind.Update or ChangeKind.Insert && claimed.Contains(change.Key))
            {
                return false;
            }
        }

        foreach (ref readonly var change in changes.Changes)
        {
            if (change.Kind is ChangeKind.Update or ChangeKind.Insert)
            {
                claimed.Add(change.Key);
            }
        }

        return true;
    }

    /// <summary>
    /// Fills <paramref name="batch"/> with the statements of the members' change sets (each qualifying, no two
    /// claiming one key), a member being named by its position in <paramref name="members"/>.
    /// </summary>
    public static void Build(PostgresCommerceStore store, IReadOnlyList<ChangeSet> members, NpgsqlBatch batch)
    {
        // The statements take arrays: generic plans, or PostgreSQL would plan each again at every execution
        // (see PostgresSql.GenericPlansForThisRead). Local to the group's transaction.
        batch.Add(PostgresSql.GenericPlansForThisRead);

        var wallets = new List<(long User, long Balance, long LedgerLength, long Version, int Member)>();
        var stock = new List<(long Product, int Member, long Delta, long Minimum)>();
        var orders = new List<(StoreKey Key, Order Order, int Member)>();
        var sales = new SortedDictionary<(long Bucket, long Product), long>();
        var ledger = new List<(StoreKey Key, LedgerEntry Entry, int Member)>();
        for (var m = 0; m < members.Count; m++)
        {
            foreach (ref readonly var change in members[m].Changes)
            {
                switch (change.Kind)
                {
                    case ChangeKind.Update:
                        var wallet = (Wallet)change.State!;
                        wallets.Add((wallet.UserId.Value, wallet.Balance.Amount, wallet.LedgerLength, change.Seen.Version, m));
                        break;
                    case ChangeKind.Insert when change.State is Order order:
                        orders.Add((change.Key, order, m));
                        break;
                    case ChangeKind.Insert:
                        ledger.Add((change.Key, (LedgerEntry)change.State!, m));
                        break;
                    case ChangeKind.Adjust when change.Key.Table == StoreTable.Stock:
                        stock.Add((change.Key.Low, m, change.Delta, Math.Max(change.Minimum, 0)));
                        break;
                    case ChangeKind.Adjust:
                        var key = (change.Key.High, change.Key.Low);
                        sales[key] = sales.GetValueOrDefault(key) + change.Delta;
                        break;
                }
            }
        }

        var sql = store.GroupSql;
        AddWallets(sql, batch, wallets);
        AddStock(sql, batch, stock);
        AddOrders(sql, batch, orders);
        AddSales(store, batch, sales);
        AddLedger(sql, batch, ledger);
        AddEvents(store, batch, members);
    }

    /// <summary>The member a conflict raised by <c>expect_member</c> names, if it is one.</summary>
    public static int? FailedMember(PostgresException e)
    {
        if (e.SqlState == PostgresOutcome.ConflictState
            && e.MessageText.StartsWith(PostgresGroupSql.ConflictPrefix, StringComparison.Ordinal)
            && int.TryParse(e.MessageText.AsSpan(PostgresGroupSql.ConflictPrefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var member))
        {
            return member;
        }

        return null;
    }

    private static void AddWallets(PostgresGroupSql sql, NpgsqlBatch batch, List<(long User, long Balance, long LedgerLength, long Version, int Member)> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        rows.Sort(static (x, y) => x.User.CompareTo(y.User));
        batch.Add(sql.UpdateWallets)
            .With(rows.Select(static r => r.User).ToArray())
            .With(rows.Select(static r => r.Balance).ToArray())
            .With(rows.Select(static r => r.LedgerLength).ToArray())
            .With(rows.Select(static r => r.Version).ToArray())
            .With(rows.Select(static r => r.Member).ToArray());
    }

    private static void AddStock(PostgresGroupSql sql, NpgsqlBatch batch, List<(long Product, int Member, long Delta, long Minimum)> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        rows.Sort(static (x, y) => x.Product != y.Product ? x.Product.CompareTo(y.Product) : x.Member.CompareTo(y.Member));
        batch.Add(sql.AdjustStock)
            .With(rows.Select(static r => r.Product).ToArray())
            .With(rows.Select(static r => r.Delta).ToArray())
            .With(rows.Select(static r => r.Minimum).ToArray())
            .With(rows.Select(static r => r.Member).ToArray());
    }

    private static void AddOrders(PostgresGroupSql sql, NpgsqlBatch batch, List<(StoreKey Key, Order Order, int Member)> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        rows.Sort(static (x, y) => x.Key.CompareTo(y.Key));

        // The locks in a statement of their own, so that the insert's snapshot sees a void committed by a
        // lookup that held one first (as a single commit's insert does: see PostgresWriteSql.InsertOrder).
        batch.Add(sql.LockKeys).With((int)StoreTable.Orders).With(rows.Select(static r => PostgresRows.LockHash(r.Key)).ToArray());

        var lineCount = rows.Sum(static r => r.Order.Lines.Count);
        var ids = new Guid[rows.Count];
        var users = new long[rows.Count];
        var totals = new long[rows.Count];
        var placedAt = new DateTimeOffset[rows.Count];
        var ticks = new short[rows.Count];
        var members = new int[rows.Count];
        var lineOrders = new Guid[lineCount];
        var lineNumbers = new int[lineCount];
        var products = new long[lineCount];
        var quantities = new int[lineCount];
        var unitPrices = new long[lineCount];
        var lineTotals = new long[lineCount];
        var at = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var order = rows[i].Order;
            ids[i] = order.Id.Value;
            users[i] = order.UserId.Value;
            totals[i] = order.Total.Amount;
            (placedAt[i], ticks[i]) = PostgresRows.SplitTicks(order.PlacedAt);
            members[i] = rows[i].Member;
            var lines = order.Lines;
            for (var n = 0; n < lines.Count; n++, at++)
            {
                lineOrders[at] = order.Id.Value;
                lineNumbers[at] = n + 1;
                products[at] = lines[n].ProductId.Value;
                quantities[at] = lines[n].Quantity;
                unitPrices[at] = lines[n].UnitPrice.Amount;
                lineTotals[at] = lines[n].LineTotal.Amount;
            }
        }

        batch.Add(sql.InsertOrders)
            .With(ids).With(users).With(totals).With(placedAt).With(ticks).With(members)
            .With(lineOrders).With(lineNumbers).With(products).With(quantities).With(unitPrices).With(lineTotals);
    }

    private static void AddSales(PostgresCommerceStore store, NpgsqlBatch batch, SortedDictionary<(long Bucket, long Product), long> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var buckets = new DateTimeOffset[rows.Count];
        var products = new long[rows.Count];
        var quantities = new long[rows.Count];
        var i = 0;
        foreach (var ((bucket, product), quantity) in rows)
        {
            buckets[i] = store.BucketStart(bucket);
            products[i] = product;
            quantities[i++] = quantity;
        }

        batch.Add(store.Writes.AdjustSales).With(buckets).With(products).With(quantities);
    }

    private static void AddLedger(PostgresGroupSql sql, NpgsqlBatch batch, List<(StoreKey Key, LedgerEntry Entry, int Member)> rows)
    {
        if (rows.Count == 0)
        {
            return;
        }

        rows.Sort(static (x, y) => x.Key.CompareTo(y.Key));
        var users = new long[rows.Count];
        var sequences = new long[rows.Count];
        var kinds = new short[rows.Count];
        var amounts = new long[rows.Count];
        var balances = new long[rows.Count];
        var orders = new Guid?[rows.Count];
        var ats = new DateTimeOffset[rows.Count];
        var ticks = new short[rows.Count];
        var members = new int[rows.Count];
        var hashes = new int[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var (key, entry, member) = rows[i];
            users[i] = key.High;
            sequences[i] = key.Low;
            kinds[i] = (short)entry.Kind;
            amounts[i] = entry.Amount.Amount;
            balances[i] = entry.BalanceAfter.Amount;
            orders[i] = entry.OrderId?.Value;
            (ats[i], ticks[i]) = PostgresRows.SplitTicks(entry.At);
            members[i] = member;
            hashes[i] = PostgresRows.LockHash(key);
        }

        batch.Add(sql.InsertLedger)
            .With(users).With(sequences).With(kinds).With(amounts).With(balances).With(orders).With(ats).With(ticks).With(members)
            .With((int)StoreTable.Ledger).With(hashes);
    }

    /// <summary>Every member's events: by stripe, then in the group's order, then in the order each member published them.</summary>
    private static void AddEvents(PostgresCommerceStore store, NpgsqlBatch batch, IReadOnlyList<ChangeSet> members)
    {
        // Each event read once: a change set makes an order's OrderPlaced anew at every read.
        var all = new List<(int Stripe, int Member, int Index, CommerceEvent Event)>();
        for (var m = 0; m < members.Count; m++)
        {
            var events = members[m].Events;
            for (var i = 0; i < events.Count; i++)
            {
                var @event = events[i];
                all.Add((@event.Stream.StripeOf(PostgresEventStore.Stripes), m, i, @event));
            }
        }

        if (all.Count == 0)
        {
            return;
        }

        all.Sort(static (x, y) => x.Stripe != y.Stripe ? x.Stripe.CompareTo(y.Stripe) : x.Member != y.Member ? x.Member.CompareTo(y.Member) : x.Index.CompareTo(y.Index));
        var stripes = new short[all.Count];
        var kinds = new short[all.Count];
        var ats = new DateTimeOffset[all.Count];
        var ticks = new short[all.Count];
        var payloads = new string[all.Count];
        for (var i = 0; i < all.Count; i++)
        {
            var (stripe, _, _, @event) = all[i];
            stripes[i] = (short)stripe;
            kinds[i] = PostgresEventRows.KindOf(@event);
            (ats[i], ticks[i]) = PostgresRows.SplitTicks(@event.At);
            payloads[i] = PostgresEventRows.Payload(@event);
        }

        batch.Add(store.GroupSql.AppendEvents).With(stripes).With(kinds).With(ats).With(ticks).With(payloads).With((long)all.Count);
    }
}
