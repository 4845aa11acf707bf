namespace Commerce.Postgres;

/// <summary>
/// The SQL text of a commit's writes for one schema, built once. Each statement checks its own row
/// count through <c>expect_rows</c> and raises <c>CM409</c> (rolling the whole batch back) when a read
/// no longer holds: an update finds its row at the version read, an insert finds its key absent, a
/// guarded adjustment keeps its number within bounds. Only the sales upsert, a relative write that
/// always applies, checks nothing.
/// </summary>
internal sealed class PostgresWriteSql(string s)
{
    public string UpdateWallet { get; } = Guarded(s, $"UPDATE {s}.wallets SET balance = $2, ledger_length = $3, version = version + 1 WHERE user_id = $1 AND version = $4 RETURNING 1");

    public string InsertWallet { get; } = LockedInsert(s, 4, $"INSERT INTO {s}.wallets (user_id, balance, ledger_length, version) SELECT $1, $2, $3, 1 FROM l ON CONFLICT DO NOTHING RETURNING 1");

    /// <summary>
    /// Adds $2 to a balance if the result stays within [$3, long.MaxValue]; an absent wallet counts as 0 and
    /// is inserted if $2 ≥ $3. Both branches see one snapshot, so exactly one row is written or CM409 raised.
    /// The ledger length is left as it is.
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

    public string InsertProduct { get; } = LockedInsert(s, 4, $"INSERT INTO {s}.products (id, name, price, version) SELECT $1, $2, $3, 1 FROM l ON CONFLICT DO NOTHING RETURNING 1");

    public string UpdateStock { get; } = Guarded(s, $"UPDATE {s}.stock SET on_hand = $2, version = version + 1 WHERE product_id = $1 AND version = $3 RETURNING 1");

    public string InsertStock { get; } = LockedInsert(s, 3, $"INSERT INTO {s}.stock (product_id, on_hand, version) SELECT $1, $2, 1 FROM l ON CONFLICT DO NOTHING RETURNING 1");

    /// <summary>Adds $2 to a product's stock if the result stays within [$3, int.MaxValue]; CM409 if not, or if there is no stock row.</summary>
    public string AdjustStock { get; } = Guarded(s, $"UPDATE {s}.stock SET on_hand = on_hand + $2, version = version + 1 WHERE product_id = $1 AND on_hand::bigint + $2 BETWEEN $3 AND 2147483647 RETURNING 1");

    public string UpdateCart { get; } = Guarded(s, $"UPDATE {s}.carts SET lines = $2::jsonb, version = version + 1 WHERE user_id = $1 AND version = $3 RETURNING 1");

    public string InsertCart { get; } = LockedInsert(s, 3, $"INSERT INTO {s}.carts (user_id, lines, version) SELECT $1, $2::jsonb, 1 FROM l ON CONFLICT DO NOTHING RETURNING 1");

