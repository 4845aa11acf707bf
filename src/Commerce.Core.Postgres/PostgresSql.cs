using System.Text;
using Commerce.Storage;

namespace Commerce.Postgres;

/// <summary>
/// The store's SQL text for one schema, built once (the key reads once per set of tables): reads, the
/// checks of a commit batch, read-only validation, outcome lookups and the purge. The writes of a commit
/// are in <see cref="PostgresWriteSql"/>.
/// </summary>
internal sealed class PostgresSql(string s)
{
    /// <summary>The tables a key read can cover, in lock order.</summary>
    public static readonly StoreTable[] KeyedTables =
        [StoreTable.Wallets, StoreTable.Products, StoreTable.Stock, StoreTable.Carts, StoreTable.Orders, StoreTable.Ledger, StoreTable.Idempotency];

    /// <summary>
    /// The first statement of every batch that writes (a commit, a group commit, the lookup of a lost commit, the purges,
    /// a checkpoint's save): it runs at READ COMMITTED whatever the session's default (<c>default_transaction_isolation</c>,
    /// which a role, a database or the connection string may set). The batch's statements rely on it: a statement that
    /// waited for a key's lock reads what the lock's holder committed (an order's check of voided ids, an absence check,
    /// the lookup of a lost commit), where under REPEATABLE READ or SERIALIZABLE it would read the snapshot its batch
    /// began with; a purge or a save that waited for a row another transaction wrote goes on with the row as committed
    /// (a record written anew is kept, an event purged already is passed over), where there it would fail with a
    /// serialization failure (<c>40001</c>). Reads run so too (see <see cref="PostgresCommerceStore.QueryBatch"/>). A
    /// <c>SET</c> takes no snapshot, so it may come first;
    /// <c>transaction_isolation</c> is the transaction's own, so the next transaction on the connection runs at the
    /// default again. (<c>SET TRANSACTION</c> would do the same, with a warning, to the client and to the server's
    /// log, at every batch: its transaction is not a block.)
    /// </summary>
    public const string ReadCommitted = "SET transaction_isolation = 'read committed'";

    private static readonly string ExclusiveKeyLock = "SELECT " + ExclusiveKeyLockCall(1);
    private static readonly string SharedKeyLock = "SELECT pg_advisory_xact_lock_shared($1, $2)";

    private readonly string?[] _readKeys = new string?[1 << ((int)StoreTable.Idempotency + 1)];

    private readonly string?[] _checkVersion = PerTable(table => IsVersioned(table)
        ? $"""
          WITH r AS (SELECT 1 FROM {s}.{Name(table)} WHERE {KeyWhere(table)} AND version = ${KeyWidth(table) + 1} FOR SHARE)
          SELECT {s}.expect_rows((SELECT count(*) FROM r), 1)
          """
        : null);

