using Npgsql;
using NpgsqlTypes;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// The baseline: the place-order use case written by hand on Npgsql as an interactive transaction
/// with pessimistic row locks, on the store's tables, doing the same writes as the store.
/// </summary>
/// <remarks>
/// Two round trips for any number of lines: <c>BEGIN</c> + the lock batch (the wallet <c>FOR UPDATE</c>
/// with its ledger length, then the stock rows with their prices <c>FOR UPDATE</c> in product-id order:
/// every transaction locks in the same order, so none deadlock), checks in the client (every product
/// exists, balance and stock suffice), then one batch with every write and <c>COMMIT</c> (wallet and its
/// ledger entry, stock, order, order lines, sales increments). READ COMMITTED, the cheapest level that is
/// correct here: every row the checks depend on is locked before it is read, so no stronger isolation
/// is needed and none of its serialization failures occur. Its data source prepares statements as the
/// store's own does (<c>Max Auto Prepare=64</c>, <c>Auto Prepare Min Usages=2</c>, unless the connection
/// string says otherwise). Versions are bumped like the store does, so the tables stay valid for it.
/// </remarks>
internal sealed class RowLockOrders : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _lockWallet;
    private readonly string _lockStock;
    private readonly string _updateWallet;
    private readonly string _insertLedger;
    private readonly string _updateStock;
    private readonly string _insertOrder;
    private readonly string _insertLines;
    private readonly string _recordSales;
    private long _attempts;
    private long _retries;

    public RowLockOrders(string connectionString, string schema)
    {
        _dataSource = NpgsqlDataSource.Create(BenchDatabase.WithAutoPrepare(connectionString));
        var s = schema;
        _lockWallet = $"SELECT balance, ledger_length FROM {s}.wallets WHERE user_id = $1 FOR UPDATE";
        _lockStock =
            $"""
            SELECT st.product_id, st.on_hand, p.price
            FROM {s}.stock st JOIN {s}.products p ON p.id = st.product_id
            WHERE st.product_id = ANY($1)
            ORDER BY st.product_id
            FOR UPDATE OF st
            """;
        _updateWallet = $"UPDATE {s}.wallets SET balance = balance - $2, ledger_length = ledger_length + 1, version = version + 1 WHERE user_id = $1";
        _insertLedger = $"INSERT INTO {s}.ledger (user_id, seq, kind, amount, balance_after, order_id, at, at_tick) VALUES ($1, $2, 1, $3, $4, $5, $6, 0)";
        _updateStock =
            $"""
            UPDATE {s}.stock st SET on_hand = st.on_hand - x.quantity, version = st.version + 1
            FROM unnest($1::bigint[], $2::integer[]) AS x(product_id, quantity)
            WHERE st.product_id = x.product_id
            """;
        _insertOrder = $"INSERT INTO {s}.orders (id, user_id, total, placed_at, placed_at_tick) VALUES ($1, $2, $3, $4, 0)";
        _insertLines =
            $"""
            INSERT INTO {s}.order_lines (order_id, line_no, product_id, quantity, unit_price, line_total)
            SELECT $1, x.line_no, x.product_id, x.quantity, x.unit_price, x.line_total
            FROM unnest($2::bigint[], $3::integer[], $4::bigint[], $5::bigint[])
                WITH ORDINALITY AS x(product_id, quantity, unit_price, line_total, line_no)
            """;
        _recordSales =
            $"""
            INSERT INTO {s}.sales (bucket_start, product_id, quantity)
            SELECT $1, x.product_id, x.quantity FROM unnest($2::bigint[], $3::bigint[]) AS x(product_id, quantity)
            ON CONFLICT (bucket_start, product_id) DO UPDATE SET quantity = {s}.sales.quantity + excluded.quantity
            """;
    }

    /// <summary>Transactions started, including ones retried.</summary>
    public long Attempts => Interlocked.Read(ref _attempts);

    /// <summary>Transactions rolled back for a deadlock or serialization failure and run again (expected: none).</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Places an order; returns <see langword="false"/> if it was refused (unknown product, short balance or stock).</summary>
    public async ValueTask<bool> PlaceOrderAsync(UserId user, OrderLineRequest[] lines, CancellationToken cancellationToken = default)
    {
        // Key order for locks and updates: product ids ascending.
        var sorted = (OrderLineRequest[])lines.Clone();
        Array.Sort(sorted, static (a, b) => a.ProductId.Value.CompareTo(b.ProductId.Value));
        var productIds = new long[sorted.Length];
        var quantities = new int[sorted.Length];
        for (var i = 0; i < sorted.Length; i++)
        {
            productIds[i] = sorted[i].ProductId.Value;
            quantities[i] = sorted[i].Quantity;
        }

        while (true)
        {
            Interlocked.Increment(ref _attempts);
            try
            {
                return await TryPlaceAsync(user, lines, productIds, quantities, cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
                Interlocked.Increment(ref _retries);
            }
        }
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private async ValueTask<bool> TryPlaceAsync(UserId user, OrderLineRequest[] lines, long[] productIds, int[] quantities, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        bool placed;
        try
        {
            placed = await TryPlaceOnAsync(connection, user, lines, productIds, quantities, ct);
        }
        catch (NpgsqlException)
        {
            // The transaction failed (a deadlock, say): end it before the connection goes back to the pool.
            await RollbackAsync(connection);
            throw;
        }

        if (!placed)
        {
            await RollbackAsync(connection); // refused after the locks: still in the transaction
        }

        return placed;
    }

    private async ValueTask<bool> TryPlaceOnAsync(NpgsqlConnection connection, UserId user, OrderLineRequest[] lines, long[] productIds, int[] quantities, CancellationToken ct)
    {
        // 1. BEGIN; lock the wallet, then the stock rows in product-id order; read the balance, ledger length, stock and prices.
        long balance = 0;
        long ledgerLength = 0;
        var walletFound = false;
        var onHand = new int[productIds.Length];
        var prices = new long[productIds.Length];
        var found = 0;
        await using (var locks = new NpgsqlBatch(connection))
        {
            locks.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            locks.BatchCommands.Add(Command(_lockWallet, Bigint(user.Value)));
            locks.BatchCommands.Add(Command(_lockStock, new NpgsqlParameter<long[]> { TypedValue = productIds }));
            await using var reader = await locks.ExecuteReaderAsync(ct);
            do
            {
                if (reader.FieldCount == 2 && await reader.ReadAsync(ct))
                {
                    balance = reader.GetInt64(0);
                    ledgerLength = reader.GetInt64(1);
                    walletFound = true;
                }
                else if (reader.FieldCount == 3)
                {
                    while (await reader.ReadAsync(ct))
                    {
                        // Rows come in product-id order, like productIds.
                        var at = Array.BinarySearch(productIds, reader.GetInt64(0));
                        onHand[at] = reader.GetInt32(1);
                        prices[at] = reader.GetInt64(2);
                        found++;
                    }
                }
            }
            while (await reader.NextResultAsync(ct));
        }

        if (!walletFound || found != productIds.Length)
        {
            return false; // no wallet to pay with, or an unknown product
        }

        // 2. Price the lines (in the order requested), check balance and stock.
        var lineProducts = new long[lines.Length];
        var lineQuantities = new int[lines.Length];
        var unitPrices = new long[lines.Length];
        var lineTotals = new long[lines.Length];
        long total = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var at = Array.BinarySearch(productIds, lines[i].ProductId.Value);
            lineProducts[i] = productIds[at];
            lineQuantities[i] = lines[i].Quantity;
            unitPrices[i] = prices[at];
            lineTotals[i] = checked(prices[at] * lines[i].Quantity);
            total = checked(total + lineTotals[i]);
        }

        if (balance < total)
        {
            return false;
        }

        for (var i = 0; i < productIds.Length; i++)
        {
            if (onHand[i] < quantities[i])
            {
                return false;
            }
        }

        // 3. Every write and COMMIT, in one batch.
        var now = TimeProvider.System.GetUtcNow();
        var orderId = Guid.CreateVersion7(now);
        var placedAt = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % 10), TimeSpan.Zero); // PostgreSQL keeps microseconds
        var bucketStart = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
        var soldQuantities = new long[quantities.Length];
        for (var i = 0; i < quantities.Length; i++)
        {
            soldQuantities[i] = quantities[i];
        }

        await using (var writes = new NpgsqlBatch(connection))
        {
            writes.BatchCommands.Add(Command(_updateWallet, Bigint(user.Value), Bigint(total)));
            writes.BatchCommands.Add(Command(
                _insertLedger,
                Bigint(user.Value),
                Bigint(ledgerLength + 1),
                Bigint(total),
                Bigint(balance - total),
                new NpgsqlParameter<Guid> { TypedValue = orderId },
                new NpgsqlParameter<DateTimeOffset> { TypedValue = placedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz }));
            writes.BatchCommands.Add(Command(
                _updateStock,
                new NpgsqlParameter<long[]> { TypedValue = productIds },
                new NpgsqlParameter<int[]> { TypedValue = quantities }));
            writes.BatchCommands.Add(Command(
                _insertOrder,
                new NpgsqlParameter<Guid> { TypedValue = orderId },
                Bigint(user.Value),
                Bigint(total),
                new NpgsqlParameter<DateTimeOffset> { TypedValue = placedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz }));
            writes.BatchCommands.Add(Command(
                _insertLines,
                new NpgsqlParameter<Guid> { TypedValue = orderId },
                new NpgsqlParameter<long[]> { TypedValue = lineProducts },
                new NpgsqlParameter<int[]> { TypedValue = lineQuantities },
                new NpgsqlParameter<long[]> { TypedValue = unitPrices },
                new NpgsqlParameter<long[]> { TypedValue = lineTotals }));
            writes.BatchCommands.Add(Command(
                _recordSales,
                new NpgsqlParameter<DateTimeOffset> { TypedValue = bucketStart, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                new NpgsqlParameter<long[]> { TypedValue = productIds },
                new NpgsqlParameter<long[]> { TypedValue = soldQuantities }));
            writes.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            await writes.ExecuteNonQueryAsync(ct);
        }

        return true;
    }

    /// <summary>Ends the connection's transaction, if it is still in one.</summary>
    private static async ValueTask RollbackAsync(NpgsqlConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            return; // broken: the server ends its transaction with the connection
        }

        await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
        await rollback.ExecuteNonQueryAsync();
    }

    private static NpgsqlParameter<long> Bigint(long value) => new() { TypedValue = value };

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }
}
