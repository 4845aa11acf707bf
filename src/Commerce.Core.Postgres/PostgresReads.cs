using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// The session's reads, each one statement, so each is a snapshot by itself: a batch of keys of any
/// tables (<see cref="PostgresSql.ReadKeys"/>), a page of products with their stock, the best sellers
/// with their products. Each read is split into building its command and consuming its rows into a
/// result the session applies only once the statement has completed, so a read retried on a fresh
/// connection never reports a row twice. Every state read carries, as its handle, the number of the
/// statement that read it (<see cref="Statement"/>), so that a commit without writes can tell whether
/// its reads form a snapshot.
/// </summary>
internal static class PostgresReads
{
    private static readonly object[] Statements = [.. Enumerable.Range(0, 64).Select(static n => (object)n)];

    /// <summary>The handle of the states read by a session's <paramref name="number"/>th read statement (from 1).</summary>
    public static object Statement(int number) => number < Statements.Length ? Statements[number] : number;

    /// <summary>The number of the read statement behind a handle; 0 if the handle is not one (the state was not read by this store).</summary>
    public static int StatementOf(object? handle) => handle is int number ? number : 0;

    // ---- keys -----------------------------------------------------------------------------------

    /// <summary>
    /// One statement reading every key of the batch: one key array per table (two for a table keyed by two
    /// words), after <see cref="PostgresSql.GenericPlansForThisRead"/> (whose row <see cref="KeysFoundAsync"/> skips), at
    /// READ COMMITTED (see <see cref="PostgresCommerceStore.QueryBatch"/>), as every read of this class is.
    /// </summary>
    public static NpgsqlBatch Keys(PostgresCommerceStore store, NpgsqlConnection connection, ReadBatch batch) =>
        Keys(store, connection, batch.Count, batch, static (batch, i) => batch[i]);

    /// <summary>As <see cref="Keys(PostgresCommerceStore, NpgsqlConnection, ReadBatch)"/>, for a list of keys (a group read's).</summary>
    public static NpgsqlBatch Keys(PostgresCommerceStore store, NpgsqlConnection connection, List<StoreKey> keys) =>
        Keys(store, connection, keys.Count, keys, static (keys, i) => keys[i]);

    private static NpgsqlBatch Keys<TKeys>(PostgresCommerceStore store, NpgsqlConnection connection, int count, TKeys keys, Func<TKeys, int, StoreKey> keyAt)
    {
        var tables = 0;
        for (var i = 0; i < count; i++)
        {
            var table = keyAt(keys, i).Table;
            if (table is < StoreTable.Wallets or > StoreTable.Idempotency or StoreTable.Sales)
            {
                throw new ArgumentException($"The key {keyAt(keys, i)} cannot be read by key.", nameof(keys));
            }

            tables |= 1 << (int)table;
        }

        var statements = store.QueryBatch(connection);
        statements.Add(PostgresSql.GenericPlansForThisRead);
        var command = statements.Add(store.Sql.ReadKeys(tables));
        foreach (var table in PostgresSql.KeyedTables)
        {
            if ((tables & (1 << (int)table)) == 0)
            {
                continue;
            }

            if (table == StoreTable.Orders)
            {
                command.With(Collect(count, keys, keyAt, table, static key => key.OrderId.Value));
            }
            else if (PostgresSql.KeyWidth(table) == 2)
            {
                command.With(Collect(count, keys, keyAt, table, static key => key.High)).With(Collect(count, keys, keyAt, table, static key => key.Low));
            }
            else
            {
                command.With(Collect(count, keys, keyAt, table, static key => key.Low));
            }
        }

        return statements;
    }

    /// <summary>What a group's key read found: the state of every key that has a row, each with <paramref name="statement"/> as its handle.</summary>
    public static async ValueTask<Dictionary<StoreKey, StoredState>> GroupKeysFoundAsync(NpgsqlDataReader reader, object statement, CancellationToken cancellationToken)
    {
        var found = new Dictionary<StoreKey, StoredState>();
        await ReadFoundAsync(reader, statement, found, static (found, key, state) => found[key] = state, cancellationToken).ConfigureAwait(false);
        return found;
    }

    /// <summary>What the key read found: one state per requested key (a null state where no row was), each with the statement's handle.</summary>
    public static async ValueTask<StoredState[]> KeysFoundAsync(NpgsqlDataReader reader, ReadBatch batch, object statement, CancellationToken cancellationToken)
    {
        var found = new StoredState[batch.Count];
        found.AsSpan().Fill(new StoredState(null, 0, statement));
        await ReadFoundAsync(reader, statement, (found, batch), static (into, key, state) => into.found[IndexOf(into.batch, key)] = state, cancellationToken)
            .ConfigureAwait(false);
        return found;
    }

