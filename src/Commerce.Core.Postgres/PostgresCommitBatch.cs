using Commerce.Events;
using Commerce.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Commerce.Postgres;

/// <summary>
/// Turns a change set into the statements of one commit batch. Every statement of a batch checks its
/// own row count through <c>expect_rows</c>, raising <c>CM409</c> (which rolls the whole batch back) when
/// a read no longer holds. Keys are visited in <see cref="StoreKey"/> order, so concurrent commits take
/// their row and advisory locks in one global order. The change set's events follow, one statement per
/// stripe, stripes ascending (each takes its stripe's counter row lock, after every key's lock; waiters
/// are woken after the commit, see <see cref="PostgresEventNotifier"/>); then the listing's lock of a commit
/// that inserts a product or checks listed pages (see <see cref="ListingTable"/>); the checks of listed pages
/// come last. (A change set
/// without writes is validated instead: <see cref="PostgresValidation"/>.)
/// </summary>
internal static class PostgresCommitBatch
{
    /// <summary>A table number after every <see cref="StoreTable"/>, for the keys of the events' statements.</summary>
    private const StoreTable EventsTable = (StoreTable)200;

    /// <summary>
    /// The table number of the products' listing as a whole: an advisory lock on (it, 0) is taken shared by every
    /// commit that inserts a product and exclusive by every commit that checks listed pages, after the events'
    /// statements (the last locks of a commit), so that no product commits between a page's check and the end
    /// of the commit that checked it (the check itself locks no row). Its statements' key sorts after the events'.
    /// </summary>
    internal const StoreTable ListingTable = (StoreTable)201;

    private static readonly StoreKey ListingKey = new(ListingTable, 0, 0);

    /// <summary>
    /// Adds the statements of <paramref name="changes"/> to <paramref name="batch"/>.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="changes">The change set, with writes.</param>
    /// <param name="batch">The batch to fill.</param>
    /// <param name="evidence">
    /// A write of the commit that tells, after the fact, whether it applied (an order inserted, an
    /// idempotency record written, an order cancelled), if it has one: a lost connection is resolved by it.
    /// </param>
    /// <param name="keys">
    /// If given, receives the key of each statement added (in order), for a group commit to merge commits by
    /// key (the events' statements get keys after every store key: <see cref="EventKey"/>); the page checks,
    /// which come last and lock nothing, get none.
    /// </param>
    /// <returns><see langword="false"/> if the change set can only fail (a write-once state replaced): nothing need be sent.</returns>
    public static bool TryBuild(PostgresCommerceStore store, ChangeSet changes, NpgsqlBatch batch, out CommitEvidence? evidence, List<StoreKey>? keys = null)
    {
        evidence = null;
        var sorted = new StoreKey[changes.Count];
        var order = new int[changes.Count];
        for (var i = 0; i < sorted.Length; i++)
        {
            sorted[i] = changes[i].Key;
            order[i] = i;
        }

        Array.Sort(sorted, order);
        var sql = store.Sql;
        var insertsProduct = false;
        for (var n = 0; n < order.Length; n++)
        {
            var i = order[n];
            var change = changes[i];
            var key = change.Key;
            switch (change.Kind)
            {
                case ChangeKind.Stable:
                    break; // A write-once state read present can no longer change: no check.

                case ChangeKind.Read when change.Seen.State is null:
                    batch.Add(PostgresSql.KeyLock(exclusive: false)).With((int)key.Table).With(PostgresRows.LockHash(key));
                    AddKey(batch.Add(sql.CheckAbsent(key.Table)), key);
                    break;

                case ChangeKind.Read when key.IsWriteOnce:
                    break; // As Stable: present, so unchanged for ever.

                case ChangeKind.Read:
                    AddKey(batch.Add(sql.CheckVersion(key.Table)), key).With(change.Seen.Version);
                    break;

                case ChangeKind.Insert:
                    insertsProduct |= key.Table == StoreTable.Products;
                    AddInsert(store.Writes, batch, key, change.State); // under the key's exclusive advisory lock
                    CommitEvidence.Consider(ref evidence, key, change.State, 1, inserted: true);
                    break;

                case ChangeKind.Update when key.IsWriteOnce:
                    return false; // A product or a ledger entry, once added, is never replaced.

                case ChangeKind.Update:
                    AddUpdate(store.Writes, batch, key, change.Seen, change.State);
                    CommitEvidence.Consider(ref evidence, key, change.State, change.Seen.Version + 1, inserted: false);
                    break;

                case ChangeKind.Adjust when IsSalesIncrement(change):
                    n = AddSalesIncrements(store, changes, order, n, batch);
                    break;

                case ChangeKind.Adjust:
                    AddAdjust(store, batch, change);
                    break;

                default:
                    throw new InvalidOperationException($"Unexpected change {change.Kind} at {key}.");
            }

            while (keys is not null && keys.Count < batch.BatchCommands.Count)
            {
                keys.Add(key);
            }
        }

        AddEvents(store, changes.Events, batch, keys);
        if (insertsProduct || changes.ProductRanges.Count > 0)
        {
            batch.Add(PostgresSql.KeyLock(exclusive: changes.ProductRanges.Count > 0)).With((int)ListingTable).With(0);
            keys?.Add(ListingKey);
        }

        foreach (var range in changes.ProductRanges)
        {
            if (range.After is { } after)
            {
                batch.Add(sql.CheckPage).With(after.Value).With(range.UpTo).With((long)range.Count);
            }
            else
            {
                batch.Add(sql.CheckPageFromStart).With(range.UpTo).With((long)range.Count);
            }
        }

        return true;
    }

