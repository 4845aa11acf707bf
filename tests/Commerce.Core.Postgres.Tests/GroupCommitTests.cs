using System.Collections.Concurrent;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// Group commit: commits queued together go as one batch, and each keeps its own outcome. The committer is
/// held until the commits of a test are queued (<see cref="PostgresGroupCommitter.HoldUntilQueued"/>), so
/// each group is formed the same way on every run.
/// </summary>
public sealed class GroupCommitTests
{
    private static readonly UserId Alice = new(1);
    private static readonly UserId Bob = new(2);
    private static readonly UserId Carol = new(3);
    private static readonly ProductId Apple = new(10);
    private static readonly ProductId Pear = new(20);

    [PostgresFact]
    public async Task Commits_queued_together_are_sent_as_one_batch_in_one_round_trip()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        var before = shop.Store.RoundTrips;

        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), 6)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Carol), 7), ChangeSets.Adjust(StoreKey.ForStock(Apple), -1)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -2), ChangeSets.Adjust(StoreKey.ForWallet(Alice), 1)]);

        Assert.Equal([true, true, true, true], results);
        Assert.Equal(1, shop.Store.RoundTrips - before);
        Assert.Equal([4], committer.SentGroupSizes!);
        Assert.Equal("1,6;2,6;3,7", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
    }

    [PostgresFact]
    public async Task A_member_whose_guard_fails_applies_nothing_and_the_others_apply()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        var before = shop.Store.RoundTrips;

        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5), ChangeSets.Adjust(StoreKey.ForStock(Pear), -1)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), 9), ChangeSets.Adjust(StoreKey.ForStock(Apple), -6)], // 5 on hand: CM409
            [ChangeSets.Adjust(StoreKey.ForWallet(Carol), 7), ChangeSets.Adjust(StoreKey.ForStock(Apple), -2)]);

        Assert.Equal([true, false, true], results);

        // The group failed on the server (nothing applied), then went again without the failed member.
        Assert.Equal(2, shop.Store.RoundTrips - before);
        Assert.Equal([3, 2], committer.SentGroupSizes!);
        Assert.Equal("1,5;3,7", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));
        Assert.Equal(3L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
        Assert.Equal(4L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 20"));
    }

    [PostgresFact]
    public async Task Several_failing_members_each_fail_alone()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);

        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -6)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Adjust(StoreKey.ForStock(Pear), -6)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -5)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -1)]); // after the one before: nothing left

        Assert.Equal([false, true, false, true, false], results);
        Assert.Equal([5, 4, 3, 2], committer.SentGroupSizes!);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 20"));
        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets WHERE user_id = 1"));
    }

    [PostgresFact]
    public async Task Without_the_failed_statement_on_the_exception_a_first_send_finds_it_and_a_later_one_sends_each_member_alone()
    {
        // A host's data source may leave the failed statement off the exception (Npgsql's default).
        await using var shop = await GroupShopAsync(";Include Failed Batched Command=false");
        var committer = Committer(shop);

        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -6)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Adjust(StoreKey.ForStock(Pear), -6)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -5)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -1)]);

        // The first send fails at the first statement without a completion (the first member's); the second
        // send's failed statement cannot be told from one completed before, so each member then goes alone.
        Assert.Equal([false, true, false, true, false], results);
        Assert.Equal([5, 4, 1, 1, 1, 1], committer.SentGroupSizes!);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 20"));
        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets WHERE user_id = 1"));
    }

    [PostgresFact]
    public async Task An_order_placed_alone_costs_two_round_trips_with_group_commit_on()
    {
        await using var shop = await GroupShopAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(1_000));
        var before = shop.Store.RoundTrips;

        var placed = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1), new(Pear, 1)]);

        Assert.True(placed.IsSuccess);
        Assert.Equal(2, shop.Store.RoundTrips - before); // the read, then its group of one
    }

    [PostgresFact]
    public async Task A_member_whose_statement_raises_another_error_gets_it_and_the_others_apply()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);

        // A stock row for a product that does not exist: a foreign-key violation, not a conflict.
        var tasks = StartTogether(
            shop,
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Insert(StoreKey.ForStock(new ProductId(99)), new StockItem(new ProductId(99), 1))],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), 6)]);

        Assert.True(await tasks[0]);
        var error = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => tasks[1]);
        Assert.Equal("23503", error.SqlState);
        Assert.True(await tasks[2]);
        Assert.Equal([3, 2], committer.SentGroupSizes!);
        Assert.Equal(11L, await shop.ScalarAsync<long>("SELECT sum(balance) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task Orders_that_together_exceed_the_stock_share_a_group_one_is_refused_and_the_others_are_placed()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        foreach (var user in new[] { Alice, Bob, Carol })
        {
            await shop.Wallets.ChargeAsync(user, new Money(1_000));
        }

        var before = shop.Store.RoundTrips;
        committer.SentGroupSizes = new ConcurrentQueue<int>();
        committer.HoldUntilQueued(3);

        // Each reads 5 apples on hand and passes its check; the group can deduct only one of the 3s.
        var alice = Task.Run(() => shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 3)]).AsTask());
        var bob = Task.Run(() => shop.Orders.PlaceOrderAsync(Bob, [new(Apple, 3)]).AsTask());
        var carol = Task.Run(() => shop.Orders.PlaceOrderAsync(Carol, [new(Pear, 2)]).AsTask());
        var results = await Task.WhenAll(alice, bob, carol);

        Assert.True(results[2].IsSuccess);
        Assert.Single(results[..2], r => r.IsSuccess);
        Assert.Equal(CommerceErrorCode.InsufficientStock, Assert.Single(results[..2], r => !r.IsSuccess).Error!.Code);
        Assert.Equal([3, 2], committer.SentGroupSizes);

        // Three reads, the failed group, the group again, then the refused order's second read, after the
        // others were placed (its refusal commits its reads without a round trip).
        Assert.Equal(6, shop.Store.RoundTrips - before);
        Assert.Equal(2, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(3, (await shop.Catalog.GetProductAsync(Pear)).Value.Stock);
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(3_000L - (3 * 30) - (2 * 30), await shop.ScalarAsync<long>("SELECT sum(balance) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task A_caller_cancelled_while_queued_is_left_out_of_the_group()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        committer.SentGroupSizes = new ConcurrentQueue<int>();
        committer.HoldUntilQueued(2);
        using var cancel = new CancellationTokenSource();

        await using var first = await shop.Store.OpenSessionAsync();
        await using var second = await shop.Store.OpenSessionAsync();
        var cancelled = first.CommitAsync(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)), cancel.Token).AsTask();
        await cancel.CancelAsync();
        var committed = second.CommitAsync(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Bob), 6))).AsTask();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.True(await committed);
        Assert.Equal([1], committer.SentGroupSizes!);
        Assert.Equal("2,6", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';') FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task A_group_whose_connection_is_lost_is_decided_for_every_member_by_one_members_evidence()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        var terminated = 0;
        shop.Store.BeforeCommit = async (connection, _) =>
        {
            if (Interlocked.Exchange(ref terminated, 1) == 0)
            {
                await FaultTests.TerminateAsync(connection.ProcessID);
            }
        };
        committer.HoldUntilQueued(2);

        // Alone, a charge without a key whose connection is lost has an unknown outcome; in a group with an
        // order, the order's row tells for both (here: not applied, so both run again and apply once).
        var charge = Task.Run(() => shop.Wallets.ChargeAsync(Bob, new Money(50)).AsTask());
        var order = Task.Run(() => shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)]).AsTask());

        Assert.True((await charge).IsSuccess);
        Assert.True((await order).IsSuccess);
        Assert.Equal(1, terminated);
        Assert.Equal(new Money(50), await shop.Wallets.GetBalanceAsync(Bob));
        Assert.Equal(new Money(40), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(3, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
    }

    [PostgresFact]
    public async Task Disposing_the_committer_lets_queued_commits_finish_and_refuses_new_ones()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        committer.HoldUntilQueued(2);
        await using var first = await shop.Store.OpenSessionAsync();
        await using var second = await shop.Store.OpenSessionAsync();
        var queued = first.CommitAsync(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5))).AsTask();

        var disposing = committer.DisposeAsync().AsTask();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => second.CommitAsync(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Bob), 6))).AsTask());
        Assert.True(await queued);
        await disposing;
        Assert.Equal("1,5", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';') FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task A_committer_whose_pool_has_no_connection_free_gives_its_commit_StoreUnavailable_and_nothing_applies()
    {
        // No product added: the committer has not opened its connection yet (it keeps one once it has).
        await using var shop = await PgShop.CreateAsync(store: o =>
        {
            o.GroupCommit = true;
            o.ConnectionString += ";Timeout=1;Maximum Pool Size=1";
        });
        var refusals = new List<Exception>();
        shop.Store.OnConnectionRefused = e =>
        {
            refusals.Add(e);
            return Task.CompletedTask;
        };
        var held = await shop.Store.DataSource.OpenConnectionAsync(); // the pool's one connection

        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(
            () => Committer(shop).CommitAsync(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)), CancellationToken.None).AsTask());

        Assert.IsType<TimeoutException>(refused.GetBaseException());
        Assert.IsType<NpgsqlException>(Assert.Single(refusals));
        await held.DisposeAsync();
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets"));
    }

    /// <summary>A shop with group commit on, products Apple and Pear (price 30, stock 5 each).</summary>
    private static async Task<PgShop> GroupShopAsync(string connectionStringSuffix = "")
    {
        var shop = await PgShop.CreateAsync(store: o =>
        {
            o.GroupCommit = true;
            o.ConnectionString += connectionStringSuffix;
        });
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5);
        await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(30), 5);
        return shop;
    }

    private static PostgresGroupCommitter Committer(PgShop shop) =>
        shop.Store.GroupCommitter ?? throw new InvalidOperationException("Group commit is off.");

    /// <summary>Queues one commit per change list, on its own session, all in one group; returns their outcomes in order.</summary>
    private static async Task<bool[]> CommitTogetherAsync(PgShop shop, params Change[][] commits) =>
        await Task.WhenAll(StartTogether(shop, commits));

    /// <summary>
    /// Holds the committer, queues the commits in the order given (each call queues its commit before it
    /// returns), and returns their tasks; the group goes once the last is queued.
    /// </summary>
    private static Task<bool>[] StartTogether(PgShop shop, params Change[][] commits)
    {
        var committer = Committer(shop);
        committer.SentGroupSizes = new ConcurrentQueue<int>();
        committer.HoldUntilQueued(commits.Length);
        return [.. commits.Select(changes => CommitAloneAsync(shop, changes))];
    }

    private static async Task<bool> CommitAloneAsync(PgShop shop, Change[] changes)
    {
        await using var session = await shop.Store.OpenSessionAsync();
        return await session.CommitAsync(ChangeSets.Of(changes));
    }
}