    /// <summary>
    /// Reads a key read's rows (past the setting's row) and hands each key's state to <paramref name="put"/>, with
    /// <paramref name="statement"/> as its handle: an order's once all its lines are read.
    /// </summary>
    private static async ValueTask ReadFoundAsync<TInto>(
        NpgsqlDataReader reader, object statement, TInto into, Action<TInto, StoreKey, StoredState> put, CancellationToken cancellationToken)
    {
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the setting's row
        PostgresRows.OrderRows? orders = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (PostgresRows.TableOf(reader) == StoreTable.Orders)
            {
                (orders ??= new()).Add(reader);
                continue;
            }

            var (key, state) = PostgresRows.Keyed(reader, statement);
            put(into, key, state);
        }

        orders?.Build((key, order, version) => put(into, key, new StoredState(order, version, statement)));
    }

    // ---- product listing ------------------------------------------------------------------------

    /// <summary>A page of products with ids above the page's start (from the lowest if null), with their stock.</summary>
    public static NpgsqlBatch Products(PostgresCommerceStore store, NpgsqlConnection connection, (ProductId? After, int Limit) page)
    {
        var statements = store.QueryBatch(connection);
        _ = page.After is { } after
            ? statements.Add(store.Sql.ListProducts).With(after.Value).With(page.Limit)
            : statements.Add(store.Sql.ListProductsFromStart).With(page.Limit);
        return statements;
    }

    /// <summary>The listed rows (each product, then its stock) and the range the listing covered.</summary>
    public static async ValueTask<(List<(StoreKey, StoredState)> Rows, ProductRange Range)> ProductsFoundAsync(
        NpgsqlDataReader reader, (ProductId? After, int Limit) page, object statement, CancellationToken cancellationToken)
    {
        var rows = new List<(StoreKey, StoredState)>(Math.Min(page.Limit, 64) * 2);
        var (listed, lastId) = (0, long.MaxValue);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var (product, stock) = PostgresRows.Listed(reader, statement);
            rows.Add(product);
            rows.Add(stock);
            (listed, lastId) = (listed + 1, product.Key.Low);
        }

        // A full page covered ids up to its last one; a shorter page covered every id above its start.
        return (rows, new ProductRange(page.After, listed == page.Limit ? lastId : long.MaxValue, listed, statement));
    }

    // ---- best sellers ---------------------------------------------------------------------------

    /// <summary>The best sellers over buckets [first, end), with their products.</summary>
    public static NpgsqlBatch TopSales(PostgresCommerceStore store, NpgsqlConnection connection, (long First, long End, int Count) query)
    {
        var statements = store.QueryBatch(connection);
        statements.Add(store.Sql.TopSales)
            .With(store.BucketStart(query.First))
            .With(store.BucketStart(query.End))
            .With(query.Count);
        return statements;
    }

    /// <summary>The best sellers and the product rows joined with them.</summary>
    public static async ValueTask<(List<ProductSales> Sales, List<(StoreKey, StoredState)> Products)> TopSalesFoundAsync(
        NpgsqlDataReader reader, (long First, long End, int Count) query, object statement, CancellationToken cancellationToken)
    {
        // The count may be far above the rows that come back (up to int.MaxValue): not a capacity to allocate.
        var capacity = Math.Min(query.Count, 128);
        var sales = new List<ProductSales>(capacity);
        var products = new List<(StoreKey, StoredState)>(capacity);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = new ProductId(reader.GetInt64(0));
            sales.Add(new ProductSales(id, reader.GetInt64(1)));
            products.Add((StoreKey.ForProduct(id), new StoredState(new Product(id, reader.GetString(2), new Money(reader.GetInt64(3))), reader.GetInt64(4), statement)));
        }

        return (sales, products);
    }

    // ---- helpers --------------------------------------------------------------------------------

    private static T[] Collect<TKeys, T>(int count, TKeys keys, Func<TKeys, int, StoreKey> keyAt, StoreTable table, Func<StoreKey, T> value)
    {
        var n = 0;
        for (var i = 0; i < count; i++)
        {
            n += keyAt(keys, i).Table == table ? 1 : 0;
        }

        var values = new T[n];
        n = 0;
        for (var i = 0; i < count; i++)
        {
            var key = keyAt(keys, i);
            if (key.Table == table)
            {
                values[n++] = value(key);
            }
        }

        return values;
    }

    private static int IndexOf(ReadBatch batch, StoreKey key)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch[i] == key)
            {
                return i;
            }
        }

        throw new InvalidOperationException($"The key read returned {key}, which was not asked for.");
    }
}
