using System.Collections.Concurrent;
using System.Globalization;
using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests;

/// <summary>The PostgreSQL store's event log: what commits append, and reading, waiting, checkpoints and purge.</summary>
public sealed class PostgresEventStoreTests
{
    private static readonly UserId Alice = new(1);
    private static readonly UserId Bob = new(2);
    private static readonly UserId Carol = new(3);
    private static readonly ProductId Apple = new(10);
    private static readonly ProductId Pear = new(20);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    [PostgresFact]
    public async Task Every_use_case_commits_its_events_which_read_back_with_every_field_in_the_feeds_order()
    {
        await using var shop = await PgShop.CreateAsync();
        var expected = new List<CommerceEvent>();
        var tick = TimeSpan.FromTicks(TimeSpan.TicksPerSecond + 3); // Below PostgreSQL's microsecond too.

        Assert.True((await shop.Catalog.AddProductAsync(Apple, "Apple \"green\" ☺", new Money(30), 2)).IsSuccess);
        expected.Add(new ProductAdded(Apple, "Apple \"green\" ☺", new Money(30), 2, shop.Time.GetUtcNow()));
        shop.Time.Advance(tick);
        Assert.True((await shop.Catalog.AddProductAsync(Pear, "Pear", new Money(5), 10)).IsSuccess);
        expected.Add(new ProductAdded(Pear, "Pear", new Money(5), 10, shop.Time.GetUtcNow()));
        shop.Time.Advance(tick);
        Assert.True((await shop.Catalog.RestockAsync(Pear, 4)).IsSuccess);
        expected.Add(new ProductRestocked(Pear, 4, 14, shop.Time.GetUtcNow()));
        shop.Time.Advance(tick);
        Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(500))).IsSuccess);
        expected.Add(new WalletCharged(Alice, new Money(500), new Money(500), shop.Time.GetUtcNow()));
        shop.Time.Advance(tick);
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 2), new(Pear, 1)])).Value;
        expected.Add(new OrderPlaced(order.Id, Alice, [new(Apple, 2, new Money(30)), new(Pear, 1, new Money(5))], new Money(65), shop.Time.GetUtcNow()));
        expected.Add(new StockDepleted(Apple, order.Id, shop.Time.GetUtcNow()));
        shop.Time.Advance(tick);
        Assert.True((await shop.Orders.CancelOrderAsync(order.Id)).IsSuccess);
        expected.Add(new OrderCancelled(order.Id, Alice, order.Lines, new Money(65), shop.Time.GetUtcNow()));
        shop.Time.Advance(tick);
        Assert.True((await shop.Carts.AddItemAsync(Alice, Pear, 2)).IsSuccess);
        var checkedOut = (await shop.Carts.CheckoutAsync(Alice)).Value;
        expected.Add(new OrderPlaced(checkedOut.Id, Alice, [new(Pear, 2, new Money(5))], new Money(10), shop.Time.GetUtcNow()));
        Assert.False((await shop.Orders.PlaceOrderAsync(Bob, [new(Pear, 1)])).IsSuccess); // No money: refused, no event.

        // The feed's order: oldest first, then by stripe (the order and its depletion share an instant).
        var store = shop.Services.GetRequiredService<IEventStore>();
        Assert.Equal(PostgresEventStore.Stripes, store.StripeCount);
        var ordered = expected.Select((e, i) => (e, i)).OrderBy(x => x.e.At).ThenBy(x => x.e.Stream.StripeOf(store.StripeCount)).ThenBy(x => x.i).Select(x => x.e).ToList();

        var page = await shop.Services.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start, 1000);
        Assert.Equal(ordered.Select(Describe), page.Events.Select(Describe));
        AssertGaplessFromOne(page.Events, store.StripeCount);
        Assert.Equal(page.Events.Aggregate(EventCursor.Start, (c, e) => c.Through(e.Position)), page.Next);
        Assert.Equal(order.Lines.ToArray(), ((OrderPlaced)page.Events.Single(e => e is OrderPlaced p && p.OrderId == order.Id)).Lines.ToArray());

        // Page by page, the same events in the same order; after the last, nothing.
        var paged = new List<CommerceEvent>();
        var cursor = EventCursor.Start;
        for (var next = await store.ReadEventsAsync(cursor, 2); next.Events.Count > 0; next = await store.ReadEventsAsync(cursor, 2))
        {
            Assert.True(next.Events.Count <= 2);
            paged.AddRange(next.Events);
            cursor = next.Next;
        }

        Assert.Equal(page.Events.Select(e => (Describe(e), e.Position)), paged.Select(e => (Describe(e), e.Position)));
        Assert.Equal(page.Next, cursor);
        Assert.Empty((await store.ReadEventsAsync(page.Next, 10)).Events);
        Assert.Equal((long)expected.Count, await shop.ScalarAsync<long>("SELECT sum(last_seq) FROM {s}.event_stripes"));
    }

    [PostgresFact]
    public async Task A_stripes_events_merge_after_the_latest_instant_before_them_as_a_merge_of_stripe_heads_would()
    {
        await using var shop = await PgShop.CreateAsync();
        var store = shop.Services.GetRequiredService<IEventStore>();
        var (late, early) = TwoProductsOnDifferentStripes(store.StripeCount);

        // Stripe of "late": an event at t0 + 10 s, then one at t0 (its clock went back); stripe of "early": at t0 + 5 s.
        var t0 = PgShop.Start;
        await AppendAsync(shop, new ProductRestocked(late, 1, 1, t0.AddSeconds(10)), new ProductRestocked(late, 2, 3, t0));
        await AppendAsync(shop, new ProductRestocked(early, 3, 3, t0.AddSeconds(5)));

        // Heads: late@10 and early@5, so early first, then late@10, then late@0 (after its predecessor).
        var page = await store.ReadEventsAsync(EventCursor.Start, 10);
        Assert.Equal([(early, 3), (late, 1), (late, 2)], page.Events.Cast<ProductRestocked>().Select(e => (e.ProductId, e.Quantity)));
        var first = await store.ReadEventsAsync(EventCursor.Start, 1);
        Assert.Equal([(early, 3)], first.Events.Cast<ProductRestocked>().Select(e => (e.ProductId, e.Quantity)));
    }

    /// <summary>
    /// A wait ended by its token while it waits for a notification throws <see cref="OperationCanceledException"/> with
    /// that token, as a wait given a token cancelled before the call does, and as the in-memory store's does.
    /// </summary>
    [PostgresFact]
    public async Task A_wait_cancelled_while_it_waits_throws_with_the_callers_token()
    {
        await using var shop = await PgShop.CreateAsync();
        var events = (PostgresEventStore)shop.Services.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMinutes(10);
        using var cancel = new CancellationTokenSource();

        var wait = events.WaitForEventsAsync(EventCursor.Start, cancel.Token).AsTask();
        await UntilWaitingAsync(shop, wait);
        Assert.False(wait.IsCompleted);
        await cancel.CancelAsync();

        var ended = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(Generous));
        Assert.Equal(cancel.Token, ended.CancellationToken);
    }

    [PostgresFact]
    public async Task A_second_instance_reads_what_the_first_committed_and_its_wait_completes_when_the_first_commits()
    {
        await using var a = await PgShop.CreateAsync();
        await using var b = await a.JoinAsync();
        var events = (PostgresEventStore)b.Services.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMinutes(10); // Only a notification ends this wait in time.
        var feed = b.Services.GetRequiredService<ICommerceEventFeed>();

        var wait = feed.WaitAsync(EventCursor.Start).AsTask();
        await UntilWaitingAsync(a, wait);
        Assert.False(wait.IsCompleted);

        Assert.True((await a.Wallets.ChargeAsync(Alice, new Money(7))).IsSuccess);
        await wait.WaitAsync(Generous);

        var page = await feed.ReadAsync(EventCursor.Start);
        var charged = Assert.IsType<WalletCharged>(Assert.Single(page.Events));
        Assert.Equal((Alice, new Money(7), new Money(7)), (charged.UserId, charged.Amount, charged.BalanceAfter));

        // With an event after the cursor the wait completes at once; after it, it waits until cancelled.
        await feed.WaitAsync(EventCursor.Start).AsTask().WaitAsync(Generous);
        using var cancel = new CancellationTokenSource();
        var cancelled = feed.WaitAsync(page.Next, cancel.Token).AsTask();
        await UntilWaitingAsync(a, cancelled);
        Assert.False(cancelled.IsCompleted);
        await cancel.CancelAsync();
        Assert.Equal(cancel.Token, (await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Generous))).CancellationToken);

        // A wait stops listening before its connection goes back to the pool: a cancelled one in the background, so
        // each look is a round trip to the server until no connection's last statement is a wait's check.
        var unlistened = $"""
            SELECT count(*) FILTER (WHERE query = 'UNLISTEN *') > 0 AND count(*) FILTER (WHERE query LIKE '%SELECT EXISTS%') = 0
            FROM pg_stat_activity WHERE application_name = 'commerce-tests-{a.Schema}'
            """;
        var deadline = DateTime.UtcNow + Generous;
        while (!await a.ScalarAsync<bool>(unlistened))
        {
            Assert.True(DateTime.UtcNow < deadline, "A wait's connection still listens.");
        }
    }

    [PostgresFact]
    public async Task A_wait_under_way_when_the_store_is_disposed_ends_with_ObjectDisposedException_and_gives_its_connection_up()
    {
        await using var shop = await PgShop.CreateAsync();
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var wait = feed.WaitAsync(EventCursor.Start).AsTask();
        await UntilWaitingAsync(shop, wait);
        Assert.False(wait.IsCompleted);

        await shop.Store.DisposeAsync();

        // Not left listening for ever on a connection of a store (and data source) that is gone.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => wait.WaitAsync(Generous));
        var deadline = DateTime.UtcNow + Generous;
        while (await shop.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'commerce-tests-{shop.Schema}'") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The wait kept its connection.");
            await Task.Yield();
        }

        // A wait that starts after the disposal is refused at once, as the store's other operations are.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => feed.WaitAsync(EventCursor.Start).AsTask().WaitAsync(Generous));
    }

    [PostgresFact]
    public async Task A_notification_consumed_by_a_command_of_the_wait_makes_it_check_again_rather_than_wait()
    {
        // A notification that reaches the listening connection while a command runs there (the check: a commit
        // after its snapshot, notified before its answer) is read by that command, not by the wait after it.
        // Here the connection notifies itself before its first check, which is the same, deterministically;
        // the event is then written without a notification before the second check. Only a second check
        // finds it in time: the periodic one is ten minutes away.
        await using var shop = await PgShop.CreateAsync();
        var events = (PostgresEventStore)shop.Services.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMinutes(10);
        var stripe = EventStream.ForUser(Alice).StripeOf(events.StripeCount);
        var checks = 0;
        events.BeforeCheck = async connection =>
        {
            var sql = ++checks == 1
                ? shop.Store.Events.Listen.Replace("LISTEN", "NOTIFY", StringComparison.Ordinal)
                : $$"""INSERT INTO "{{shop.Schema}}".events VALUES ({{stripe}}, 1, 3, now(), 0, '{"user": 1, "amount": 5, "balance": 5}')""";
            await using var command = new Npgsql.NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        };

        await events.WaitForEventsAsync(EventCursor.Start).AsTask().WaitAsync(Generous);

        Assert.Equal(2, checks);
        Assert.Equal(new EventPosition(stripe, 1), Assert.Single((await events.ReadEventsAsync(EventCursor.Start, 10)).Events).Position);
    }

    /// <summary>
    /// A wait ended by its token stops listening before its connection goes back to the pool; it sent the
    /// <c>UNLISTEN</c> without a token and waited for it, so a server that stopped responding held the cancelled
    /// wait up to the command timeout (without one, for ever). Here the token is cancelled before a check, and the
    /// server's answers stop from the <c>UNLISTEN</c> on (a proxy swallows it); the command timeout is none.
    /// </summary>
    [PostgresFact]
    public async Task A_wait_ended_by_its_token_does_not_wait_for_its_unlisten_on_a_server_that_stopped_responding()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await PgShop.CreateAsync(store: o =>
        {
            o.ConnectionString = proxy.ConnectionString + ";Maximum Pool Size=8";
            o.CommandTimeout = 0;
        });
        var events = (PostgresEventStore)shop.Services.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMinutes(10);
        using var cancellation = new CancellationTokenSource();
        events.BeforeCheck = async _ =>
        {
            proxy.StallOn("UNLISTEN");
            await cancellation.CancelAsync();
        };

        var ended = await Record.ExceptionAsync(() => events.WaitForEventsAsync(EventCursor.Start, cancellation.Token).AsTask().WaitAsync(Generous));

        // The wait ended; the UNLISTEN it sent has no answer, and never will.
        Assert.IsAssignableFrom<OperationCanceledException>(ended);
        await proxy.Stalled.WaitAsync(Generous);
    }

    /// <summary>
    /// A wait ended by its token leaves its <c>UNLISTEN</c> running in the background, and the connection goes back to
    /// the pool when it ends. The store's disposal did not wait for it: on a server that stopped responding, with no
    /// command timeout, it ran on after the store and the data source it owns were disposed, holding its connection for
    /// ever. Here the server's answers stop from the <c>UNLISTEN</c> on (a proxy swallows it); once the store is
    /// disposed, no connection of it is left open.
    /// </summary>
    [PostgresFact]
    public async Task Disposing_the_store_ends_the_unlisten_a_cancelled_wait_left_running_and_leaves_no_connection_open()
    {
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var shop = await PgShop.CreateAsync(store: o =>
        {
            o.ConnectionString = proxy.ConnectionString + ";Maximum Pool Size=8";
            o.CommandTimeout = 0;
        });
        var events = (PostgresEventStore)shop.Services.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMinutes(10);
        using var cancellation = new CancellationTokenSource();
        events.BeforeCheck = async _ =>
        {
            proxy.StallOn("UNLISTEN");
            await cancellation.CancelAsync();
        };
        var ended = await Record.ExceptionAsync(() => events.WaitForEventsAsync(EventCursor.Start, cancellation.Token).AsTask().WaitAsync(Generous));
        Assert.IsAssignableFrom<OperationCanceledException>(ended);
        await proxy.Stalled.WaitAsync(Generous);

        await shop.Store.DisposeAsync().AsTask().WaitAsync(Generous);

        // Each look is at the proxy's count, which drops once the proxy has seen both ends of a connection close.
        var deadline = DateTime.UtcNow + Generous;
        while (proxy.OpenConnections > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{proxy.OpenConnections} connection(s) of the disposed store still open.");
            await Task.Yield();
        }
    }

    /// <summary>
    /// An <c>UNLISTEN</c> the store's disposal cancels after its grace, on a server that answers the cancellation (a slow
    /// one, not a dead one), leaves its connection open and still listening. It went back to the pool so: on a data source
    /// of the host's with <c>No Reset On Close=true</c> (which the store's own data sources have too), the next user of the
    /// pooled connection inherited the <c>LISTEN</c>, and meanwhile the idle connection held the server's notification
    /// queue back. A statement that runs until cancelled, sent just before the <c>UNLISTEN</c> under its token, stands
    /// for an <c>UNLISTEN</c> that has not ended; the pool has room for one connection, so the next one opened is the
    /// wait's if it went back to the pool.
    /// </summary>
    [PostgresFact]
    public async Task An_unlisten_cut_off_by_the_disposal_returns_no_listening_connection_to_the_hosts_pool()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(PgShop.RequiredConnectionString + ";No Reset On Close=true;Maximum Pool Size=1");
        var services = new ServiceCollection();
        services.AddSingleton(dataSource); // the host's: the container does not dispose it
        services.AddCommerce().UsePostgresStore(o =>
        {
            o.Schema = shop.Schema;
            o.CommandTimeout = 0;
            o.ShutdownTimeout = TimeSpan.FromMilliseconds(100); // its grace: the UNLISTEN never ends on its own
        });
        await using var provider = services.BuildServiceProvider();
        var events = (PostgresEventStore)provider.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMinutes(10);
        using var cancellation = new CancellationTokenSource();
        events.BeforeCheck = _ => cancellation.CancelAsync();
        var unlistening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        events.BeforeUnlisten = async (connection, token) =>
        {
            await using var command = new Npgsql.NpgsqlCommand("SELECT pg_sleep(600)", connection);
            var sleeping = command.ExecuteNonQueryAsync(token);
            unlistening.TrySetResult();
            await sleeping;
        };
        var ended = await Record.ExceptionAsync(() => events.WaitForEventsAsync(EventCursor.Start, cancellation.Token).AsTask().WaitAsync(Generous));
        Assert.IsAssignableFrom<OperationCanceledException>(ended);
        await unlistening.Task.WaitAsync(Generous);

        await provider.GetRequiredService<PostgresCommerceStore>().DisposeAsync().AsTask().WaitAsync(Generous);

        await using var next = await dataSource.OpenConnectionAsync();
        await using var listening = new Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_listening_channels()", next);
        Assert.Equal(0L, (long)(await listening.ExecuteScalarAsync())!);
    }

    [PostgresFact]
    public async Task A_wait_that_hears_no_notification_finds_the_event_by_its_periodic_check()
    {
        await using var shop = await PgShop.CreateAsync();
        var events = (PostgresEventStore)shop.Services.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMilliseconds(50);
        var stripe = EventStream.ForUser(Alice).StripeOf(events.StripeCount);

        var wait = events.WaitForEventsAsync(EventCursor.Start).AsTask();
        await UntilWaitingAsync(shop, wait);
        Assert.False(wait.IsCompleted);

        // Written without a notification (as a waiter behind a transaction-pooling proxy would see every commit).
        Assert.Equal(1L, await shop.ScalarAsync<long>(
            $$"""INSERT INTO {s}.events VALUES ({{stripe}}, 1, 3, now(), 0, '{"user": 1, "amount": 5, "balance": 5}') RETURNING 1"""));
        await wait.WaitAsync(Generous);

        var charged = Assert.IsType<WalletCharged>(Assert.Single((await events.ReadEventsAsync(EventCursor.Start, 10)).Events));
        Assert.Equal((Alice, new Money(5), new EventPosition(stripe, 1)), (charged.UserId, charged.Amount, charged.Position));
    }

    [PostgresFact]
    public async Task A_wait_replaces_its_listening_connection_each_time_one_that_had_worked_is_lost()
    {
        // Each listening connection checks once (woken by a notification it sends itself), then its backend is
        // terminated before its next check, as a server restart would: twice in one wait. The third
        // connection finds the event, written without a notification; the periodic check is ten minutes away.
        await using var shop = await PgShop.CreateAsync();
        var events = (PostgresEventStore)shop.Services.GetRequiredService<IEventStore>();
        events.RecheckInterval = TimeSpan.FromMinutes(10);
        var stripe = EventStream.ForUser(Alice).StripeOf(events.StripeCount);
        var listeners = new List<int>();
        var checks = 0;
        events.BeforeCheck = async connection =>
        {
            checks++;
            if (!listeners.Contains(connection.ProcessID))
            {
                listeners.Add(connection.ProcessID);
            }

            if (checks is 2 or 4)
            {
                await FaultTests.TerminateAsync(connection.ProcessID);
                return;
            }

            var sql = checks < 5
                ? shop.Store.Events.Listen.Replace("LISTEN", "NOTIFY", StringComparison.Ordinal)
                : $$"""INSERT INTO "{{shop.Schema}}".events VALUES ({{stripe}}, 1, 3, now(), 0, '{"user": 1, "amount": 5, "balance": 5}')""";
            await using var command = new Npgsql.NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        };

        await events.WaitForEventsAsync(EventCursor.Start).AsTask().WaitAsync(Generous);

        Assert.Equal(5, checks);
        Assert.Equal(3, listeners.Count);
        Assert.Equal(new EventPosition(stripe, 1), Assert.Single((await events.ReadEventsAsync(EventCursor.Start, 10)).Events).Position);
    }

    [PostgresFact]
    public async Task Numbers_are_gapless_per_stripe_and_in_commit_order_under_concurrent_orders_and_refusals_write_none()
    {
        await using var shop = await PgShop.CreateAsync(o => o.MaxCommitAttempts = 10_000);
        const int Threads = 8;
        const int OrdersPerThread = 12;
        ProductId[] products = [new(1), new(2), new(3)];
        foreach (var product in products)
        {
            Assert.True((await shop.Catalog.AddProductAsync(product, "P" + product.Value, new Money(1), 30)).IsSuccess);
        }

        var refused = 0;
        await ConcurrencyTests.RunOnThreads(Threads, async t =>
        {
            var user = new UserId(100 + t);
            Assert.True((await shop.Wallets.ChargeAsync(user, new Money(OrdersPerThread * 2))).IsSuccess);
            for (var i = 0; i < OrdersPerThread; i++)
            {
                var placed = await shop.Orders.PlaceOrderAsync(user, [new(products[(t + i) % products.Length], 1 + (i % 2))]);
                if (!placed.IsSuccess)
                {
                    Assert.Equal(CommerceErrorCode.InsufficientStock, placed.Error!.Code);
                    Interlocked.Increment(ref refused);
                }
            }
        });

        var store = shop.Services.GetRequiredService<IEventStore>();
        var events = await ReadAllAsync(store, 50);
        AssertGaplessFromOne(events, store.StripeCount);
        Assert.Equal(await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.events"), events.Count);
        Assert.Equal(await shop.ScalarAsync<long>("SELECT sum(last_seq) FROM {s}.event_stripes"), events.Count);

        // One event per order placed; none for a refusal nor for a commit that lost a conflict.
        var placedEvents = events.OfType<OrderPlaced>().ToList();
        Assert.Equal(await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"), placedEvents.Count);
        Assert.Equal((Threads * OrdersPerThread) - refused, placedEvents.Count);
        Assert.True(refused > 0, "The stock should run out.");

        // A product's depletion is its stream's last event; each user's stream is its ledger's order.
        foreach (var product in products)
        {
            var stream = events.Where(e => e.Stream == EventStream.ForProduct(product)).OrderBy(e => e.Position.Sequence).ToList();
            var onHand = await shop.ScalarAsync<long>($"SELECT on_hand FROM {{s}}.stock WHERE product_id = {product.Value}");
            Assert.Equal(onHand == 0 ? 1 : 0, stream.OfType<StockDepleted>().Count());
            Assert.True(onHand != 0 || stream[^1] is StockDepleted);
        }

        for (var t = 0; t < Threads; t++)
        {
            var user = new UserId(100 + t);
            var stream = events.Where(e => e.Stream == EventStream.ForUser(user)).OrderBy(e => e.Position.Sequence).ToList();
            var ledger = await shop.Wallets.GetLedgerAsync(user);
            Assert.IsType<WalletCharged>(stream[0]);
            Assert.Equal(
                ledger.Where(e => e.Kind == LedgerEntryKind.Payment).Select(e => e.OrderId!.Value),
                stream.Skip(1).Cast<OrderPlaced>().Select(e => e.OrderId));
        }
    }

    [PostgresFact]
    public async Task A_commit_that_fails_writes_no_event_and_takes_no_number()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.True((await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5)).IsSuccess);
        var stripe = EventStream.ForProduct(Apple).StripeOf(PostgresEventStore.Stripes);

        // A change set whose guard fails (more than the stock taken) with an event of the product's stream.
        await using (var session = await shop.Store.OpenSessionAsync())
        {
            var changes = ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForStock(Apple), -6));
            changes.AddEvent(new ProductRestocked(Apple, 1, 6, PgShop.Start));
            Assert.False(await session.CommitAsync(changes));
        }

        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.events"));
        Assert.True((await shop.Catalog.RestockAsync(Apple, 1)).IsSuccess);
        var events = await ReadAllAsync(shop.Services.GetRequiredService<IEventStore>(), 10);
        Assert.Equal([(stripe, 1L), (stripe, 2L)], events.Select(e => (e.Position.Stripe, e.Position.Sequence)));
        Assert.Equal(6, Assert.IsType<ProductRestocked>(events[1]).OnHandAfter);
    }

    [PostgresFact]
    public async Task An_order_whose_connection_is_lost_before_its_commit_is_found_not_placed_and_its_rerun_writes_its_events_once()
    {
        await using var shop = await PgShop.CreateAsync();
        Assert.True((await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(30), 5)).IsSuccess);
        Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(150))).IsSuccess);
        var terminated = 0;
        shop.Store.BeforeCommit = async (connection, _) =>
        {
            if (Interlocked.Exchange(ref terminated, 1) == 0)
            {
                await FaultTests.TerminateAsync(connection.ProcessID);
            }
        };

        var placed = await shop.Orders.PlaceOrderAsync(Alice, [new(Apple, 5)]);

        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(1, terminated);
        var store = shop.Services.GetRequiredService<IEventStore>();
        var events = await ReadAllAsync(store, 100);
        AssertGaplessFromOne(events, store.StripeCount);
        Assert.Equal(placed.Value.Id, Assert.Single(events.OfType<OrderPlaced>()).OrderId);
        Assert.Equal(placed.Value.Id, Assert.Single(events.OfType<StockDepleted>()).OrderId);
        Assert.Equal(4, events.Count);
    }

    [PostgresFact]
    public async Task Group_commit_keeps_each_members_events_and_drops_those_of_a_member_that_failed()
    {
        await using var shop = await PgShop.CreateAsync(store: o => o.GroupCommit = true);
        Assert.True((await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(1), 5)).IsSuccess);
        Assert.True((await shop.Wallets.ChargeAsync(Bob, new Money(10))).IsSuccess);
        Assert.True((await shop.Wallets.ChargeAsync(Carol, new Money(10))).IsSuccess);
        var committer = shop.Store.GroupCommitter!;
        committer.SentGroupSizes = new ConcurrentQueue<int>();
        committer.HoldUntilQueued(3);

        // Bob and Carol both read 5 apples and take them all; one of them loses, re-runs and is refused.
        var charge = Task.Run(() => shop.Wallets.ChargeAsync(Alice, new Money(4)).AsTask());
        var bob = Task.Run(() => shop.Orders.PlaceOrderAsync(Bob, [new(Apple, 5)]).AsTask());
        var carol = Task.Run(() => shop.Orders.PlaceOrderAsync(Carol, [new(Apple, 5)]).AsTask());
        Assert.True((await charge).IsSuccess);
        var results = new[] { await bob, await carol };

        Assert.Single(results, r => r.IsSuccess);
        var winner = results.Single(r => r.IsSuccess).Value;
        Assert.Equal(CommerceErrorCode.InsufficientStock, results.Single(r => !r.IsSuccess).Error!.Code);
        Assert.Equal(3, committer.SentGroupSizes.First());

        var store = shop.Services.GetRequiredService<IEventStore>();
        var events = await ReadAllAsync(store, 100);
        AssertGaplessFromOne(events, store.StripeCount);
        Assert.Equal(
            ["OrderPlaced " + winner.UserId.Value, "ProductAdded 10", "StockDepleted 10", "WalletCharged 1", "WalletCharged 2", "WalletCharged 3"],
            events.Select(e => e.GetType().Name + " " + e.Stream.Id).Order());
        Assert.Equal(winner.Id, events.OfType<OrderPlaced>().Single().OrderId);
        Assert.Equal(winner.Id, events.OfType<StockDepleted>().Single().OrderId);
    }

    [PostgresFact]
    public async Task Checkpoints_are_saved_replaced_and_read_by_a_new_instance()
    {
        await using var a = await PgShop.CreateAsync();
        var cursor = EventCursor.Parse("3:5,17:2");
        await using (var b = await a.JoinAsync())
        {
            var store = b.Services.GetRequiredService<IEventStore>();
            Assert.Null(await store.LoadCheckpointAsync("mailer"));
            await store.SaveCheckpointAsync("mailer", EventCursor.Parse("3:4"));
            await store.SaveCheckpointAsync("mailer", cursor);
            await store.SaveCheckpointAsync("search", EventCursor.Start);
        }

        await using var c = await a.JoinAsync();
        var again = c.Services.GetRequiredService<IEventStore>();
        Assert.Equal(cursor, await again.LoadCheckpointAsync("mailer"));
        Assert.Equal(EventCursor.Start, await again.LoadCheckpointAsync("search"));
        Assert.Null(await again.LoadCheckpointAsync("Mailer"));
        Assert.Equal(2L, await a.ScalarAsync<long>("SELECT count(*) FROM {s}.event_checkpoints"));
    }

    [PostgresFact]
    public async Task Purge_removes_per_stripe_the_prefix_both_older_than_the_instant_and_covered()
    {
        await using var shop = await PgShop.CreateAsync();
        var store = shop.Services.GetRequiredService<IEventStore>();
        var (apple, pear) = TwoProductsOnDifferentStripes(store.StripeCount);
        var t0 = PgShop.Start;

        // Apple's stripe: t0, t0+1, t0+3 (back in time: stops the purge), t0+2. Pear's: t0, t0+1.
        await AppendAsync(shop, new ProductRestocked(apple, 1, 1, t0), new ProductRestocked(apple, 2, 3, t0.AddSeconds(1)));
        await AppendAsync(shop, new ProductRestocked(apple, 3, 6, t0.AddSeconds(3)), new ProductRestocked(apple, 4, 10, t0.AddSeconds(2)));
        await AppendAsync(shop, new ProductRestocked(pear, 1, 1, t0), new ProductRestocked(pear, 2, 3, t0.AddSeconds(1)));
        var all = await store.ReadEventsAsync(EventCursor.Start, 100);
        Assert.Equal(6, all.Events.Count);
        var appleStripe = EventStream.ForProduct(apple).StripeOf(store.StripeCount);
        var pearStripe = EventStream.ForProduct(pear).StripeOf(store.StripeCount);

        // Before t0+3 and covered: apple 1 and 2 (3 is not older; 4 lies after it); pear only 1 (the cursor's bound).
        var upTo = EventCursor.Start.Through(new EventPosition(appleStripe, 4)).Through(new EventPosition(pearStripe, 1));
        Assert.Equal(3L, await store.PurgeEventsAsync(t0.AddSeconds(3), upTo));
        Assert.Equal(0L, await store.PurgeEventsAsync(t0.AddSeconds(3), upTo));

        var left = await store.ReadEventsAsync(EventCursor.Start, 100);
        Assert.Equal(
            [(appleStripe, 3L), (appleStripe, 4L), (pearStripe, 2L)],
            left.Events.Select(e => (e.Position.Stripe, e.Position.Sequence)).OrderBy(p => p.Stripe == pearStripe).ThenBy(p => p.Sequence));
        Assert.Equal(all.Next, left.Next);

        // Just after apple 3's instant, it goes too. New events keep counting after the purged ones.
        Assert.Equal(1L, await store.PurgeEventsAsync(t0.AddSeconds(3).AddTicks(1), EventCursor.Start.Through(new EventPosition(appleStripe, 3))));
        await AppendAsync(shop, new ProductRestocked(pear, 5, 8, t0.AddSeconds(4)));
        Assert.Equal(new EventPosition(pearStripe, 3), Assert.Single((await store.ReadEventsAsync(all.Next, 10)).Events).Position);
    }

    /// <summary>Commits events alone (with a harmless write), as a use case would publish them.</summary>
    private static async Task AppendAsync(PgShop shop, params CommerceEvent[] events)
    {
        await using var session = await shop.Store.OpenSessionAsync();
        var changes = ChangeSets.Of(ChangeSets.Adjust(StoreKey.ForWallet(new UserId(999)), 1));
        foreach (var @event in events)
        {
            changes.AddEvent(@event);
        }

        Assert.True(await session.CommitAsync(changes));
    }

    private static (ProductId First, ProductId Second) TwoProductsOnDifferentStripes(int stripeCount)
    {
        var first = new ProductId(1000);
        var second = Enumerable.Range(1001, 100).Select(i => new ProductId(i))
            .First(p => EventStream.ForProduct(p).StripeOf(stripeCount) != EventStream.ForProduct(first).StripeOf(stripeCount));
        return (first, second);
    }

    private static async Task<List<CommerceEvent>> ReadAllAsync(IEventStore store, int limit)
    {
        var events = new List<CommerceEvent>();
        var cursor = EventCursor.Start;
        while (true)
        {
            var page = await store.ReadEventsAsync(cursor, limit);
            if (page.Events.Count == 0)
            {
                return events;
            }

            events.AddRange(page.Events);
            cursor = page.Next;
        }
    }

    /// <summary>Each stripe's events are numbered 1, 2, 3… in the order read, and each stream's stay in their stripe.</summary>
    private static void AssertGaplessFromOne(IReadOnlyList<CommerceEvent> events, int stripeCount)
    {
        foreach (var stripe in events.GroupBy(e => e.Position.Stripe))
        {
            Assert.Equal(Enumerable.Range(1, stripe.Count()).Select(i => (long)i), stripe.Select(e => e.Position.Sequence));
            Assert.All(stripe, e => Assert.Equal(stripe.Key, e.Stream.StripeOf(stripeCount)));
        }
    }

    /// <summary>
    /// Waits (on the server's state, not on time) until a wait of the shop's schema has listened and found
    /// nothing: its connection is idle after the check. Returns early if the wait has ended.
    /// </summary>
    private static async Task UntilWaitingAsync(PgShop shop, Task wait)
    {
        var deadline = DateTime.UtcNow + Generous;
        while (!wait.IsCompleted && await shop.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'commerce-tests-{shop.Schema}' AND state = 'idle' AND query LIKE '%SELECT EXISTS%'") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The wait never listened.");
            await Task.Yield();
        }
    }

    private static string Describe(CommerceEvent e) => e switch
    {
        OrderPlaced p => $"OrderPlaced {p.OrderId} {p.UserId.Value} {Lines(p.Lines)} {p.Total.Amount} {Ticks(p.At)}",
        OrderCancelled c => $"OrderCancelled {c.OrderId} {c.UserId.Value} {Lines(c.Lines)} {c.Refunded.Amount} {Ticks(c.At)}",
        WalletCharged w => $"WalletCharged {w.UserId.Value} {w.Amount.Amount} {w.BalanceAfter.Amount} {Ticks(w.At)}",
        ProductAdded a => $"ProductAdded {a.ProductId.Value} {a.Name} {a.Price.Amount} {a.InitialStock} {Ticks(a.At)}",
        ProductRestocked r => $"ProductRestocked {r.ProductId.Value} {r.Quantity} {r.OnHandAfter} {Ticks(r.At)}",
        StockDepleted d => $"StockDepleted {d.ProductId.Value} {d.OrderId} {Ticks(d.At)}",
        _ => throw new InvalidOperationException(e.GetType().Name),
    };

    private static string Lines(IEnumerable<OrderLine> lines) =>
        string.Join(";", lines.Select(l => $"{l.ProductId.Value}x{l.Quantity}@{l.UnitPrice.Amount}={l.LineTotal.Amount}"));

    private static string Ticks(DateTimeOffset at) => at.UtcTicks.ToString(CultureInfo.InvariantCulture) + "+" + at.Offset.Ticks.ToString(CultureInfo.InvariantCulture);
}