    /// <summary>
    /// The order ($1 to $5, its cancellation $10, $11) and its lines ($6 to $9); the lines are inserted only
    /// with the order, and the order only if its id was not voided by the lookup of a lost commit (see
    /// <see cref="PostgresSql.OrderPlacedElseVoid"/>): the commit holds the id's advisory lock, so this
    /// statement's snapshot sees a void committed by a lookup that held it first.
    /// </summary>
    public string InsertOrder { get; } =
        $"""
        WITH o AS (
            INSERT INTO {s}.orders (id, user_id, total, placed_at, placed_at_tick, cancelled_at, cancelled_at_tick, version)
            SELECT $1, $2, $3, $4, $5, $10, $11, 1
            WHERE NOT EXISTS (SELECT 1 FROM {s}.voided_orders WHERE id = $1)
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

    /// <summary>Sets the cancellation ($2, $3) of order $1 at version $4: the only part of an order that changes.</summary>
    public string UpdateOrder { get; } = Guarded(s, $"UPDATE {s}.orders SET cancelled_at = $2, cancelled_at_tick = $3, version = version + 1 WHERE id = $1 AND version = $4 RETURNING 1");

    /// <summary>
    /// Adds $3[i] units to the sales of product $2[i] in the bucket starting at $1[i], for every i (relative
    /// writes: no read, no version, no bound to check), in one statement. The rows are written, and locked, in
    /// the arrays' order, which is the keys' order; no two elements name one row.
    /// </summary>
    public string AdjustSales { get; } =
        $"""
        INSERT INTO {s}.sales (bucket_start, product_id, quantity)
        SELECT x.bucket_start, x.product_id, x.quantity FROM unnest($1::timestamptz[], $2::bigint[], $3::bigint[]) AS x(bucket_start, product_id, quantity)
        ON CONFLICT (bucket_start, product_id) DO UPDATE SET quantity = {s}.sales.quantity + EXCLUDED.quantity
        """;

    /// <summary>
    /// Adds $3 (a cancellation's negative delta) to the sales of product $2 in the bucket starting at $1 if
    /// the result stays within [$4, long.MaxValue]; CM409 if not, or if there is no row (an absent count is
    /// zero, which no such adjustment keeps at or above its minimum).
    /// </summary>
    public string AdjustSalesGuarded { get; } = Guarded(s, $"UPDATE {s}.sales SET quantity = quantity + $3 WHERE bucket_start = $1 AND product_id = $2 AND quantity::numeric + $3 BETWEEN $4 AND 9223372036854775807 RETURNING 1");

    /// <summary>One ledger entry ($1 user, $2 sequence, $3 kind, $4 amount, $5 balance after, $6 order, $7 and $8 the instant).</summary>
    public string InsertLedger { get; } = LockedInsert(s, 9, $"INSERT INTO {s}.ledger (user_id, seq, kind, amount, balance_after, order_id, at, at_tick) SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM l ON CONFLICT DO NOTHING RETURNING 1");

    /// <summary>
    /// An idempotency record: $1 user, $2 digest, $3 operation, $4 key, $5 request hash, $6 and $7 the
    /// instant, $8 to $10 the error (code, message, products), $11 balance, $12 order.
    /// </summary>
    public string InsertIdempotency { get; } = LockedInsert(
        s,
        13,
        $"""
        INSERT INTO {s}.idempotency (user_id, digest, operation, key, request_hash, created_at, created_at_tick, error_code, error_message, error_products, balance, order_id, version)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1 FROM l
        ON CONFLICT DO NOTHING RETURNING 1
        """);

    /// <summary>
    /// Replaces the idempotency record at ($1, $2), version $13 and created at $14 (tick $15): an expired one,
    /// as read, with the columns of <see cref="InsertIdempotency"/>. The version alone does not name the
    /// record read: once a purge deleted it, a record inserted again under the key starts at version 1 too,
    /// but it was created later. A fence (<see cref="PostgresSql.FenceErrorCode"/>) is read as created long
    /// ago, not when it was written, and is replaced at its version alone: it keeps no outcome to lose. The row's
    /// <c>written_at</c> becomes the server's now, as an insert's does (see <see cref="PostgresSql.PurgeIdempotency"/>).
    /// </summary>
    public string UpdateIdempotency { get; } = Guarded(
        s,
        $"""
        UPDATE {s}.idempotency SET operation = $3, key = $4, request_hash = $5, created_at = $6, created_at_tick = $7,
            error_code = $8, error_message = $9, error_products = $10, balance = $11, order_id = $12, version = version + 1, written_at = now()
        WHERE user_id = $1 AND digest = $2 AND version = $13
            AND (error_code = {PostgresSql.FenceErrorCode} OR (created_at = $14 AND created_at_tick = $15))
        RETURNING 1
        """);

    private static string Guarded(string s, string writeReturningOne, string? before = null) =>
        $"WITH {before}w AS ({writeReturningOne}) SELECT {s}.expect_rows((SELECT count(*) FROM w), 1)";

    /// <summary>
    /// An insert that reads its row from <c>l</c>, which first takes the key's exclusive advisory lock
    /// (<see cref="PostgresSql.KeyLock"/>) from parameters <paramref name="lockParameter"/> (the table) and
    /// the one after (the key's hash): one statement instead of two, the lock taken before the row. The
    /// statement's snapshot predates the lock, which is right for these inserts: <c>ON CONFLICT</c> sees a
    /// row committed meanwhile whatever the snapshot, and an absence check that waited for the lock runs
    /// after the insert commits. (The order's insert keeps its lock in a statement before it, since its
    /// check of voided ids must see a void committed while it waited: see <see cref="InsertOrder"/>.)
    /// </summary>
    private static string LockedInsert(string s, int lockParameter, string insertFromL) =>
        Guarded(s, insertFromL, before: $"l AS MATERIALIZED (SELECT {PostgresSql.ExclusiveKeyLockCall(lockParameter)}), ");
}
