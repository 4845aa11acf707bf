namespace Commerce.Postgres;

/// <summary>
/// The SQL text of a set-based group commit for one schema, built once (see <see cref="PostgresSetCommit"/>):
/// one statement per kind of write for every member of a group, each taking its rows as arrays, locking
/// them in key order, and naming through <c>expect_member</c> the first member (by its position in the
/// group, the <c>member</c> column) whose write does not hold, which raises <c>CM409</c> and rolls the
/// group back.
/// </summary>
internal sealed class PostgresGroupSql(string s)
{
    /// <summary>The start of the message <c>expect_member</c> raises; the member's position follows it.</summary>
    public const string ConflictPrefix = "Commerce group commit conflict: member ";

    /// <summary>
    /// Sets wallets to their new balance and ledger length if still at the version read: $1 users (ascending,
    /// distinct), $2 balances, $3 ledger lengths, $4 versions, $5 members. The rows are locked first, in key
    /// order.
    /// </summary>
    public string UpdateWallets { get; } =
        $"""
        WITH x AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::integer[]) AS x(user_id, balance, ledger_length, version, member)
        ), l AS MATERIALIZED (
            SELECT w.user_id FROM {s}.wallets w WHERE w.user_id = ANY($1) ORDER BY w.user_id FOR UPDATE
        ), u AS (
            UPDATE {s}.wallets w SET balance = x.balance, ledger_length = x.ledger_length, version = w.version + 1
            FROM x WHERE w.user_id = x.user_id AND w.version = x.version AND (SELECT count(*) FROM l) >= 0
            RETURNING w.user_id
        )
        SELECT {s}.expect_member((SELECT min(x.member) FROM x WHERE x.user_id NOT IN (SELECT user_id FROM u)))
        """;

    /// <summary>
    /// Adds deltas to stock: $1 products (ascending; a product repeats for each member adjusting it, in the
    /// group's order), $2 deltas, $3 minimums (each at least 0), $4 members. Each member's adjustment must
    /// leave its product's stock within [its minimum, int.MaxValue] after the adjustments of the members
    /// before it, as if the members ran one after the other; the first member (by position) for which that
    /// fails, or whose product has no stock row, is named. The rows are locked first, in key order, and
    /// each is written once, with the sum of its deltas.
    /// </summary>
    public string AdjustStock { get; } =
        $"""
        WITH x AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::integer[]) WITH ORDINALITY AS x(product_id, delta, minimum, member, n)
        ), l AS MATERIALIZED (
            SELECT t.product_id, t.on_hand FROM {s}.stock t WHERE t.product_id = ANY($1) ORDER BY t.product_id FOR UPDATE
        ), c AS (
            SELECT x.member, x.minimum, l.on_hand + sum(x.delta) OVER (PARTITION BY x.product_id ORDER BY x.n) AS after
            FROM x LEFT JOIN l ON l.product_id = x.product_id
        ), b AS (
            SELECT min(c.member) AS member FROM c WHERE c.after IS NULL OR c.after < c.minimum OR c.after > 2147483647
        ), d AS (
            SELECT x.product_id, sum(x.delta) AS delta FROM x GROUP BY x.product_id
        ), u AS (
            UPDATE {s}.stock t SET on_hand = t.on_hand + d.delta, version = t.version + 1
            FROM d WHERE t.product_id = d.product_id AND (SELECT b.member FROM b) IS NULL
            RETURNING 1
        )
        SELECT {s}.expect_member((SELECT b.member FROM b)), (SELECT count(*) FROM u)
        """;

    /// <summary>Takes the exclusive advisory lock of each key of table $1, by the keys' hashes $2 in key order.</summary>
    public string LockKeys { get; } = "SELECT count(pg_advisory_xact_lock($1, h)) FROM unnest($2::integer[]) AS h";