    /// <summary>
    /// The key a group commit merges an events statement by: after every key of the store's tables, the
    /// appends by stripe.
    /// </summary>
    public static StoreKey EventKey(int stripe) => new(EventsTable, 0, stripe);

    /// <summary>Appends a key's parameters: the order's GUID, the user and second word, or the one word.</summary>
    public static NpgsqlBatchCommand AddKey(NpgsqlBatchCommand command, StoreKey key) => key.Table switch
    {
        StoreTable.Orders => command.With(key.OrderId.Value),
        _ when PostgresSql.KeyWidth(key.Table) == 2 => command.With(key.High).With(key.Low),
        _ => command.With(key.Low),
    };

    /// <summary>
    /// Appends the events, grouped by stripe (each stripe's in the order published), one statement per
    /// stripe in ascending order.
    /// </summary>
    private static void AddEvents(PostgresCommerceStore store, IReadOnlyList<CommerceEvent> events, NpgsqlBatch batch, List<StoreKey>? keys)
    {
        if (events.Count == 0)
        {
            return;
        }

        var byStripe = new (int Stripe, int Index)[events.Count];
        for (var i = 0; i < byStripe.Length; i++)
        {
            byStripe[i] = (events[i].Stream.StripeOf(PostgresEventStore.Stripes), i);
        }

        Array.Sort(byStripe); // By stripe, then by index: the order published within a stripe.
        for (var start = 0; start < byStripe.Length;)
        {
            var stripe = byStripe[start].Stripe;
            var end = start;
            while (end < byStripe.Length && byStripe[end].Stripe == stripe)
            {
                end++;
            }

            var count = end - start;
            var kinds = new short[count];
            var ats = new DateTimeOffset[count];
            var ticks = new short[count];
            var payloads = new string[count];
            for (var i = 0; i < count; i++)
            {
                var @event = events[byStripe[start + i].Index];
                kinds[i] = PostgresEventRows.KindOf(@event);
                (ats[i], ticks[i]) = PostgresRows.SplitTicks(@event.At);
                payloads[i] = PostgresEventRows.Payload(@event);
            }

            batch.Add(store.Events.Append).With((short)stripe).With((long)count).With(kinds).With(ats).With(ticks).With(payloads);
            keys?.Add(EventKey(stripe));
            start = end;
        }
    }

