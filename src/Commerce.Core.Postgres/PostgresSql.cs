using System.Text;
using Commerce.Storage;

namespace Commerce.Postgres;

/// <summary>The store's SQL text for one schema, built once (the key reads once per set of tables).</summary>
internal sealed class PostgresSql(string s)
{
    /// <summary>The tables a key read can cover, in lock order.</summary>
    public static readonly StoreTable[] KeyedTables = [StoreTable.Wallets, StoreTable.Products, StoreTable.Stock, StoreTable.Carts, StoreTable.Orders];

    private readonly string?[] _readKeys = new string?[1 << 6];

    private readonly string[] _checkVersion = PerTable(table =>
        $"""
        WITH r AS (SELECT 1 FROM {s}.{Name(table)} WHERE {Key(table)} = $1 AND version = $2 FOR SHARE)
        SELECT {s}.expect_rows((SELECT count(*) FROM r), 1)
        """);

    private readonly string[] _checkAbsent = PerTable(table =>
        $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.{Name(table)} WHERE {Key(table)} = $1), 0)");

    // ---- reads ----------------------------------------------------------------------------------

    /// <summary>A page of products after an id ($1), with their stock, in one statement (one snapshot); $2 is the limit.</summary>
    public string ListProducts { get; } = ListFrom(s, "WHERE p.id > $1 ORDER BY p.id LIMIT $2");

    /// <summary>The first page of products, from the lowest id; $1 is the limit.</summary>
    public string ListProductsFromStart { get; } = ListFrom(s, "ORDER BY p.id LIMIT $1");

    /// <summary>The best sellers over [$1, $2), at most $3, with their products, in one statement (one snapshot).</summary>
    public string TopSales { get; } =
        $"""
        SELECT t.product_id, t.sold, p.name, p.price, p.version
        FROM (
            SELECT product_id, sum(quantity)::bigint AS sold
            FROM {s}.sales WHERE bucket_start >= $1 AND bucket_start < $2
            GROUP BY product_id
            ORDER BY sold DESC, product_id
            LIMIT $3
        ) t JOIN {s}.products p ON p.id = t.product_id
        ORDER BY t.sold DESC, t.product_id
        """;

    /// <summary>Whether an order exists (to resolve a commit whose connection failed).</summary>
    public string OrderExists { get; } = $"SELECT EXISTS (SELECT 1 FROM {s}.orders WHERE id = $1)";

    /// <summary>
    /// One statement (so one snapshot) reading keys of every table whose bit (1 &lt;&lt; table) is set in
    /// <paramref name="tables"/>: one <c>= ANY($n)</c> branch per table, numbered in table order. Every
    /// row has the same columns: table, key, order id, three numbers, text, version, placed_at, tick,
    /// line number. An order comes as one row per line.
    /// </summary>
    public string ReadKeys(int tables) => _readKeys[tables] ??= BuildReadKeys(tables);

    // ---- commit statements: each raises CM409 through expect_rows when its row count is wrong ----

    public string CheckVersion(StoreTable table) => _checkVersion[(int)table];

    public string CheckAbsent(StoreTable table) => _checkAbsent[(int)table];

    /// <summary>Checks that a listed id range, ($1, $2], still holds $3 products.</summary>
    public string CheckPage { get; } = $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.products WHERE id > $1 AND id <= $2), $3)";

    /// <summary>As <see cref="CheckPage"/> for a listing from the lowest id: [min, $1] holds $2.</summary>
    public string CheckPageFromStart { get; } = $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.products WHERE id <= $1), $2)";

    public string UpdateWallet { get; } = Guarded(s, $"UPDATE {s}.wallets SET balance = $2, version = version + 1 WHERE user_id = $1 AND version = $3 RETURNING 1");

    public string InsertWallet { get; } = Guarded(s, $"INSERT INTO {s}.wallets (user_id, balance, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1");

    /// <summary>
    /// Adds $2 to a balance if the result stays within [$3, long.MaxValue]; an absent wallet counts as 0 and
    /// is inserted if $2 ≥ $3. Both branches see one snapshot, so exactly one row is written or CM409 raised.
    /// </summary>
    public string AdjustWallet { get; } =
        $"""
        WITH u AS (
            UPDATE {s}.wallets SET balance = balance + $2, version = version + 1
            WHERE user_id = $1 AND balance::numeric + $2 BETWEEN $3 AND 9223372036854775807 RETURNING 1
        ), i AS (
            INSERT INTO {s}.wallets (user_id, balance, version)
            SELECT $1, $2, 1 WHERE $2 >= $3 AND NOT EXISTS (SELECT 1 FROM {s}.wallets WHERE user_id = $1)
            ON CONFLICT DO NOTHING RETURNING 1
        )
        SELECT {s}.expect_rows((SELECT count(*) FROM u) + (SELECT count(*) FROM i), 1)
        """;

    public string InsertProduct { get; } = Guarded(s, $"INSERT INTO {s}.products (id, name, price, version) VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING RETURNING 1");

    public string UpdateStock { get; } = Guarded(s, $"UPDATE {s}.stock SET on_hand = $2, version = version + 1 WHERE product_id = $1 AND version = $3 RETURNING 1");

    public string InsertStock { get; } = Guarded(s, $"INSERT INTO {s}.stock (product_id, on_hand, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1");

    /// <summary>Adds $2 to a product's stock if the result stays within [$3, int.MaxValue]; CM409 if not, or if there is no stock row.</summary>
    public string AdjustStock { get; } = Guarded(s, $"UPDATE {s}.stock SET on_hand = on_hand + $2, version = version + 1 WHERE product_id = $1 AND on_hand::bigint + $2 BETWEEN $3 AND 2147483647 RETURNING 1");

    public string UpdateCart { get; } = Guarded(s, $"UPDATE {s}.carts SET lines = $2::jsonb, version = version + 1 WHERE user_id = $1 AND version = $3 RETURNING 1");

    public string InsertCart { get; } = Guarded(s, $"INSERT INTO {s}.carts (user_id, lines, version) VALUES ($1, $2::jsonb, 1) ON CONFLICT DO NOTHING RETURNING 1");

    /// <summary>The order and its lines; the lines are inserted only with the order.</summary>
    public string InsertOrder { get; } =
        $"""
        WITH o AS (
            INSERT INTO {s}.orders (id, user_id, total, placed_at, placed_at_tick) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT DO NOTHING RETURNING id
        ), l AS (
            INSERT INTO {s}.order_lines (order_id, line_no, product_id, quantity, unit_price, line_total)
            SELECT o.id, x.ordinality, x.product_id, x.quantity, x.unit_price, x.line_total
            FROM o CROSS JOIN unnest($6::bigint[], $7::integer[], $8::bigint[], $9::bigint[])
                WITH ORDINALITY AS x(product_id, quantity, unit_price, line_total, ordinality)
            RETURNING 1
        )
        SELECT {s}.expect_rows((SELECT count(*) FROM o), 1), (SELECT count(*) FROM l)
        """;

    /// <summary>Adds $3 units to the sales of product $2 in the bucket starting at $1 (a relative write: no read, no version).</summary>
    public string AdjustSales { get; } =
        $"""
        INSERT INTO {s}.sales (bucket_start, product_id, quantity) VALUES ($1, $2, $3)
        ON CONFLICT (bucket_start, product_id) DO UPDATE SET quantity = {s}.sales.quantity + EXCLUDED.quantity
        """;

    /// <summary>
    /// A transaction-scoped advisory lock on one key ($1 the table, $2 a hash of the key): exclusive for
    /// inserts, shared for absence checks, so that an absence checked at commit stays true until the commit ends.
    /// </summary>
    public static string KeyLock(bool exclusive) =>
        exclusive ? "SELECT pg_advisory_xact_lock($1, $2)" : "SELECT pg_advisory_xact_lock_shared($1, $2)";

    public static string Name(StoreTable table) => table switch
    {
        StoreTable.Wallets => "wallets",
        StoreTable.Products => "products",
        StoreTable.Stock => "stock",
        StoreTable.Carts => "carts",
        StoreTable.Orders => "orders",
        _ => throw new ArgumentOutOfRangeException(nameof(table), table, "Not a keyed table."),
    };

    public static string Key(StoreTable table) => table switch
    {
        StoreTable.Wallets or StoreTable.Carts => "user_id",
        StoreTable.Stock => "product_id",
        _ => "id",
    };

    // ---- read-only validation: one statement, one snapshot ---------------------------------------

    /// <summary>True iff every (key, version) in @k{t}, @v{t} still matches (@n{t} of them).</summary>
    public string ValidatePresent(StoreTable table) =>
        $"(SELECT count(*) FROM {s}.{Name(table)} t JOIN unnest(@k{(int)table}, @v{(int)table}) AS x(k, v) ON t.{Key(table)} = x.k AND t.version = x.v) = @n{(int)table}";

    /// <summary>True iff every key in @a{t} is still absent.</summary>
    public string ValidateAbsent(StoreTable table) =>
        $"NOT EXISTS (SELECT 1 FROM {s}.{Name(table)} WHERE {Key(table)} = ANY(@a{(int)table}))";

    /// <summary>True iff listed range i still holds @pn{i} products: ids in (@pa{i}, @pb{i}], or up to @pb{i} from the start.</summary>
    public string ValidatePage(int i, bool fromStart) =>
        fromStart
            ? $"(SELECT count(*) FROM {s}.products WHERE id <= @pb{i}) = @pn{i}"
            : $"(SELECT count(*) FROM {s}.products WHERE id > @pa{i} AND id <= @pb{i}) = @pn{i}";

    private static string Guarded(string s, string writeReturningOne) =>
        $"WITH w AS ({writeReturningOne}) SELECT {s}.expect_rows((SELECT count(*) FROM w), 1)";

    private static string ListFrom(string s, string rest) =>
        $"""
        SELECT p.id, p.name, p.price, p.version, st.on_hand, st.version
        FROM {s}.products p LEFT JOIN {s}.stock st ON st.product_id = p.id
        {rest}
        """;

    private static string[] PerTable(Func<StoreTable, string> sql)
    {
        var texts = new string[(int)StoreTable.Orders + 1];
        foreach (var table in KeyedTables)
        {
            texts[(int)table] = sql(table);
        }

        return texts;
    }

    private string BuildReadKeys(int tables)
    {
        var sql = new StringBuilder();
        var parameter = 0;
        foreach (var table in KeyedTables)
        {
            if ((tables & (1 << (int)table)) == 0)
            {
                continue;
            }

            if (sql.Length > 0)
            {
                sql.Append("\nUNION ALL\n");
            }

            parameter++;
            sql.Append(table switch
            {
                StoreTable.Wallets =>
                    $"SELECT 1, user_id, NULL::uuid, balance, NULL::bigint, NULL::bigint, NULL::text, version, NULL::timestamptz, NULL::smallint, NULL::integer FROM {s}.wallets WHERE user_id = ANY(${parameter})",
                StoreTable.Products =>
                    $"SELECT 2, id, NULL::uuid, price, NULL::bigint, NULL::bigint, name, version, NULL::timestamptz, NULL::smallint, NULL::integer FROM {s}.products WHERE id = ANY(${parameter})",
                StoreTable.Stock =>
                    $"SELECT 3, product_id, NULL::uuid, on_hand::bigint, NULL::bigint, NULL::bigint, NULL::text, version, NULL::timestamptz, NULL::smallint, NULL::integer FROM {s}.stock WHERE product_id = ANY(${parameter})",
                StoreTable.Carts =>
                    $"SELECT 4, user_id, NULL::uuid, NULL::bigint, NULL::bigint, NULL::bigint, lines::text, version, NULL::timestamptz, NULL::smallint, NULL::integer FROM {s}.carts WHERE user_id = ANY(${parameter})",
                _ =>
                    $"SELECT 5, o.user_id, o.id, l.product_id, l.quantity::bigint, l.unit_price, NULL::text, 0::bigint, o.placed_at, o.placed_at_tick, l.line_no FROM {s}.orders o JOIN {s}.order_lines l ON l.order_id = o.id WHERE o.id = ANY(${parameter})",
            });
        }

        return sql.ToString();
    }
}
