using Commerce.Postgres.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>A database created at 0001, with data, upgraded in place by the migrator.</summary>
public sealed class MigrationTests
{
    private static readonly UserId Funded = new(1);
    private static readonly UserId Empty = new(2);
    private static readonly UserId Small = new(3);
    private static readonly ProductId Apple = new(1);
    private static readonly ProductId Pear = new(2);

    /// <summary>Every wallet's balance is its charges and refunds minus its payments, its last entry's balance, and its length its last sequence.</summary>
    private const string LedgerInvariantViolations =
        """
        SELECT count(*) FROM {s}.wallets w
        LEFT JOIN LATERAL (
            SELECT coalesce(sum(CASE l.kind WHEN 1 THEN -l.amount ELSE l.amount END), 0) AS sum, count(*) AS entries, max(l.seq) AS last
            FROM {s}.ledger l WHERE l.user_id = w.user_id
        ) e ON true
        LEFT JOIN {s}.ledger last ON last.user_id = w.user_id AND last.seq = w.ledger_length
        WHERE e.sum <> w.balance OR e.entries <> w.ledger_length OR coalesce(e.last, 0) <> w.ledger_length
            OR (w.ledger_length > 0 AND last.balance_after IS DISTINCT FROM w.balance)
        """;

    [PostgresFact]
    public async Task A_schema_at_0001_with_data_upgrades_in_place_and_every_use_case_works_on_it()
    {
        var schema = "m_" + Guid.NewGuid().ToString("N")[..16];
        var q = "\"" + schema + "\"";
        var placedAt = PgShop.Start.AddHours(-1).AddTicks(17);
        var orderId = OrderId.New(placedAt);
        await CreateAtVersion1Async(q);

        // Data as the store wrote it at 0001: user 1 was charged 500 and paid 60 for an order of two apples.
        await ExecuteAsync(
            $"""
            INSERT INTO {q}.products VALUES (1, 'Apple', 30, 1), (2, 'Pear', 5, 1);
            INSERT INTO {q}.stock VALUES (1, 8, 2), (2, 3, 1);
            INSERT INTO {q}.wallets VALUES (1, 440, 3), (2, 0, 1), (3, 70, 1);
            INSERT INTO {q}.carts VALUES (1, '[[2,1]]', 1);
            INSERT INTO {q}.orders VALUES ('{orderId}', 1, 60, '2026-11-24 11:00:00.000001+00', 7);
            INSERT INTO {q}.order_lines VALUES ('{orderId}', 1, 1, 2, 30, 60);
            INSERT INTO {q}.sales VALUES ('2026-11-24 11:00:00+00', 1, 2);
            """);

        await using var shop = await PgShop.OnSchemaAsync(schema);
        Assert.Equal(
            new CommerceOptions().RankingResolution.Ticks,
            await shop.ScalarAsync<long>("SELECT value FROM {s}.store_settings WHERE name = 'ranking_resolution_ticks'"));

        Assert.Equal("1,2,3,4,5,6,7", await shop.ScalarAsync<string>("SELECT string_agg(version::text, ',' ORDER BY version) FROM {s}.schema_version"));
        Assert.Equal(
            "1:1:0:440:440:t|3:1:0:70:70:t",
            await shop.ScalarAsync<string>("SELECT string_agg(concat_ws(':', user_id, seq, kind, amount, balance_after, order_id IS NULL), '|' ORDER BY user_id) FROM {s}.ledger"));
        Assert.Equal(
            "1:440:1:4|2:0:0:1|3:70:1:2",
            await shop.ScalarAsync<string>("SELECT string_agg(concat_ws(':', user_id, balance, ledger_length, version), '|' ORDER BY user_id) FROM {s}.wallets"));
        Assert.Equal(0L, await shop.ScalarAsync<long>(LedgerInvariantViolations));

        // What was there reads back as it was.
        var opening = Assert.Single(await shop.Wallets.GetLedgerAsync(Funded));
        Assert.Equal((1L, LedgerEntryKind.Charge, new Money(440), new Money(440), (OrderId?)null), (opening.Sequence, opening.Kind, opening.Amount, opening.BalanceAfter, opening.OrderId));
        Assert.Empty(await shop.Wallets.GetLedgerAsync(Empty));
        var order = (await shop.Orders.GetOrderAsync(orderId)).Value;
        Assert.Equal(new Order(orderId, Funded, [new OrderLine(Apple, 2, new Money(30))], placedAt), order);
        Assert.Equal(placedAt.UtcTicks, order.PlacedAt.UtcTicks);
        Assert.Equal(OrderStatus.Placed, order.Status);
        Assert.Equal([(Apple, 2L)], (await shop.Ranking.GetPopularProductsAsync()).Select(p => (p.ProductId, p.QuantitySold)));
        Assert.Equal([(Pear, 1)], (await shop.Carts.GetCartAsync(Funded)).Lines.Select(l => (l.ProductId, l.Quantity)));

        // An order placed before the upgrade cancels: refunded with a ledger entry, restocked, out of the ranking.
        var cancelled = await shop.Orders.CancelOrderAsync(orderId);
        Assert.True(cancelled.IsSuccess, cancelled.ToString());
        Assert.Equal(new Money(500), await shop.Wallets.GetBalanceAsync(Funded));
        Assert.Equal(10, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Empty(await shop.Ranking.GetPopularProductsAsync());
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT quantity FROM {s}.sales"));
        Assert.Equal(CommerceErrorCode.OrderAlreadyCancelled, (await shop.Orders.CancelOrderAsync(orderId)).Error!.Code);

        // New use cases on upgraded rows.
        Assert.Equal(new Money(100), (await shop.Wallets.ChargeAsync(Small, new Money(30), new IdempotencyKey("k"))).Value);
        Assert.Equal(new Money(100), (await shop.Wallets.ChargeAsync(Small, new Money(30), new IdempotencyKey("k"))).Value);
        var placed = (await shop.Orders.PlaceOrderAsync(Funded, [new(Pear, 1)], new IdempotencyKey("k"))).Value;
        Assert.Equal(new Money(75), (await shop.Wallets.ChargeAsync(Empty, new Money(75))).Value);
        Assert.Equal(
            [LedgerEntryKind.Charge, LedgerEntryKind.Refund, LedgerEntryKind.Payment],
            (await shop.Wallets.GetLedgerAsync(Funded)).Select(e => e.Kind));
        Assert.Equal([new Money(100)], (await shop.Wallets.GetLedgerAsync(Small, afterSequence: 1)).Select(e => e.BalanceAfter));

        // Orders are listed from the ledger's payments: one placed before the upgrade has none, so only the new one is listed.
        Assert.Equal([placed.Id], (await shop.Orders.ListOrdersAsync(Funded)).Select(o => o.Id));
        Assert.Equal(0L, await shop.ScalarAsync<long>(LedgerInvariantViolations));

        // Migrating again changes nothing.
        await shop.Services.EnsureCommerceSchemaAsync();
        Assert.Equal((long)PostgresSchemaMigrator.Migrations.Count, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.schema_version"));
        Assert.Equal(6L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.ledger"));
    }

    [PostgresFact]
    public Task An_instance_that_waits_for_another_ones_migration_applies_nothing_again_under_a_read_committed_default() =>
        MigratingBehindAnotherInstanceAsync("read committed");

    [PostgresFact]
    public Task An_instance_that_waits_for_another_ones_migration_applies_nothing_again_under_a_repeatable_read_default() =>
        MigratingBehindAnotherInstanceAsync("repeatable read");

    [PostgresFact]
    public Task An_instance_that_waits_for_another_ones_migration_applies_nothing_again_under_a_serializable_default() =>
        MigratingBehindAnotherInstanceAsync("serializable");

    /// <summary>
    /// Two instances migrating one database at once serialize on the migration's advisory lock, and the second
    /// applies nothing the first applied, whatever <c>default_transaction_isolation</c> a database or role sets: at
    /// REPEATABLE READ or SERIALIZABLE the second's snapshot would be taken by its first statement, the lock's, before
    /// it waits, so it would read <c>schema_version</c> without the first's migrations, run them again and fail (a
    /// table that exists); the migration's transaction runs at READ COMMITTED. Here another transaction takes the lock
    /// and applies every migration, as another instance would, and commits once the store's migration waits for it.
    /// </summary>
    private static async Task MigratingBehindAnotherInstanceAsync(string isolation)
    {
        await using var database = await ThrowAwayDatabase.CreateAsync(("default_transaction_isolation", isolation));
        var schema = "m_" + Guid.NewGuid().ToString("N")[..16];
        var q = "\"" + schema + "\"";
        var services = new ServiceCollection();
        services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = database.On(TestDatabase.ConnectionString);
            o.Schema = schema;
        });
        await using var provider = services.BuildServiceProvider();
        Assert.Equal(isolation, await database.ScalarAsync<string>("SHOW default_transaction_isolation"));

        await using var other = new NpgsqlConnection(database.ConnectionString);
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted);
        var migrations = string.Join(
            "\n",
            PostgresSchemaMigrator.Migrations.Select(m => $"{m.Sql.Replace("{schema}", q, StringComparison.Ordinal)};\nINSERT INTO {q}.schema_version (version, name) VALUES ({m.Version}, '{m.Name}');"));
        await using (var command = new NpgsqlCommand(
            $"""
            SELECT pg_advisory_xact_lock(hashtext('commerce.migrations:{schema}')::bigint);
            CREATE SCHEMA {q};
            CREATE TABLE {q}.schema_version (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            {migrations}
            INSERT INTO {q}.store_settings (name, value) VALUES ('ranking_resolution_ticks', {new CommerceOptions().RankingResolution.Ticks});
            """,
            other,
            transaction))
        {
            await command.ExecuteNonQueryAsync();
        }

        var migrating = provider.EnsureCommerceSchemaAsync();

        // Each look is a round trip to the server (the wait is the server's to see), for at most 30 s.
        var blocked = $"SELECT count(*) FROM pg_stat_activity WHERE {other.ProcessID} = ANY(pg_blocking_pids(pid))";
        var deadline = TimeProvider.System.GetTimestamp() + (30 * TimeProvider.System.TimestampFrequency);
        while (!migrating.IsCompleted && TimeProvider.System.GetTimestamp() < deadline && await database.ScalarAsync<long>(blocked) == 0)
        {
        }

        Assert.False(migrating.IsCompleted, "The migration did not wait for the other instance's.");
        await transaction.CommitAsync();
        await migrating.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(
            string.Join(",", PostgresSchemaMigrator.Migrations.Select(m => m.Version)),
            await database.ScalarAsync<string>($"SELECT string_agg(version::text, ',' ORDER BY version) FROM {q}.schema_version"));

        // The migrated schema works.
        var wallets = provider.GetRequiredService<IWalletService>();
        Assert.Equal(new Money(5), (await wallets.ChargeAsync(Funded, new Money(5))).Value);
    }

