using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Turns a change set into the statements of one commit batch, and a change set without writes into
/// one validation statement. Every statement of a batch checks its own row count through
/// <c>expect_rows</c>, raising <c>CM409</c> (which rolls the whole batch back) when a read no longer
/// holds. Keys are visited in <see cref="StoreKey"/> order, so concurrent commits take their row and
/// advisory locks in one global order.
/// </summary>
internal static class PostgresCommitBatch
{
    /// <summary>
    /// Adds the statements of <paramref name="changes"/> to <paramref name="batch"/>.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="changes">The change set, with writes.</param>
    /// <param name="batch">The batch to fill.</param>
    /// <param name="insertedOrder">The order the commit inserts, if any: a lost connection is resolved by its presence.</param>
    /// <returns><see langword="false"/> if the change set can only fail (a write-once state replaced): nothing need be sent.</returns>
    public static bool TryBuild(PostgresCommerceStore store, ChangeSet changes, NpgsqlBatch batch, out OrderId? insertedOrder)
    {
        insertedOrder = null;
        var keys = new StoreKey[changes.Count];
        var order = new int[changes.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = changes[i].Key;
            order[i] = i;
        }

        Array.Sort(keys, order);
        var sql = store.Sql;
        foreach (var i in order)
        {
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

                case ChangeKind.Read:
                    AddKey(batch.Add(sql.CheckVersion(key.Table)), key).With(change.Seen.Version);
                    break;

                case ChangeKind.Insert:
                    batch.Add(PostgresSql.KeyLock(exclusive: true)).With((int)key.Table).With(PostgresRows.LockHash(key));
                    AddInsert(store, batch, change.State);
                    insertedOrder = change.State is Order placed ? placed.Id : insertedOrder;
                    break;

                case ChangeKind.Update when key.IsWriteOnce:
                    return false; // A product or an order, once added, is never replaced.

                case ChangeKind.Update:
                    AddUpdate(sql, batch, change.State, change.Seen.Version);
                    break;

                case ChangeKind.Adjust:
                    AddAdjust(store, batch, change);
                    break;

                default:
                    throw new InvalidOperationException($"Unexpected change {change.Kind} at {key}.");
            }
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
    /// One statement (one snapshot) that is true iff every state read is still current, every key read
    /// absent is still absent, and every listed range still holds as many products; <see langword="null"/>
    /// if there is nothing to check.
    /// </summary>
    public static NpgsqlCommand? Validation(PostgresCommerceStore store, NpgsqlConnection connection, ChangeSet changes)
    {
        var sql = store.Sql;
        var conditions = new List<string>();
        var command = store.Command(connection, string.Empty);
        foreach (var table in PostgresSql.KeyedTables)
        {
            List<long>? keys = null;
            List<long>? versions = null;
            List<long>? absent = null;
            List<Guid>? absentOrders = null;
            for (var i = 0; i < changes.Count; i++)
            {
                var change = changes[i];
                if (change.Key.Table != table || change.Kind != ChangeKind.Read)
                {
                    continue;
                }

                if (change.Seen.State is not null)
                {
                    (keys ??= []).Add(change.Key.Low);
                    (versions ??= []).Add(change.Seen.Version);
                }
                else if (table == StoreTable.Orders)
                {
                    (absentOrders ??= []).Add(change.Key.OrderId.Value);
                }
                else
                {
                    (absent ??= []).Add(change.Key.Low);
                }
            }

            var t = (int)table;
            if (keys is not null && table != StoreTable.Orders)
            {
                conditions.Add(sql.ValidatePresent(table));
                command.Parameters.Add(new NpgsqlParameter<long[]>("k" + t, keys.ToArray()));
                command.Parameters.Add(new NpgsqlParameter<long[]>("v" + t, versions!.ToArray()));
                command.Parameters.Add(new NpgsqlParameter<long>("n" + t, keys.Count));
            }

            if (absent is not null || absentOrders is not null)
            {
                conditions.Add(sql.ValidateAbsent(table));
                command.Parameters.Add(absentOrders is not null
                    ? new NpgsqlParameter<Guid[]>("a" + t, absentOrders.ToArray())
                    : new NpgsqlParameter<long[]>("a" + t, absent!.ToArray()));
            }
        }

        var ranges = changes.ProductRanges;
        for (var i = 0; i < ranges.Count; i++)
        {
            conditions.Add(sql.ValidatePage(i, fromStart: ranges[i].After is null));
            if (ranges[i].After is { } after)
            {
                command.Parameters.Add(new NpgsqlParameter<long>("pa" + i, after.Value));
            }

            command.Parameters.Add(new NpgsqlParameter<long>("pb" + i, ranges[i].UpTo));
            command.Parameters.Add(new NpgsqlParameter<long>("pn" + i, ranges[i].Count));
        }

        if (conditions.Count == 0)
        {
            command.Dispose();
            return null;
        }

        command.CommandText = "SELECT " + string.Join(" AND ", conditions);
        return command;
    }

    private static NpgsqlBatchCommand AddKey(NpgsqlBatchCommand command, StoreKey key) =>
        key.Table == StoreTable.Orders ? command.With(key.OrderId.Value) : command.With(key.Low);

    private static void AddInsert(PostgresCommerceStore store, NpgsqlBatch batch, object? state)
    {
        var sql = store.Sql;
        switch (state)
        {
            case Wallet wallet:
                batch.Add(sql.InsertWallet).With(wallet.UserId.Value).With(wallet.Balance.Amount);
                break;
            case Product product:
                batch.Add(sql.InsertProduct).With(product.Id.Value).With(product.Name).With(product.Price.Amount);
                break;
            case StockItem stock:
                batch.Add(sql.InsertStock).With(stock.ProductId.Value).With(stock.OnHand);
                break;
            case Cart cart:
                batch.Add(sql.InsertCart).With(cart.UserId.Value).With(PostgresRows.FormatLines(cart.Lines));
                break;
            case Order order:
                AddOrder(sql, batch, order);
                break;
            default:
                throw new InvalidOperationException("Unexpected state to insert: " + state?.GetType().Name + ".");
        }
    }

    private static void AddUpdate(PostgresSql sql, NpgsqlBatch batch, object? state, long version)
    {
        switch (state)
        {
            case Wallet wallet:
                batch.Add(sql.UpdateWallet).With(wallet.UserId.Value).With(wallet.Balance.Amount).With(version);
                break;
            case StockItem stock:
                batch.Add(sql.UpdateStock).With(stock.ProductId.Value).With(stock.OnHand).With(version);
                break;
            case Cart cart:
                batch.Add(sql.UpdateCart).With(cart.UserId.Value).With(PostgresRows.FormatLines(cart.Lines)).With(version);
                break;
            default:
                throw new InvalidOperationException("Unexpected state to update: " + state?.GetType().Name + ".");
        }
    }

    /// <summary>
    /// A relative write: sales add to their bucket's row (inserting it); stock and wallets add under the
    /// guard that the result stays at or above the minimum (and within the column's range). Stock must
    /// exist; an absent wallet counts as zero, and is inserted under the key's exclusive advisory lock
    /// like any insert.
    /// </summary>
    private static void AddAdjust(PostgresCommerceStore store, NpgsqlBatch batch, in Change change)
    {
        var key = change.Key;
        var minimum = Math.Max(change.Minimum, 0); // The schema keeps balances, stock and sales non-negative.
        switch (key.Table)
        {
            case StoreTable.Sales:
                if (change.Delta <= 0 || change.Delta < change.Minimum)
                {
                    throw new NotSupportedException($"Sales only grow: the adjustment of {key} by {change.Delta} (minimum {change.Minimum}) is not supported.");
                }

                batch.Add(store.Sql.AdjustSales).With(store.BucketStart(key.High)).With(key.Low).With(change.Delta);
                break;
            case StoreTable.Stock:
                batch.Add(store.Sql.AdjustStock).With(key.Low).With(change.Delta).With(minimum);
                break;
            case StoreTable.Wallets:
                batch.Add(PostgresSql.KeyLock(exclusive: true)).With((int)key.Table).With(PostgresRows.LockHash(key));
                batch.Add(store.Sql.AdjustWallet).With(key.Low).With(change.Delta).With(minimum);
                break;
            default:
                throw new InvalidOperationException($"The table of {key} holds no number to adjust.");
        }
    }

    private static void AddOrder(PostgresSql sql, NpgsqlBatch batch, Order order)
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

        var (placedAt, tick) = PostgresRows.SplitPlacedAt(order.PlacedAt);
        batch.Add(sql.InsertOrder)
            .With(order.Id.Value).With(order.UserId.Value).With(order.Total.Amount).With(placedAt).With(tick)
            .With(productIds).With(quantities).With(unitPrices).With(lineTotals);
    }
}
