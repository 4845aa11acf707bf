using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Commerce.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Commerce.Postgres;

/// <summary>
/// Maps rows to aggregates and aggregates to column values: the columns of the key read
/// (<see cref="PostgresSql.ReadKeys"/>), the cart's JSON lines, instants split at the microsecond, and
/// the advisory-lock hash of a key.
/// </summary>
internal static class PostgresRows
{
    // Columns of PostgresSql.ReadKeys; what each holds, per table:
    //   wallets      Id user, A balance, B ledger length, Version
    //   products     Id product, A price, Text name, Version
    //   stock        Id product, A on hand, Version
    //   carts        Id user, Text lines, Version
    //   orders       Id user, Ref order, A product, B quantity, C unit price, N line number, Version,
    //                At/AtTick placed, At2/At2Tick cancelled (one row per line)
    //   ledger       Id user, Low sequence, Ref order, A amount, B balance after, N kind, At/AtTick
    //   idempotency  Id user, Low digest, Ref order, A request hash, B balance, C error code, N operation,
    //                Text key, Text2 error message, Ids error products, Version, At/AtTick created
    public const int Table = 0;
    public const int Id = 1;
    public const int Low = 2;
    public const int Ref = 3;
    public const int A = 4;
    public const int B = 5;
    public const int C = 6;
    public const int N = 7;
    public const int Text = 8;
    public const int Text2 = 9;
    public const int Ids = 10;
    public const int Version = 11;
    public const int At = 12;
    public const int AtTick = 13;
    public const int At2 = 14;
    public const int At2Tick = 15;

    /// <summary>The SQL type of each column of a key read, by index.</summary>
    public static readonly string[] ReadColumnTypes =
        ["integer", "bigint", "bigint", "uuid", "bigint", "bigint", "bigint", "integer", "text", "text", "bigint[]", "bigint", "timestamptz", "smallint", "timestamptz", "smallint"];

    /// <summary>The table of the current row of a key read.</summary>
    public static StoreTable TableOf(NpgsqlDataReader row) => (StoreTable)row.GetInt32(Table);

    /// <summary>The key and state of the current row of a key read, for any table but orders.</summary>
    public static (StoreKey Key, StoredState State) Keyed(NpgsqlDataReader row, object statement)
    {
        var table = TableOf(row);
        var id = row.GetInt64(Id);
        switch (table)
        {
            case StoreTable.Ledger:
            {
                var entry = new LedgerEntry(
                    row.GetInt64(Low), new UserId(id), (LedgerEntryKind)row.GetInt32(N), new Money(row.GetInt64(A)), new Money(row.GetInt64(B)),
                    OrderIdOrNull(row), Instant(row, At, AtTick));
                return (StoreKey.ForLedger(entry.UserId, entry.Sequence), new StoredState(entry, 0, statement));
            }

            case StoreTable.Idempotency when !row.IsDBNull(C) && row.GetInt64(C) == PostgresSql.FenceErrorCode:
            {
                // A fence keeps no outcome: read as a record long expired, which the key's next request replaces.
                var fence = new IdempotencyRecord(
                    new UserId(id), (IdempotentOperation)row.GetInt32(N), row.GetString(Text), row.GetInt64(A), DateTimeOffset.MinValue,
                    null, Money.Zero, null);
                return (new StoreKey(table, id, row.GetInt64(Low)), new StoredState(fence, row.GetInt64(Version), statement));
            }

            case StoreTable.Idempotency:
            {
                var error = row.IsDBNull(C)
                    ? null
                    : new CommerceError((CommerceErrorCode)row.GetInt64(C), row.GetString(Text2), row.GetFieldValue<long[]>(Ids).Select(static p => new ProductId(p)));
                var record = new IdempotencyRecord(
                    new UserId(id), (IdempotentOperation)row.GetInt32(N), row.GetString(Text), row.GetInt64(A), Instant(row, At, AtTick),
                    error, new Money(row.GetInt64(B)), OrderIdOrNull(row));
                return (new StoreKey(table, id, row.GetInt64(Low)), new StoredState(record, row.GetInt64(Version), statement));
            }
        }

        object state = table switch
        {
            StoreTable.Wallets => new Wallet(new UserId(id), new Money(row.GetInt64(A)), row.GetInt64(B)),
            StoreTable.Products => new Product(new ProductId(id), row.GetString(Text), new Money(row.GetInt64(A))),
            StoreTable.Stock => new StockItem(new ProductId(id), checked((int)row.GetInt64(A))),
            StoreTable.Carts => new Cart(new UserId(id), ParseLines(row.GetString(Text))),
            _ => throw new InvalidOperationException($"Unexpected table {table} in a key read."),
        };
        return (new StoreKey(table, 0, id), new StoredState(state, row.GetInt64(Version), statement));
    }

    /// <summary>A product and its stock (absent if the stock column is null) from a product listing's current row.</summary>
    public static ((StoreKey Key, StoredState State) Product, (StoreKey Key, StoredState State) Stock) Listed(NpgsqlDataReader row, object statement)
    {
        var id = new ProductId(row.GetInt64(0));
        var product = new Product(id, row.GetString(1), new Money(row.GetInt64(2)));
        var stock = new StoredState(row.IsDBNull(4) ? null : new StockItem(id, row.GetInt32(4)), row.IsDBNull(5) ? 0 : row.GetInt64(5), statement);
        return ((StoreKey.ForProduct(id), new StoredState(product, row.GetInt64(3), statement)), (StoreKey.ForStock(id), stock));
    }

