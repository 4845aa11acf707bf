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
    private static readonly UserId Dave = new(4);
    private static readonly ProductId Apple = new(10);
    private static readonly ProductId Pear = new(20);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

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
        // Adjustments of wallets go as single commits' statements (see PostgresSetCommit.Qualifies).
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        await FundAsync(shop, (Bob, 5), (Carol, 5));

        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), -6)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Carol), -6)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), -5)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), -1)]); // after the one before: nothing left

        Assert.Equal([false, true, false, true, false], results);
        Assert.Equal([5, 4, 3, 2], committer.SentGroupSizes!);
        Assert.Equal(0, committer.SetGroupsSent);
        Assert.Equal("1,5;2,0;3,5", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task Without_the_failed_statement_on_the_exception_a_first_send_finds_it_and_a_later_one_sends_each_member_alone()
    {
        // A host's data source may leave the failed statement off the exception (Npgsql's default).
        await using var shop = await GroupShopAsync(";Include Failed Batched Command=false");
        var committer = Committer(shop);
        await FundAsync(shop, (Bob, 5), (Carol, 5));

        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), -6)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Carol), -6)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), -5)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), -1)]);

        // The first send fails at the first statement without a completion (the first member's); the second
        // send's failed statement cannot be told from one completed before, so each member then goes alone.
        Assert.Equal([false, true, false, true, false], results);
        Assert.Equal([5, 4, 1, 1, 1, 1], committer.SentGroupSizes!);
        Assert.Equal("1,5;2,0;3,5", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task Orders_and_charges_queued_together_go_as_one_set_based_group_in_one_round_trip()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        await FundAsync(shop, (Alice, 1_000), (Bob, 1_000), (Carol, 1_000), (Dave, 1_000));
        var before = shop.Store.RoundTrips;
        var readGroupsBefore = Reader(shop).GroupsSent;
        committer.SentGroupSizes = new ConcurrentQueue<int>();
        committer.HoldUntilQueued(4);

        var tasks = new Task<bool>[]
        {
            Task.Run(async () => (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 1), new(Pear, 2)])).IsSuccess),
            Task.Run(async () => (await shop.Orders.PlaceOrderAsync(Bob, [new(Apple, 2)])).IsSuccess),
            Task.Run(async () => (await shop.Orders.PlaceOrderAsync(Carol, [new(Pear, 1)])).IsSuccess),
            Task.Run(async () => (await shop.Wallets.ChargeAsync(Dave, new Money(25))).IsSuccess),
        };

        var results = await Task.WhenAll(tasks);
        Assert.Equal([true, true, true, true], results);
        Assert.Equal([4], committer.SentGroupSizes);
        Assert.Equal(1, committer.SetGroupsSent);
        var readGroups = Reader(shop).GroupsSent - readGroupsBefore;
        Assert.InRange(readGroups, 1, 4); // the four reads, grouped as they arrived
        Assert.Equal(1, shop.Store.RoundTrips - before - readGroups); // one commit for all
        Assert.Equal(2, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(2, (await shop.Catalog.GetProductAsync(Pear)).Value.Stock);
        Assert.Equal("1,910;2,940;3,970;4,1025", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));

        // Each wallet's ledger runs 1, 2 without a gap and ends at its balance; each order has its lines.
        Assert.Equal(
            "1:1,2:910;2:1,2:940;3:1,2:970;4:1,2:1025",
            await shop.ScalarAsync<string>(
                """
                SELECT string_agg(l.user_id || ':' || l.seqs || ':' || w.balance_after, ';' ORDER BY l.user_id) FROM (
                    SELECT user_id, string_agg(seq::text, ',' ORDER BY seq) AS seqs, max(seq) AS last FROM {s}.ledger GROUP BY user_id
                ) l JOIN {s}.ledger w ON w.user_id = l.user_id AND w.seq = l.last
                """));
        Assert.Equal("1:2;2:1;3:1", await shop.ScalarAsync<string>(
            "SELECT string_agg(o.user_id || ':' || (SELECT count(*) FROM {s}.order_lines l WHERE l.order_id = o.id), ';' ORDER BY o.user_id) FROM {s}.orders o"));
        Assert.Equal("10:3;20:3", await shop.ScalarAsync<string>("SELECT string_agg(product_id || ':' || quantity, ';' ORDER BY product_id) FROM {s}.sales"));

        // The group's events: three orders placed and a charge, numbered in each stripe without a gap.
        Assert.Equal("1:3;3:5;4:2", await shop.ScalarAsync<string>("SELECT string_agg(kind || ':' || n, ';' ORDER BY kind) FROM (SELECT kind, count(*) AS n FROM {s}.events GROUP BY kind) k"));
        Assert.True(await shop.ScalarAsync<bool>(
            "SELECT bool_and(e.n = s.last_seq AND e.first = 1 AND e.n = e.count) FROM (SELECT stripe, count(*) AS count, min(seq) AS first, max(seq) AS n FROM {s}.events GROUP BY stripe) e JOIN {s}.event_stripes s USING (stripe)"));
    }

    [PostgresFact]
    public async Task Members_of_a_set_based_group_that_adjust_one_product_are_checked_as_if_run_one_after_another()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);

        // 5 apples: 2 leave 3; 4 would leave -1; 2 more leave 1, at its minimum of 1; the last one leaves 0.
        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -2)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -4)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -2, minimum: 1), ChangeSets.Adjust(StoreKey.ForStock(Pear), -5)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -1)],
            [ChangeSets.Adjust(StoreKey.ForStock(Pear), -1)]); // Pear ran out in the member before

        Assert.Equal([true, false, true, true, false], results);
        Assert.Equal([5, 4, 3], committer.SentGroupSizes!);
        Assert.Equal(3, committer.SetGroupsSent);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 20"));
    }

    [PostgresFact]
    public async Task A_member_that_writes_a_wallet_a_member_before_it_writes_goes_after_the_set_based_group()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        await FundAsync(shop, (Alice, 10));
        var read = new StoredState(new Wallet(Alice, new Money(10), 1), 1);

        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Update(StoreKey.ForWallet(Alice), read, new Wallet(Alice, new Money(7), 1))],
            [ChangeSets.Update(StoreKey.ForWallet(Alice), read, new Wallet(Alice, new Money(4), 1))],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -1)]);

        // The first and the third go together; the second then finds the wallet at another version.
        Assert.Equal([true, false, true], results);
        Assert.Equal([2, 1], committer.SentGroupSizes!);
        Assert.Equal(1, committer.SetGroupsSent);
        Assert.Equal(7L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets WHERE user_id = 1"));
        Assert.Equal(4L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
    }

    [PostgresFact]
    public async Task Members_of_a_set_based_group_that_fail_different_statements_each_fail_alone_and_the_rest_apply()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        await FundAsync(shop, (Alice, 10), (Bob, 20));
        var stale = new StoredState(new Wallet(Alice, new Money(10), 1), 7); // read at a version the row is not at
        var bobs = new StoredState(new Wallet(Bob, new Money(20), 1), 1);

        // The first fails the wallets' statement, the second the stock's (5 apples, 6 asked); the others apply
        // as if those two had not been there.
        var results = await CommitTogetherAsync(
            shop,
            [ChangeSets.Update(StoreKey.ForWallet(Alice), stale, new Wallet(Alice, new Money(3), 1))],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -6)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -2)],
            [ChangeSets.Update(StoreKey.ForWallet(Bob), bobs, new Wallet(Bob, new Money(15), 1)), ChangeSets.Adjust(StoreKey.ForStock(Pear), -1)]);

        Assert.Equal([false, false, true, true], results);
        Assert.Equal([4, 3, 2], committer.SentGroupSizes!); // one failing member named and left out at each send
        Assert.Equal(3, committer.SetGroupsSent);
        Assert.Equal("1,10;2,15", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));
        Assert.Equal("10,3;20,4", await shop.ScalarAsync<string>("SELECT string_agg(product_id || ',' || on_hand, ';' ORDER BY product_id) FROM {s}.stock"));
    }

    [PostgresFact]
    public async Task A_set_based_group_failing_through_no_named_member_goes_again_as_single_commits_statements()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);

        // An order line for a product that does not exist: a foreign-key violation, which names no member.
        var orderId = new OrderId(Guid.CreateVersion7(PgShop.Start));
        var order = new Order(orderId, Alice, [new OrderLine(new ProductId(99), 1, new Money(3))], PgShop.Start);
        var tasks = StartTogether(
            shop,
            [ChangeSets.Insert(StoreKey.ForOrder(orderId), order)],
            [ChangeSets.Adjust(StoreKey.ForStock(Apple), -1)]);

        var error = await Assert.ThrowsAsync<PostgresException>(() => tasks[0]);
        Assert.Equal("23503", error.SqlState);
        Assert.True(await tasks[1]);
        Assert.Equal([2, 2, 1], committer.SentGroupSizes!);
        Assert.Equal(1, committer.SetGroupsSent);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(4L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 10"));
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
        var readGroupsBefore = Reader(shop).GroupsSent;
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

        // Three reads (in one to three group reads), the failed group, the group again, then the refused
        // order's second read, after the others were placed (its refusal commits its reads without a round trip).
        var readGroups = Reader(shop).GroupsSent - readGroupsBefore;
        Assert.InRange(readGroups, 2, 4);
        Assert.Equal(2, shop.Store.RoundTrips - before - readGroups);
        Assert.Equal(2, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(3, (await shop.Catalog.GetProductAsync(Pear)).Value.Stock);
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(3_000L - (3 * 30) - (2 * 30), await shop.ScalarAsync<long>("SELECT sum(balance) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task A_member_that_lists_products_is_not_failed_by_a_product_a_member_after_it_inserts()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        committer.SentGroupSizes = new ConcurrentQueue<int>();
        committer.HoldUntilQueued(2);
        var plum = new ProductId(15);

        // The first listed every product (Apple and Pear); the second inserts one among them. Run one after the
        // other in the group's order, both apply: the listing held when the first committed.
        var listing = ChangeSets.WithRange(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)), new ProductRange(null, long.MaxValue, 2));
        var lister = CommitAloneAsync(shop, listing);
        var inserter = CommitAloneAsync(shop, ChangeSets.Of(ChangeSets.Insert(StoreKey.ForProduct(plum), new Product(plum, "Plum", new Money(30)))));

        var results = await Task.WhenAll(lister, inserter);

        Assert.Equal([true, true], results);
        Assert.Equal([1, 1], committer.SentGroupSizes!);
        Assert.Equal("1,5", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';') FROM {s}.wallets"));
        Assert.Equal(3L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.products"));
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
    public async Task A_refusal_for_now_that_breaks_the_committers_connection_leaves_the_next_sends_decided()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        await RefuseUpdatesOfStockAsync(shop, Pear);

        // Npgsql closes a connection on a class 53 error: the rest of the group, sent again, and the next group
        // go on a fresh one, and apply, rather than fail unsent and be taken for commits lost in flight.
        var commits = StartTogether(
            shop,
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), 6), ChangeSets.Adjust(StoreKey.ForStock(Pear), -1)]);

        Assert.True(await commits[0]);
        Assert.IsNotType<CommitOutcomeUnknownException>(await Assert.ThrowsAnyAsync<Exception>(() => commits[1]));
        await Assert.ThrowsAnyAsync<Exception>(() => CommitAloneAsync(shop, [ChangeSets.Adjust(StoreKey.ForStock(Pear), -1)]));
        Assert.True(await CommitAloneAsync(shop, [ChangeSets.Adjust(StoreKey.ForWallet(Carol), 7)]));
        Assert.Equal([2, 1], committer.SentGroupSizes!.Take(2));
        Assert.Equal("1,5;3,7", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));
        Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT on_hand FROM {s}.stock WHERE product_id = 20"));
    }

    [PostgresFact]
    public async Task A_member_the_server_refuses_for_now_gets_StoreUnavailable_as_a_single_commit_does()
    {
        await using var shop = await GroupShopAsync();
        await RefuseUpdatesOfStockAsync(shop, Pear);

        var commits = StartTogether(
            shop,
            [ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5)],
            [ChangeSets.Adjust(StoreKey.ForWallet(Bob), 6), ChangeSets.Adjust(StoreKey.ForStock(Pear), -1)]);

        Assert.True(await commits[0]);
        var alone = CommitAloneAsync(shop, [ChangeSets.Adjust(StoreKey.ForStock(Pear), -1)]); // a group of its own
        foreach (var refused in new[] { commits[1], alone })
        {
            var unavailable = await Assert.ThrowsAsync<StoreUnavailableException>(() => refused);
            Assert.True(unavailable.Retryable);
            Assert.Equal("53200", Assert.IsType<PostgresException>(unavailable.InnerException).SqlState);
        }

        Assert.Equal("1,5", await shop.ScalarAsync<string>("SELECT string_agg(user_id || ',' || balance, ';' ORDER BY user_id) FROM {s}.wallets"));
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
    public async Task A_set_based_group_whose_connection_is_lost_is_decided_for_every_member_by_one_members_evidence()
    {
        await using var shop = await GroupShopAsync();
        var committer = Committer(shop);
        await FundAsync(shop, (Alice, 100), (Bob, 10));
        var terminated = 0;
        shop.Store.BeforeCommit = async (connection, _) =>
        {
            if (Interlocked.Exchange(ref terminated, 1) == 0)
            {
                await FaultTests.TerminateAsync(connection.ProcessID);
            }
        };
        committer.HoldUntilQueued(2);

        // Both qualify (Bob's wallet exists): the order's row tells for the charge too.
        var charge = Task.Run(() => shop.Wallets.ChargeAsync(Bob, new Money(50)).AsTask());
        var order = Task.Run(() => shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)]).AsTask());

        Assert.True((await charge).IsSuccess);
        Assert.True((await order).IsSuccess);
        Assert.Equal(1, terminated);
        Assert.True(committer.SetGroupsSent >= 1);
        Assert.Equal(new Money(60), await shop.Wallets.GetBalanceAsync(Bob));
        Assert.Equal(new Money(40), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(3, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.ledger WHERE user_id = 2"));
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

    /// <summary>
    /// A group in flight when the store is disposed, on a server that stopped responding, with no command timeout: the
    /// committer sent it with no token that the disposal cancels, so the disposal waited for it for ever. Here the
    /// server's answers stop from the group's batch on (a proxy swallows it). The disposal ends once its grace (here 100 ms) has
    /// passed, and the commit, whose batch the server may have run, is in doubt.
    /// </summary>
    [PostgresFact]
    public async Task Disposing_the_store_ends_a_group_in_flight_on_a_server_that_stopped_responding()
    {
        var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        var shop = await PgShop.CreateAsync(store: o =>
        {
            o.ConnectionString = proxy.ConnectionString + ";Maximum Pool Size=8;Max Auto Prepare=0";
            o.CommandTimeout = 0;
            o.GroupCommit = true;
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(100); // its grace: the server never answers
        });
        try
        {
            shop.Store.BeforeCommit = (_, _) =>
            {
                proxy.StallOn(PostgresSql.ReadCommitted); // the first statement of the group's batch
                return Task.CompletedTask;
            };
            await using var session = await shop.Store.OpenSessionAsync();
            var commit = session.CommitAsync(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5))).AsTask();
            await proxy.Stalled.WaitAsync(Generous);

            await shop.Store.DisposeAsync().AsTask().WaitAsync(Generous);

            await Assert.ThrowsAsync<CommitOutcomeUnknownException>(() => commit.WaitAsync(Generous));
        }
        finally
        {
            await proxy.DisposeAsync(); // first: what still waits on the server then sees its connection lost
            await shop.DisposeAsync();
        }
    }

    /// <summary>
    /// Within <see cref="PostgresStoreOptions.ShutdownTimeout"/> the store's disposal lets a group in flight end on its
    /// own: the group's batch waits on the server for a lock another transaction holds until after the disposal
    /// started, and still applies.
    /// </summary>
    [PostgresFact]
    public async Task A_disposal_within_its_shutdown_timeout_lets_a_group_in_flight_finish()
    {
        var shop = await PgShop.CreateAsync(store: o =>
        {
            o.GroupCommit = true;
            o.ShutdownTimeout = TimeSpan.FromHours(1);
        });
        try
        {
            var (blocker, session, commit) = await CommitBlockedByALockAsync(shop);
            await using var locked = blocker;
            await using var committing = session;

            var disposing = shop.Store.DisposeAsync().AsTask();
            await ClosedAsync(shop.Store); // the disposal takes no more work: its wait for the work under way has begun
            Assert.False(shop.Store.Stopping.IsCancellationRequested);
            Assert.False(commit.IsCompleted);
            await EndAsync(blocker, "COMMIT"); // the lock goes: the batch runs on

            Assert.True(await commit.WaitAsync(Generous));
            await disposing.WaitAsync(Generous);
            Assert.Equal(5L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets WHERE user_id = 1"));
        }
        finally
        {
            await shop.DisposeAsync();
        }
    }

    /// <summary>
    /// With a <see cref="PostgresStoreOptions.ShutdownTimeout"/> of zero the store's disposal cancels the work under way at
    /// once: a group whose batch waits on the server for a lock is cancelled (its connection still open), and nothing applies.
    /// The server's answer to the cancellation is waited for up to a minute: Npgsql's default of 2 s, which a loaded
    /// machine can exceed, would break the connection instead, and the outcome would then be unknown (as documented).
    /// </summary>
    [PostgresFact]
    public async Task A_disposal_with_a_shutdown_timeout_of_zero_cancels_a_group_in_flight_at_once()
    {
        var shop = await PgShop.CreateAsync(store: o =>
        {
            o.GroupCommit = true;
            o.ShutdownTimeout = TimeSpan.Zero;
            o.ConnectionString += ";Cancellation Timeout=60000";
        });
        try
        {
            var (blocker, session, commit) = await CommitBlockedByALockAsync(shop);
            await using var locked = blocker;
            await using var committing = session;

            await shop.Store.DisposeAsync().AsTask().WaitAsync(Generous);

            await Assert.ThrowsAsync<ObjectDisposedException>(() => commit.WaitAsync(Generous));
            await EndAsync(blocker, "ROLLBACK");
            Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets"));
        }
        finally
        {
            await shop.DisposeAsync();
        }
    }

    /// <summary>
    /// Starts a group commit (5 more in Alice's wallet) and completes once its batch is sent, to wait on the server for
    /// the wallets table, which the returned connection's transaction holds locked (see <see cref="LockWalletsAsync"/>).
    /// </summary>
    private static async Task<(NpgsqlConnection Blocker, IStoreSession Session, Task<bool> Commit)> CommitBlockedByALockAsync(PgShop shop)
    {
        var blocker = await LockWalletsAsync(shop);
        var sending = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        shop.Store.BeforeCommit = (_, _) =>
        {
            sending.TrySetResult();
            return Task.CompletedTask;
        };
        var session = await shop.Store.OpenSessionAsync();
        var commit = session.CommitAsync(ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(Alice), 5))).AsTask();
        await sending.Task.WaitAsync(Generous);
        return (blocker, session, commit);
    }

    /// <summary>
    /// A connection of its own whose transaction holds the shop's wallets table locked until it ends (<see cref="EndAsync"/>,
    /// or the connection's disposal, which rolls it back).
    /// </summary>
    private static async Task<NpgsqlConnection> LockWalletsAsync(PgShop shop)
    {
        var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        await EndAsync(connection, $"BEGIN; LOCK TABLE \"{shop.Schema}\".wallets IN ACCESS EXCLUSIVE MODE");
        return connection;
    }

    /// <summary>Completes once the store's disposal refuses new work (<see cref="PostgresCommerceStore.TryEnter"/>).</summary>
    private static async Task ClosedAsync(PostgresCommerceStore store)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (store.TryEnter())
        {
            store.Exit();
            Assert.True(DateTime.UtcNow < deadline, "The disposal did not close the store.");
            await Task.Yield();
        }
    }

    /// <summary>Runs <paramref name="sql"/> on <paramref name="connection"/> (a COMMIT or ROLLBACK ends the lock).</summary>
    private static async Task EndAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    [PostgresFact]
    public async Task A_committer_whose_pool_has_no_connection_free_gives_its_commit_StoreUnavailable_and_nothing_applies()
    {
        // No product added: the committer has not opened its connection yet (it keeps one once it has).
        await using var shop = await ShortTimeoutPool.RetryAsync(() => PgShop.CreateAsync(store: o =>
        {
            o.GroupCommit = true;
            o.ConnectionString += ";Timeout=1;Maximum Pool Size=1";
        }));
        var refusals = new List<Exception>();
        shop.Store.OnConnectionRefused = e =>
        {
            refusals.Add(e);
            return Task.CompletedTask;
        };
        var held = await ShortTimeoutPool.HoldAsync(shop.Store.DataSource); // the pool's one connection

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

    /// <summary>
    /// Makes every update of <paramref name="product"/>'s stock fail with <c>53200</c> (out of memory or of lock
    /// slots): an <c>ERROR</c> that rolls its transaction back, and a refusal for now.
    /// </summary>
    private static async Task RefuseUpdatesOfStockAsync(PgShop shop, ProductId product)
    {
        await shop.ScalarAsync<string>(
            "CREATE FUNCTION {s}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'out of shared memory' USING ERRCODE = '53200'; END $$");
        await shop.ScalarAsync<string>(
            $"CREATE TRIGGER refuse BEFORE UPDATE ON {{s}}.stock FOR EACH ROW WHEN (NEW.product_id = {product.Value}) EXECUTE FUNCTION {{s}}.refuse()");
    }

    /// <summary>Charges each user (creating the wallet), one after the other.</summary>
    private static async Task FundAsync(PgShop shop, params (UserId User, long Amount)[] charges)
    {
        foreach (var (user, amount) in charges)
        {
            Assert.True((await shop.Wallets.ChargeAsync(user, new Money(amount))).IsSuccess);
        }
    }

    private static PostgresGroupReader Reader(PgShop shop) =>
        shop.Store.GroupReader ?? throw new InvalidOperationException("Group commit is off.");

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

    private static Task<bool> CommitAloneAsync(PgShop shop, Change[] changes) => CommitAloneAsync(shop, ChangeSets.Of(changes));

    private static async Task<bool> CommitAloneAsync(PgShop shop, ChangeSet changes)
    {
        await using var session = await shop.Store.OpenSessionAsync();
        return await session.CommitAsync(changes);
    }
}