    /// <summary>
    /// Inserts orders ($1 ids, $2 users, $3 totals, $4 and $5 instants, $6 members) and their lines ($7 order
    /// ids, $8 line numbers from 1, $9 products, $10 quantities, $11 unit prices, $12 line totals), each
    /// order only if its id is neither taken nor voided (see <see cref="PostgresSql.OrderPlacedElseVoid"/>),
    /// under its key's lock, taken by <see cref="LockKeys"/> in a statement before this one.
    /// </summary>
    public string InsertOrders { get; } =
        $"""
        WITH x AS (
            SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::smallint[], $6::integer[]) AS x(id, user_id, total, placed_at, placed_at_tick, member)
        ), o AS (
            INSERT INTO {s}.orders (id, user_id, total, placed_at, placed_at_tick, version)
            SELECT x.id, x.user_id, x.total, x.placed_at, x.placed_at_tick, 1 FROM x
            WHERE NOT EXISTS (SELECT 1 FROM {s}.voided_orders v WHERE v.id = x.id)
            ON CONFLICT DO NOTHING RETURNING id
        ), l AS (
            INSERT INTO {s}.order_lines (order_id, line_no, product_id, quantity, unit_price, line_total)
            SELECT y.order_id, y.line_no, y.product_id, y.quantity, y.unit_price, y.line_total
            FROM unnest($7::uuid[], $8::integer[], $9::bigint[], $10::integer[], $11::bigint[], $12::bigint[]) AS y(order_id, line_no, product_id, quantity, unit_price, line_total)
            WHERE y.order_id IN (SELECT o.id FROM o)
            RETURNING 1
        )
        SELECT {s}.expect_member((SELECT min(x.member) FROM x WHERE x.id NOT IN (SELECT o.id FROM o))), (SELECT count(*) FROM l)
        """;

    /// <summary>
    /// Inserts ledger entries ($1 users, $2 sequences, $3 kinds, $4 amounts, $5 balances after, $6 orders, $7
    /// and $8 instants, $9 members), each only if its key is free, under its key's exclusive advisory lock
    /// ($10 the table, $11 the keys' hashes in key order), taken before any row is written.
    /// </summary>
    public string InsertLedger { get; } =
        $"""
        WITH k AS MATERIALIZED (
            SELECT count(pg_advisory_xact_lock($10, h)) AS n FROM unnest($11::integer[]) AS h
        ), x AS (
            SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[], $5::bigint[], $6::uuid[], $7::timestamptz[], $8::smallint[], $9::integer[])
                AS x(user_id, seq, kind, amount, balance_after, order_id, at, at_tick, member)
        ), i AS (
            INSERT INTO {s}.ledger (user_id, seq, kind, amount, balance_after, order_id, at, at_tick)
            SELECT x.user_id, x.seq, x.kind, x.amount, x.balance_after, x.order_id, x.at, x.at_tick FROM x
            WHERE (SELECT k.n FROM k) >= 0
            ON CONFLICT DO NOTHING RETURNING user_id, seq
        )
        SELECT {s}.expect_member((SELECT min(x.member) FROM x WHERE (x.user_id, x.seq) NOT IN (SELECT i.user_id, i.seq FROM i)))
        """;

    /// <summary>
    /// Appends events to their stripes ($1 stripes, ascending; $2 kinds, $3 and $4 instants, $5 payloads, in
    /// the order each stripe numbers them), $6 in all: each stripe's counter row (locked in ascending order)
    /// grows by its count, and its events get the numbers after the counter's previous value.
    /// </summary>
    public string AppendEvents { get; } =
        $"""
        WITH x AS (
            SELECT * FROM unnest($1::smallint[], $2::smallint[], $3::timestamptz[], $4::smallint[], $5::text[]) WITH ORDINALITY AS x(stripe, kind, at, at_tick, payload, n)
        ), k AS (
            SELECT x.stripe, count(*) AS count FROM x GROUP BY x.stripe
        ), c AS (
            INSERT INTO {s}.event_stripes AS t (stripe, last_seq)
            SELECT k.stripe, k.count FROM k ORDER BY k.stripe
            ON CONFLICT (stripe) DO UPDATE SET last_seq = t.last_seq + EXCLUDED.last_seq
            RETURNING stripe, last_seq
        ), e AS (
            INSERT INTO {s}.events (stripe, seq, kind, at, at_tick, payload)
            SELECT x.stripe, c.last_seq - k.count + row_number() OVER (PARTITION BY x.stripe ORDER BY x.n), x.kind, x.at, x.at_tick, x.payload::jsonb
            FROM x JOIN k ON k.stripe = x.stripe JOIN c ON c.stripe = x.stripe
            RETURNING 1
        )
        SELECT {s}.expect_rows((SELECT count(*) FROM e), $6)
        """;
}