    /// <summary>Adds the insert of a state under the key's exclusive advisory lock (taken by the insert itself, but for an order).</summary>
    private static void AddInsert(PostgresWriteSql sql, NpgsqlBatch batch, StoreKey key, object? state)
    {
        NpgsqlBatchCommand command;
        switch (state)
        {
            case Wallet wallet:
                command = batch.Add(sql.InsertWallet).With(wallet.UserId.Value).With(wallet.Balance.Amount).With(wallet.LedgerLength);
                break;
            case Product product:
                command = batch.Add(sql.InsertProduct).With(product.Id.Value).With(product.Name).With(product.Price.Amount);
                break;
            case StockItem stock:
                command = batch.Add(sql.InsertStock).With(stock.ProductId.Value).With(stock.OnHand);
                break;
            case Cart cart:
                command = batch.Add(sql.InsertCart).With(cart.UserId.Value).With(PostgresRows.FormatLines(cart.Lines));
                break;
            case Order order:
                // Its lock in a statement of its own, so that the insert's snapshot is taken after it (see InsertOrder).
                batch.Add(PostgresSql.KeyLock(exclusive: true)).With((int)key.Table).With(PostgresRows.LockHash(key));
                AddOrder(sql, batch, order);
                return;
            case LedgerEntry entry:
                var (at, tick) = PostgresRows.SplitTicks(entry.At);
                command = batch.Add(sql.InsertLedger)
                    .With(key.High).With(key.Low).With((short)entry.Kind).With(entry.Amount.Amount).With(entry.BalanceAfter.Amount)
                    .WithNullable(entry.OrderId?.Value, NpgsqlDbType.Uuid).With(at).With(tick);
                break;
            case IdempotencyRecord record:
                command = WithRecord(batch.Add(sql.InsertIdempotency), key, record);
                break;
            default:
                throw new InvalidOperationException("Unexpected state to insert: " + state?.GetType().Name + ".");
        }

        command.With((int)key.Table).With(PostgresRows.LockHash(key));
    }

    private static void AddUpdate(PostgresWriteSql sql, NpgsqlBatch batch, StoreKey key, in StoredState seen, object? state)
    {
        var version = seen.Version;
        switch (state)
        {
            case Wallet wallet:
                batch.Add(sql.UpdateWallet).With(wallet.UserId.Value).With(wallet.Balance.Amount).With(wallet.LedgerLength).With(version);
                break;
            case StockItem stock:
                batch.Add(sql.UpdateStock).With(stock.ProductId.Value).With(stock.OnHand).With(version);
                break;
            case Cart cart:
                batch.Add(sql.UpdateCart).With(cart.UserId.Value).With(PostgresRows.FormatLines(cart.Lines)).With(version);
                break;
            case Order order:
                if (seen.State is not Order before || !SameBesidesCancellation(before, order))
                {
                    throw new NotSupportedException($"Only an order's cancellation changes: the update of {key} changes more.");
                }

                var (at, tick) = order.CancelledAt is { } cancelledAt ? PostgresRows.SplitTicks(cancelledAt) : default;
                batch.Add(sql.UpdateOrder)
                    .With(order.Id.Value)
                    .WithNullable(order.CancelledAt is null ? null : at, NpgsqlDbType.TimestampTz)
                    .WithNullable(order.CancelledAt is null ? null : tick, NpgsqlDbType.Smallint)
                    .With(version);
                break;
            case IdempotencyRecord record:
                // The instant read is checked with the version: a purge deletes records, so the key may hold a
                // newer one, inserted at the first version again, by the time this commit runs.
                var (readAt, readTick) = seen.State is IdempotencyRecord read
                    ? PostgresRows.SplitTicks(read.CreatedAt)
                    : throw new InvalidOperationException($"The update of {key} names no record read.");
                WithRecord(batch.Add(sql.UpdateIdempotency), key, record).With(version).With(readAt).With(readTick);
                break;
            default:
                throw new InvalidOperationException("Unexpected state to update: " + state?.GetType().Name + ".");
        }
    }

    /// <summary>
    /// Whether a change only adds units to a sales row: any count, or none, then ends at or above the delta,
    /// so at or above the change's minimum, and nothing need be checked.
    /// </summary>
    private static bool IsSalesIncrement(in Change change) =>
        change is { Kind: ChangeKind.Adjust, Key.Table: StoreTable.Sales } && change.Delta > 0 && change.Delta >= change.Minimum;

    /// <summary>
    /// Adds the sales increments from position <paramref name="first"/> of the sorted changes on, for as long
    /// as they follow one another, as one upsert (<see cref="PostgresWriteSql.AdjustSales"/>); returns the
    /// position of the last one taken. (Keys are unique within a change set, so no row comes twice.)
    /// </summary>
    private static int AddSalesIncrements(PostgresCommerceStore store, ChangeSet changes, int[] order, int first, NpgsqlBatch batch)
    {
        var last = first;
        while (last + 1 < order.Length && IsSalesIncrement(changes[order[last + 1]]))
        {
            last++;
        }

        var buckets = new DateTimeOffset[last - first + 1];
        var products = new long[buckets.Length];
        var quantities = new long[buckets.Length];
        for (var n = first; n <= last; n++)
        {
            var change = changes[order[n]];
            buckets[n - first] = store.BucketStart(change.Key.High);
            products[n - first] = change.Key.Low;
            quantities[n - first] = change.Delta;
        }

        batch.Add(store.Writes.AdjustSales).With(buckets).With(products).With(quantities);
        return last;
    }

