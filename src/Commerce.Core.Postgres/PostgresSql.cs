namespace Commerce.Postgres;

/// <summary>The store's SQL text for one schema, built once.</summary>
internal sealed class PostgresSql(string s)
{
    // ---- reads ----------------------------------------------------------------------------------

    public string FindWallet { get; } = $"SELECT balance, version FROM {s}.wallets WHERE user_id = $1";

    /// <summary>A product with its stock (prefetched: the use cases that read a product mostly read its stock next).</summary>
    public string FindProduct { get; } =
        $"SELECT p.name, p.price, p.version, st.on_hand, st.version FROM {s}.products p LEFT JOIN {s}.stock st ON st.product_id = p.id WHERE p.id = $1";

    public string FindStock { get; } = $"SELECT on_hand, version FROM {s}.stock WHERE product_id = $1";

    public string FindCart { get; } = $"SELECT lines::text, version FROM {s}.carts WHERE user_id = $1";

    public string FindOrder { get; } =
        $"""
        SELECT o.user_id, o.placed_at, o.placed_at_tick, l.product_id, l.quantity, l.unit_price
        FROM {s}.orders o JOIN {s}.order_lines l ON l.order_id = o.id
        WHERE o.id = $1 ORDER BY l.line_no
        """;

    /// <summary>A page of products with their stock, in one statement (one snapshot).</summary>
    public string ListProducts { get; } =
        $"""
        SELECT p.id, p.name, p.price, p.version, st.on_hand, st.version
        FROM {s}.products p LEFT JOIN {s}.stock st ON st.product_id = p.id
        WHERE p.id > $1 ORDER BY p.id LIMIT $2
        """;

    /// <summary>The best sellers with their products, in one statement (one snapshot).</summary>
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

    // ---- commit statements: each raises CM409 through expect_rows when its row count is wrong ----

    public string UpdateWallet { get; } =
        $"""
        WITH u AS (UPDATE {s}.wallets SET balance = $2, version = version + 1 WHERE user_id = $1 AND version = $3 RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM u), 1)
        """;

    public string InsertWallet { get; } =
        $"""
        WITH i AS (INSERT INTO {s}.wallets (user_id, balance, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM i), 1)
        """;

    public string UpdateProduct { get; } =
        $"""
        WITH u AS (UPDATE {s}.products SET name = $2, price = $3, version = version + 1 WHERE id = $1 AND version = $4 RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM u), 1)
        """;

    public string InsertProduct { get; } =
        $"""
        WITH i AS (INSERT INTO {s}.products (id, name, price, version) VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM i), 1)
        """;

    public string UpdateStock { get; } =
        $"""
        WITH u AS (UPDATE {s}.stock SET on_hand = $2, version = version + 1 WHERE product_id = $1 AND version = $3 RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM u), 1)
        """;

    public string InsertStock { get; } =
        $"""
        WITH i AS (INSERT INTO {s}.stock (product_id, on_hand, version) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM i), 1)
        """;

    public string UpdateCart { get; } =
        $"""
        WITH u AS (UPDATE {s}.carts SET lines = $2::jsonb, version = version + 1 WHERE user_id = $1 AND version = $3 RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM u), 1)
        """;

    public string InsertCart { get; } =
        $"""
        WITH i AS (INSERT INTO {s}.carts (user_id, lines, version) VALUES ($1, $2::jsonb, 1) ON CONFLICT DO NOTHING RETURNING 1)
        SELECT {s}.expect_rows((SELECT count(*) FROM i), 1)
        """;

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

    public string RecordSale { get; } =
        $"""
        INSERT INTO {s}.sales (bucket_start, product_id, quantity) VALUES ($1, $2, $3)
        ON CONFLICT (bucket_start, product_id) DO UPDATE SET quantity = {s}.sales.quantity + EXCLUDED.quantity
        """;

    /// <summary>Checks that a row read (and not written) still has the version read, and keeps it so until commit.</summary>
    public string CheckVersion(PostgresTable table) =>
        $"""
        WITH r AS (SELECT 1 FROM {s}.{Name(table)} WHERE {Key(table)} = $1 AND version = $2 FOR SHARE)
        SELECT {s}.expect_rows((SELECT count(*) FROM r), 1)
        """;

    /// <summary>Checks that a key read as absent (and not written) is still absent.</summary>
    public string CheckAbsent(PostgresTable table) =>
        $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.{Name(table)} WHERE {Key(table)} = $1), 0)";

    /// <summary>Checks that a product page's id range still holds as many products as it did.</summary>
    public string CheckPage { get; } =
        $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.products WHERE id > $1 AND id <= $2), $3)";

    /// <summary>
    /// A transaction-scoped advisory lock on one key: exclusive for inserts, shared for absence checks,
    /// so that an absence checked at commit stays true until the commit ends.
    /// </summary>
    public static string KeyLock(bool exclusive) =>
        exclusive ? "SELECT pg_advisory_xact_lock($1, $2)" : "SELECT pg_advisory_xact_lock_shared($1, $2)";

    public static string Name(PostgresTable table) => table switch
    {
        PostgresTable.Wallets => "wallets",
        PostgresTable.Products => "products",
        PostgresTable.Stock => "stock",
        PostgresTable.Carts => "carts",
        _ => "orders",
    };

    public static string Key(PostgresTable table) => table switch
    {
        PostgresTable.Wallets or PostgresTable.Carts => "user_id",
        PostgresTable.Stock => "product_id",
        _ => "id",
    };

    /// <summary>One read-only validation statement: true iff every remembered version and absence still holds.</summary>
    public string Validate(PostgresTable table, bool present) =>
        present
            ? $"(SELECT count(*) FROM {s}.{Name(table)} t JOIN unnest(@k{(int)table}, @v{(int)table}) AS x(k, v) ON t.{Key(table)} = x.k AND t.version = x.v) = @n{(int)table}"
            : $"NOT EXISTS (SELECT 1 FROM {s}.{Name(table)} WHERE {Key(table)} = ANY(@a{(int)table}))";

    public string ValidatePage(int i) =>
        $"(SELECT count(*) FROM {s}.products WHERE id > @pa{i} AND id <= @pb{i}) = @pn{i}";
}

/// <summary>The tables with per-key state, in the order commits lock them.</summary>
internal enum PostgresTable
{
    Wallets = 1,
    Products = 2,
    Stock = 3,
    Carts = 4,
    Orders = 5,
}
