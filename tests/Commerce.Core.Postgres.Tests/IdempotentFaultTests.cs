using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// Connections lost around the commits of keyed requests: the store finds out whether the commit applied
/// from the idempotency record (or the order) it wrote, and where it cannot, a caller that retries with the
/// same key gets the one true outcome. Either way the request applies exactly once.
/// </summary>
public sealed class IdempotentFaultTests
{
    // Ids no other test class uses: an advisory lock spans the database, not the schema, so a test elsewhere charging user 1
    // (or keying a charge "k" for it) would otherwise wait for a lock a lost commit here holds, and be counted as a waiter.
    private static readonly UserId Alice = new(9_101);
    private static readonly UserId Bob = new(9_102);
    private static readonly ProductId Apple = new(9_101);

    [PostgresFact]
    public async Task A_keyed_charge_whose_backend_dies_before_its_commit_is_found_not_applied_retried_and_applied_once()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        var terminated = TerminateFirstCommit(shop);
        var trips = shop.Store.RoundTrips;

        var charged = await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"));

        // Read, commit (the server's FATAL before any statement completed: nothing applied, no lookup), read again, commit;
        // then the purge that the process's first keyed request runs.
        Assert.Equal(5, shop.Store.RoundTrips - trips);
        Assert.Equal(1, terminated());
        Assert.Equal(new Money(125), charged.Value);
        Assert.Equal(new Money(125), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"))).Value);
        await AssertChargedOnceAsync(shop, new Money(125));
    }

    [PostgresFact]
    public async Task A_keyed_charge_replacing_an_expired_record_whose_backend_dies_before_its_commit_is_found_not_applied_and_applied_once()
    {
        await using var shop = await PgShop.CreateAsync(o => o.IdempotencyRetention = TimeSpan.FromHours(1));
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("k"));
        shop.Time.Advance(TimeSpan.FromMinutes(61));
        await using (var session = await shop.Store.OpenSessionAsync())
        {
            Assert.Equal(0, await session.PurgeIdempotencyAsync(PgShop.Start)); // The record stays, expired.
        }

        var terminated = TerminateFirstCommit(shop);
        var trips = shop.Store.RoundTrips;

        // The lost commit would have replaced the record at version 1; nothing applied, so the charge runs again.
        var charged = await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"));

        Assert.Equal(1, terminated());
        Assert.True(shop.Store.RoundTrips - trips >= 4);
        Assert.Equal(new Money(125), charged.Value);
        Assert.Equal(new Money(125), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(2, (await shop.Wallets.GetLedgerAsync(Alice)).Count);
        Assert.Equal("k:25:2", await shop.ScalarAsync<string>("SELECT string_agg(key || ':' || request_hash || ':' || version, ',') FROM {s}.idempotency"));
    }

