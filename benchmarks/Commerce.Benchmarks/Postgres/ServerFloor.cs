using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// How many orders per second the server itself can write, with no client logic at all: <c>pgbench</c>
/// runs the writes of a group commit of <c>--orders</c> low-contention orders (1–3 lines each, users and
/// products drawn as <see cref="OrderGenerator"/> draws them) as one transaction, on the store's own schema,
/// seeded as the benchmarks seed it. An upper bound for any client of this server, the store's included:
/// the client's own work comes on top, on the same cores.
/// <c>pgfloor [full|minimal] [--orders 64] [--clients 2] [--threads 2] [--seconds 15] [--no-foreign-keys]</c>.
/// </summary>
/// <remarks>
/// <para>
/// <c>full</c> writes what the store's set-based group commit writes (see <c>PostgresSetCommit</c>), in the
/// same statement shapes: the group's read of wallets, products and stock; then, in one transaction, the
/// wallets (locked in key order), the stock (a window sum per product, locked in key order), the orders'
/// advisory locks, the orders with their lines, the sales, the ledger entries (under their advisory locks)
/// and the events with their stripes' counters. Values are generated on the server from one random number
/// per transaction, so pgbench sends nothing but that number.
/// </para>
/// <para>
/// <c>minimal</c> keeps only what any design of this shop must write for an order: the wallet, the
/// stock, the order and its lines (no read, ledger, events, sales or locks). <c>--no-foreign-keys</c> drops
/// the schema's foreign keys first (the schema is made again by every benchmark's set-up).
/// </para>
/// </remarks>
internal static partial class ServerFloor
{
    public static int Run(string[] args)
    {
        string[] valued = ["--orders", "--clients", "--threads", "--seconds"];
        var words = args.Where((a, i) => !a.StartsWith('-') && (i == 0 || !valued.Contains(args[i - 1]))).ToArray();
        var minimal = words is ["minimal"];
        var orders = PgBench.Option(args, "--orders", 64);
        var clients = PgBench.Option(args, "--clients", 2);
        var threads = PgBench.Option(args, "--threads", 2);
        var seconds = PgBench.Option(args, "--seconds", 15);
        var dropForeignKeys = args.Contains("--no-foreign-keys");
        if (orders is < 1 or > 4096 || clients < 1 || threads < 1 || threads > clients || seconds < 1
            || words is not ([] or ["full"] or ["minimal"])
            || args.Any(a => a.StartsWith('-') && !valued.Contains(a) && a != "--no-foreign-keys"))
        {
            Console.Error.WriteLine("usage: pgfloor [full|minimal] [--orders 1..4096] [--clients N] [--threads N<=clients] [--seconds N] [--no-foreign-keys]");
            return 2;
        }

        var connectionString = BenchDatabase.ConnectionString;
        var (services, _) = BenchDatabase.CreateServices(connectionString);
        using (services)
        {
            BenchDatabase.ResetAsync(services, connectionString).GetAwaiter().GetResult();
        }

        if (dropForeignKeys)
        {
            using var dataSource = Npgsql.NpgsqlDataSource.Create(connectionString);
            using var command = dataSource.CreateCommand(DropForeignKeys);
            command.ExecuteNonQuery();
        }

        var script = Path.Combine(Path.GetTempPath(), $"commerce-pgfloor-{Environment.ProcessId}.sql");
        File.WriteAllText(script, Script(orders, minimal));
        try
        {
            var output = PgBench.RunPgBench(connectionString, $"-n -M prepared -f {script} -c {clients} -j {threads} -T {seconds}");
            Console.Write(output);
            var tps = PgBench.Tps().Match(output);
            var failed = Failed().Match(output);
            if (!tps.Success || (failed.Success && failed.Groups[1].Value != "0"))
            {
                Console.Error.WriteLine("pgbench printed no tps line, or some transactions failed.");
                return 1;
            }

            var groups = double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture);
            Console.WriteLine(
                $"// pgfloor {(minimal ? "minimal" : "full")}: orders per group={orders} clients={clients} threads={threads} seconds={seconds} " +
                $"foreign keys={(dropForeignKeys ? "dropped" : "kept")} groups/s={groups:F1} orders/s={groups * orders:F0}");
            return 0;
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>The pgbench script: one transaction of a group of <paramref name="orders"/> orders.</summary>
    internal static string Script(int orders, bool minimal)
    {
        var statements = minimal
            ? [Begin, Wallets, Stock, Orders, Commit]
            : new[] { Read, Begin, Wallets, Stock, OrderLocks, Orders, Sales, Ledger, Events, Commit };
        var script = new StringBuilder("\\set s random(1, 300000000)\n");
        foreach (var statement in statements)
        {
            // pgbench reads a statement up to its semicolon at the end of a line; {n} is the group's size.
            script.Append(statement.Replace("{n}", orders.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal).Trim()).Append(";\n");
        }

        return script.ToString();
    }

    // Order g (1…n) of the group: user 1 + (s + 7919 g) mod Users (distinct within a group), lines
    // k = 1 … 1 + (7g + s) mod 3, line k of product 1 + (3s + 131 g + 1999 k) mod Products (distinct within
    // an order), id md5(s-g). Quantities 2, prices 250.
    private const string S = BenchDatabase.Schema;
    private static readonly string UserOf = $"1 + ((:s + g * 7919) % {OrderGenerator.Users})";
    private static readonly string ProductOf = $"1 + (((:s * 3) + g * 131 + k * 1999) % {OrderGenerator.Products})";
    private const string LinesOf = "generate_series(1, {n}) g, generate_series(1, 1 + ((g * 7 + :s) % 3)) k";
    private const string OrderIdOf = "md5(:s || '-' || g)::uuid";

    private static readonly string Read = $$"""
        SELECT count(*) FROM (
          SELECT w.user_id, w.balance, w.ledger_length, w.version FROM {{S}}.wallets w
          WHERE w.user_id = ANY(ARRAY(SELECT {{UserOf}} FROM generate_series(1, {n}) g))
          UNION ALL
          SELECT p.id, p.price, t.on_hand, t.version FROM {{S}}.products p JOIN {{S}}.stock t ON t.product_id = p.id
          WHERE p.id = ANY(ARRAY(SELECT {{ProductOf}} FROM {{LinesOf}}))
        ) r
        """;

    private const string Begin = "BEGIN";

    private static readonly string Wallets = $$"""
        WITH x AS (
          SELECT {{UserOf}} AS user_id FROM generate_series(1, {n}) g
        ), l AS MATERIALIZED (
          SELECT w.user_id FROM {{S}}.wallets w WHERE w.user_id = ANY(ARRAY(SELECT user_id FROM x)) ORDER BY w.user_id FOR UPDATE
        ), u AS (
          UPDATE {{S}}.wallets w SET balance = w.balance - 500, ledger_length = w.ledger_length + 1, version = w.version + 1
          FROM x WHERE w.user_id = x.user_id AND (SELECT count(*) FROM l) >= 0 RETURNING w.user_id
        )
        SELECT count(*) FROM u
        """;

    private static readonly string Stock = $$"""
        WITH x AS (
          SELECT {{ProductOf}} AS product_id, 2 AS delta, g AS member, row_number() OVER () AS n FROM {{LinesOf}}
        ), l AS MATERIALIZED (
          SELECT t.product_id, t.on_hand FROM {{S}}.stock t WHERE t.product_id = ANY(ARRAY(SELECT product_id FROM x)) ORDER BY t.product_id FOR UPDATE
        ), c AS (
          SELECT x.member, l.on_hand - sum(x.delta) OVER (PARTITION BY x.product_id ORDER BY x.n) AS after FROM x LEFT JOIN l ON l.product_id = x.product_id
        ), b AS (
          SELECT min(c.member) AS member FROM c WHERE c.after IS NULL OR c.after < 0
        ), d AS (
          SELECT x.product_id, sum(x.delta) AS delta FROM x GROUP BY x.product_id
        ), u AS (
          UPDATE {{S}}.stock t SET on_hand = t.on_hand - d.delta, version = t.version + 1
          FROM d WHERE t.product_id = d.product_id AND (SELECT b.member FROM b) IS NULL RETURNING 1
        )
        SELECT (SELECT b.member FROM b), (SELECT count(*) FROM u)
        """;

    private const string OrderLocks =
        "SELECT count(pg_advisory_xact_lock(2, h)) FROM (SELECT hashtext(:s || '-' || g) AS h FROM generate_series(1, {n}) g ORDER BY 1) a";

    private static readonly string Orders = $$"""
        WITH x AS (
          SELECT {{OrderIdOf}} AS id, {{UserOf}} AS user_id, 1000 AS total, now() AS placed_at, g AS member FROM generate_series(1, {n}) g
        ), o AS (
          INSERT INTO {{S}}.orders (id, user_id, total, placed_at, placed_at_tick, version)
          SELECT x.id, x.user_id, x.total, x.placed_at, 0, 1 FROM x
          WHERE NOT EXISTS (SELECT 1 FROM {{S}}.voided_orders v WHERE v.id = x.id)
          ON CONFLICT DO NOTHING RETURNING id
        ), l AS (
          INSERT INTO {{S}}.order_lines (order_id, line_no, product_id, quantity, unit_price, line_total)
          SELECT {{OrderIdOf}}, k, {{ProductOf}}, 2, 250, 500 FROM {{LinesOf}}
          WHERE {{OrderIdOf}} IN (SELECT o.id FROM o)
          RETURNING 1
        )
        SELECT (SELECT min(x.member) FROM x WHERE x.id NOT IN (SELECT o.id FROM o)), (SELECT count(*) FROM l)
        """;

    private static readonly string Sales = $$"""
        INSERT INTO {{S}}.sales (bucket_start, product_id, quantity)
        SELECT date_trunc('minute', now()), p, sum(2) FROM (SELECT {{ProductOf}} AS p FROM {{LinesOf}}) a GROUP BY p ORDER BY p
        ON CONFLICT (bucket_start, product_id) DO UPDATE SET quantity = {{S}}.sales.quantity + EXCLUDED.quantity
        """;

    private static readonly string Ledger = $$"""
        WITH k AS MATERIALIZED (
          SELECT count(pg_advisory_xact_lock(6, h)) AS n FROM (SELECT hashtext(:s || '+' || g) AS h FROM generate_series(1, {n}) g ORDER BY 1) a
        ), x AS (
          SELECT {{UserOf}} AS user_id, :s::bigint AS seq, {{OrderIdOf}} AS order_id, g AS member FROM generate_series(1, {n}) g
        ), i AS (
          INSERT INTO {{S}}.ledger (user_id, seq, kind, amount, balance_after, order_id, at, at_tick)
          SELECT x.user_id, x.seq, 1, 1000, 999999, x.order_id, now(), 0 FROM x WHERE (SELECT k.n FROM k) >= 0
          ON CONFLICT DO NOTHING RETURNING user_id, seq
        )
        SELECT (SELECT min(x.member) FROM x WHERE (x.user_id, x.seq) NOT IN (SELECT i.user_id, i.seq FROM i))
        """;

    // A payload of the size the store writes for a two-line order (its OrderPlaced as JSON).
    private static readonly string Events = $$$"""
        WITH x AS (
          SELECT (g % 64)::smallint AS stripe, 1::smallint AS kind, now() AS at, 0::smallint AS at_tick,
            '{"user": ' || ({{{UserOf}}}) || ', "lines": [[3095, 2, 250], [4036, 2, 250]], "order": "' || {{{OrderIdOf}}} || '", "total": 1000}' AS payload,
            g AS n
          FROM generate_series(1, {n}) g
        ), k AS (
          SELECT x.stripe, count(*) AS count FROM x GROUP BY x.stripe
        ), c AS (
          INSERT INTO {{{S}}}.event_stripes AS t (stripe, last_seq)
          SELECT k.stripe, k.count FROM k ORDER BY k.stripe
          ON CONFLICT (stripe) DO UPDATE SET last_seq = t.last_seq + EXCLUDED.last_seq
          RETURNING stripe, last_seq
        ), e AS (
          INSERT INTO {{{S}}}.events (stripe, seq, kind, at, at_tick, payload)
          SELECT x.stripe, c.last_seq - k.count + row_number() OVER (PARTITION BY x.stripe ORDER BY x.n), x.kind, x.at, x.at_tick, x.payload::jsonb
          FROM x JOIN k ON k.stripe = x.stripe JOIN c ON c.stripe = x.stripe
          RETURNING 1
        )
        SELECT count(*) FROM e
        """;

    private const string Commit = "COMMIT";

    private const string DropForeignKeys = $"""
        ALTER TABLE {S}.order_lines DROP CONSTRAINT order_lines_order_id_fkey, DROP CONSTRAINT order_lines_product_id_fkey;
        ALTER TABLE {S}.stock DROP CONSTRAINT stock_product_id_fkey;
        ALTER TABLE {S}.sales DROP CONSTRAINT sales_product_id_fkey;
        """;

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex Failed();
}