    /// <summary>
    /// A relative write. Sales grow by an upsert of their bucket's row, needing no read (see
    /// <see cref="AddSalesIncrements"/>, which takes every increment); a decrease (a
    /// cancellation) is guarded like stock and wallets: the result must stay at or above the minimum (and
    /// within the column's range), else the commit fails. Stock must exist; an absent wallet counts as
    /// zero, and is inserted under the key's exclusive advisory lock like any insert; an absent sales row
    /// counts as zero too.
    /// </summary>
    private static void AddAdjust(PostgresCommerceStore store, NpgsqlBatch batch, in Change change)
    {
        var key = change.Key;
        var sql = store.Writes;
        var minimum = Math.Max(change.Minimum, 0); // The schema keeps balances, stock and sales non-negative.
        switch (key.Table)
        {
            case StoreTable.Sales when change.Delta == 0 && minimum == 0:
                break; // Every count, or none, stays as it is, at zero or more.
            case StoreTable.Sales:
                batch.Add(sql.AdjustSalesGuarded).With(store.BucketStart(key.High)).With(key.Low).With(change.Delta).With(minimum);
                break;
            case StoreTable.Stock:
                batch.Add(sql.AdjustStock).With(key.Low).With(change.Delta).With(minimum);
                break;
            case StoreTable.Wallets:
                batch.Add(PostgresSql.KeyLock(exclusive: true)).With((int)key.Table).With(PostgresRows.LockHash(key));
                batch.Add(sql.AdjustWallet).With(key.Low).With(change.Delta).With(minimum);
                break;
            default:
                throw new InvalidOperationException($"The table of {key} holds no number to adjust.");
        }
    }

    private static void AddOrder(PostgresWriteSql sql, NpgsqlBatch batch, Order order)
    {
        var lines = order.Lines;
        var productIds = new long[lines.Count];
        var quantities = new int[lines.Count];
        var unitPrices = new long[lines.Count];
        var lineTotals = new long[lines.Count];
        for (var i = 0; i < lines.Count; i++)
        {
            productIds[i] = lines[i].ProductId.Value;
            quantities[i] = lines[i].Quantity;
            unitPrices[i] = lines[i].UnitPrice.Amount;
            lineTotals[i] = lines[i].LineTotal.Amount;
        }

        var (placedAt, tick) = PostgresRows.SplitTicks(order.PlacedAt);
        var (cancelledAt, cancelledTick) = order.CancelledAt is { } at ? PostgresRows.SplitTicks(at) : default;
        batch.Add(sql.InsertOrder)
            .With(order.Id.Value).With(order.UserId.Value).With(order.Total.Amount).With(placedAt).With(tick)
            .With(productIds).With(quantities).With(unitPrices).With(lineTotals)
            .WithNullable(order.CancelledAt is null ? null : cancelledAt, NpgsqlDbType.TimestampTz)
            .WithNullable(order.CancelledAt is null ? null : cancelledTick, NpgsqlDbType.Smallint);
    }

    /// <summary>Appends $1 to $12 of an idempotency record's insert or update (see <see cref="PostgresWriteSql.InsertIdempotency"/>).</summary>
    private static NpgsqlBatchCommand WithRecord(NpgsqlBatchCommand command, StoreKey key, IdempotencyRecord record)
    {
        var (createdAt, tick) = PostgresRows.SplitTicks(record.CreatedAt);
        var error = record.Error;
        return command
            .With(key.High).With(key.Low).With((short)record.Operation).With(record.Key).With(record.RequestHash).With(createdAt).With(tick)
            .WithNullable(error is null ? null : (int)error.Code, NpgsqlDbType.Integer)
            .WithNullable(error?.Message, NpgsqlDbType.Text)
            .WithNullable(error?.ProductIds.Select(static p => p.Value).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Bigint)
            .With(record.Balance.Amount)
            .WithNullable(record.OrderId?.Value, NpgsqlDbType.Uuid);
    }

    private static bool SameBesidesCancellation(Order before, Order after) =>
        before.Id == after.Id && before.UserId == after.UserId && before.Total == after.Total && before.PlacedAt == after.PlacedAt
        && before.Lines.SequenceEqual(after.Lines);
}
