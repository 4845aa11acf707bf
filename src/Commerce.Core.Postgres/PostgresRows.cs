using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Maps rows to aggregates and aggregates to column values: the columns of the key read
/// (<see cref="PostgresSql.ReadKeys"/>), the cart's JSON lines, the order's time stamp split at the
/// microsecond, and the advisory-lock hash of a key.
/// </summary>
internal static class PostgresRows
{
    // Columns of PostgresSql.ReadKeys.
    private const int Table = 0;
    private const int Key = 1;
    private const int OrderIdColumn = 2;
    private const int A = 3;
    private const int B = 4;
    private const int C = 5;
    private const int Text = 6;
    private const int Version = 7;
    private const int PlacedAt = 8;
    private const int Tick = 9;
    private const int LineNo = 10;

    /// <summary>The table of the current row of a key read.</summary>
    public static StoreTable TableOf(NpgsqlDataReader row) => (StoreTable)row.GetInt32(Table);

    /// <summary>The key and state of the current row of a key read, for any table but orders.</summary>
    public static (StoreKey Key, StoredState State) Keyed(NpgsqlDataReader row, object statement)
    {
        var table = TableOf(row);
        var id = row.GetInt64(Key);
        object state = table switch
        {
            StoreTable.Wallets => new Wallet(new UserId(id), new Money(row.GetInt64(A))),
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
    /// stored apart so that an order reads back exactly.
    /// </summary>
    public static (DateTimeOffset Microseconds, short Ticks) SplitPlacedAt(DateTimeOffset at)
    {
        var ticks = at.UtcTicks;
        return (new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero), (short)(ticks % 10));
    }

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
        private readonly Dictionary<Guid, (UserId User, DateTimeOffset PlacedAt, List<(int No, OrderLine Line)> Lines)> _orders = [];

        /// <summary>Takes the current row of a key read, an order line.</summary>
        public void Add(NpgsqlDataReader row)
        {
            var id = row.GetGuid(OrderIdColumn);
            if (!_orders.TryGetValue(id, out var order))
            {
                order = (new UserId(row.GetInt64(Key)), row.GetFieldValue<DateTimeOffset>(PlacedAt).AddTicks(row.GetInt16(Tick)), []);
                _orders.Add(id, order);
            }

            var line = new OrderLine(new ProductId(row.GetInt64(A)), checked((int)row.GetInt64(B)), new Money(row.GetInt64(C)));
            order.Lines.Add((row.GetInt32(LineNo), line));
        }

        /// <summary>Builds each order read, with its lines in their order, and passes it with its key.</summary>
        public void Build(Action<StoreKey, Order> found)
        {
            foreach (var (id, (user, placedAt, lines)) in _orders)
            {
                lines.Sort(static (x, y) => x.No.CompareTo(y.No));
                var orderId = new OrderId(id);
                found(StoreKey.ForOrder(orderId), new Order(orderId, user, lines.Select(l => l.Line), placedAt));
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

    /// <summary>Appends the next positional parameter.</summary>
    public static NpgsqlCommand With<T>(this NpgsqlCommand command, T value)
    {
        command.Parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
        return command;
    }
}
