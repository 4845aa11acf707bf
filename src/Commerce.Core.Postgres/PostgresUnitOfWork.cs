using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// A unit of work over PostgreSQL. Reads are plain single-statement queries on a connection held for
/// the unit of work; each row read is remembered with its version (or as absent). Writes are staged.
/// <see cref="CommitAsync"/> sends every write, and a check of every row only read, as one batch:
/// one round trip, one implicit transaction. Each statement verifies its own row count (a version that
/// moved, a key that appeared) and raises <c>CM409</c> otherwise, which rolls the whole batch back.
/// A unit of work without writes validates instead: if its reads came from more than one statement, a
/// single statement (one snapshot) checks that every version read is still current.
/// </summary>
internal sealed class PostgresUnitOfWork(PostgresCommerceStore store)
    : IUnitOfWork, IWalletRepository, IProductRepository, IInventoryRepository, ICartRepository, IOrderRepository, ISalesRepository
{
    private const string ConflictState = "CM409";

    private readonly Dictionary<EntryKey, Entry> _entries = [];
    private Dictionary<EntryKey, (object? State, long Version)>? _prefetched;
    private List<PageRead>? _pages;
    private List<(DateTimeOffset BucketStart, long ProductId, long Quantity)>? _sales;
    private NpgsqlConnection? _connection;
    private int _readStatements;
    private bool _completed;

    public IWalletRepository Wallets => this;

    public IProductRepository Products => this;

    public IInventoryRepository Inventory => this;

    public ICartRepository Carts => this;

    public IOrderRepository Orders => this;

    public ISalesRepository Sales => this;

    // ---- repositories -------------------------------------------------------------------------

    async ValueTask<Wallet?> IWalletRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        (Wallet?)await ReadAsync(
            new EntryKey(PostgresTable.Wallets, userId.Value),
            store.Sql.FindWallet,
            r => (new Wallet(userId, new Money(r.GetInt64(0))), r.GetInt64(1)),
            cancellationToken).ConfigureAwait(false);

    void IWalletRepository.Save(Wallet wallet)
    {
        ArgumentNullException.ThrowIfNull(wallet);
        Stage(new EntryKey(PostgresTable.Wallets, wallet.UserId.Value), wallet);
    }

    async ValueTask<Product?> IProductRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        (Product?)await ReadAsync(
            new EntryKey(PostgresTable.Products, productId.Value),
            store.Sql.FindProduct,
            r =>
            {
                Prefetch(new EntryKey(PostgresTable.Stock, productId.Value), r.IsDBNull(3) ? null : new StockItem(productId, r.GetInt32(3)), r.IsDBNull(4) ? 0 : r.GetInt64(4));
                return (new Product(productId, r.GetString(0), new Money(r.GetInt64(1))), r.GetInt64(2));
            },
            cancellationToken).ConfigureAwait(false);

    async ValueTask<IReadOnlyList<Product>> IProductRepository.ListAsync(ProductId? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        EnsureOpen();
        var from = after?.Value ?? long.MinValue;
        var page = new List<Product>(Math.Min(limit, 128));
        var (rows, lastId) = (0, long.MaxValue);
        if (after is null || from != long.MaxValue)
        {
            var sql = after is null ? store.Sql.ListProducts.Replace("p.id > $1", "p.id >= $1", StringComparison.Ordinal) : store.Sql.ListProducts;
            await QueryAsync(
                sql,
                parameters =>
                {
                    // The first page starts at the lowest id, inclusive: "id > min" would skip long.MinValue.
                    parameters.Add(new NpgsqlParameter<long> { TypedValue = from });
                    parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
                },
                async (reader, ct) =>
                {
                    page.Clear();
                    rows = 0;
                    while (await reader.ReadAsync(ct).ConfigureAwait(false))
                    {
                        var id = new ProductId(reader.GetInt64(0));
                        (rows, lastId) = (rows + 1, id.Value);
                        var product = new Product(id, reader.GetString(1), new Money(reader.GetInt64(2)));

                        // A product this unit of work already read as absent stays absent here; the commit then fails.
                        if (Remember(new EntryKey(PostgresTable.Products, id.Value), product, reader.GetInt64(3)) is Product kept)
                        {
                            page.Add(kept);
                        }

                        var stock = reader.IsDBNull(4) ? null : new StockItem(id, reader.GetInt32(4));
                        Prefetch(new EntryKey(PostgresTable.Stock, id.Value), stock, stock is null ? 0 : reader.GetInt64(5));
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }

        (_pages ??= []).Add(new PageRead(after is null ? null : from, rows == limit ? lastId : long.MaxValue, rows));
        return page.AsReadOnly();
    }

    void IProductRepository.Add(Product product)
    {
        ArgumentNullException.ThrowIfNull(product);
        Stage(new EntryKey(PostgresTable.Products, product.Id.Value), product);
    }

    async ValueTask<StockItem?> IInventoryRepository.FindAsync(ProductId productId, CancellationToken cancellationToken) =>
        (StockItem?)await ReadAsync(
            new EntryKey(PostgresTable.Stock, productId.Value),
            store.Sql.FindStock,
            r => (new StockItem(productId, r.GetInt32(0)), r.GetInt64(1)),
            cancellationToken).ConfigureAwait(false);

    void IInventoryRepository.Save(StockItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        Stage(new EntryKey(PostgresTable.Stock, item.ProductId.Value), item);
    }

    async ValueTask<Cart?> ICartRepository.FindAsync(UserId userId, CancellationToken cancellationToken) =>
        (Cart?)await ReadAsync(
            new EntryKey(PostgresTable.Carts, userId.Value),
            store.Sql.FindCart,
            r => (new Cart(userId, ParseLines(r.GetString(0))), r.GetInt64(1)),
            cancellationToken).ConfigureAwait(false);

    void ICartRepository.Save(Cart cart)
    {
        ArgumentNullException.ThrowIfNull(cart);
        Stage(new EntryKey(PostgresTable.Carts, cart.UserId.Value), cart);
    }

    async ValueTask<Order?> IOrderRepository.FindAsync(OrderId orderId, CancellationToken cancellationToken)
    {
        var key = new EntryKey(PostgresTable.Orders, 0, orderId.Value);
        EnsureOpen();
        if (_entries.TryGetValue(key, out var known))
        {
            return (Order?)(known.Desired ?? known.Seen);
        }

        Order? order = null;
        await QueryAsync(
            store.Sql.FindOrder,
            parameters => parameters.Add(new NpgsqlParameter<Guid> { TypedValue = orderId.Value }),
            async (reader, ct) =>
            {
                UserId user = default;
                DateTimeOffset placedAt = default;
                var lines = new List<OrderLine>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    user = new UserId(reader.GetInt64(0));
                    placedAt = reader.GetFieldValue<DateTimeOffset>(1).AddTicks(reader.GetInt16(2));
                    lines.Add(new OrderLine(new ProductId(reader.GetInt64(3)), reader.GetInt32(4), new Money(reader.GetInt64(5))));
                }

                order = lines.Count == 0 ? null : new Order(orderId, user, lines, placedAt);
            },
            cancellationToken).ConfigureAwait(false);
        return (Order?)Remember(key, order, 0);
    }

    void IOrderRepository.Add(Order order)
    {
        ArgumentNullException.ThrowIfNull(order);
        Stage(new EntryKey(PostgresTable.Orders, 0, order.Id.Value), order);
    }

    ValueTask ISalesRepository.RecordAsync(Order order, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(order);
        EnsureOpen();
        var bucketStart = BucketStart(order.PlacedAt, store.RankingResolution);
        _sales ??= [];
        foreach (var line in order.Lines)
        {
            _sales.Add((bucketStart, line.ProductId.Value, line.Quantity));
        }

        return ValueTask.CompletedTask;
    }

    async ValueTask<IReadOnlyList<ProductSales>> ISalesRepository.GetTopAsync(DateTimeOffset from, DateTimeOffset to, int count, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        EnsureOpen();
        var top = new List<ProductSales>(count);
        await QueryAsync(
            store.Sql.TopSales,
            parameters =>
            {
                parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = from.ToUniversalTime() });
                parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = to.ToUniversalTime() });
                parameters.Add(new NpgsqlParameter<int> { TypedValue = count });
            },
            async (reader, ct) =>
            {
                top.Clear();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var id = new ProductId(reader.GetInt64(0));
                    top.Add(new ProductSales(id, reader.GetInt64(1)));

                    // The products come with the same snapshot, so the ranking's names and prices need no further query.
                    Prefetch(new EntryKey(PostgresTable.Products, id.Value), new Product(id, reader.GetString(2), new Money(reader.GetInt64(3))), reader.GetInt64(4));
                }
            },
            cancellationToken).ConfigureAwait(false);
        return top.AsReadOnly();
    }

    // ---- unit of work -------------------------------------------------------------------------

    public async ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        EnsureOpen();
        _completed = true;

        var writes = _sales is { Count: > 0 };
        foreach (var entry in _entries.Values)
        {
            writes |= entry.Desired is not null;
        }

        if (!writes)
        {
            return _readStatements <= 1 || await ValidateAsync(cancellationToken).ConfigureAwait(false);
        }

        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var batch = new NpgsqlBatch(connection);
        await using (batch.ConfigureAwait(false))
        {
            if (store.CommandTimeout is { } timeout)
            {
                batch.Timeout = timeout;
            }

            Guid? insertedOrder = null;
            var keys = _entries.Keys.ToArray();
            Array.Sort(keys);
            foreach (var key in keys)
            {
                var entry = _entries[key];
                if (key.Table == PostgresTable.Orders && entry.Seen is not null)
                {
                    if (entry.Desired is not null)
                    {
                        return false; // Orders are immutable: adding an id that exists always fails.
                    }

                    continue; // An order read stays as it was: orders are never changed or removed.
                }

                if (entry.Desired is null)
                {
                    AddReadCheck(batch, key, entry);
                }
                else
                {
                    AddWrite(batch, key, entry);
                    if (key.Table == PostgresTable.Orders)
                    {
                        insertedOrder = key.Guid;
                    }
                }
            }

            foreach (var page in _pages ?? [])
            {
                Add(batch, store.Sql.CheckPage, page.After ?? long.MinValue, page.UpTo, (long)page.Count);
                if (page.After is null)
                {
                    batch.BatchCommands[^1].CommandText = batch.BatchCommands[^1].CommandText.Replace("id > $1", "id >= $1", StringComparison.Ordinal);
                }
            }

            AddSales(batch);

            if (store.BeforeCommit is { } hook)
            {
                await hook(connection, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                // Once sent, a commit runs to its end: it is not cancelled half-way.
                await batch.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                return true;
            }
            catch (PostgresException e) when (IsConflict(e))
            {
                return false;
            }
            catch (PostgresException e) when (e.InvariantSeverity == "ERROR")
            {
                throw; // The server rejected the batch, so the implicit transaction rolled back.
            }
            catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
            {
                // The connection failed with the batch in flight: it committed entirely or not at all.
                await DropConnectionAsync().ConfigureAwait(false);
                return await ResolveAsync(insertedOrder, e).ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _completed = true;
        await DropConnectionAsync().ConfigureAwait(false);
    }

    private static bool IsConflict(PostgresException e) =>
        e.SqlState is ConflictState or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected;

    /// <summary>
    /// Finds out whether a commit whose connection failed was applied. A commit that placed an order is
    /// decided by the order's presence, once the order key's advisory lock (held by the commit's
    /// transaction until it ended) can be taken; any other commit is reported as unknown.
    /// </summary>
    private async ValueTask<bool> ResolveAsync(Guid? insertedOrder, Exception failure)
    {
        const string Message = "The connection failed while a commit was in flight; it was applied entirely or not at all.";
        if (insertedOrder is not { } orderId)
        {
            throw new CommitOutcomeUnknownException(Message, failure);
        }

        try
        {
            var connection = await store.DataSource.OpenConnectionAsync().ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var batch = new NpgsqlBatch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    Add(batch, PostgresSql.KeyLock(exclusive: false), (int)PostgresTable.Orders, HashOf(new EntryKey(PostgresTable.Orders, 0, orderId)));
                    Add(batch, $"SELECT EXISTS (SELECT 1 FROM {store.QuotedSchema}.orders WHERE id = $1)", orderId);
                    var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        await reader.NextResultAsync().ConfigureAwait(false);
                        await reader.ReadAsync().ConfigureAwait(false);
                        return reader.GetBoolean(0);
                    }
                }
            }
        }
        catch (Exception e) when (e is NpgsqlException or IOException)
        {
            throw new CommitOutcomeUnknownException(Message, new AggregateException(failure, e));
        }
    }

    private void AddReadCheck(NpgsqlBatch batch, EntryKey key, Entry entry)
    {
        if (entry.Seen is not null)
        {
            Add(batch, store.Sql.CheckVersion(key.Table), key.Id, entry.Version);
            return;
        }

        Add(batch, PostgresSql.KeyLock(exclusive: false), (int)key.Table, HashOf(key));
        if (key.Table == PostgresTable.Orders)
        {
            Add(batch, store.Sql.CheckAbsent(key.Table), key.Guid);
        }
        else
        {
            Add(batch, store.Sql.CheckAbsent(key.Table), key.Id);
        }
    }

    private void AddWrite(NpgsqlBatch batch, EntryKey key, Entry entry)
    {
        var insert = entry.Seen is null;
        if (insert)
        {
            Add(batch, PostgresSql.KeyLock(exclusive: true), (int)key.Table, HashOf(key));
        }

        var sql = store.Sql;
        switch (entry.Desired)
        {
            case Wallet wallet when insert:
                Add(batch, sql.InsertWallet, key.Id, wallet.Balance.Amount);
                break;
            case Wallet wallet:
                Add(batch, sql.UpdateWallet, key.Id, wallet.Balance.Amount, entry.Version);
                break;
            case Product product when insert:
                Add(batch, sql.InsertProduct, key.Id, product.Name, product.Price.Amount);
                break;
            case Product product:
                Add(batch, sql.UpdateProduct, key.Id, product.Name, product.Price.Amount, entry.Version);
                break;
            case StockItem stock when insert:
                Add(batch, sql.InsertStock, key.Id, stock.OnHand);
                break;
            case StockItem stock:
                Add(batch, sql.UpdateStock, key.Id, stock.OnHand, entry.Version);
                break;
            case Cart cart when insert:
                Add(batch, sql.InsertCart, key.Id, FormatLines(cart.Lines));
                break;
            case Cart cart:
                Add(batch, sql.UpdateCart, key.Id, FormatLines(cart.Lines), entry.Version);
                break;
            case Order order:
                AddOrder(batch, order);
                break;
            default:
                throw new InvalidOperationException("Unexpected staged state " + entry.Desired?.GetType().Name + ".");
        }
    }

    private void AddOrder(NpgsqlBatch batch, Order order)
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

        // PostgreSQL keeps microseconds; the ticks below are stored apart so the order reads back exactly.
        var ticks = order.PlacedAt.UtcTicks;
        var placedAt = new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero);
        Add(batch, store.Sql.InsertOrder, order.Id.Value, order.UserId.Value, order.Total.Amount, placedAt, (short)(ticks % 10), productIds, quantities, unitPrices, lineTotals);
    }

    private void AddSales(NpgsqlBatch batch)
    {
        if (_sales is null)
        {
            return;
        }

        // One increment per (bucket, product), in key order like every other row lock.
        var totals = new SortedDictionary<(DateTimeOffset, long), long>();
        foreach (var (bucketStart, productId, quantity) in _sales)
        {
            totals[(bucketStart, productId)] = totals.GetValueOrDefault((bucketStart, productId)) + quantity;
        }

        foreach (var ((bucketStart, productId), quantity) in totals)
        {
            Add(batch, store.Sql.RecordSale, bucketStart, productId, quantity);
        }
    }

    /// <summary>One statement, one snapshot: true iff every version read and every absence still hold.</summary>
    private async ValueTask<bool> ValidateAsync(CancellationToken cancellationToken)
    {
        var conditions = new List<string>();
        var command = Command(await ConnectionAsync(cancellationToken).ConfigureAwait(false), string.Empty);
        await using (command.ConfigureAwait(false))
        {
            foreach (var group in _entries.GroupBy(e => e.Key.Table))
            {
                var table = group.Key;
                var present = group.Where(e => e.Value.Seen is not null && table != PostgresTable.Orders).ToArray();
                if (present.Length > 0)
                {
                    conditions.Add(store.Sql.Validate(table, present: true));
                    command.Parameters.Add(new NpgsqlParameter<long[]>("k" + (int)table, present.Select(e => e.Key.Id).ToArray()));
                    command.Parameters.Add(new NpgsqlParameter<long[]>("v" + (int)table, present.Select(e => e.Value.Version).ToArray()));
                    command.Parameters.Add(new NpgsqlParameter<long>("n" + (int)table, present.Length));
                }

                var absent = group.Where(e => e.Value.Seen is null).ToArray();
                if (absent.Length > 0)
                {
                    conditions.Add(store.Sql.Validate(table, present: false));
                    command.Parameters.Add(table == PostgresTable.Orders
                        ? new NpgsqlParameter<Guid[]>("a" + (int)table, absent.Select(e => e.Key.Guid).ToArray())
                        : new NpgsqlParameter<long[]>("a" + (int)table, absent.Select(e => e.Key.Id).ToArray()));
                }
            }

            for (var i = 0; i < (_pages?.Count ?? 0); i++)
            {
                var page = _pages![i];
                conditions.Add(store.Sql.ValidatePage(i).Replace($"id > @pa{i}", page.After is null ? $"id >= @pa{i}" : $"id > @pa{i}", StringComparison.Ordinal));
                command.Parameters.Add(new NpgsqlParameter<long>("pa" + i, page.After ?? long.MinValue));
                command.Parameters.Add(new NpgsqlParameter<long>("pb" + i, page.UpTo));
                command.Parameters.Add(new NpgsqlParameter<long>("pn" + i, page.Count));
            }

            if (conditions.Count == 0)
            {
                return true;
            }

            command.CommandText = "SELECT " + string.Join(" AND ", conditions);
            try
            {
                return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
            }
            catch (PostgresException e) when (IsConflict(e))
            {
                return false;
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                // Nothing was written: report a conflict, so the reads are retried on a fresh connection.
                await DropConnectionAsync().ConfigureAwait(false);
                return false;
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    private async ValueTask<object?> ReadAsync(EntryKey key, string sql, Func<NpgsqlDataReader, (object State, long Version)> map, CancellationToken cancellationToken)
    {
        EnsureOpen();
        if (_entries.TryGetValue(key, out var known))
        {
            return known.Desired ?? known.Seen;
        }

        if (_prefetched is not null && _prefetched.Remove(key, out var row))
        {
            return Remember(key, row.State, row.Version);
        }

        object? state = null;
        long version = 0;
        await QueryAsync(
            sql,
            parameters => parameters.Add(new NpgsqlParameter<long> { TypedValue = key.Id }),
            async (reader, ct) =>
            {
                (state, version) = await reader.ReadAsync(ct).ConfigureAwait(false) ? map(reader) : (null, 0);
            },
            cancellationToken).ConfigureAwait(false);
        return Remember(key, state, version);
    }

    /// <summary>
    /// Runs one read statement. A connection found broken (a pooled connection whose server went away,
    /// a terminated backend) is replaced once: a read applies nothing, and the commit validates it anyway.
    /// </summary>
    private async ValueTask QueryAsync(string sql, Action<NpgsqlParameterCollection> bind, Func<NpgsqlDataReader, CancellationToken, ValueTask> consume, CancellationToken cancellationToken)
    {
        _readStatements++;
        for (var attempt = 1; ; attempt++)
        {
            var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
            var command = Command(connection, sql);
            await using (command.ConfigureAwait(false))
            {
                bind(command.Parameters);
                try
                {
                    var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        await consume(reader, cancellationToken).ConfigureAwait(false);
                        return;
                    }
                }
                catch (Exception e) when (attempt == 1 && IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
                {
                    await DropConnectionAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private static bool IsConnectionFailure(Exception e) =>
        e is IOException || (e is NpgsqlException && e is not PostgresException { InvariantSeverity: "ERROR" });

    /// <summary>
    /// Keeps a row a statement returned alongside what it was asked for. It becomes a read (validated at
    /// commit, with the version seen here) only if the use case asks for it; otherwise it costs nothing.
    /// </summary>
    private void Prefetch(EntryKey key, object? state, long version)
    {
        if (!_entries.ContainsKey(key))
        {
            (_prefetched ??= [])[key] = (state, version);
        }
    }

    /// <summary>Remembers a read; a key read before keeps its first state, so repeated reads agree.</summary>
    private object? Remember(EntryKey key, object? state, long version)
    {
        if (_entries.TryGetValue(key, out var known))
        {
            return known.Desired ?? known.Seen;
        }

        _entries.Add(key, new Entry { Seen = state, Version = version });
        return state;
    }

    private void Stage(EntryKey key, object state)
    {
        EnsureOpen();
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.Desired = state;
        }
        else
        {
            // Not read first: an insert, which requires the key to be absent at commit.
            _entries.Add(key, new Entry { Seen = null, Desired = state });
        }
    }

    private async ValueTask<NpgsqlConnection> ConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await store.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    private async ValueTask DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private NpgsqlCommand Command(NpgsqlConnection connection, string sql)
    {
        var command = new NpgsqlCommand(sql, connection);
        if (store.CommandTimeout is { } timeout)
        {
            command.CommandTimeout = timeout;
        }

        return command;
    }

    private static void Add(NpgsqlBatch batch, string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        batch.BatchCommands.Add(command);
    }

    private static int HashOf(EntryKey key) =>
        key.Table == PostgresTable.Orders ? key.Guid.GetHashCode() : (int)(key.Id ^ (key.Id >>> 32));

    internal static DateTimeOffset BucketStart(DateTimeOffset at, TimeSpan resolution)
    {
        var sinceEpoch = at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var bucket = Math.DivRem(sinceEpoch, resolution.Ticks, out var rem);
        if (rem < 0)
        {
            bucket--;
        }

        return new DateTimeOffset(DateTimeOffset.UnixEpoch.UtcTicks + (bucket * resolution.Ticks), TimeSpan.Zero);
    }

    internal static string FormatLines(ImmutableArray<CartLine> lines)
    {
        var json = new StringBuilder("[");
        for (var i = 0; i < lines.Length; i++)
        {
            json.Append(i == 0 ? "[" : ",[")
                .Append(lines[i].ProductId.Value.ToString(CultureInfo.InvariantCulture))
                .Append(',')
                .Append(lines[i].Quantity.ToString(CultureInfo.InvariantCulture))
                .Append(']');
        }

        return json.Append(']').ToString();
    }

    internal static ImmutableArray<CartLine> ParseLines(string json)
    {
        using var document = JsonDocument.Parse(json);
        var lines = ImmutableArray.CreateBuilder<CartLine>(document.RootElement.GetArrayLength());
        foreach (var pair in document.RootElement.EnumerateArray())
        {
            lines.Add(new CartLine(new ProductId(pair[0].GetInt64()), pair[1].GetInt32()));
        }

        return lines.MoveToImmutable();
    }

    private void EnsureOpen() => ObjectDisposedException.ThrowIf(_completed, this);

    /// <summary>A key in one table: bigint keys in <see cref="Id"/>, order ids in <see cref="Guid"/>.</summary>
    private readonly record struct EntryKey(PostgresTable Table, long Id, Guid Guid = default) : IComparable<EntryKey>
    {
        public int CompareTo(EntryKey other)
        {
            var byTable = Table.CompareTo(other.Table);
            if (byTable != 0)
            {
                return byTable;
            }

            var byId = Id.CompareTo(other.Id);
            return byId != 0 ? byId : Guid.CompareTo(other.Guid);
        }
    }

    /// <summary>What a key held when read (null: absent) with its version, and what the commit will write.</summary>
    private sealed class Entry
    {
        public object? Seen { get; init; }

        public long Version { get; init; }

        public object? Desired { get; set; }
    }

    /// <summary>A listed page: products with ids in (After, UpTo] — [min, UpTo] for the first page — and how many.</summary>
    private sealed record PageRead(long? After, long UpTo, int Count);
}
