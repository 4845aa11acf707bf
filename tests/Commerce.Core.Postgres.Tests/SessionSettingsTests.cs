using Commerce.Conformance;
using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// Settings a server, a role, a database or the connection string may make: every use case still does what it
/// documents, with and without group commit (see the README's table of settings).
/// </summary>
public sealed class SessionSettingsTests
{
    private static readonly UserId Alice = new(1);
    private static readonly ProductId Apple = new(1);
    private static readonly ProductId Pear = new(2);

    /// <summary>
    /// A search path that names, before anything else, a schema holding tables and functions of the store's names
    /// (of other shapes, or failing): the store reads and writes its own schema.
    /// </summary>
    [PostgresFact]
    public async Task Every_use_case_uses_the_stores_own_schema_whatever_schema_the_search_path_names_first()
    {
        var shadow = "shadow_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            await ExecuteAsync(
                $"""
                CREATE SCHEMA {shadow};
                CREATE TABLE {shadow}.wallets (user_id bigint PRIMARY KEY, balance bigint, ledger_length bigint, version bigint);
                CREATE TABLE {shadow}.orders (id uuid PRIMARY KEY);
                CREATE TABLE {shadow}.idempotency (user_id bigint, digest bigint);
                CREATE TABLE {shadow}.events (stripe smallint);
                CREATE FUNCTION {shadow}.expect_rows(bigint, bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 1 / 0';
                """);
            await RunEveryUseCaseAsync($"Options=-c search_path={shadow},public");
        }
        finally
        {
            await ExecuteAsync($"DROP SCHEMA IF EXISTS {shadow} CASCADE");
        }
    }

    [PostgresFact]
    public Task Every_use_case_works_whatever_the_sessions_formats_time_zone_and_messages() =>
        RunEveryUseCaseAsync(
            "Options=-c TimeZone=Pacific/Chatham -c DateStyle=SQL,DMY -c IntervalStyle=sql_standard -c extra_float_digits=-15 -c bytea_output=escape -c client_min_messages=debug5 -c lc_messages=C");

    [PostgresFact]
    public Task Every_use_case_works_without_pooling_or_type_loading() =>
        RunEveryUseCaseAsync("Pooling=false;Server Compatibility Mode=NoTypeLoading;Include Error Detail=true;Application Name=another-app");

    [PostgresFact]
    public Task Every_use_case_works_with_connections_reset_and_other_preparation_settings() =>
        RunEveryUseCaseAsync("No Reset On Close=false;Max Auto Prepare=2;Auto Prepare Min Usages=1;Include Failed Batched Command=false");

    /// <summary>
    /// A store pointed at a read-only server (as a hot standby is, or a role with <c>default_transaction_read_only</c>):
    /// its reads work, and a use case that writes fails at once with the server's refusal, nothing applied.
    /// </summary>
    [PostgresFact]
    public async Task On_a_read_only_server_reads_work_and_writes_fail_at_once_with_the_servers_refusal()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);
        foreach (var group in new[] { false, true })
        {
            var services = new ServiceCollection();
            services.AddCommerce().UsePostgresStore(o =>
            {
                o.ConnectionString = TestDatabase.ConnectionString + ";Options=-c default_transaction_read_only=on";
                o.Schema = shop.Schema;
                o.GroupCommit = group;
            });
            await using var replica = services.BuildServiceProvider();

            var refused = await Assert.ThrowsAsync<PostgresException>(() => replica.EnsureCommerceSchemaAsync());
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, refused.SqlState);
            Assert.Equal(new Money(100), await replica.GetRequiredService<IWalletService>().GetBalanceAsync(Alice));
            Assert.Equal(5, (await replica.GetRequiredService<ICatalogService>().GetProductAsync(Apple)).Value.Stock);
            Assert.Equal(2, (await replica.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)).Events.Count);
            var charge = await Assert.ThrowsAsync<PostgresException>(() => replica.GetRequiredService<IWalletService>().ChargeAsync(Alice, new Money(5), new IdempotencyKey("k")).AsTask());
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, charge.SqlState);
            var order = await Assert.ThrowsAsync<PostgresException>(() => replica.GetRequiredService<IOrderService>().PlaceOrderAsync(Alice, [new(Apple, 1)]).AsTask());
            Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, order.SqlState);
        }

        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.idempotency"));
    }

    [PostgresFact]
    public Task Every_read_the_server_cancels_at_its_lock_timeout_is_reported_unavailable_with_the_servers_error_inside() =>
        ReadsCancelledAtAServerTimeoutAsync("lock_timeout=100", PostgresErrorCodes.LockNotAvailable);

    [PostgresFact]
    public Task Every_read_the_server_cancels_at_its_statement_timeout_is_reported_unavailable_with_the_servers_error_inside() =>
        ReadsCancelledAtAServerTimeoutAsync("statement_timeout=500", PostgresErrorCodes.QueryCanceled);

    /// <summary>
    /// The connection string's <c>Command Timeout</c>: Npgsql has the server cancel a statement still running at it
    /// (<c>57014</c>, which applied nothing) and reports a <see cref="TimeoutException"/> on a connection it keeps open.
    /// A commit so cancelled was reported as <see cref="StoreUnavailableException"/>, but a read (and the statements
    /// beside the reads) took it for a broken connection, ran once more on a fresh one, waiting as long again, and let
    /// the raw <see cref="NpgsqlException"/> escape; a read-only check reported a conflict instead, so its use case was
    /// run again, attempt after attempt.
    /// </summary>
    [PostgresFact]
    public Task Every_read_cancelled_at_the_command_timeout_is_reported_unavailable_with_the_timeout_inside() =>
        ReadsCancelledAsync("Command Timeout=1", static inner => Assert.IsType<TimeoutException>(Assert.IsType<NpgsqlException>(inner).InnerException));

    /// <summary>
    /// <see cref="ReadsCancelledAsync"/> under a server setting (<c>name=milliseconds</c>). A <c>statement_timeout</c> bounds
    /// every statement, the set-up's and the store's migration included, so it is given room on a loaded machine (500 ms);
    /// a <c>lock_timeout</c> only bounds waits for locks, which only the locked tables bring.
    /// </summary>
    private static Task ReadsCancelledAtAServerTimeoutAsync(string setting, string sqlState) =>
        ReadsCancelledAsync($"Options=-c {setting}", inner => Assert.Equal(sqlState, Assert.IsType<PostgresException>(inner).SqlState));

    /// <summary>
    /// A role, a database or the connection string may set <c>lock_timeout</c> or <c>statement_timeout</c>: the server then
    /// cancels a statement waiting for a lock (<c>55P03</c>, <c>57014</c>), which applied nothing. A commit so cancelled was
    /// reported as <see cref="StoreUnavailableException"/>, but a read (a key read, alone or in a group, a listing, the
    /// ranking, a read-only check, a page of events, a wait for events, a checkpoint), and the statements beside them (a
    /// checkpoint's save, the purges), let the raw <see cref="PostgresException"/> escape. Every table is locked by another
    /// transaction, so each statement waits until the server cancels it (under <paramref name="settings"/>, added to the
    /// connection string); <paramref name="assertInner"/> checks what the store's exception holds.
    /// </summary>
    private static async Task ReadsCancelledAsync(string settings, Action<Exception?> assertInner)
    {
        foreach (var group in new[] { false, true })
        {
            await using var shop = await PgShop.CreateAsync(store: o =>
            {
                o.ConnectionString += ";" + settings;
                o.GroupCommit = group;
            });
            await shop.Wallets.ChargeAsync(Alice, new Money(100));
            await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);
            Assert.True((await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1)], new IdempotencyKey("o"))).IsSuccess);
            var events = shop.Services.GetRequiredService<IEventStore>();
            var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
            var page = await feed.ReadAsync(EventCursor.Start);
            await events.SaveCheckpointAsync("c", page.Next);

            // A unit of work that read in two statements: its commit checks its reads in a third.
            await using var unitOfWork = await shop.Store.BeginAsync();
            Assert.NotNull(await unitOfWork.Wallets.FindAsync(Alice));
            Assert.NotNull(await unitOfWork.Products.FindAsync(Apple));

            await using var holder = new NpgsqlConnection(PgShop.RequiredConnectionString);
            await holder.OpenAsync();
            await using var transaction = await holder.BeginTransactionAsync();
            var tables = string.Join(", ", new[] { "wallets", "products", "stock", "carts", "orders", "order_lines", "ledger", "idempotency", "sales", "events", "event_checkpoints" }
                .Select(t => $"\"{shop.Schema}\".{t}"));
            await using (var lockAll = new NpgsqlCommand($"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE", holder, transaction))
            {
                await lockAll.ExecuteNonQueryAsync();
            }

            await AssertCancelledAsync(assertInner, () => shop.Wallets.GetBalanceAsync(Alice).AsTask());
            await AssertCancelledAsync(assertInner, () => shop.Catalog.ListProductsAsync(null, 10).AsTask());
            await AssertCancelledAsync(assertInner, () => shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromDays(1)).AsTask());
            await AssertCancelledAsync(assertInner, () => unitOfWork.CommitAsync().AsTask());
            await AssertCancelledAsync(assertInner, () => feed.ReadAsync(EventCursor.Start).AsTask());
            await AssertCancelledAsync(assertInner, () => feed.WaitAsync(page.Next).AsTask());
            await AssertCancelledAsync(assertInner, () => events.LoadCheckpointAsync("c").AsTask());
            await AssertCancelledAsync(assertInner, () => events.SaveCheckpointAsync("c", EventCursor.Start).AsTask());
            await AssertCancelledAsync(assertInner, () => events.PurgeEventsAsync(shop.Time.GetUtcNow().AddDays(1), page.Next).AsTask());
            await using (var session = await shop.Store.OpenSessionAsync())
            {
                await AssertCancelledAsync(assertInner, () => session.PurgeIdempotencyAsync(shop.Time.GetUtcNow().AddDays(1)).AsTask());
            }

            await transaction.RollbackAsync();
            Assert.Equal(new Money(90), await shop.Wallets.GetBalanceAsync(Alice));
            Assert.Equal(page.Next, await events.LoadCheckpointAsync("c"));
            Assert.Equal(page.Events.Count, (await feed.ReadAsync(EventCursor.Start)).Events.Count);
        }
    }

    /// <summary>
    /// Asserts that <paramref name="operation"/> failed with <see cref="StoreUnavailableException"/> (the services' own, if
    /// they report it, around the store's), not <see cref="StoreUnavailableException.Retryable"/>, with the cancellation
    /// inside (checked by <paramref name="assertInner"/>).
    /// </summary>
    private static async Task AssertCancelledAsync(Action<Exception?> assertInner, Func<Task> operation)
    {
        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(operation);
        while (refused.InnerException is StoreUnavailableException store)
        {
            refused = store;
        }

        Assert.False(refused.Retryable);
        assertInner(refused.InnerException);
    }

    [PostgresFact]
    public Task The_purges_and_a_checkpoints_save_that_meet_a_concurrent_write_run_at_read_committed_under_a_repeatable_read_default() =>
        WritesMeetingConcurrentWritesAsync("repeatable read", through: null);

    [PostgresFact]
    public Task The_purges_and_a_checkpoints_save_that_meet_a_concurrent_write_run_at_read_committed_under_a_serializable_default() =>
        WritesMeetingConcurrentWritesAsync("serializable", through: null);

    /// <summary>
    /// A database (or role) may set <c>default_transaction_isolation</c>. The write batches run at READ COMMITTED whatever it
    /// is, but the purge of idempotency records, the purge of events and a checkpoint's save ran, one statement each, at the
    /// default: under REPEATABLE READ or SERIALIZABLE, one that waited for a row another transaction was writing failed with
    /// a serialization failure (<c>40001</c>) once that transaction committed, where at READ COMMITTED it goes on with the
    /// row as committed. Here another transaction replaces an expired idempotency record (written anew, so no longer to
    /// purge), purges an event (as another instance's purge would) and saves the checkpoint, and holds its locks until the
    /// store's statement waits for it. The database's own setting reaches sessions through PgBouncer too
    /// (<paramref name="through"/>, a connection string to the server through it).
    /// </summary>
    internal static async Task WritesMeetingConcurrentWritesAsync(string isolation, string? through)
    {
        await using var database = await ThrowAwayDatabase.CreateAsync(("default_transaction_isolation", isolation));
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString = database.On(through ?? TestDatabase.ConnectionString) + ";Maximum Pool Size=10");
        Assert.Equal(isolation, await database.ScalarAsync<string>("SHOW default_transaction_isolation"));
        var s = $"\"{shop.Schema}\"";
        await shop.Wallets.ChargeAsync(Alice, new Money(10), new IdempotencyKey("a"));
        await shop.Wallets.ChargeAsync(Alice, new Money(20));
        await database.ScalarAsync<long>($"WITH a AS (UPDATE {s}.idempotency SET written_at = written_at - interval '2 days' RETURNING 1) SELECT count(*) FROM a");
        var events = shop.Services.GetRequiredService<IEventStore>();
        var page = await events.ReadEventsAsync(EventCursor.Start, 10);
        Assert.Equal(2, page.Events.Count);
        await events.SaveCheckpointAsync("c", EventCursor.Start);

        // The expired record, replaced meanwhile: kept, as written anew.
        var purged = await MeetingAsync(
            database,
            $"UPDATE {s}.idempotency SET version = version + 1, written_at = now(), request_hash = request_hash + 1",
            async () =>
            {
                await using var session = await shop.Store.OpenSessionAsync();
                return await session.PurgeIdempotencyAsync(shop.Time.GetUtcNow().AddDays(1));
            });
        Assert.Equal(0, purged);
        Assert.Equal(2L, await database.ScalarAsync<long>($"SELECT version FROM {s}.idempotency"));

        // One event purged meanwhile, the other by the store.
        var first = page.Events[0].Position;
        var eventsPurged = await MeetingAsync(
            database,
            $"DELETE FROM {s}.events WHERE stripe = {first.Stripe} AND seq = {first.Sequence}",
            async () => await events.PurgeEventsAsync(shop.Time.GetUtcNow().AddDays(1), page.Next));
        Assert.Equal(1L, eventsPurged);
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM {s}.events"));

        // The checkpoint saved meanwhile, then by the store: the store's save is the last.
        await MeetingAsync(
            database,
            $"UPDATE {s}.event_checkpoints SET cursor = cursor, updated_at = now() WHERE consumer = 'c'",
            async () =>
            {
                await events.SaveCheckpointAsync("c", page.Next);
                return 0;
            });
        Assert.Equal(page.Next, await events.LoadCheckpointAsync("c"));
    }

    /// <summary>
    /// Runs <paramref name="operation"/> while another transaction, on <paramref name="database"/>, holds what
    /// <paramref name="write"/> wrote; once the operation waits for that transaction, commits it, and returns what the
    /// operation returns.
    /// </summary>
    private static async Task<T> MeetingAsync<T>(ThrowAwayDatabase database, string write, Func<Task<T>> operation)
    {
        await using var holder = new NpgsqlConnection(database.ConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted);
        await using (var command = new NpgsqlCommand(write, holder, transaction))
        {
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var running = Task.Run(operation);

        // Each look is a round trip to the server (the wait is the server's to see), for at most 30 s.
        var blocked = $"SELECT count(*) FROM pg_stat_activity WHERE {holder.ProcessID} = ANY(pg_blocking_pids(pid))";
        var deadline = TimeProvider.System.GetTimestamp() + (30 * TimeProvider.System.TimestampFrequency);
        while (!running.IsCompleted && TimeProvider.System.GetTimestamp() < deadline && await database.ScalarAsync<long>(blocked) == 0)
        {
        }

        Assert.False(running.IsCompleted, "The operation did not wait for the other transaction.");
        Assert.Equal(1L, await database.ScalarAsync<long>(blocked));
        await transaction.CommitAsync();
        return await running.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Under a SERIALIZABLE default, a read (one statement, so one snapshot, whatever the isolation) took part in
    /// serializable snapshot isolation: PostgreSQL aborted it with a serialization failure (<c>40001</c>, "canceled on
    /// conflict out to pivot") when, after its snapshot, a serializable transaction of another application committed a
    /// write of a row the read then read the old version of, having itself read something a third one wrote and
    /// committed first; the raw <see cref="PostgresException"/> escaped the read-only use case. The store's own commits run
    /// at READ COMMITTED and check their reads themselves, so a read needs nothing of SERIALIZABLE. To place the read's
    /// snapshot before the pivot's commit and its row after it, a request for the table's lock queues behind the pivot's
    /// write, and the read (which takes its snapshot before its table's lock) queues behind that request.
    /// </summary>
    [PostgresFact]
    public async Task A_read_under_a_serializable_default_is_not_aborted_by_the_serializable_transactions_of_another_application()
    {
        foreach (var group in new[] { false, true })
        {
            await using var shop = await PgShop.CreateAsync(store: o =>
            {
                o.ConnectionString += ";Options=-c default_transaction_isolation=serializable";
                o.GroupCommit = group;
            });
            await shop.Wallets.ChargeAsync(Alice, new Money(100));
            await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);
            var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
            var s = $"\"{shop.Schema}\"";
            await ExecuteAsync($"CREATE TABLE {s}.other_app (id int PRIMARY KEY, v int); INSERT INTO {s}.other_app VALUES (1, 0)");

            Assert.Equal(new Money(100), await ReadBehindAPivotAsync(shop, $"UPDATE {s}.wallets SET balance = balance", () => shop.Wallets.GetBalanceAsync(Alice).AsTask()));
            Assert.Single(await ReadBehindAPivotAsync(shop, $"UPDATE {s}.products SET name = name", () => shop.Catalog.ListProductsAsync(null, 10).AsTask()));
            Assert.Equal(2, (await ReadBehindAPivotAsync(shop, $"UPDATE {s}.events SET kind = kind", () => feed.ReadAsync(EventCursor.Start).AsTask())).Events.Count);
        }
    }

    /// <summary>
    /// Runs <paramref name="read"/> with its snapshot taken before a serializable transaction (the pivot) commits
    /// <paramref name="write"/> and its rows read after it: the pivot read a row of <c>other_app</c> that a third
    /// serializable transaction then wrote and committed first.
    /// </summary>
    private static async Task<T> ReadBehindAPivotAsync<T>(PgShop shop, string write, Func<Task<T>> read)
    {
        var s = $"\"{shop.Schema}\"";
        var table = write.Split(' ')[1];
        await using var pivot = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await pivot.OpenAsync();
        await using var pivotTransaction = await pivot.BeginTransactionAsync(System.Data.IsolationLevel.Serializable);
        await using (var command = new NpgsqlCommand($"SELECT v FROM {s}.other_app WHERE id = 1", pivot, pivotTransaction))
        {
            await command.ExecuteScalarAsync();
        }

        await using (var other = new NpgsqlConnection(PgShop.RequiredConnectionString))
        {
            await other.OpenAsync();
            await using var transaction = await other.BeginTransactionAsync(System.Data.IsolationLevel.Serializable);
            await using (var command = new NpgsqlCommand($"UPDATE {s}.other_app SET v = v + 1 WHERE id = 1", other, transaction))
            {
                await command.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();
        }

        await using (var command = new NpgsqlCommand(write, pivot, pivotTransaction))
        {
            Assert.NotEqual(0, await command.ExecuteNonQueryAsync());
        }

        await using var locker = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await locker.OpenAsync();
        await using var lockerTransaction = await locker.BeginTransactionAsync();
        await using var lockTable = new NpgsqlCommand($"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE", locker, lockerTransaction);
        var locking = lockTable.ExecuteNonQueryAsync();
        await UntilBlockedByAsync(shop, pivot.ProcessID, () => locking.IsCompleted);
        var reading = Task.Run(read);
        await UntilBlockedByAsync(shop, locker.ProcessID, () => reading.IsCompleted);
        await pivotTransaction.CommitAsync();
        await locking;
        await lockerTransaction.RollbackAsync();
        return await reading.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Returns once a statement waits for the lock of the backend <paramref name="holder"/> (for at most 30 s), unless <paramref name="ended"/> first.</summary>
    private static async Task UntilBlockedByAsync(PgShop shop, int holder, Func<bool> ended)
    {
        // Each look is a round trip to the server (the wait is the server's to see).
        var blocked = $"SELECT count(*) FROM pg_stat_activity WHERE {holder} = ANY(pg_blocking_pids(pid))";
        var deadline = TimeProvider.System.GetTimestamp() + (30 * TimeProvider.System.TimestampFrequency);
        while (!ended() && TimeProvider.System.GetTimestamp() < deadline && await shop.ScalarAsync<long>(blocked) == 0)
        {
        }

        Assert.False(ended(), "The statement did not wait for the lock.");
        Assert.Equal(1L, await shop.ScalarAsync<long>(blocked));
    }

    /// <summary>Runs every use case, keyed and not, with and without group commit, on connections with <paramref name="settings"/>.</summary>
    private static async Task RunEveryUseCaseAsync(string settings)
    {
        foreach (var group in new[] { false, true })
        {
            await using var shop = await PgShop.CreateAsync(store: o =>
            {
                o.ConnectionString = TestDatabase.ConnectionString + ";Maximum Pool Size=10;" + settings;
                o.GroupCommit = group;
            });
            await RunEveryUseCaseAsync(shop);
        }
    }

    private static async Task RunEveryUseCaseAsync(PgShop shop)
    {
        Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(1000))).IsSuccess);
        Assert.Equal(new Money(1025), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("c"))).Value);
        Assert.Equal(new Money(1025), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("c"))).Value);
        Assert.True((await shop.Catalog.AddProductAsync(Apple, "Äpfel ☕ \"'\\", new Money(10), 50)).IsSuccess);
        Assert.True((await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(7), 50)).IsSuccess);
        Assert.Equal("Äpfel ☕ \"'\\", (await shop.Catalog.GetProductAsync(Apple)).Value.Name);

        var plain = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2), new(Pear, 1)]);
        Assert.True(plain.IsSuccess, plain.ToString());
        var keyed = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1)], new IdempotencyKey("o"));
        Assert.True(keyed.IsSuccess, keyed.ToString());
        Assert.Equal(keyed.Value, (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1)], new IdempotencyKey("o"))).Value);
        Assert.Equal(plain.Value, (await shop.Orders.GetOrderAsync(plain.Value.Id)).Value);
        Assert.Equal(TimeSpan.Zero, (await shop.Orders.GetOrderAsync(plain.Value.Id)).Value.PlacedAt.Offset);
        Assert.Equal(OrderStatus.Cancelled, (await shop.Orders.CancelOrderAsync(plain.Value.Id)).Value.Status);

        Assert.True((await shop.Carts.AddItemAsync(Alice, Pear, 3)).IsSuccess);
        var checkout = await shop.Carts.CheckoutAsync(Alice, new IdempotencyKey("k"));
        Assert.True(checkout.IsSuccess, checkout.ToString());
        Assert.Equal(checkout.Value, (await shop.Carts.CheckoutAsync(Alice, new IdempotencyKey("k"))).Value);

        Assert.Equal(new Money(1025 - 10 - 21), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(3, (await shop.Orders.ListOrdersAsync(Alice)).Count);
        Assert.Equal(6, (await shop.Wallets.GetLedgerAsync(Alice)).Count); // two charges, three payments, a refund
        Assert.Equal([Pear, Apple], (await shop.Ranking.GetPopularProductsAsync(5, TimeSpan.FromDays(1))).Select(p => p.ProductId));

        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var page = await feed.ReadAsync(EventCursor.Start);
        Assert.NotEmpty(page.Events);
        Assert.All(page.Events, e => Assert.Equal(TimeSpan.Zero, e.At.Offset));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var waiting = feed.WaitAsync(page.Next, timeout.Token).AsTask();
        Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(5))).IsSuccess);
        await waiting;
        Assert.Single((await feed.ReadAsync(page.Next)).Events);
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>
/// Settings of the database, through PgBouncer in transaction pooling mode: the store's statements outside the write
/// batches set their transaction's isolation as those do, in the transaction PgBouncer lends a server connection for.
/// </summary>
[RequiresPgBouncer]
public sealed class PgBouncerSessionSettingsTests
{
    [StoreFact]
    public Task The_purges_and_a_checkpoints_save_that_meet_a_concurrent_write_run_at_read_committed_under_a_repeatable_read_default() =>
        SessionSettingsTests.WritesMeetingConcurrentWritesAsync("repeatable read", TestDatabase.PgBouncerConnectionString);

    [StoreFact]
    public Task The_purges_and_a_checkpoints_save_that_meet_a_concurrent_write_run_at_read_committed_under_a_serializable_default() =>
        SessionSettingsTests.WritesMeetingConcurrentWritesAsync("serializable", TestDatabase.PgBouncerConnectionString);
}