    /// <summary>
    /// The migrator's first look at the schema (whether it is current, read without the migration's lock) waits for a
    /// lock another transaction holds on <c>schema_version</c> (as an upgrade's DDL would), and the server cancels it at
    /// its <c>statement_timeout</c>: the host sees the server's own <c>57014</c> (with its message, which names the timeout), not a schema taken for
    /// missing (and migrated again) nor a failure put down to something else. Nothing is migrated. The timeout, 2 s,
    /// is long enough that the checks before the lock pass on a loaded machine: only the blocked query reaches it.
    /// </summary>
    [PostgresFact]
    public async Task A_check_of_the_schema_the_server_cancels_fails_the_migration_with_the_servers_cancellation()
    {
        await using var shop = await PgShop.CreateAsync();
        var services = new ServiceCollection();
        services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = PgShop.RequiredConnectionString + ";Pooling=false;Options=-c statement_timeout=2000";
            o.Schema = shop.Schema;
        });
        await using var provider = services.BuildServiceProvider();
        await using var holder = new NpgsqlConnection(PgShop.RequiredConnectionString + ";Pooling=false");
        await holder.OpenAsync();
        await using (var command = new NpgsqlCommand($"BEGIN; LOCK TABLE \"{shop.Schema}\".schema_version IN ACCESS EXCLUSIVE MODE", holder))
        {
            await command.ExecuteNonQueryAsync();
        }

        var cancelled = await Assert.ThrowsAsync<PostgresException>(() => provider.EnsureCommerceSchemaAsync());

        Assert.Equal(PostgresErrorCodes.QueryCanceled, cancelled.SqlState);
        await holder.CloseAsync();
        Assert.Equal((long)PostgresSchemaMigrator.Migrations.Count, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.schema_version"));
    }

    /// <summary>A schema as the migrator left it when 0001 was its only migration.</summary>
    private static async Task CreateAtVersion1Async(string q)
    {
        var (version, name, sql) = PostgresSchemaMigrator.Migrations[0];
        Assert.Equal(1, version);
        await ExecuteAsync(
            $"""
            CREATE SCHEMA {q};
            CREATE TABLE {q}.schema_version (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            {sql.Replace("{schema}", q, StringComparison.Ordinal)}
            INSERT INTO {q}.schema_version (version, name) VALUES (1, '{name}');
            """);
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