    /// <summary>Formats a cart's lines as the <c>jsonb</c> array of [product id, quantity] pairs.</summary>
    public static string FormatLines(ImmutableArray<CartLine> lines)
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

    /// <summary>Parses what <see cref="FormatLines"/> wrote.</summary>
    public static ImmutableArray<CartLine> ParseLines(string json)
    {
        using var document = JsonDocument.Parse(json);
        var lines = ImmutableArray.CreateBuilder<CartLine>(document.RootElement.GetArrayLength());
        foreach (var pair in document.RootElement.EnumerateArray())
        {
            lines.Add(new CartLine(new ProductId(pair[0].GetInt64()), pair[1].GetInt32()));
        }

        return lines.MoveToImmutable();
    }

    /// <summary>
    /// Splits an instant into what <c>timestamptz</c> keeps (microseconds) and the 100 ns ticks below,
    /// stored apart so that an instant reads back exactly.
    /// </summary>
    public static (DateTimeOffset Microseconds, short Ticks) SplitTicks(DateTimeOffset at)
    {
        var ticks = at.UtcTicks;
        return (new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero), (short)(ticks % 10));
    }

    /// <summary>
    /// An instant stored split (<see cref="SplitTicks"/>) in two columns of the current row, at offset zero (Npgsql's
    /// legacy timestamp behaviour, if a host turned it on, reads a <c>timestamptz</c> at the local offset).
    /// </summary>
    public static DateTimeOffset Instant(NpgsqlDataReader row, int microseconds, int ticks) =>
        row.GetFieldValue<DateTimeOffset>(microseconds).ToUniversalTime().AddTicks(row.GetInt16(ticks));

    /// <summary>As <see cref="Instant"/>, or <see langword="null"/> if the columns are null.</summary>
    public static DateTimeOffset? InstantOrNull(NpgsqlDataReader row, int microseconds, int ticks) =>
        row.IsDBNull(microseconds) ? null : Instant(row, microseconds, ticks);

    private static OrderId? OrderIdOrNull(NpgsqlDataReader row) => row.IsDBNull(Ref) ? null : new OrderId(row.GetGuid(Ref));

    /// <summary>
    /// The second word of a key's advisory lock (the first is the table): the same on every host, so that
    /// every instance sharing the database locks a key alike.
    /// </summary>
    public static int LockHash(StoreKey key)
    {
        var mixed = key.High ^ key.Low;
        return (int)(mixed ^ (mixed >>> 32));
    }

    /// <summary>Collects the rows of orders (one per line) from a key read, then builds the orders.</summary>
    public sealed class OrderRows
    {
        private readonly Dictionary<Guid, (UserId User, DateTimeOffset PlacedAt, DateTimeOffset? CancelledAt, long Version, List<(int No, OrderLine Line)> Lines)> _orders = [];

        /// <summary>Takes the current row of a key read, an order line.</summary>
        public void Add(NpgsqlDataReader row)
        {
            var id = row.GetGuid(Ref);
            if (!_orders.TryGetValue(id, out var order))
            {
                order = (new UserId(row.GetInt64(Id)), Instant(row, At, AtTick), InstantOrNull(row, At2, At2Tick), row.GetInt64(Version), []);
                _orders.Add(id, order);
            }

            var line = new OrderLine(new ProductId(row.GetInt64(A)), checked((int)row.GetInt64(B)), new Money(row.GetInt64(C)));
            order.Lines.Add((row.GetInt32(N), line));
        }

        /// <summary>Builds each order read, with its lines in their order, and passes it with its key and version.</summary>
        public void Build(Action<StoreKey, Order, long> found)
        {
            foreach (var (id, (user, placedAt, cancelledAt, version, lines)) in _orders)
            {
                lines.Sort(static (x, y) => x.No.CompareTo(y.No));
                var orderId = new OrderId(id);
                found(StoreKey.ForOrder(orderId), new Order(orderId, user, lines.Select(l => l.Line), placedAt, cancelledAt), version);
            }
        }
    }
}

/// <summary>Adds typed positional parameters (<c>$1</c>, <c>$2</c>, ...) to commands.</summary>
internal static class PostgresParameters
{
    /// <summary>Appends a statement to a batch.</summary>
    public static NpgsqlBatchCommand Add(this NpgsqlBatch batch, string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        batch.BatchCommands.Add(command);
        return command;
    }

    /// <summary>Appends the next positional parameter.</summary>
    public static NpgsqlBatchCommand With<T>(this NpgsqlBatchCommand command, T value)
    {
        command.Parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
        return command;
    }

    /// <summary>Appends the next positional parameter, which may be null (sent as a typed NULL).</summary>
    public static NpgsqlBatchCommand WithNullable(this NpgsqlBatchCommand command, object? value, NpgsqlDbType type)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value, NpgsqlDbType = type });
        return command;
    }

    /// <summary>Appends the next positional parameter.</summary>
    public static NpgsqlCommand With<T>(this NpgsqlCommand command, T value)
    {
        command.Parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
        return command;
    }
}
