using System.Collections.Concurrent;
using Commerce.Postgres.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace Commerce.Postgres.Tests;

/// <summary>Backends terminated around commits: an order is there entirely or not at all.</summary>
public sealed class FaultTests(ITestOutputHelper output)
{
    [PostgresFact]
    public async Task An_order_whose_backend_dies_before_its_commit_is_retried_and_placed_once()
    {
        await using var shop = await PgShop.CreateAsync();
        var product = new ProductId(1);
        var user = new UserId(1);
        await shop.Catalog.AddProductAsync(product, "P", new Money(10), 5);
        await shop.Wallets.ChargeAsync(user, new Money(100));
        var terminated = 0;
        shop.Store.BeforeCommit = async (connection, _) =>
        {
            if (Interlocked.Exchange(ref terminated, 1) == 0)
            {
                await TerminateAsync(connection.ProcessID);
            }
        };

        var placed = await shop.Orders.PlaceOrderAsync(user, [new(product, 2)]);

        Assert.Equal(1, terminated);
        Assert.True(placed.IsSuccess);
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(user));
        Assert.Equal(3, (await shop.Catalog.GetProductAsync(product)).Value.Stock);
    }

    [PostgresFact]
    public Task A_charge_whose_backend_died_before_its_commit_ran_is_retried_and_applied_once() =>
        ChargeWhoseBackendDiedBeforeItsCommitRanAsync(groupCommit: false);

    [PostgresFact]
    public Task A_group_whose_backend_died_before_it_ran_is_retried_and_applied_once() =>
        ChargeWhoseBackendDiedBeforeItsCommitRanAsync(groupCommit: true);

    /// <summary>
    /// A charge without a key (no write tells whether it applied) on a connection whose backend was terminated
    /// before the batch reached it (as a pooled or group connection idle through a server restart is): the
    /// server's FATAL comes before any statement of the batch completed, so nothing applied, and the use case
    /// is retried rather than reported as of unknown outcome.
    /// </summary>
    private static async Task ChargeWhoseBackendDiedBeforeItsCommitRanAsync(bool groupCommit)
    {
        await using var shop = await PgShop.CreateAsync(store: o => o.GroupCommit = groupCommit);
        var user = new UserId(1);
        await shop.Wallets.ChargeAsync(user, new Money(100));
        var terminated = 0;
        shop.Store.BeforeCommit = async (connection, _) =>
        {
            if (Interlocked.Exchange(ref terminated, 1) == 0)
            {
                await TerminateAsync(connection.ProcessID);
            }
        };

        var charged = await shop.Wallets.ChargeAsync(user, new Money(5));

        Assert.Equal(1, terminated);
        Assert.Equal(new Money(105), charged.Value);
        Assert.Equal(new Money(105), await shop.Wallets.GetBalanceAsync(user));
        Assert.Equal(2, (await shop.Wallets.GetLedgerAsync(user)).Count);
    }

    /// <summary>
    /// A server (or role, or database) with <c>idle_session_timeout</c> closes a connection left idle that long,
    /// sending <c>57P05</c> as a <c>FATAL</c>; a group committer keeps its connection between groups, and the next
    /// group's batch is answered with that FATAL before any statement ran, so nothing applied. It was taken for a
    /// connection lost with the batch in flight: a charge without a key was reported as of unknown outcome
    /// (<see cref="CommitOutcomeUnknownException"/>). It is retried now, like a batch answered by a terminated
    /// backend's FATAL.
    /// </summary>
    [PostgresFact]
    public async Task A_group_whose_kept_connection_the_server_closed_as_idle_is_retried_and_applied_once()
    {
        await using var shop = await PgShop.CreateAsync(store: o =>
        {
            o.ConnectionString += ";Options=-c idle_session_timeout=500";
            o.GroupCommit = true;
        });
        var user = new UserId(1);
        var committer = 0;
        shop.Store.BeforeCommit = (connection, _) =>
        {
            Interlocked.CompareExchange(ref committer, connection.ProcessID, 0);
            return Task.CompletedTask;
        };
        await shop.Wallets.ChargeAsync(user, new Money(100));
        await GoneAsync(committer); // The server closed the committer's idle connection.

        var charged = await shop.Wallets.ChargeAsync(user, new Money(5));

        Assert.Equal(new Money(105), charged.Value);
        Assert.Equal(new Money(105), await shop.Wallets.GetBalanceAsync(user));
        Assert.Equal(2, (await shop.Wallets.GetLedgerAsync(user)).Count);
    }

    [PostgresFact]
    public Task A_commit_the_server_cancels_at_its_command_timeout_reports_that_nothing_applied_not_an_unknown_outcome() =>
        CommitsCancelledAtTheirCommandTimeoutAsync(groupCommit: false, users: 1);

    [PostgresFact]
    public Task A_group_the_server_cancels_at_its_command_timeout_reports_that_nothing_applied_not_an_unknown_outcome() =>
        CommitsCancelledAtTheirCommandTimeoutAsync(groupCommit: true, users: 1);

    [PostgresFact]
    public Task A_set_based_group_the_server_cancels_at_its_command_timeout_reports_that_nothing_applied_not_an_unknown_outcome() =>
        CommitsCancelledAtTheirCommandTimeoutAsync(groupCommit: true, users: 2);

    [PostgresFact]
    public Task A_commit_the_server_cancels_at_its_lock_timeout_reports_that_nothing_applied() =>
        CommitsCancelledAtAServerTimeoutAsync("lock_timeout", groupCommit: false);

    [PostgresFact]
    public Task A_commit_the_server_cancels_at_its_statement_timeout_reports_that_nothing_applied() =>
        CommitsCancelledAtAServerTimeoutAsync("statement_timeout", groupCommit: false);

    [PostgresFact]
    public Task A_group_member_the_server_cancels_at_its_lock_timeout_reports_that_nothing_applied_and_the_rest_commit() =>
        CommitsCancelledAtAServerTimeoutAsync("lock_timeout", groupCommit: true);

    /// <summary>
    /// A role or database may set <c>lock_timeout</c> or <c>statement_timeout</c>: the server then cancels a commit
    /// waiting for a row another transaction holds (<c>55P03</c>, <c>57014</c>), which rolls it back, as at the
    /// command timeout. The services reported the command timeout as <c>StoreUnavailable</c>, but let these escape
    /// as a raw <see cref="PostgresException"/>. Two charges, in one group with group commit; the first wallet's row
    /// is held: its charge is told <c>StoreUnavailable</c>, the other commits.
    /// </summary>
    private static async Task CommitsCancelledAtAServerTimeoutAsync(string timeout, bool groupCommit)
    {
        await using var shop = await PgShop.CreateAsync(store: o =>
        {
            o.ConnectionString += $";Options=-c {timeout}=200";
            o.GroupCommit = groupCommit;
        });
        await shop.Wallets.ChargeAsync(new UserId(1), new Money(100));
        await shop.Wallets.ChargeAsync(new UserId(2), new Money(100));

        await using var holder = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT 1 FROM \"{shop.Schema}\".wallets WHERE user_id = 1 FOR UPDATE", holder, transaction))
        {
            await lockRow.ExecuteScalarAsync();
        }

        shop.Store.GroupCommitter?.HoldUntilQueued(2);
        var charges = await Task.WhenAll(Enumerable.Range(1, 2).Select(u => Task.Run(() => shop.Wallets.ChargeAsync(new UserId(u), new Money(5)).AsTask())));

        await transaction.RollbackAsync();
        Assert.Equal(CommerceErrorCode.StoreUnavailable, charges[0].Error?.Code);
        Assert.Equal(new Money(105), charges[1].Value);
        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(new UserId(1)));
        Assert.Equal(new Money(105), await shop.Wallets.GetBalanceAsync(new UserId(2)));
    }

    /// <summary>
    /// Charges <paramref name="users"/> wallets at once (in one group with group commit, set-based for two)
    /// while another transaction holds the first wallet's row: the commit waits for it until its command
    /// timeout, when Npgsql has the server cancel the batch (57014), which rolls it back.
    /// </summary>
    private static async Task CommitsCancelledAtTheirCommandTimeoutAsync(bool groupCommit, int users)
    {
        await using var shop = await PgShop.CreateAsync(store: o =>
        {
            o.CommandTimeout = 1;
            o.GroupCommit = groupCommit;
        });
        for (var u = 1; u <= users; u++)
        {
            await shop.Wallets.ChargeAsync(new UserId(u), new Money(100));
        }

        await using var holder = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand($"SELECT 1 FROM \"{shop.Schema}\".wallets WHERE user_id = 1 FOR UPDATE", holder, transaction))
        {
            await lockRow.ExecuteScalarAsync();
        }

        shop.Store.GroupCommitter?.HoldUntilQueued(users);
        var charges = await Task.WhenAll(Enumerable.Range(1, users).Select(u => Task.Run(() => shop.Wallets.ChargeAsync(new UserId(u), new Money(5)).AsTask())));

        await transaction.RollbackAsync();
        Assert.All(charges, charged => Assert.Equal(CommerceErrorCode.StoreUnavailable, charged.Error?.Code));
        Assert.Equal(users > 1 ? 1 : 0, shop.Store.GroupCommitter?.SetGroupsSent ?? 0);
        Assert.Equal(100L * users, await shop.ScalarAsync<long>("SELECT sum(balance) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task Backends_terminated_while_orders_commit_leave_wallets_stock_orders_and_sales_in_agreement()
    {
        await using var shop = await PgShop.CreateAsync(o => o.MaxCommitAttempts = 10_000);
        const int Users = 8;
        const int Products = 3;
        const long InitialMoney = 1_000;
        const int InitialStock = 500;
        for (var p = 1; p <= Products; p++)
        {
            await shop.Catalog.AddProductAsync(new ProductId(p), "P" + p, new Money(p), InitialStock);
        }

        for (var u = 0; u < Users; u++)
        {
            await shop.Wallets.ChargeAsync(new UserId(u), new Money(InitialMoney));
        }

        // Every commit races a pg_terminate_backend of its own connection, sent from another connection.
        var terminations = new ConcurrentBag<Task>();
        shop.Store.BeforeCommit = (connection, _) =>
        {
            var pid = connection.ProcessID;
            terminations.Add(Task.Run(() => TerminateAsync(pid)));
            return Task.CompletedTask;
        };

        var placed = new ConcurrentBag<Order>();
        var failures = 0;
        await ConcurrencyTests.RunOnThreads(4, async t =>
        {
            var random = new Random(t);
            for (var i = 0; i < 15; i++)
            {
                try
                {
                    var result = await shop.Orders.PlaceOrderAsync(
                        new UserId(random.Next(Users)),
                        [new(new ProductId(random.Next(1, Products + 1)), random.Next(1, 4))]);
                    if (result.IsSuccess)
                    {
                        placed.Add(result.Value);
                    }
                }
                catch (Exception e) when (e is NpgsqlException or CommitOutcomeUnknownException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        await Task.WhenAll(terminations);
        shop.Store.BeforeCommit = null;

        // Whatever happened to each commit, the database agrees with itself and with what was reported.
        var orderTotals = await shop.ScalarAsync<long>("SELECT coalesce(sum(total), 0)::bigint FROM {s}.orders");
        var lineTotals = await shop.ScalarAsync<long>("SELECT coalesce(sum(line_total), 0) FROM {s}.order_lines");
        var balances = await shop.ScalarAsync<long>("SELECT sum(balance) FROM {s}.wallets");
        var stock = await shop.ScalarAsync<long>("SELECT sum(on_hand) FROM {s}.stock");
        var units = await shop.ScalarAsync<long>("SELECT coalesce(sum(quantity), 0) FROM {s}.order_lines");
        var sales = await shop.ScalarAsync<long>("SELECT coalesce(sum(quantity), 0) FROM {s}.sales");
        var orders = await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders");
        var linelessOrders = await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders o WHERE NOT EXISTS (SELECT 1 FROM {s}.order_lines l WHERE l.order_id = o.id)");

        Assert.Equal(orderTotals, lineTotals);
        Assert.Equal((Users * InitialMoney) - orderTotals, balances);
        Assert.Equal((Products * InitialStock) - units, stock);
        Assert.Equal(units, sales);
        Assert.Equal(0L, linelessOrders);
        Assert.Equal((long)placed.Count, await CountOfAsync(shop, placed.Select(o => o.Id.Value)));
        Assert.InRange(orders, placed.Count, placed.Count + failures);
        Assert.NotEmpty(terminations);
        output.WriteLine($"{terminations.Count} commits raced a termination; {placed.Count} orders reported placed, {failures} failed, {orders} stored.");
    }

    /// <summary>How many of the given orders the database holds.</summary>
    private static async Task<long> CountOfAsync(PgShop shop, IEnumerable<Guid> ids)
    {
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM \"{shop.Schema}\".orders WHERE id = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids.ToArray() });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Waits (at most 30 s) until a backend is gone.</summary>
    private static async Task GoneAsync(int pid)
    {
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        var deadline = TimeProvider.System.GetTimestamp() + (30 * TimeProvider.System.TimestampFrequency);
        while (TimeProvider.System.GetTimestamp() < deadline)
        {
            // Each look is a round trip to the server: the loop watches the backend, it does not spin idle.
            await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", connection);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
            if (!(bool)(await command.ExecuteScalarAsync())!)
            {
                return;
            }
        }

        throw new TimeoutException($"Backend {pid} never went.");
    }

    /// <summary>Terminates a backend from another connection and waits until it is gone.</summary>
    internal static async Task TerminateAsync(int pid)
    {
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_terminate_backend($1, 10000)", connection);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
        await command.ExecuteScalarAsync();
    }
}