    private readonly string?[] _checkAbsent = PerTable(table =>
        $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.{Name(table)} WHERE {KeyWhere(table)}), 0)");

    // ---- reads ----------------------------------------------------------------------------------

    /// <summary>A page of products after an id ($1), with their stock, in one statement (one snapshot); $2 is the limit.</summary>
    public string ListProducts { get; } = ListFrom(s, "WHERE p.id > $1 ORDER BY p.id LIMIT $2");

    /// <summary>The first page of products, from the lowest id; $1 is the limit.</summary>
    public string ListProductsFromStart { get; } = ListFrom(s, "ORDER BY p.id LIMIT $1");

    /// <summary>
    /// The best sellers over [$1, $2), at most $3, with their products, in one statement (one snapshot).
    /// Cancellations take units back, so a product's total may be zero: only positive totals rank.
    /// </summary>
    public string TopSales { get; } =
        $"""
        SELECT t.product_id, t.sold, p.name, p.price, p.version
        FROM (
            SELECT product_id, sum(quantity)::bigint AS sold
            FROM {s}.sales WHERE bucket_start >= $1 AND bucket_start < $2
            GROUP BY product_id
            HAVING sum(quantity) > 0
            ORDER BY sold DESC, product_id
            LIMIT $3
        ) t JOIN {s}.products p ON p.id = t.product_id
        ORDER BY t.sold DESC, t.product_id
        """;

    /// <summary>
    /// One statement (so one snapshot) reading keys of every table whose bit (1 &lt;&lt; table) is set in
    /// <paramref name="tables"/>: one branch per table, in table order, joined by <c>UNION ALL</c>, each
    /// taking one key array (<c>= ANY</c>), or two for the tables keyed by two words (user and sequence or
    /// digest). Every row has the columns of <see cref="PostgresRows.ReadColumnTypes"/>; an order comes as
    /// one row per line.
    /// </summary>
    public string ReadKeys(int tables) => _readKeys[tables] ??= BuildReadKeys(tables);

    /// <summary>
    /// Sent before <see cref="ReadKeys"/> in the same implicit transaction: generic plans for the statements
    /// that follow, until the transaction ends (so it leaves no session state, and works through a pooler).
    /// The key read takes its keys as arrays (<c>= ANY</c>); PostgreSQL's plan cache estimates a generic plan
    /// of such a statement for arrays of ten keys, and, finding it dearer than custom plans made for the few
    /// keys actually sent, plans the read again at every execution, which cost about a tenth of the
    /// server's time placing orders. Its one row is skipped.
    /// </summary>
    public const string GenericPlansForThisRead = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)";

    // ---- commit checks: each raises CM409 through expect_rows when its row count is wrong ---------

    /// <summary>Checks that the row at a key ($1, or $1 and $2) still has a version ($2, or $3), locking it until the commit ends.</summary>
    public string CheckVersion(StoreTable table) =>
        _checkVersion[(int)table] ?? throw new InvalidOperationException($"The {Name(table)} table keeps no versions: its rows never change.");

    /// <summary>Checks that no row has a key ($1, or $1 and $2).</summary>
    public string CheckAbsent(StoreTable table) => _checkAbsent[(int)table]!;

    /// <summary>Checks that a listed id range, ($1, $2], still holds $3 products.</summary>
    public string CheckPage { get; } = $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.products WHERE id > $1 AND id <= $2), $3)";

    /// <summary>As <see cref="CheckPage"/> for a listing from the lowest id: [min, $1] holds $2.</summary>
    public string CheckPageFromStart { get; } = $"SELECT {s}.expect_rows((SELECT count(*) FROM {s}.products WHERE id <= $1), $2)";

    /// <summary>
    /// A transaction-scoped advisory lock on one key ($1 the table, $2 a hash of the key): exclusive for
    /// inserts, shared for absence checks, so that an absence checked at commit stays true until the commit ends.
    /// </summary>
    public static string KeyLock(bool exclusive) => exclusive ? ExclusiveKeyLock : SharedKeyLock;

    /// <summary>The call that takes a key's exclusive lock (see <see cref="KeyLock"/>) from parameter $<paramref name="table"/> and the one after it (the key's hash).</summary>
    public static string ExclusiveKeyLockCall(int table) => $"pg_advisory_xact_lock(${table}, ${table + 1})";


    // ---- outcome lookups (a commit whose connection failed) and the purge ---------------------------

    /// <summary>
    /// Whether an order ($1) exists; if it does not, voids its id, so that a commit inserting it that has
    /// not reached the server yet can never apply (see <see cref="PostgresWriteSql.InsertOrder"/>). Run
    /// under the id's advisory lock, after a commit holding it has ended.
    /// </summary>
    public string OrderPlacedElseVoid { get; } =
        $"""
        WITH v AS (
            INSERT INTO {s}.voided_orders (id)
            SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM {s}.orders WHERE id = $1)
            ON CONFLICT DO NOTHING
        )
        SELECT EXISTS (SELECT 1 FROM {s}.orders WHERE id = $1)
        """;

    /// <summary>
    /// Moves an order ($1) still at version $2 - 1 on to $2 without changing it, so that a cancellation
    /// from $2 - 1 that has not reached the server yet finds no row at its version and rolls back. Waits
    /// for a commit updating the row to end (it then finds the row moved on, and changes nothing).
    /// </summary>
    public string FenceOrderUpdate { get; } = $"UPDATE {s}.orders SET version = version + 1 WHERE id = $1 AND version = $2 - 1";

    /// <summary>Whether an order ($1) is at version $2 with cancellation $3, $4 (waiting for a commit updating it to end).</summary>
    public string OrderUpdatedTo { get; } =
        $"""
        SELECT EXISTS (
            SELECT 1 FROM {s}.orders
            WHERE id = $1 AND version = $2 AND cancelled_at IS NOT DISTINCT FROM $3 AND cancelled_at_tick IS NOT DISTINCT FROM $4
            FOR SHARE)
        """;

    /// <summary>
    /// Whether the idempotency record at ($1, $2) is at version $3, created at $4 (tick $5), for request $6,
    /// with balance $7 and order $8 (waiting for a commit updating it to end).
    /// </summary>
    public string IdempotencyRecordedAs { get; } =
        $"""
        SELECT EXISTS (
            SELECT 1 FROM {s}.idempotency
            WHERE user_id = $1 AND digest = $2 AND version = $3 AND created_at = $4 AND created_at_tick = $5
                AND request_hash = $6 AND balance = $7 AND order_id IS NOT DISTINCT FROM $8
            FOR SHARE)
        """;

    /// <summary>
    /// The error code of a fence: a row a lookup wrote at a key whose insert it found not applied, so that a
    /// commit inserting the key that has not reached the server yet meets it and rolls back (see
    /// <see cref="IdempotencyRecordedElseFence"/>). No refusal has this code; the row is read as a record long
    /// expired (see <see cref="PostgresRows"/>), which the key's next request replaces.
    /// </summary>
    public const int FenceErrorCode = -1;

    /// <summary>
    /// As <see cref="IdempotencyRecordedAs"/>, for a commit that inserts the record; if the key holds no row, also
    /// writes a fence there (operation $9, key $10, created at the server's clock, for the purge): a commit inserting
    /// the key that has not reached the server yet then finds the key taken, and rolls back. Run under the key's
    /// advisory lock, after a commit holding it has ended.
    /// </summary>
    public string IdempotencyRecordedElseFence { get; } =
        $"""
        WITH f AS (
            INSERT INTO {s}.idempotency (user_id, digest, operation, key, request_hash, created_at, created_at_tick, error_code, error_message, error_products, balance, version)
            SELECT $1, $2, $9, $10, $6, now(), 0, {FenceErrorCode}, '', ARRAY[]::bigint[], 0, 1
            WHERE NOT EXISTS (SELECT 1 FROM {s}.idempotency WHERE user_id = $1 AND digest = $2)
            ON CONFLICT DO NOTHING
        )
        SELECT EXISTS (
            SELECT 1 FROM {s}.idempotency
            WHERE user_id = $1 AND digest = $2 AND version = $3 AND created_at = $4 AND created_at_tick = $5
                AND request_hash = $6 AND balance = $7 AND order_id IS NOT DISTINCT FROM $8
            FOR SHARE)
        """;

    /// <summary>
    /// Moves the idempotency record at ($1, $2) still at version $3 - 1 on to $3 without changing it, so that a
    /// commit replacing it from $3 - 1 that has not reached the server yet finds no row at its version and rolls
    /// back (as <see cref="FenceOrderUpdate"/> for an order).
    /// </summary>
    public string FenceIdempotencyUpdate { get; } = $"UPDATE {s}.idempotency SET version = version + 1 WHERE user_id = $1 AND digest = $2 AND version = $3 - 1";

    /// <summary>
    /// Removes the idempotency records created before $1 (microseconds) and tick $2 (the instant split as stored)
    /// and last written more than a day ago by the server's clock.
    /// </summary>
    /// <remarks>
    /// A record is what a lookup of a lost commit finds it applied by; purged in between, however short the
    /// retention, the lookup would find the commit not applied and the request would run again. No batch outlives
    /// its connection by a day, so the purge leaves a record that long: an expired one still reads as expired, and
    /// its key's next request replaces it. Also removes the voided order ids and the fences
    /// (<see cref="FenceErrorCode"/>) older than a day (by the server's clock), for the same reason.
    /// </remarks>
    public string PurgeIdempotency { get; } =
        $"""
        WITH v AS (DELETE FROM {s}.voided_orders WHERE voided_at < now() - interval '1 day')
        DELETE FROM {s}.idempotency
        WHERE ((created_at < $1 OR (created_at = $1 AND created_at_tick < $2)) AND error_code IS DISTINCT FROM {FenceErrorCode}
                AND written_at < now() - interval '1 day')
            OR (error_code = {FenceErrorCode} AND created_at < now() - interval '1 day')
        """;

    // ---- tables and keys ------------------------------------------------------------------------

    public static string Name(StoreTable table) => table switch
    {
        StoreTable.Wallets => "wallets",
        StoreTable.Products => "products",
        StoreTable.Stock => "stock",
        StoreTable.Carts => "carts",
        StoreTable.Orders => "orders",
        StoreTable.Ledger => "ledger",
        StoreTable.Idempotency => "idempotency",
        _ => throw new ArgumentOutOfRangeException(nameof(table), table, "Not a keyed table."),
    };

    /// <summary>The column of a key's only word, or of its second word (<see cref="StoreKey.Low"/>) where the first is the user.</summary>
    public static string Key(StoreTable table) => table switch
    {
        StoreTable.Wallets or StoreTable.Carts => "user_id",
        StoreTable.Stock => "product_id",
        StoreTable.Ledger => "seq",
        StoreTable.Idempotency => "digest",
        _ => "id",
    };

    /// <summary>How many parameters a key takes: two for the tables keyed by user and a second word, else one.</summary>
    public static int KeyWidth(StoreTable table) => table is StoreTable.Ledger or StoreTable.Idempotency ? 2 : 1;

    /// <summary>Whether the table's rows carry a version (ledger entries never change, so they have none).</summary>
    public static bool IsVersioned(StoreTable table) => table != StoreTable.Ledger;

    /// <summary>The condition selecting one key: <c>key = $1</c>, or <c>user_id = $1 AND key = $2</c>.</summary>
    private static string KeyWhere(StoreTable table) =>
        KeyWidth(table) == 2 ? $"user_id = $1 AND {Key(table)} = $2" : $"{Key(table)} = $1";

    // ---- read-only validation: one statement, one snapshot ---------------------------------------

    /// <summary>True iff every key in @k{t} (with @h{t}, for two words) still has its version in @v{t} (@n{t} of them).</summary>
    public string ValidatePresent(StoreTable table)
    {
        var t = (int)table;
        return KeyWidth(table) == 2
            ? $"(SELECT count(*) FROM {s}.{Name(table)} t JOIN unnest(@h{t}, @k{t}, @v{t}) AS x(h, k, v) ON t.user_id = x.h AND t.{Key(table)} = x.k AND t.version = x.v) = @n{t}"
            : $"(SELECT count(*) FROM {s}.{Name(table)} t JOIN unnest(@k{t}, @v{t}) AS x(k, v) ON t.{Key(table)} = x.k AND t.version = x.v) = @n{t}";
    }

    /// <summary>True iff every key in @a{t} (with @ah{t}, for two words) is still absent.</summary>
    public string ValidateAbsent(StoreTable table)
    {
        var t = (int)table;
        return KeyWidth(table) == 2
            ? $"NOT EXISTS (SELECT 1 FROM {s}.{Name(table)} t JOIN unnest(@ah{t}, @a{t}) AS x(h, k) ON t.user_id = x.h AND t.{Key(table)} = x.k)"
            : $"NOT EXISTS (SELECT 1 FROM {s}.{Name(table)} WHERE {Key(table)} = ANY(@a{t}))";
    }

    /// <summary>True iff listed range i still holds @pn{i} products: ids in (@pa{i}, @pb{i}], or up to @pb{i} from the start.</summary>
    public string ValidatePage(int i, bool fromStart) =>
        fromStart
            ? $"(SELECT count(*) FROM {s}.products WHERE id <= @pb{i}) = @pn{i}"
            : $"(SELECT count(*) FROM {s}.products WHERE id > @pa{i} AND id <= @pb{i}) = @pn{i}";

    private static string ListFrom(string s, string rest) =>
        $"""
        SELECT p.id, p.name, p.price, p.version, st.on_hand, st.version
        FROM {s}.products p LEFT JOIN {s}.stock st ON st.product_id = p.id
        {rest}
        """;

    private static string?[] PerTable(Func<StoreTable, string?> sql)
    {
        var texts = new string?[(int)StoreTable.Idempotency + 1];
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

            var p = ++parameter;
            if (KeyWidth(table) == 2)
            {
                parameter++;
            }

            sql.Append(table switch
            {
                StoreTable.Wallets => Row(table, $"FROM {s}.wallets WHERE user_id = ANY(${p})", ("user_id", PostgresRows.Id), ("balance", PostgresRows.A), ("ledger_length", PostgresRows.B), ("version", PostgresRows.Version)),
                StoreTable.Products => Row(table, $"FROM {s}.products WHERE id = ANY(${p})", ("id", PostgresRows.Id), ("price", PostgresRows.A), ("name", PostgresRows.Text), ("version", PostgresRows.Version)),
                StoreTable.Stock => Row(table, $"FROM {s}.stock WHERE product_id = ANY(${p})", ("product_id", PostgresRows.Id), ("on_hand", PostgresRows.A), ("version", PostgresRows.Version)),
                StoreTable.Carts => Row(table, $"FROM {s}.carts WHERE user_id = ANY(${p})", ("user_id", PostgresRows.Id), ("lines", PostgresRows.Text), ("version", PostgresRows.Version)),
                StoreTable.Orders => Row(
                    table,
                    $"FROM {s}.orders o JOIN {s}.order_lines l ON l.order_id = o.id WHERE o.id = ANY(${p})",
                    ("o.user_id", PostgresRows.Id), ("o.id", PostgresRows.Ref), ("l.product_id", PostgresRows.A), ("l.quantity", PostgresRows.B),
                    ("l.unit_price", PostgresRows.C), ("l.line_no", PostgresRows.N), ("o.version", PostgresRows.Version), ("o.placed_at", PostgresRows.At),
                    ("o.placed_at_tick", PostgresRows.AtTick), ("o.cancelled_at", PostgresRows.At2), ("o.cancelled_at_tick", PostgresRows.At2Tick)),
                StoreTable.Ledger => Row(
                    table,
                    $"FROM {s}.ledger t JOIN unnest(${p}::bigint[], ${p + 1}::bigint[]) AS x(h, k) ON t.user_id = x.h AND t.seq = x.k",
                    ("t.user_id", PostgresRows.Id), ("t.seq", PostgresRows.Low), ("t.order_id", PostgresRows.Ref), ("t.amount", PostgresRows.A),
                    ("t.balance_after", PostgresRows.B), ("t.kind", PostgresRows.N), ("t.at", PostgresRows.At), ("t.at_tick", PostgresRows.AtTick)),
                _ => Row(
                    table,
                    $"FROM {s}.idempotency t JOIN unnest(${p}::bigint[], ${p + 1}::bigint[]) AS x(h, k) ON t.user_id = x.h AND t.digest = x.k",
                    ("t.user_id", PostgresRows.Id), ("t.digest", PostgresRows.Low), ("t.order_id", PostgresRows.Ref), ("t.request_hash", PostgresRows.A),
                    ("t.balance", PostgresRows.B), ("t.error_code", PostgresRows.C), ("t.operation", PostgresRows.N), ("t.key", PostgresRows.Text),
                    ("t.error_message", PostgresRows.Text2), ("t.error_products", PostgresRows.Ids), ("t.version", PostgresRows.Version),
                    ("t.created_at", PostgresRows.At), ("t.created_at_tick", PostgresRows.AtTick)),
            });
        }

        return sql.ToString();
    }

    /// <summary>One branch of the key read: the table's number, then every column, typed, NULL where the table has nothing.</summary>
    private static string Row(StoreTable table, string from, params (string Expression, int Column)[] values)
    {
        var types = PostgresRows.ReadColumnTypes;
        var columns = new string[types.Length];
        columns[PostgresRows.Table] = $"{(int)table}::{types[PostgresRows.Table]}";
        foreach (var (expression, column) in values)
        {
            columns[column] = $"{expression}::{types[column]}";
        }

        for (var i = 0; i < columns.Length; i++)
        {
            columns[i] ??= $"NULL::{types[i]}";
        }

        return $"SELECT {string.Join(", ", columns)} {from}";
    }
}