    [PostgresFact]
    public async Task A_keyed_order_whose_backend_dies_before_its_commit_is_found_not_applied_retried_and_placed_once()
    {
        await using var shop = await SeededAsync();
        var terminated = TerminateFirstCommit(shop);
        var trips = shop.Store.RoundTrips;

        var placed = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)], new IdempotencyKey("o"));

        // Read, commit (the server's FATAL before any statement completed: nothing applied, no lookup), read again, commit;
        // then the purge that the process's first keyed request runs.
        Assert.Equal(5, shop.Store.RoundTrips - trips);
        Assert.Equal(1, terminated());
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(placed.Value, (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)], new IdempotencyKey("o"))).Value);
        await AssertPlacedOnceAsync(shop, placed.Value);
    }

    [PostgresFact]
    public async Task A_cancel_whose_backend_dies_before_its_commit_is_found_not_applied_retried_and_refunds_once()
    {
        await using var shop = await SeededAsync();
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)])).Value;
        var terminated = TerminateFirstCommit(shop);

        var cancelled = await shop.Orders.CancelOrderAsync(order.Id);

        Assert.Equal(1, terminated());
        Assert.Equal(OrderStatus.Cancelled, cancelled.Value.Status);
        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(10, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal([LedgerEntryKind.Charge, LedgerEntryKind.Payment, LedgerEntryKind.Refund], (await shop.Wallets.GetLedgerAsync(Alice)).Select(e => e.Kind));
    }

    [PostgresFact]
    public async Task A_keyed_charge_whose_connection_is_lost_once_the_store_is_disposed_reports_an_unknown_outcome_not_a_disposal()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await ThroughAsync(proxy);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await using var blocker = await BlockAsync(shop, IdempotentOperation.Charge, "k");
        var committing = CaptureFirstCommit(shop);

        var call = shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k")).AsTask();
        var pid = await WaitingAsync(committing);

        // The host shuts down with the commit waiting on the server, and then its connection is lost: the store
        // (and the data source it owns) being disposed, the outcome cannot be looked up. That is an unknown
        // outcome, for the caller to settle with its key, not a refusal of a store shut down (nothing applied).
        await shop.Store.DisposeAsync();
        proxy.Cut(refuseNew: false);
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => call);
        Assert.True(failure is CommitOutcomeUnknownException, failure.ToString());

        await FaultTests.TerminateAsync(pid);
        await blocker.DisposeAsync();
        Assert.Equal(100L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets WHERE user_id = " + Alice.Value));
    }

    [PostgresFact]
    public async Task A_keyed_charge_killed_during_its_commit_while_the_store_cannot_find_out_is_retried_by_its_caller_and_applied_once()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await ThroughAsync(proxy);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await using var blocker = await BlockAsync(shop, IdempotentOperation.Charge, "k");
        var committing = CaptureFirstCommit(shop);

        var call = shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k")).AsTask();
        var pid = await WaitingAsync(committing);
        proxy.Cut(refuseNew: true);
        await Assert.ThrowsAsync<CommitOutcomeUnknownException>(() => call);

        // The commit, still waiting on the server, is killed there: it never applies.
        await FaultTests.TerminateAsync(pid);
        await blocker.DisposeAsync();
        proxy.Restore();

        Assert.Equal(new Money(125), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"))).Value);
        Assert.Equal(new Money(125), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"))).Value);
        await AssertChargedOnceAsync(shop, new Money(125));
    }

    /// <summary>
    /// The connection is lost while the commit waits on the server for Alice's wallet, before the statement
    /// that writes the key: the lookup finds no record and the charge, out of attempts, is told it conflicted
    /// ("nothing was changed"). The lost transaction must not apply once the wallet is free: the lookup ended
    /// it first, or, behind a pooler, where it cannot, left a fence at the key that its insert of the record
    /// meets. The key's next request replaces the fence and charges once.
    /// </summary>
    [PostgresFact]
    public Task A_keyed_charge_lost_before_its_key_and_then_out_of_attempts_is_told_a_conflict_and_never_applies() =>
        KeyedChargeLostBeforeItsKeyAsync(behindAPooler: false);

    [PostgresFact]
    public Task A_keyed_charge_lost_before_its_key_behind_a_pooler_and_then_out_of_attempts_is_told_a_conflict_and_never_applies() =>
        KeyedChargeLostBeforeItsKeyAsync(behindAPooler: true);

    private static async Task KeyedChargeLostBeforeItsKeyAsync(bool behindAPooler)
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await PgShop.CreateAsync(
            o => o.MaxCommitAttempts = 1,
            o => o.ConnectionString = proxy.ConnectionString + ";Pooling=false");
        shop.Store.EndsLostBackends = !behindAPooler; // A pooler in between: the lost backend cannot be named, nor ended.
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await ChargeLostWhileWaitingForTheWalletAsync(shop, proxy);

        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Single(await shop.Wallets.GetLedgerAsync(Alice));
        Assert.Equal("k", await shop.ScalarAsync<string>($"SELECT string_agg(key, ',') FROM {{s}}.idempotency WHERE error_code = {PostgresSql.FenceErrorCode}")); // the lookup's fence, and nothing else
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.idempotency"));
        shop.Store.BeforeCommit = null;
        Assert.Equal(new Money(125), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"))).Value);
        Assert.Equal(new Money(125), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"))).Value);
        await AssertChargedOnceAsync(shop, new Money(125), recordVersion: 2);
    }

    /// <summary>
    /// As above, for a charge that replaces its key's expired record (an update, at the record's version): behind a
    /// pooler the lookup finds the record not replaced and moves its version on, so the lost transaction, going on
    /// once the wallet is free, finds no row at the version it read and rolls back.
    /// </summary>
    [PostgresFact]
    public async Task A_keyed_charge_replacing_an_expired_record_lost_behind_a_pooler_and_then_out_of_attempts_never_applies()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await PgShop.CreateAsync(
            o =>
            {
                o.MaxCommitAttempts = 1;
                o.IdempotencyRetention = TimeSpan.FromHours(1);
            },
            o => o.ConnectionString = proxy.ConnectionString + ";Pooling=false");
        shop.Store.EndsLostBackends = false; // A pooler in between: the lost backend cannot be named, nor ended.
        await shop.Wallets.ChargeAsync(Alice, new Money(100), new IdempotencyKey("k"));
        // The record expires, and no purge is due when the charge runs (a keyed request purges a quarter of the
        // retention after the last purge): the row stays, for the lost transaction to find or not.
        shop.Time.Advance(TimeSpan.FromMinutes(50));
        await shop.Wallets.ChargeAsync(Bob, new Money(10), new IdempotencyKey("other")); // purges, nothing expired yet
        shop.Time.Advance(TimeSpan.FromMinutes(11));
        await ChargeLostWhileWaitingForTheWalletAsync(shop, proxy);

        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Single(await shop.Wallets.GetLedgerAsync(Alice));
        Assert.Equal("k:100:2", await shop.ScalarAsync<string>("SELECT string_agg(key || ':' || request_hash || ':' || version, ',') FROM {s}.idempotency WHERE user_id = " + Alice.Value)); // the expired record, its version moved on
    }

    [PostgresFact]
    public async Task A_keyed_charge_whose_connection_is_lost_after_the_server_received_its_commit_is_found_applied_by_its_record()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await ThroughAsync(proxy);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        shop.Store.EndsLostBackends = false; // As behind a pooler: the lookup waits for the lost transaction through the key's lock.
        await using var blocker = await BlockAsync(shop, IdempotentOperation.Charge, "k");
        var committing = CaptureFirstCommit(shop);

        var trips = shop.Store.RoundTrips;
        var call = shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k")).AsTask();
        await WaitingAsync(committing);
        proxy.Cut(refuseNew: false);
        await blocker.DisposeAsync(); // The commit goes on, on the server, and applies.

        Assert.Equal(new Money(125), (await call).Value);
        Assert.Equal(4, shop.Store.RoundTrips - trips); // Read, commit (lost), the record looked up: found, so not run again; the first keyed request's purge.
        Assert.Equal(new Money(125), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"))).Value);
        await AssertChargedOnceAsync(shop, new Money(125));
    }

    /// <summary>
    /// A keyed charge's commit reaches the server and applies after its connection was lost; before the store's
    /// lookup reads the record, a purge runs whose cutoff the record is past (as under a retention of seconds). The
    /// purge leaves a record written less than a day ago by the server's clock, so the lookup finds the charge
    /// applied. Before it did, the purge removed the record, the lookup found the charge not applied, and it ran
    /// again: charged twice (150).
    /// </summary>
    [PostgresFact]
    public async Task A_purge_between_a_lost_keyed_commit_and_its_lookup_leaves_the_record_and_the_charge_applies_once()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await ThroughAsync(proxy);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        shop.Store.EndsLostBackends = false; // As behind a pooler: the lookup waits for the lost transaction through the key's lock.
        await using var blocker = await BlockAsync(shop, IdempotentOperation.Charge, "k");
        var committing = CaptureFirstCommit(shop);

        var call = shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k")).AsTask();
        await WaitingAsync(committing); // The commit holds the key's lock and waits for the blocker's row.
        var key = StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "k");
        await using var purger = await QueueForKeyLockAsync(key); // Next in line for the key's lock.
        proxy.Cut(refuseNew: false);
        await WaitUntilAsync(
            shop,
            $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = {(int)key.Table} AND objid = {(uint)PostgresRows.LockHash(key)} AND NOT granted",
            2); // The lookup waits behind the purger.
        await blocker.DisposeAsync(); // The lost commit goes on and applies; then the purger has the key's lock.
        await purger.Locked.WaitAsync(TimeSpan.FromSeconds(30));
        await using (var session = await shop.Store.OpenSessionAsync())
        {
            await session.PurgeIdempotencyAsync(shop.Time.GetUtcNow().AddDays(1));
        }

        await purger.DisposeAsync(); // The lookup reads the record.
        Assert.Equal(new Money(125), (await call.WaitAsync(TimeSpan.FromSeconds(30))).Value);
        await AssertChargedOnceAsync(shop, new Money(125));
    }

    [PostgresFact]
    public async Task A_keyed_order_whose_connection_is_lost_after_the_server_received_its_commit_is_found_placed()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await SeededAsync(proxy);
        shop.Store.EndsLostBackends = false; // As behind a pooler: the lookup waits for the lost transaction through the key's lock.
        await using var blocker = await BlockAsync(shop, IdempotentOperation.PlaceOrder, "o");
        var committing = CaptureFirstCommit(shop);

        var trips = shop.Store.RoundTrips;
        var call = shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)], new IdempotencyKey("o")).AsTask();
        await WaitingAsync(committing);
        proxy.Cut(refuseNew: false);
        await blocker.DisposeAsync();

        var placed = await call;
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(4, shop.Store.RoundTrips - trips); // Read, commit (lost), the order looked up: found, so not run again; the first keyed request's purge.
        Assert.Equal(placed.Value, (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)], new IdempotencyKey("o"))).Value);
        await AssertPlacedOnceAsync(shop, placed.Value);
    }

    [PostgresFact]
    public async Task A_keyed_order_applied_while_the_store_cannot_find_out_is_replayed_to_its_caller_retrying_with_the_key()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await SeededAsync(proxy);
        await using var blocker = await BlockAsync(shop, IdempotentOperation.PlaceOrder, "o");
        var committing = CaptureFirstCommit(shop);

        var call = shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)], new IdempotencyKey("o")).AsTask();
        await WaitingAsync(committing);
        proxy.Cut(refuseNew: true);
        await Assert.ThrowsAsync<CommitOutcomeUnknownException>(() => call);
        await blocker.DisposeAsync();
        await WaitUntilAsync(shop, "SELECT count(*) FROM {s}.orders", 1);
        proxy.Restore();

        var replayed = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)], new IdempotencyKey("o"));
        Assert.True(replayed.IsSuccess, replayed.ToString());
        await AssertPlacedOnceAsync(shop, replayed.Value);
    }

    /// <summary>
    /// The network fails with the batch not yet read by the server; the store's lookup finds no order and
    /// re-runs the use case, and the late batch reaches the server between the re-run's reads and its
    /// commit. Found by the PostgreSQL fault simulation (before its proxy waited for the server to end a
    /// dropped batch): the late batch applied as well (the order placed twice). The lookup now voids the
    /// order's id, so the late batch rolls back.
    /// </summary>
    [PostgresFact]
    public async Task An_unkeyed_order_whose_batch_reaches_the_server_after_the_lookup_is_placed_once()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await SeededAsync(proxy);
        shop.Store.EndsLostBackends = false; // As behind a pooler: the lost batch, on its way, cannot be ended before the lookup.
        var commits = 0;
        shop.Store.BeforeCommit = async (_, _) =>
        {
            switch (++commits)
            {
                case 1:
                    proxy.HoldNextSync(); // The batch is held on its way; its client sees the connection break.
                    break;
                case 2:
                    await proxy.ReleaseHeldAsync(); // Between the re-run's reads and its commit, the first batch arrives and commits.
                    break;
            }
        };

        var placed = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)]);

        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(Alice));
    }

    /// <summary>
    /// As above for a cancellation: the late batch used to cancel the order while the re-run, reading it
    /// cancelled, told its caller <c>OrderAlreadyCancelled</c>. The lookup now moves the order's version
    /// on, so the late batch rolls back and the re-run cancels (and refunds) once.
    /// </summary>
    [PostgresFact]
    public async Task An_unkeyed_cancel_whose_batch_reaches_the_server_after_the_lookup_succeeds_once()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await SeededAsync(proxy);
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)])).Value;
        shop.Store.EndsLostBackends = false; // As behind a pooler: the lost batch, on its way, cannot be ended before the lookup.
        var commits = 0;
        shop.Store.BeforeCommit = async (_, _) =>
        {
            switch (++commits)
            {
                case 1:
                    proxy.HoldNextSync();
                    break;
                case 2:
                    await proxy.ReleaseHeldAsync();
                    break;
            }
        };

        var cancelled = await shop.Orders.CancelOrderAsync(order.Id);

        Assert.True(cancelled.IsSuccess, cancelled.ToString());
        Assert.Equal(OrderStatus.Cancelled, cancelled.Value.Status);
        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(3L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.ledger WHERE user_id = " + Alice.Value));
        Assert.Equal(10L, await shop.ScalarAsync<long>("SELECT on_hand::bigint FROM {s}.stock"));
    }

    /// <summary>
    /// An unkeyed order's commit reaches the server and waits there for its events' stripe, holding its order's
    /// lock; then its connection is lost, and, behind a pooler, the store's lookup waits for that lock while the
    /// lost transaction goes on and commits. On connections whose default isolation is REPEATABLE READ (as a role
    /// or database may set), the lookup read with a snapshot taken before its wait: it found no order, voided the
    /// placed order's id and reported the order not placed, so the use case ran again and placed a second order;
    /// under SERIALIZABLE the lookup failed with a serialization failure, and the outcome was reported unknown.
    /// </summary>
    [PostgresFact]
    public Task An_unkeyed_order_lost_after_its_commit_reached_the_server_is_found_placed_under_a_repeatable_read_default() =>
        UnkeyedOrderLostWhileWaitingForItsEventsAsync("repeatable\\ read");

    [PostgresFact]
    public Task An_unkeyed_order_lost_after_its_commit_reached_the_server_is_found_placed_under_a_serializable_default() =>
        UnkeyedOrderLostWhileWaitingForItsEventsAsync("serializable");

    private static async Task UnkeyedOrderLostWhileWaitingForItsEventsAsync(string isolation)
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await SeededAsync(proxy, "Options=-c default_transaction_isolation=" + isolation);
        shop.Store.EndsLostBackends = false; // As behind a pooler: the lookup waits for the lost transaction through the order's lock.
        await using var blocker = await LockEventStripesAsync(shop);
        var committing = CaptureFirstCommit(shop);

        var trips = shop.Store.RoundTrips;
        var call = shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)]).AsTask();
        var pid = await WaitingAsync(committing); // The order inserted, under its lock; its events wait for the stripe.
        proxy.Cut(refuseNew: false);
        await WaitUntilAsync(
            shop,
            $"SELECT count(*) FROM pg_locks w JOIN pg_locks h ON h.locktype = 'advisory' AND h.classid = w.classid AND h.objid = w.objid AND h.granted AND h.pid = {pid} WHERE w.locktype = 'advisory' AND NOT w.granted AND h.classid = {(int)StoreTable.Orders}",
            1); // The lookup waits for the order's lock. (Only that one: advisory locks span the database, so a test in
                // another schema may wait for another lock the lost commit holds, its sales bucket's.)
        await blocker.DisposeAsync(); // The lost commit goes on and applies; then the lookup reads.

        var placed = await call.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(3, shop.Store.RoundTrips - trips); // Read, commit (lost), the order looked up: found, so not run again.
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.voided_orders"));
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(8, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
    }

    /// <summary>
    /// An unkeyed order's commit reaches the server and waits there for Alice's wallet, before the statement that
    /// inserts the order; then its connection is lost. Behind a pooler the lookup cannot end the lost transaction:
    /// it finds no order and voids its id, and the order, out of attempts, is told it conflicted. On connections whose
    /// default isolation is REPEATABLE READ, the lost transaction, going on once the wallet was free, checked for a
    /// void with the snapshot its batch started with, so did not see it, and placed the order its caller was told
    /// had not been placed.
    /// </summary>
    [PostgresFact]
    public Task An_unkeyed_order_lost_before_its_insert_behind_a_pooler_never_applies_under_a_repeatable_read_default() =>
        UnkeyedOrderLostWhileWaitingForTheWalletAsync("repeatable\\ read");

    [PostgresFact]
    public Task An_unkeyed_order_lost_before_its_insert_behind_a_pooler_never_applies_under_a_serializable_default() =>
        UnkeyedOrderLostWhileWaitingForTheWalletAsync("serializable");

    [PostgresFact]
    public Task An_unkeyed_order_lost_in_a_group_before_its_insert_behind_a_pooler_never_applies_under_a_repeatable_read_default() =>
        UnkeyedOrderLostWhileWaitingForTheWalletAsync("repeatable\\ read", groupCommit: true);

    private static async Task UnkeyedOrderLostWhileWaitingForTheWalletAsync(string isolation, bool groupCommit = false)
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await PgShop.CreateAsync(
            o => o.MaxCommitAttempts = 1,
            o =>
            {
                o.ConnectionString = proxy.ConnectionString + ";Pooling=false;Options=-c default_transaction_isolation=" + isolation;
                o.GroupCommit = groupCommit;
            });
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 10);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        shop.Store.EndsLostBackends = false; // A pooler in between: the lost backend cannot be named, nor ended.
        await using var blocker = await LockWalletAsync(shop, Alice);
        var committing = CaptureFirstCommit(shop);

        var call = shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2)]).AsTask();
        var pid = await WaitingAsync(committing);
        proxy.Cut(refuseNew: false);
        var placed = await call.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(CommerceErrorCode.ConcurrencyConflict, placed.Error?.Code);

        await blocker.DisposeAsync(); // Were the lost transaction alive and unfenced, it would go on now, and apply.
        await IdleAsync(pid);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(10, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
    }

    /// <summary>A lookup's void lasts a day: the purge leaves a fresh one and removes an old one.</summary>
    [PostgresFact]
    public async Task The_purge_removes_voided_order_ids_a_day_old()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.Equal(2L, await shop.ScalarAsync<long>(
            "WITH i AS (INSERT INTO {s}.voided_orders (id, voided_at) VALUES (gen_random_uuid(), now() - interval '25 hours'), (gen_random_uuid(), now() - interval '1 hour') RETURNING 1) SELECT count(*) FROM i"));

        await using (var session = await shop.Store.OpenSessionAsync())
        {
            await session.PurgeIdempotencyAsync(DateTimeOffset.UnixEpoch);
        }

        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.voided_orders WHERE voided_at > now() - interval '2 hours'"));
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.voided_orders"));
    }

    /// <summary>
    /// A lookup's fence at a key lasts a day, whatever the records' retention: the purge leaves a fresh one
    /// (though the client's cutoff is later) and removes an old one, with the expired records.
    /// </summary>
    [PostgresFact]
    public async Task The_purge_removes_fences_a_day_old_and_keeps_younger_ones()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.Equal(3L, await shop.ScalarAsync<long>(
            $$"""
            WITH i AS (
                INSERT INTO {s}.idempotency (user_id, digest, operation, key, request_hash, created_at, error_code, error_message, error_products, balance, version, written_at)
                VALUES (1, 1, 1, 'old', 0, now() - interval '25 hours', {{PostgresSql.FenceErrorCode}}, '', ARRAY[]::bigint[], 0, 1, now() - interval '25 hours'),
                       (1, 2, 1, 'fresh', 0, now() - interval '1 hour', {{PostgresSql.FenceErrorCode}}, '', ARRAY[]::bigint[], 0, 1, now() - interval '1 hour'),
                       (1, 3, 1, 'expired', 0, now() - interval '25 hours', NULL, NULL, NULL, 0, 1, now() - interval '25 hours')
                RETURNING 1)
            SELECT count(*) FROM i
            """));

        await using (var session = await shop.Store.OpenSessionAsync())
        {
            Assert.Equal(2, await session.PurgeIdempotencyAsync(TimeProvider.System.GetUtcNow().AddDays(1)));
        }

        Assert.Equal("fresh", await shop.ScalarAsync<string>("SELECT string_agg(key, ',') FROM {s}.idempotency"));
    }

    [PostgresFact]
    public Task A_group_lost_before_its_key_is_written_has_its_transaction_ended_and_every_member_run_again_once() =>
        GroupLostBeforeItsKeyAsync(behindAPooler: false);

    [PostgresFact]
    public Task A_group_lost_before_its_key_is_written_behind_a_pooler_is_fenced_and_every_member_run_again_once() =>
        GroupLostBeforeItsKeyAsync(behindAPooler: true);

    /// <summary>
    /// A keyed charge and a plain one share a group. Its batch reaches the server and waits there for Bob's wallet
    /// (held by another transaction), before the statement that writes Alice's key; then the client's connection is
    /// lost. The lookup ends the lost transaction first, or, behind a pooler, where it cannot, leaves a fence at the
    /// key, so the transaction, going on once Bob's wallet is free, rolls back. Either way the record found absent
    /// never comes, and every member, the plain one too, is found not applied and runs again, once.
    /// </summary>
    private static async Task GroupLostBeforeItsKeyAsync(bool behindAPooler)
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await GroupThroughAsync(proxy);
        shop.Store.EndsLostBackends = !behindAPooler; // A pooler in between: the lost backend cannot be named, nor ended.
        await using var blocker = await LockWalletAsync(shop, Bob);
        var committing = CaptureFirstCommit(shop);
        shop.Store.GroupCommitter!.HoldUntilQueued(2);

        var keyed = Task.Run(() => shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k")).AsTask());
        var plain = Task.Run(() => shop.Wallets.ChargeAsync(Bob, new Money(50)).AsTask());
        var pid = await WaitingAsync(committing);
        proxy.Cut(refuseNew: false);
        if (behindAPooler)
        {
            // The lookup's fence, or the keyed re-run's record that replaced it (at version 2).
            await WaitUntilAsync(shop, $"SELECT count(*) FROM {{s}}.idempotency WHERE error_code = {PostgresSql.FenceErrorCode} OR version = 2", 1);
        }
        else
        {
            await GoneAsync(pid);
        }

        await blocker.DisposeAsync(); // A lost transaction still alive goes on now, on the server, and meets the fence.
        Assert.Equal(new Money(125), (await keyed.WaitAsync(TimeSpan.FromSeconds(30))).Value);
        Assert.Equal(new Money(60), (await plain.WaitAsync(TimeSpan.FromSeconds(30))).Value);
        await IdleAsync(pid);
        Assert.Equal(new Money(60), await shop.Wallets.GetBalanceAsync(Bob));
        Assert.Equal(2, (await shop.Wallets.GetLedgerAsync(Bob)).Count);
        await AssertChargedOnceAsync(shop, new Money(125), recordVersion: 2); // the re-run replaced the lookup's fence
    }

    /// <summary>
    /// The store's connections log in as one role and switch to another (<c>Options=-c role=...</c>, as a host's
    /// <c>SET ROLE</c> does), which may signal the login's backends (a member of <c>pg_signal_backend</c>). A keyed
    /// charge's commit holds its key and waits on the server; its connection is lost. The lost backend is the login's
    /// (<c>pg_stat_activity.usename</c> is the session user), and the lookup must end it, not leave it waiting; before,
    /// it looked for a backend of the role switched to (<c>current_user</c>), found none, and waited behind the lost
    /// transaction for the key's lock.
    /// </summary>
    [PostgresFact]
    public Task A_lost_backend_of_a_connection_that_switched_role_is_ended_by_the_lookup_when_the_role_may_signal_it() =>
        KeyedChargeLostOnASwitchedRoleAsync(maySignal: true);

    /// <summary>
    /// As above, where the role switched to may not signal the login's backends (the usual grant of an application
    /// role to its login): the lookup leaves the lost backend alone, rather than fail with <c>42501</c> and report
    /// the outcome unknown, and waits for the lost transaction through the key's lock, as behind a pooler.
    /// </summary>
    [PostgresFact]
    public Task A_lost_backend_of_a_connection_that_switched_role_is_left_to_end_when_the_role_may_not_signal_it() =>
        KeyedChargeLostOnASwitchedRoleAsync(maySignal: false);

    /// <summary>
    /// As above, for a superuser's login switched to a role that is not one: though a member of <c>pg_signal_backend</c>,
    /// the role may not signal a superuser's backend, so the lookup leaves it alone rather than fail with <c>42501</c>.
    /// </summary>
    [PostgresFact]
    public Task A_lost_backend_of_a_superuser_login_that_switched_to_another_role_is_left_to_end() =>
        KeyedChargeLostOnASwitchedRoleAsync(maySignal: false, superuserLogin: true);

    private static async Task KeyedChargeLostOnASwitchedRoleAsync(bool maySignal, bool superuserLogin = false)
    {
        await using var application = await TemporaryRole.CreateAsync(
            "app_",
            grants: (role, database) => $"GRANT CREATE ON DATABASE {database} TO {role};" + (maySignal || superuserLogin ? $" GRANT pg_signal_backend TO {role};" : ""));
        await using var login = await TemporaryRole.CreateAsync("login_", grants: (role, _) => $"GRANT {application.Name} TO {role};");
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        var loginName = superuserLogin ? new NpgsqlConnectionStringBuilder(PgShop.RequiredConnectionString).Username! : login.Name;
        var connectionString = new NpgsqlConnectionStringBuilder(proxy.ConnectionString)
        {
            Username = loginName,
            Pooling = false,
            Options = "-c role=" + application.Name,
            ApplicationName = application.Name, // tells this test's backends from others of the same login
        }.ConnectionString;
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString = connectionString);
        Assert.Equal(application.Name, await ScalarAsync<string>(connectionString, "SELECT current_user::text"));
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await using var blocker = await BlockAsync(shop, IdempotentOperation.Charge, "k");
        var committing = CaptureFirstCommit(shop);

        var call = shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k")).AsTask();
        var pid = await WaitingAsync(committing); // The commit holds the key's lock and waits for the blocker's row.
        proxy.Cut(refuseNew: false);
        if (maySignal)
        {
            await GoneAsync(pid); // Ended by the lookup, the blocker still there.
        }
        else
        {
            var key = StoreKey.ForIdempotency(Alice, IdempotentOperation.Charge, "k");
            await WaitUntilAsync(
                shop,
                $"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = {(int)key.Table} AND l.objid = {(uint)PostgresRows.LockHash(key)} AND NOT l.granted AND a.usename = '{loginName}' AND a.application_name = '{application.Name}'",
                1); // The lookup waits behind the lost transaction, which is still there.
            Assert.Equal(1L, await shop.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"));
        }

        await blocker.DisposeAsync(); // A lost transaction still alive goes on now, and applies; one ended applied nothing.
        Assert.Equal(new Money(125), (await call.WaitAsync(TimeSpan.FromSeconds(30))).Value);
        await IdleAsync(pid);
        Assert.Equal(new Money(125), (await shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k"))).Value);
        await AssertChargedOnceAsync(shop, new Money(125), recordVersion: maySignal ? 2 : 1); // ended: the re-run replaced the lookup's fence
    }

    // ---- helpers ----------------------------------------------------------------------------------

    /// <summary>Apple (price 10, stock 10) and Alice with 100.</summary>
    private static async Task<PgShop> SeededAsync(TcpProxy? proxy = null, string? settings = null)
    {
        var shop = proxy is null ? await PgShop.CreateAsync() : await ThroughAsync(proxy, settings);
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 10);
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        return shop;
    }

    /// <summary>A shop whose store reaches the server through the proxy, on a new connection per session (so a cut breaks only the connections in use).</summary>
    private static Task<PgShop> ThroughAsync(TcpProxy proxy, string? settings = null) =>
        PgShop.CreateAsync(store: o => o.ConnectionString = proxy.ConnectionString + ";Pooling=false" + (settings is null ? "" : ";" + settings));

    /// <summary>A shop committing in groups through the proxy (a new connection per session), Alice with 100 and Bob with 10.</summary>
    private static async Task<PgShop> GroupThroughAsync(TcpProxy proxy)
    {
        var shop = await PgShop.CreateAsync(store: o =>
        {
            o.ConnectionString = proxy.ConnectionString + ";Pooling=false";
            o.GroupCommit = true;
        });
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await shop.Wallets.ChargeAsync(Bob, new Money(10));
        return shop;
    }

    /// <summary>Terminates the backend of the shop's next commit just before the commit is sent; returns how many were terminated.</summary>
    private static Func<int> TerminateFirstCommit(PgShop shop)
    {
        var terminated = 0;
        shop.Store.BeforeCommit = async (connection, _) =>
        {
            if (Interlocked.Exchange(ref terminated, 1) == 0)
            {
                await FaultTests.TerminateAsync(connection.ProcessID);
            }
        };
        return () => Volatile.Read(ref terminated);
    }

    /// <summary>The backend process of the shop's next commit, once it is about to be sent.</summary>
    private static Task<int> CaptureFirstCommit(PgShop shop)
    {
        var pid = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        shop.Store.BeforeCommit = (connection, _) =>
        {
            pid.TrySetResult(connection.ProcessID);
            return Task.CompletedTask;
        };
        return pid.Task;
    }

    /// <summary>
    /// Holds, in an open transaction, an uncommitted idempotency row at Alice's key: a commit inserting the
    /// same key waits for it on the server, after every statement before it (and their locks). Disposing
    /// rolls it back, and the commit goes on.
    /// </summary>
    private static async Task<Blocker> BlockAsync(PgShop shop, IdempotentOperation operation, string key)
    {
        var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var insert = new NpgsqlCommand(
            $"INSERT INTO \"{shop.Schema}\".idempotency (user_id, digest, operation, key, request_hash, created_at, balance, version) VALUES ($1, $2, $3, 'blocker', 0, now(), 0, 1)",
            connection,
            transaction);
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = Alice.Value });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = StoreKey.ForIdempotency(Alice, operation, key).Low });
        insert.Parameters.Add(new NpgsqlParameter<short> { TypedValue = (short)operation });
        await insert.ExecuteNonQueryAsync();
        return new Blocker(connection);
    }

    /// <summary>
    /// Opens a transaction that asks for a key's exclusive advisory lock (as a commit writing the key takes it) and
    /// returns once it waits for it; <see cref="KeyLockWaiter.Locked"/> completes when it has it, and disposing
    /// rolls the transaction back, releasing it.
    /// </summary>
    private static async Task<KeyLockWaiter> QueueForKeyLockAsync(StoreKey key)
    {
        var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1, $2)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)key.Table });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = PostgresRows.LockHash(key) });
        var locked = command.ExecuteNonQueryAsync();
        await UntilAsync(connection.ProcessID, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", true, "never waited for the key's lock");
        return new KeyLockWaiter(connection, command, locked);
    }

    /// <summary>
    /// Charges Alice 25 under key "k" with one attempt, and loses the connection while the commit waits on the server
    /// for her wallet (held by another transaction), before the statement that writes the key: the charge is told it
    /// conflicted. Then frees the wallet, so that the lost transaction, if still alive, goes on, and waits until it has
    /// ended.
    /// </summary>
    private static async Task ChargeLostWhileWaitingForTheWalletAsync(PgShop shop, TcpProxy proxy)
    {
        await using var blocker = await LockWalletAsync(shop, Alice);
        var committing = CaptureFirstCommit(shop);

        var call = shop.Wallets.ChargeAsync(Alice, new Money(25), new IdempotencyKey("k")).AsTask();
        var pid = await WaitingAsync(committing);
        proxy.Cut(refuseNew: false);
        var charged = await call.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(CommerceErrorCode.ConcurrencyConflict, charged.Error?.Code);

        await blocker.DisposeAsync(); // Were the lost transaction alive and unfenced, it would go on now, and apply.
        await IdleAsync(pid);
    }

    /// <summary>Holds, in an open transaction, the locks of every stripe of the shop's events; disposing rolls it back.</summary>
    private static async Task<Blocker> LockEventStripesAsync(PgShop shop)
    {
        var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var select = new NpgsqlCommand($"SELECT count(*) FROM (SELECT 1 FROM \"{shop.Schema}\".event_stripes FOR UPDATE) s", connection, transaction);
        Assert.NotEqual(0L, await select.ExecuteScalarAsync());
        return new Blocker(connection);
    }

    /// <summary>Holds, in an open transaction, the lock of a user's wallet row; disposing rolls it back.</summary>
    private static async Task<Blocker> LockWalletAsync(PgShop shop, UserId user)
    {
        var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var select = new NpgsqlCommand($"SELECT 1 FROM \"{shop.Schema}\".wallets WHERE user_id = $1 FOR UPDATE", connection, transaction);
        select.Parameters.Add(new NpgsqlParameter<long> { TypedValue = user.Value });
        Assert.Equal(1, await select.ExecuteScalarAsync());
        return new Blocker(connection);
    }

    /// <summary>Waits until the backend of a commit waits for a lock (its whole batch reached the server).</summary>
    private static async Task<int> WaitingAsync(Task<int> committing)
    {
        var pid = await committing.WaitAsync(TimeSpan.FromSeconds(30));
        await UntilAsync(pid, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", true, "never waited for a lock");
        return pid;
    }

    /// <summary>Waits until a backend is gone.</summary>
    private static Task GoneAsync(int pid) =>
        UntilAsync(pid, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", false, "never went");

    /// <summary>Waits until a backend has ended what it was running (it is idle, or gone).</summary>
    private static Task IdleAsync(int pid) =>
        UntilAsync(pid, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state IS DISTINCT FROM 'idle')", false, "never ended its batch");

    /// <summary>Waits (at most 30 s) until <paramref name="sql"/>, a test about backend <paramref name="pid"/> ($1), gives <paramref name="until"/>.</summary>
    private static async Task UntilAsync(int pid, string sql, bool until, string never)
    {
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        var deadline = TimeProvider.System.GetTimestamp() + (30 * TimeProvider.System.TimestampFrequency);
        while (TimeProvider.System.GetTimestamp() < deadline)
        {
            // Each look is a round trip to the server: the loop watches the backend, it does not spin idle.
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = pid });
            if ((bool)(await command.ExecuteScalarAsync())! == until)
            {
                return;
            }
        }

        throw new TimeoutException($"Backend {pid} {never}.");
    }

    /// <summary>Runs a scalar query on a connection of its own made from <paramref name="connectionString"/>.</summary>
    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task WaitUntilAsync(PgShop shop, string sql, long expected)
    {
        // Each look is a round trip to the server (the condition is the server's to change), for at most 30 s.
        var deadline = TimeProvider.System.GetTimestamp() + (30 * TimeProvider.System.TimestampFrequency);
        while (TimeProvider.System.GetTimestamp() < deadline && await shop.ScalarAsync<long>(sql) != expected)
        {
        }

        Assert.Equal(expected, await shop.ScalarAsync<long>(sql));
    }

    /// <summary>Alice charged 25 once under key "k": her record at <paramref name="recordVersion"/> (2 once it replaced a lookup's fence).</summary>
    private static async Task AssertChargedOnceAsync(PgShop shop, Money balance, int recordVersion = 1)
    {
        Assert.Equal(balance, await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(2, (await shop.Wallets.GetLedgerAsync(Alice)).Count);
        Assert.Equal($"k:25:{recordVersion}", await shop.ScalarAsync<string>("SELECT string_agg(key || ':' || request_hash || ':' || version, ',') FROM {s}.idempotency WHERE error_code IS NULL"));
        Assert.Equal(0L, await shop.ScalarAsync<long>($"SELECT count(*) FROM {{s}}.idempotency WHERE error_code = {PostgresSql.FenceErrorCode}"));
    }

    private static async Task AssertPlacedOnceAsync(PgShop shop, Order order)
    {
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal(order, (await shop.Orders.GetOrderAsync(order.Id)).Value);
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(8, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
        Assert.Equal([(LedgerEntryKind.Charge, (OrderId?)null), (LedgerEntryKind.Payment, order.Id)], (await shop.Wallets.GetLedgerAsync(Alice)).Select(e => (e.Kind, e.OrderId)));
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.idempotency WHERE order_id IS NOT NULL"));
    }

    /// <summary>A transaction waiting for (then holding) a key's lock; disposing it (once or more) rolls it back.</summary>
    private sealed class KeyLockWaiter(NpgsqlConnection connection, NpgsqlCommand command, Task locked) : IAsyncDisposable
    {
        private int _disposed;

        public Task Locked => locked;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await locked.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await command.DisposeAsync();
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>A connection holding an open transaction; disposing it (once or more) rolls the transaction back.</summary>
    private sealed class Blocker(NpgsqlConnection connection) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? connection.DisposeAsync() : ValueTask.CompletedTask;
    }
}
