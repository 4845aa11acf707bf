using Commerce.Events;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Conformance;

/// <summary>
/// The event log (<see cref="IEventStore"/>, read through <see cref="ICommerceEventFeed"/>): each use case
/// commits exactly its events, positions number each stripe without gaps, pages and checkpoints read
/// everything exactly once, waits wake up, purges drop only what they may, and events replayed from the
/// start rebuild what the services report after a concurrent workload.
/// </summary>
public abstract class EventConformanceTests : CommerceConformanceTests
{
    private static ICommerceEventFeed Feed(Shop shop) => shop.Services.GetRequiredService<ICommerceEventFeed>();

    [StoreFact]
    public async Task The_same_page_of_events_and_the_same_cart_read_twice_are_equal()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 300, 10);
        await shop.AddProductAsync(2, 125, 10);
        await shop.ChargeAsync(1, 2_000);
        var placed = await shop.OrderAsync(1, (1, 2), (2, 1));
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.True((await shop.Orders.CancelOrderAsync(placed.Value.Id)).IsSuccess);
        Assert.True((await shop.Carts.AddItemAsync(User(1), Product(2), 3)).IsSuccess);

        var first = await Feed(shop).ReadAsync(EventCursor.Start, 100);
        var second = await Feed(shop).ReadAsync(EventCursor.Start, 100);
        Assert.Contains(first.Events, e => e is OrderPlaced);
        Assert.Contains(first.Events, e => e is OrderCancelled);
        Assert.Equal(first, second);
        Assert.Equal(first.GetHashCode(), second.GetHashCode());
        Assert.All(first.Events.Zip(second.Events), pair => Assert.Equal(pair.First, pair.Second));

        var cart = await shop.Carts.GetCartAsync(User(1));
        Assert.Equal(cart, await shop.Carts.GetCartAsync(User(1)));
    }

    private static IEventStore Log(Shop shop) => shop.Services.GetRequiredService<IEventStore>();

    /// <summary>A guard against a hang, not a timing assertion: a wait that should end ends long before.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    /// <summary>Asserts that a wait completes (a store may need a round trip to see that events exist).</summary>
    private static Task CompletesAsync(ValueTask wait) => wait.AsTask().WaitAsync(Guard);

    /// <summary>Asserts that a wait has not completed, then ends it.</summary>
    private static async Task PendsAsync(ICommerceEventFeed feed, EventCursor after)
    {
        using var cancel = new CancellationTokenSource();
        var waiting = feed.WaitAsync(after, cancel.Token).AsTask();
        Assert.False(waiting.IsCompleted, $"A wait after {after} completed with nothing new to read.");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Guard));
    }

    /// <summary>Every event after <paramref name="after"/>, page by page, and the cursor after the last page.</summary>
    protected static async Task<(List<CommerceEvent> Events, EventCursor Next)> ReadAllAsync(Shop shop, EventCursor? after = null, int limit = 1000)
    {
        var cursor = after ?? EventCursor.Start;
        var all = new List<CommerceEvent>();
        while (true)
        {
            var page = await Feed(shop).ReadAsync(cursor, limit);
            Assert.True(page.Events.Count <= limit, "A page holds more events than asked for.");
            if (page.Events.Count == 0)
            {
                Assert.Equal(cursor, page.Next);
                return (all, cursor);
            }

            all.AddRange(page.Events);
            cursor = page.Next;
        }
    }

    /// <summary>The one event read from the start, of the given type.</summary>
    private static async Task<T> SingleAsync<T>(Shop shop)
        where T : CommerceEvent
    {
        var (events, _) = await ReadAllAsync(shop);
        return Assert.IsType<T>(Assert.Single(events));
    }

    [StoreFact]
    public async Task A_wait_for_events_with_a_cancelled_token_throws_OperationCanceledException_even_when_events_exist()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 30, 5);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Log(shop).WaitForEventsAsync(EventCursor.Start); // an event exists: completes at once
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Log(shop).WaitForEventsAsync(EventCursor.Start, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await shop.Services.GetRequiredService<ICommerceEventFeed>().WaitAsync(EventCursor.Start, cancelled.Token));
    }

    [StoreFact]
    public async Task Adding_a_product_emits_ProductAdded_with_its_fields_at_the_clocks_time()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 30, 5, "Widget");

        var added = await SingleAsync<ProductAdded>(shop);
        Assert.Equal((Product(1), "Widget", Money(30), 5, TestClock.Start), (added.ProductId, added.Name, added.Price, added.InitialStock, added.At));
        Assert.Equal(EventStream.ForProduct(Product(1)), added.Stream);
        Assert.Equal(new EventPosition(added.Stream.StripeOf(Log(shop).StripeCount), 1), added.Position);
    }

    [StoreFact]
    public async Task Restocking_emits_ProductRestocked_with_the_stock_after_it()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 30, 5);
        var (_, cursor) = await ReadAllAsync(shop);
        shop.Time.Advance(TimeSpan.FromMinutes(3));

        Assert.True((await shop.Catalog.RestockAsync(Product(1), 4)).IsSuccess);

        var (events, _) = await ReadAllAsync(shop, cursor);
        var restocked = Assert.IsType<ProductRestocked>(Assert.Single(events));
        Assert.Equal((Product(1), 4, 9, TestClock.Start.AddMinutes(3)), (restocked.ProductId, restocked.Quantity, restocked.OnHandAfter, restocked.At));
        Assert.Equal(2, restocked.Position.Sequence);
    }

    [StoreFact]
    public async Task Charging_emits_WalletCharged_with_the_balance_after_it()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 40);
        await shop.ChargeAsync(1, 2);

        var (events, _) = await ReadAllAsync(shop);
        Assert.Equal(2, events.Count);
        var charges = events.Cast<WalletCharged>().ToList();
        Assert.Equal([(User(1), Money(40), Money(40)), (User(1), Money(2), Money(42))], charges.Select(c => (c.UserId, c.Amount, c.BalanceAfter)));
        Assert.All(charges, c => Assert.Equal(TestClock.Start, c.At));
        Assert.Equal([1L, 2L], charges.Select(c => c.Position.Sequence));
    }

    [StoreFact]
    public async Task An_order_emits_OrderPlaced_and_StockDepleted_for_each_product_whose_last_units_it_takes()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 2);
        await shop.AddProductAsync(2, 3, 5);
        await shop.ChargeAsync(7, 100);
        var (_, cursor) = await ReadAllAsync(shop);
        shop.Time.Advance(TimeSpan.FromSeconds(5));

        var order = (await shop.OrderAsync(7, (1, 2), (2, 1))).Value;

        var (events, _) = await ReadAllAsync(shop, cursor);
        Assert.Equal(2, events.Count);
        var placed = Assert.Single(events.OfType<OrderPlaced>());
        Assert.Equal((order.Id, User(7), Money(23), order.PlacedAt), (placed.OrderId, placed.UserId, placed.Total, placed.At));
        Assert.Equal(TestClock.Start.AddSeconds(5), placed.At);
        Assert.Equal(order.Lines, placed.Lines);
        Assert.False(placed.Lines is OrderLine[] or List<OrderLine>, "An event's lines can be changed through its list."); // events are immutable
        var depleted = Assert.Single(events.OfType<StockDepleted>());
        Assert.Equal((Product(1), order.Id, placed.At), (depleted.ProductId, depleted.OrderId, depleted.At));

        // An order that leaves units depletes nothing.
        (_, cursor) = await ReadAllAsync(shop);
        Assert.True((await shop.OrderAsync(7, (2, 3))).IsSuccess);
        Assert.IsType<OrderPlaced>(Assert.Single((await ReadAllAsync(shop, cursor)).Events));
    }

    [StoreFact]
    public async Task An_order_whose_events_share_a_stripe_numbers_them_there_in_the_order_published_and_each_is_read_once()
    {
        using var shop = CreateShop();
        var stripes = Log(shop).StripeCount;
        var stripe = EventStream.ForUser(User(7)).StripeOf(stripes);

        // Three products whose streams share the user's stripe, and one whose stream does not: the order's
        // OrderPlaced and three of its StockDepleted events go to one stripe in one commit.
        var shared = Enumerable.Range(1, 100_000).Where(id => EventStream.ForProduct(Product(id)).StripeOf(stripes) == stripe).Take(3).ToArray();
        var apart = Enumerable.Range(1, 100_000).First(id => EventStream.ForProduct(Product(id)).StripeOf(stripes) != stripe);
        long[] ids = [shared[0], apart, shared[1], shared[2]];
        foreach (var id in ids)
        {
            await shop.AddProductAsync(id, 1, 1);
        }

        await shop.ChargeAsync(7, 100);
        var (before, cursor) = await ReadAllAsync(shop);
        var charged = Assert.Single(before.OfType<WalletCharged>()).Position;

        var order = (await shop.OrderAsync(7, [.. ids.Select(id => (id, 1))])).Value;
        await shop.ChargeAsync(7, 1); // a commit after it in the same stripe

        var (events, _) = await ReadAllAsync(shop, cursor);
        Assert.Equal(6, events.Count);
        var inStripe = events.Where(e => e.Position.Stripe == stripe).ToList();
        Assert.Equal(Enumerable.Range(1, 5).Select(i => charged.Sequence + i), inStripe.Select(e => e.Position.Sequence));
        Assert.Equal(order.Id, Assert.IsType<OrderPlaced>(inStripe[0]).OrderId);
        Assert.Equal(shared.Select(id => Product(id)), inStripe.Skip(1).Take(3).Select(e => Assert.IsType<StockDepleted>(e).ProductId));
        Assert.IsType<WalletCharged>(inStripe[4]);
        Assert.Equal(Product(apart), Assert.IsType<StockDepleted>(Assert.Single(events, e => e.Position.Stripe != stripe)).ProductId);

        // One event a page reads each exactly once, and so does a read from the start (merged by time, then stripe).
        Assert.Equal(events.Select(e => e.Position), (await ReadAllAsync(shop, cursor, limit: 1)).Events.Select(e => e.Position));
        static IEnumerable<EventPosition> Positions(IEnumerable<CommerceEvent> all) => all.Select(e => e.Position).OrderBy(p => p.Stripe).ThenBy(p => p.Sequence);
        Assert.Equal(Positions([.. before, .. events]), Positions((await ReadAllAsync(shop)).Events));
    }

    [StoreFact]
    public async Task Cancelling_emits_OrderCancelled_with_the_refund_and_the_lines()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 9);
        await shop.ChargeAsync(3, 100);
        var order = (await shop.OrderAsync(3, (1, 2))).Value;
        var (_, cursor) = await ReadAllAsync(shop);
        shop.Time.Advance(TimeSpan.FromHours(1));

        Assert.True((await shop.Orders.CancelOrderAsync(order.Id)).IsSuccess);

        var cancelled = Assert.IsType<OrderCancelled>(Assert.Single((await ReadAllAsync(shop, cursor)).Events));
        Assert.Equal((order.Id, User(3), Money(20), TestClock.Start.AddHours(1)), (cancelled.OrderId, cancelled.UserId, cancelled.Refunded, cancelled.At));
        Assert.Equal(order.Lines, cancelled.Lines);

        // Cancelling again is refused, and says nothing.
        Assert.False((await shop.Orders.CancelOrderAsync(order.Id)).IsSuccess);
        Assert.Single((await ReadAllAsync(shop, cursor)).Events);
    }

    [StoreFact]
    public async Task A_cancel_is_dated_by_its_cancellation_in_the_merge_of_stripes_and_in_a_purge()
    {
        // The buyer's stream and another user's lie in different stripes, so the merge orders them by time alone.
        using var shop = CreateShop();
        var other = Enumerable.Range(2, 100).First(u => EventStream.ForUser(User(u)).StripeOf(64) != EventStream.ForUser(User(1)).StripeOf(64));
        await shop.AddProductAsync(1, 10, 9);
        await shop.ChargeAsync(1, 100);
        var order = (await shop.OrderAsync(1, (1, 2))).Value;
        shop.Time.Advance(TimeSpan.FromMinutes(30));
        await shop.ChargeAsync(other, 5);
        shop.Time.Advance(TimeSpan.FromMinutes(30));
        Assert.True((await shop.Orders.CancelOrderAsync(order.Id)).IsSuccess);

        var (all, _) = await ReadAllAsync(shop);
        Assert.IsType<WalletCharged>(all[^2]);
        var cancelled = Assert.IsType<OrderCancelled>(all[^1]);
        Assert.Equal((order.Id, TestClock.Start.AddHours(1)), (cancelled.OrderId, cancelled.At));
        Assert.Equal([.. all.OrderBy(e => e.At)], all);

        // A purge of what is older than 45 minutes keeps the cancel (and the charge at 30 minutes goes).
        var everything = all.Aggregate(EventCursor.Start, (c, e) => c.Through(e.Position));
        Assert.Equal(all.Count - 1, await Log(shop).PurgeEventsAsync(TestClock.Start.AddMinutes(45), everything));
        Assert.Equal(cancelled.Position, Assert.Single((await ReadAllAsync(shop)).Events).Position);
    }

    [StoreFact]
    public async Task A_checkout_emits_OrderPlaced_and_the_cart_emits_nothing()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 4, 3);
        await shop.ChargeAsync(2, 50);
        var (_, cursor) = await ReadAllAsync(shop);

        Assert.True((await shop.Carts.AddItemAsync(User(2), Product(1), 3)).IsSuccess);
        Assert.Empty((await ReadAllAsync(shop, cursor)).Events);
        var order = (await shop.Carts.CheckoutAsync(User(2))).Value;

        var events = (await ReadAllAsync(shop, cursor)).Events;
        var placed = Assert.Single(events.OfType<OrderPlaced>());
        Assert.Equal((order.Id, User(2), Money(12)), (placed.OrderId, placed.UserId, placed.Total));
        Assert.Equal(order.Id, Assert.Single(events.OfType<StockDepleted>()).OrderId);
        Assert.Equal(2, events.Count);
    }

    [StoreFact]
    public async Task Keyed_repeats_emit_nothing_more()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 5, 10);
        var (_, cursor) = await ReadAllAsync(shop);

        for (var i = 0; i < 3; i++)
        {
            Assert.True((await shop.Wallets.ChargeAsync(User(1), Money(50), new IdempotencyKey("charge-1"))).IsSuccess);
            Assert.True((await shop.Orders.PlaceOrderAsync(User(1), [new OrderLineRequest(Product(1), 2)], new IdempotencyKey("order-1"))).IsSuccess);
        }

        Assert.True((await shop.Carts.AddItemAsync(User(1), Product(1), 1)).IsSuccess);
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await shop.Carts.CheckoutAsync(User(1), new IdempotencyKey("checkout-1"))).IsSuccess);
        }

        var events = (await ReadAllAsync(shop, cursor)).Events;
        Assert.Single(events.OfType<WalletCharged>());
        Assert.Equal(2, events.OfType<OrderPlaced>().Count()); // the order, and the checkout once
        Assert.Equal(3, events.Count);
    }

    [StoreFact]
    public async Task Refused_use_cases_emit_nothing()
    {
        using var shop = CreateShop(o => o.MaxChargeAmount = Money(100));
        await shop.AddProductAsync(1, 10, 1);
        await shop.ChargeAsync(1, 5);
        var (_, cursor) = await ReadAllAsync(shop);

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(101)), CommerceErrorCode.ChargeLimitExceeded);
        AssertFails(await shop.OrderAsync(1, (1, 1)), CommerceErrorCode.InsufficientBalance);
        await shop.ChargeAsync(2, 100);
        (_, cursor) = await ReadAllAsync(shop, cursor);
        AssertFails(await shop.OrderAsync(2, (1, 2)), CommerceErrorCode.InsufficientStock);
        AssertFails(await shop.Catalog.AddProductAsync(Product(1), "Again", Money(1), 1), CommerceErrorCode.ProductAlreadyExists);
        Assert.False((await shop.Catalog.RestockAsync(Product(9), 1)).IsSuccess);
        Assert.False((await shop.Carts.CheckoutAsync(User(2))).IsSuccess);

        Assert.Empty((await ReadAllAsync(shop, cursor)).Events);
    }

    [StoreFact]
    public async Task A_use_case_that_loses_its_commit_emits_nothing_and_the_one_that_won_emits_once()
    {
        BeforeCommitStore? hooked = null;
        using var shop = CreateShop(o => o.MaxCommitAttempts = 1, wrapStore: store => hooked = new BeforeCommitStore(store));
        _ = shop.Store;
        await shop.ChargeAsync(1, 100);
        hooked!.BeforeNextCommit = async () => await shop.Wallets.ChargeAsync(User(1), Money(5));

        AssertFails(await shop.Wallets.ChargeAsync(User(1), Money(7)), CommerceErrorCode.ConcurrencyConflict);

        var charges = (await ReadAllAsync(shop)).Events.Cast<WalletCharged>().ToList();
        Assert.Equal([Money(100), Money(5)], charges.Select(c => c.Amount));
        Assert.Equal([1L, 2L], charges.Select(c => c.Position.Sequence));
    }

    [StoreFact]
    public async Task With_PublishEvents_off_nothing_is_emitted()
    {
        using var shop = CreateShop(o => o.PublishEvents = false);
        await shop.AddProductAsync(1, 10, 2);
        await shop.ChargeAsync(1, 100);
        var order = (await shop.OrderAsync(1, (1, 2))).Value;
        Assert.True((await shop.Orders.CancelOrderAsync(order.Id)).IsSuccess);
        Assert.True((await shop.Catalog.RestockAsync(Product(1), 1)).IsSuccess);

        Assert.Empty((await ReadAllAsync(shop)).Events);
        Assert.Equal(3, await shop.StockOfAsync(1));
    }

    /// <summary>Many users and products, a few events each: their streams share stripes.</summary>
    private static async Task<List<CommerceEvent>> BusyShopAsync(Shop shop)
    {
        for (var p = 1; p <= 20; p++)
        {
            await shop.AddProductAsync(p, p, 50);
        }

        for (var round = 0; round < 3; round++)
        {
            for (var u = 1; u <= 40; u++)
            {
                await shop.ChargeAsync(u, 20 + round);
                shop.Time.Advance(TimeSpan.FromSeconds(1));
                Assert.True((await shop.OrderAsync(u, ((u % 20) + 1, 1))).IsSuccess);
                if (u % 5 == 0)
                {
                    Assert.True((await shop.Catalog.RestockAsync(Product(u % 20 + 1), 2)).IsSuccess);
                }
            }
        }

        return (await ReadAllAsync(shop)).Events;
    }

    [StoreFact]
    public async Task Every_stripe_numbers_its_events_from_1_without_gaps_and_every_stream_keeps_commit_order()
    {
        using var shop = CreateShop();
        var events = await BusyShopAsync(shop);
        var stripes = Log(shop).StripeCount;

        Assert.Equal(20 + (3 * 40 * 2) + (3 * 8), events.Count);
        Assert.Equal(events.Count, events.Select(e => e.Position).Distinct().Count());
        foreach (var stripe in events.GroupBy(e => e.Position.Stripe))
        {
            Assert.Equal(Enumerable.Range(1, stripe.Count()).Select(i => (long)i), stripe.Select(e => e.Position.Sequence));
        }

        foreach (var stream in events.GroupBy(e => e.Stream))
        {
            Assert.All(stream, e => Assert.Equal(stream.Key.StripeOf(stripes), e.Position.Stripe));

            // A user's balances only go up by charges and down by orders, in the order they were committed.
            var balance = 0L;
            foreach (var e in stream)
            {
                switch (e)
                {
                    case WalletCharged charged:
                        balance += charged.Amount.Amount;
                        Assert.Equal(balance, charged.BalanceAfter.Amount);
                        break;
                    case OrderPlaced placed:
                        balance -= placed.Total.Amount;
                        break;
                }
            }
        }

        // The merge: oldest first by time, then by stripe, each stripe in order.
        Assert.True(events.Zip(events.Skip(1)).All(p => p.First.At < p.Second.At || (p.First.At == p.Second.At && p.First.Position.Stripe <= p.Second.Position.Stripe) || p.First.Position.Stripe == p.Second.Position.Stripe), "A page is not merged oldest first.");
    }

    [StoreTheory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    public async Task Paging_with_a_small_limit_reads_every_event_exactly_once(int limit)
    {
        using var shop = CreateShop();
        var all = await BusyShopAsync(shop);

        var (paged, next) = await ReadAllAsync(shop, limit: limit);

        Assert.Equal(all.Select(e => (e.Position.Stripe, e.Position.Sequence)).Order(), paged.Select(e => (e.Position.Stripe, e.Position.Sequence)).Order());
        Assert.Equal(all.Count, paged.Select(e => e.Position).Distinct().Count());
        foreach (var stripe in paged.GroupBy(e => e.Position.Stripe))
        {
            Assert.Equal(stripe.Count(), next[stripe.Key]);
        }
    }

    [StoreFact]
    public async Task A_consumer_restarted_from_its_saved_checkpoint_sees_no_gap_and_nothing_twice()
    {
        using var shop = CreateShop();
        await BusyShopAsync(shop);
        var log = Log(shop);
        Assert.Null(await log.LoadCheckpointAsync("projector"));

        // Read part of the log, save, and stop.
        var seen = new List<CommerceEvent>();
        var cursor = EventCursor.Start;
        for (var i = 0; i < 5; i++)
        {
            var page = await Feed(shop).ReadAsync(cursor, 13);
            seen.AddRange(page.Events);
            cursor = page.Next;
        }

        await log.SaveCheckpointAsync("projector", cursor);
        await log.SaveCheckpointAsync("other", EventCursor.Start);

        // More commits while it is down, then it restarts from the checkpoint (through its text form).
        for (var u = 1; u <= 10; u++)
        {
            await shop.ChargeAsync(u, 3);
        }

        var loaded = await log.LoadCheckpointAsync("projector");
        Assert.Equal(cursor, loaded);
        Assert.Equal(EventCursor.Start, await log.LoadCheckpointAsync("other"));
        var (rest, _) = await ReadAllAsync(shop, EventCursor.Parse(loaded!.ToString()), limit: 7);
        seen.AddRange(rest);

        var all = (await ReadAllAsync(shop)).Events;
        Assert.Equal(all.Count, seen.Count);
        Assert.Equal(all.Select(e => (e.Position.Stripe, e.Position.Sequence)).Order(), seen.Select(e => (e.Position.Stripe, e.Position.Sequence)).Order());
    }

    [StoreFact]
    public async Task A_wait_completes_when_an_event_is_committed_after_it_started()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 10);
        var (_, cursor) = await ReadAllAsync(shop);

        var waiting = Feed(shop).WaitAsync(cursor).AsTask();
        Assert.False(waiting.IsCompleted);

        await shop.Catalog.GetProductAsync(Product(1)); // a read commits nothing
        await shop.Carts.AddItemAsync(User(1), Product(1), 1); // refused: no such product
        Assert.False(waiting.IsCompleted);

        await shop.ChargeAsync(2, 10);
        await waiting.WaitAsync(Guard);
        Assert.True(waiting.IsCompletedSuccessfully);
    }

    [StoreFact]
    public async Task A_wait_started_while_a_commit_races_it_on_another_thread_always_ends()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 10);
        var (_, cursor) = await ReadAllAsync(shop);

        // Whether the commit lands before the wait looks, while it registers, or after, the wait must see it:
        // a wake-up lost between the wait's check and its registration would leave it waiting (the guard
        // turns that hang into a failure).
        for (var round = 0; round < 30; round++)
        {
            RealThreads.RunTogether(2, t =>
            {
                if (t == 0)
                {
                    Feed(shop).WaitAsync(cursor).AsTask().WaitAsync(Guard).GetAwaiter().GetResult();
                }
                else
                {
                    Assert.True(RealThreads.Wait(shop.Wallets.ChargeAsync(User(2 + (round % 5)), Money(1))).IsSuccess);
                }
            });

            var (events, next) = await ReadAllAsync(shop, cursor);
            Assert.IsType<WalletCharged>(Assert.Single(events));
            cursor = next;
        }
    }

    [StoreFact]
    public async Task A_wait_completes_at_once_when_events_exist_and_ends_when_cancelled()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 10);

        await CompletesAsync(Feed(shop).WaitAsync(EventCursor.Start));

        var (_, cursor) = await ReadAllAsync(shop);
        using var cancel = new CancellationTokenSource();
        var waiting = Feed(shop).WaitAsync(cursor, cancel.Token).AsTask();
        Assert.False(waiting.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Guard));
    }

    [StoreFact]
    public async Task Disposing_the_service_provider_ends_a_wait_under_way_with_ObjectDisposedException_and_refuses_later_calls()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 10);
        var feed = Feed(shop);
        var log = Log(shop);
        var wallets = shop.Wallets;
        var (catalog, orders, carts, ranking) = (shop.Catalog, shop.Orders, shop.Carts, shop.Ranking);
        var (_, cursor) = await ReadAllAsync(shop);
        var waiting = feed.WaitAsync(cursor).AsTask();
        Assert.False(waiting.IsCompleted);

        shop.Dispose();

        // The wait has no token that would end it: the store's disposal must, rather than leave it pending for ever.
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(Guard));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await feed.WaitAsync(cursor));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await log.WaitForEventsAsync(EventCursor.Start));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await feed.ReadAsync(cursor));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wallets.ChargeAsync(User(1), Money(5)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wallets.GetBalanceAsync(User(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wallets.GetLedgerAsync(User(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await catalog.AddProductAsync(new ProductId(1), "Tea", Money(3), 1));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await catalog.GetProductAsync(new ProductId(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await catalog.ListProductsAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await orders.PlaceOrderAsync(User(1), [new OrderLineRequest(new ProductId(1), 1)]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await orders.ListOrdersAsync(User(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await carts.AddItemAsync(User(1), new ProductId(1), 1));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await carts.GetCartAsync(User(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await carts.CheckoutAsync(User(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await ranking.GetPopularProductsAsync());
    }

    /// <summary>
    /// A request its arguments alone refuse needs no store: after the provider is disposed it still gets that refusal,
    /// as its documentation says, rather than <see cref="ObjectDisposedException"/> (the calls above, which the store
    /// would judge, throw it). A charge without a key asks the store even with an invalid amount, so it throws.
    /// </summary>
    [StoreFact]
    public async Task After_disposal_a_request_its_arguments_alone_refuse_gets_that_refusal()
    {
        using var shop = CreateShop();
        var (wallets, catalog, orders, carts) = (shop.Wallets, shop.Catalog, shop.Orders, shop.Carts);
        var key = new IdempotencyKey("k");
        OrderLineRequest[] none = [];

        shop.Dispose();

        AssertFails(await wallets.ChargeAsync(User(1), Money(0), key), CommerceErrorCode.InvalidAmount);
        AssertFails(await wallets.ChargeAsync(User(1), Money(5), default(IdempotencyKey)), CommerceErrorCode.InvalidIdempotencyKey);
        AssertFails(await catalog.AddProductAsync(new ProductId(1), " ", Money(3), 1), CommerceErrorCode.InvalidProductName);
        AssertFails(await catalog.RestockAsync(new ProductId(1), 0), CommerceErrorCode.InvalidQuantity);
        AssertFails(await orders.PlaceOrderAsync(User(1), none), CommerceErrorCode.EmptyOrder);
        AssertFails(await orders.PlaceOrderAsync(User(1), none, key), CommerceErrorCode.EmptyOrder);
        AssertFails(await carts.AddItemAsync(User(1), new ProductId(1), 0), CommerceErrorCode.InvalidQuantity);
        AssertFails(await carts.CheckoutAsync(User(1), default(IdempotencyKey)), CommerceErrorCode.InvalidIdempotencyKey);
        AssertFails(await wallets.ChargeAsync(User(1), Money(0)), CommerceErrorCode.InvalidAmount);
        AssertFails(await wallets.ChargeAsync(User(1), Money(shop.Options.MaxChargeAmount.Amount + 1)), CommerceErrorCode.ChargeLimitExceeded);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wallets.ChargeAsync(User(1), Money(5)));
    }

    [StoreFact]
    public async Task A_purge_drops_only_events_both_covered_and_older_and_the_rest_read_on()
    {
        using var shop = CreateShop();
        for (var u = 1; u <= 30; u++)
        {
            await shop.ChargeAsync(u, u);
            await shop.ChargeAsync(u, 1);
        }

        var old = (await ReadAllAsync(shop)).Events;
        var half = EventCursor.Start;
        foreach (var e in old.Where(e => e.Position.Sequence <= 1 + (e.Position.Stripe % 3)))
        {
            half = half.Through(e.Position);
        }

        shop.Time.Advance(TimeSpan.FromHours(1));
        for (var u = 1; u <= 30; u++)
        {
            await shop.ChargeAsync(u, 2);
        }

        var all = (await ReadAllAsync(shop)).Events;
        var covered = all.Where(e => half.Covers(e.Position)).ToList();

        // Nothing older than the instant: nothing goes.
        Assert.Equal(0, await Log(shop).PurgeEventsAsync(TestClock.Start, half));

        // Everything is older, but only what the cursor covers goes; then a later purge finds nothing more.
        var removed = await Log(shop).PurgeEventsAsync(shop.Time.GetUtcNow().AddHours(1), half);
        Assert.Equal(covered.Count, removed);
        Assert.Equal(0, await Log(shop).PurgeEventsAsync(shop.Time.GetUtcNow().AddHours(1), half));

        var (rest, next) = await ReadAllAsync(shop, limit: 11);
        Assert.Equal(all.Except(covered).Select(e => (e.Position.Stripe, e.Position.Sequence)).Order(), rest.Select(e => (e.Position.Stripe, e.Position.Sequence)).Order());
        Assert.Empty((await ReadAllAsync(shop, next)).Events);

        // New events after a purged prefix read on, numbered after it.
        await shop.ChargeAsync(1, 1);
        var newest = Assert.Single((await ReadAllAsync(shop, next)).Events);
        Assert.Equal(all.Count(e => e.Position.Stripe == newest.Position.Stripe) + 1, newest.Position.Sequence);
    }

    [StoreFact]
    public async Task A_purge_keeps_a_prefix_per_stripe_stopping_at_the_first_event_not_older()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 1);
        shop.Time.Advance(TimeSpan.FromHours(2));
        await shop.ChargeAsync(1, 2);
        var all = (await ReadAllAsync(shop)).Events;
        var everything = all.Aggregate(EventCursor.Start, (c, e) => c.Through(e.Position));

        Assert.Equal(1, await Log(shop).PurgeEventsAsync(TestClock.Start.AddHours(1), everything));

        var rest = (await ReadAllAsync(shop)).Events;
        Assert.Equal(2, Assert.Single(rest).Position.Sequence);
        await CompletesAsync(Feed(shop).WaitAsync(EventCursor.Start));
        await PendsAsync(Feed(shop), everything);
    }

    [StoreFact]
    public async Task After_purging_everything_nothing_is_read_or_waited_for_and_numbers_go_on()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 1); // the only, hence the latest, event of its stripe
        var first = Assert.Single((await ReadAllAsync(shop)).Events);
        shop.Time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(1, await Log(shop).PurgeEventsAsync(shop.Time.GetUtcNow(), EventCursor.Start.Through(first.Position)));

        Assert.Empty((await ReadAllAsync(shop)).Events);
        await PendsAsync(Feed(shop), EventCursor.Start);
        await shop.ChargeAsync(1, 2);
        Assert.Equal(first.Position with { Sequence = 2 }, Assert.Single((await ReadAllAsync(shop)).Events).Position);
    }

    [StoreFact]
    public async Task Concurrent_saves_of_one_checkpoint_all_succeed_and_leave_one_of_them()
    {
        using var shop = CreateShop();
        const int savers = 4;
        var log = Log(shop);

        for (var round = 1; round <= 20; round++)
        {
            var cursors = Enumerable.Range(0, savers).Select(t => EventCursor.Start.Through(new EventPosition(t, round))).ToArray();
            RealThreads.RunTogether(savers, t => log.SaveCheckpointAsync("projector", cursors[t]).AsTask().GetAwaiter().GetResult());

            // As if the saves ran one after another: the last one's cursor, whole, not a mix of several.
            Assert.Contains(await log.LoadCheckpointAsync("projector"), cursors);
        }
    }

    [StoreFact]
    public async Task A_consumer_name_holding_U0000_or_an_unpaired_surrogate_is_refused_with_ArgumentException_and_nothing_is_saved()
    {
        // A PostgreSQL text column cannot hold such a name, so no store keeps one.
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);
        var next = (await Feed(shop).ReadAsync(EventCursor.Start, 10)).Next;

        foreach (var name in new[] { "a\0b", "\0", "\ud800", "x\udc00y", "\udc00\ud800", "tea \ud83c" })
        {
            await Assert.ThrowsAsync<ArgumentException>(async () => await Log(shop).SaveCheckpointAsync(name, next));
            await Assert.ThrowsAsync<ArgumentException>(async () => await Log(shop).LoadCheckpointAsync(name));
        }

        Assert.Null(await Log(shop).LoadCheckpointAsync("a"));
        await Log(shop).SaveCheckpointAsync("tea \ud83c\udf75 \u0007", next);
        Assert.Equal(next, await Log(shop).LoadCheckpointAsync("tea \ud83c\udf75 \u0007"));
    }

    [StoreFact]
    public async Task A_consumer_name_longer_than_the_limit_is_refused_with_ArgumentException_and_one_at_the_limit_is_kept()
    {
        // PostgreSQL keys checkpoints by name in a B-tree, whose entries hold at most 2,704 bytes: the limit in
        // characters keeps every name within it (three UTF-8 bytes a character at most, four for a surrogate pair).
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);
        var next = (await Feed(shop).ReadAsync(EventCursor.Start, 10)).Next;
        var random = new Random(7);
        string Name(int length) => string.Create(length, random, static (chars, r) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = (char)r.Next(0x4E00, 0x9FA0); // CJK: three bytes each, and little a compressor can take out
            }
        });

        foreach (var name in new[] { Name(2_000), Name(CheckpointNames.MaxLength + 1) })
        {
            var refused = await Assert.ThrowsAsync<ArgumentException>(async () => await Log(shop).SaveCheckpointAsync(name, next));
            Assert.Equal("consumer", refused.ParamName);
            await Assert.ThrowsAsync<ArgumentException>(async () => await Log(shop).LoadCheckpointAsync(name));
        }

        var longest = Name(CheckpointNames.MaxLength);
        Assert.Null(await Log(shop).LoadCheckpointAsync(longest));
        await Log(shop).SaveCheckpointAsync(longest, next);
        Assert.Equal(next, await Log(shop).LoadCheckpointAsync(longest));
    }

    [StoreFact]
    public async Task The_feed_checks_its_arguments()
    {
        using var shop = CreateShop();
        var feed = Feed(shop);

        Assert.Equal("after", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await feed.ReadAsync(null!))).ParamName);
        Assert.Equal("limit", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await feed.ReadAsync(EventCursor.Start, 0))).ParamName);
        Assert.Equal("limit", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await feed.ReadAsync(EventCursor.Start, -1))).ParamName);
        Assert.Equal("limit", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await feed.ReadAsync(EventCursor.Start, 1001))).ParamName);
        Assert.Equal("after", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await feed.WaitAsync(null!))).ParamName);
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await feed.WaitAsync(EventCursor.Start, cancelled.Token));
        }
        Assert.Empty((await feed.ReadAsync(EventCursor.Start, 1000)).Events);
        Assert.Empty((await feed.ReadAsync(EventCursor.Start, 1)).Events);
    }

    [StoreFact]
    public async Task The_event_store_checks_its_arguments_naming_them()
    {
        using var shop = CreateShop();
        var log = Log(shop);

        Assert.Equal("after", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await log.ReadEventsAsync(null!, 1))).ParamName);
        Assert.Equal("limit", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await log.ReadEventsAsync(EventCursor.Start, 0))).ParamName);
        Assert.Equal("limit", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await log.ReadEventsAsync(EventCursor.Start, -1))).ParamName);
        Assert.Equal("after", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await log.WaitForEventsAsync(null!))).ParamName);
        Assert.Equal("upTo", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await log.PurgeEventsAsync(DateTimeOffset.MaxValue, null!))).ParamName);
        Assert.Empty((await log.ReadEventsAsync(EventCursor.Start, 1)).Events);
    }

    [StoreFact]
    public async Task A_cursor_ahead_of_the_committed_events_or_naming_a_stripe_the_store_lacks_is_refused_naming_the_stripe()
    {
        // Such a cursor comes from another store, or from data since lost (an in-memory store restarted, a
        // database restored from an older backup): read on, its consumer would skip events without a sign.
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);
        var (events, next) = await ReadAllAsync(shop);
        var read = Assert.Single(events).Position;
        var stripes = Log(shop).StripeCount;
        var empty = (read.Stripe + 1) % stripes;

        var cursors = new List<(EventCursor Cursor, int Stripe)>
        {
            (next.Through(read with { Sequence = read.Sequence + 1 }), read.Stripe),
            (next.Through(new EventPosition(empty, 1)), empty),
        };
        if (stripes < EventCursor.MaxStripes)
        {
            cursors.Add((EventCursor.Start.Through(new EventPosition(stripes, 1)), stripes));
        }

        foreach (var (cursor, stripe) in cursors)
        {
            foreach (var refused in new[]
            {
                await Assert.ThrowsAsync<ArgumentException>(async () => await Feed(shop).ReadAsync(cursor)),
                await Assert.ThrowsAsync<ArgumentException>(async () => await Log(shop).ReadEventsAsync(cursor, 10)),
            })
            {
                Assert.Equal("after", refused.ParamName);
                Assert.Contains($"stripe {stripe}", refused.Message, StringComparison.Ordinal);
            }
        }

        // A cursor at the last event is not ahead, nor after that event is purged; the events read on as before.
        Assert.Empty((await Feed(shop).ReadAsync(next)).Events);
        shop.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await Log(shop).PurgeEventsAsync(shop.Time.GetUtcNow(), next));
        Assert.Empty((await Feed(shop).ReadAsync(next)).Events);
        await shop.ChargeAsync(1, 2);
        Assert.Equal(read with { Sequence = 2 }, Assert.Single((await ReadAllAsync(shop, next)).Events).Position);
    }

    [StoreFact]
    public async Task A_consumer_reading_while_commits_run_sees_every_stripe_without_a_gap_and_nothing_twice()
    {
        using var shop = CreateShop();
        var read = await ConsumeWhileCommittingAsync(shop, purgeBehind: false);

        var all = (await ReadAllAsync(shop)).Events;
        Assert.Equal(
            all.OrderBy(e => (e.Position.Stripe, e.Position.Sequence)).Select(e => (e.Position, e.Stream, e.GetType())),
            read.OrderBy(e => (e.Position.Stripe, e.Position.Sequence)).Select(e => (e.Position, e.Stream, e.GetType())));
    }

    [StoreFact]
    public async Task A_consumer_purging_behind_itself_while_commits_run_loses_nothing_it_has_not_read()
    {
        using var shop = CreateShop();
        var read = await ConsumeWhileCommittingAsync(shop, purgeBehind: true);

        // Every event read once, in every stripe from 1 without a gap (checked as it read); all of it purged now.
        var cursor = read.Aggregate(EventCursor.Start, (c, e) => c.Through(e.Position));
        await Log(shop).PurgeEventsAsync(shop.Time.GetUtcNow().AddDays(1), cursor);
        Assert.Empty((await ReadAllAsync(shop)).Events);
        Assert.Equal(read.Count, read.Select(e => e.Position).Distinct().Count());
    }

    /// <summary>
    /// Three threads charge and order while a fourth reads pages of 7 (and, if <paramref name="purgeBehind"/>,
    /// purges everything it has read after each page), then the reader reads on to the end. Each page is
    /// checked as it is read: in every stripe, each event is the one after the last one read there, so an
    /// event that commits with a lower number after a higher one was read (a gap), one read twice, or one
    /// purged before it was read fails at once.
    /// </summary>
    /// <returns>Every event the reader read, in the order it read them.</returns>
    private static async Task<List<CommerceEvent>> ConsumeWhileCommittingAsync(Shop shop, bool purgeBehind)
    {
        const int writers = 3;
        const int operationsPerWriter = 120;
        await shop.AddProductAsync(1, 2, 100_000);
        await shop.AddProductAsync(2, 3, 100_000);
        var writersLeft = writers;
        var read = new List<CommerceEvent>();
        var next = new Dictionary<int, long>();
        var cursor = EventCursor.Start;
        var purgeBefore = shop.Time.GetUtcNow().AddDays(1);

        void Consume(EventPage page)
        {
            foreach (var e in page.Events)
            {
                var expected = next.GetValueOrDefault(e.Position.Stripe) + 1;
                Assert.True(expected == e.Position.Sequence, $"After {cursor}, stripe {e.Position.Stripe} gave {e.Position.Sequence} where {expected} was next.");
                next[e.Position.Stripe] = e.Position.Sequence;
                read.Add(e);
            }

            foreach (var stripe in next.Keys)
            {
                Assert.Equal(next[stripe], page.Next[stripe]);
            }

            cursor = page.Next;
            if (purgeBehind && page.Events.Count > 0)
            {
                RealThreads.Wait(Log(shop).PurgeEventsAsync(purgeBefore, cursor));
            }
        }

        RealThreads.RunTogether(writers + 1, t =>
        {
            if (t == writers)
            {
                while (Volatile.Read(ref writersLeft) > 0)
                {
                    Consume(RealThreads.Wait(Feed(shop).ReadAsync(cursor, 7)));
                }

                return;
            }

            try
            {
                var random = new Random(20261206 + t);
                for (var i = 0; i < operationsPerWriter; i++)
                {
                    var user = User(random.Next(1, 25));
                    if (random.Next(2) == 0)
                    {
                        Assert.True(RealThreads.Wait(shop.Wallets.ChargeAsync(user, Money(random.Next(1, 20)))).IsSuccess);
                    }
                    else
                    {
                        RealThreads.Wait(shop.Orders.PlaceOrderAsync(user, [new OrderLineRequest(Product(random.Next(1, 3)), 1)]));
                    }
                }
            }
            finally
            {
                Interlocked.Decrement(ref writersLeft);
            }
        });

        // Once every commit has returned, the reader reads on to the end.
        while (true)
        {
            var page = await Feed(shop).ReadAsync(cursor, 50);
            if (page.Events.Count == 0)
            {
                return read;
            }

            Consume(page);
        }
    }

    /// <summary>How many random workloads the replay property runs, each on a fresh shop.</summary>
    protected virtual int ReplayCases => 4;

    /// <summary>How many operations each thread runs in one workload.</summary>
    protected virtual int ReplayOperationsPerThread => 300;

    [StoreFact]
    public async Task Events_replayed_from_the_start_rebuild_balances_stock_and_sales_after_a_concurrent_workload()
    {
        for (var seed = 1; seed <= ReplayCases; seed++)
        {
            await ReplayCaseAsync(20261203 + seed);
        }
    }

    private async Task ReplayCaseAsync(int seed)
    {
        const int users = 5;
        const int products = 4;
        const int threads = 3;
        using var shop = CreateShop();
        for (var p = 1; p <= products; p++)
        {
            await shop.AddProductAsync(p, p * 3, 6);
        }

        RealThreads.RunTogether(threads, t =>
        {
            var random = new Random(seed * 31 + t);
            var placed = new List<OrderId>();
            for (var i = 0; i < ReplayOperationsPerThread; i++)
            {
                var user = User(random.Next(1, users + 1));
                switch (random.Next(10))
                {
                    case < 3:
                        RealThreads.Wait(shop.Wallets.ChargeAsync(user, Money(random.Next(1, 40))));
                        break;
                    case < 7:
                        var lines = Enumerable.Range(0, random.Next(1, 3))
                            .Select(_ => random.Next(1, products + 1)).Distinct()
                            .Select(p => new OrderLineRequest(Product(p), random.Next(1, 4))).ToArray();
                        if (RealThreads.Wait(shop.Orders.PlaceOrderAsync(user, lines)) is { IsSuccess: true } order)
                        {
                            placed.Add(order.Value.Id);
                        }

                        break;
                    case < 9:
                        if (placed.Count > 0)
                        {
                            var index = random.Next(placed.Count);
                            RealThreads.Wait(shop.Orders.CancelOrderAsync(placed[index]));
                            placed.RemoveAt(index);
                        }

                        break;
                    default:
                        RealThreads.Wait(shop.Catalog.RestockAsync(Product(random.Next(1, products + 1)), random.Next(1, 5)));
                        break;
                }
            }
        });

        // Across streams the feed has no order (all these events share one instant), so the replay only adds.
        var balances = new Dictionary<UserId, long>();
        var stock = new Dictionary<ProductId, long>();
        var sold = new Dictionary<ProductId, long>();
        var depleted = new HashSet<ProductId>();
        var orderedLines = new HashSet<(OrderId, ProductId)>();
        var depletedBy = new List<(OrderId, ProductId)>();
        foreach (var e in (await ReadAllAsync(shop, limit: 97)).Events)
        {
            switch (e)
            {
                case ProductAdded added:
                    stock[added.ProductId] = stock.GetValueOrDefault(added.ProductId) + added.InitialStock;
                    break;
                case ProductRestocked restocked:
                    stock[restocked.ProductId] = stock.GetValueOrDefault(restocked.ProductId) + restocked.Quantity;
                    break;
                case WalletCharged charged:
                    balances[charged.UserId] = balances.GetValueOrDefault(charged.UserId) + charged.Amount.Amount;
                    break;
                case OrderPlaced placed:
                    balances[placed.UserId] = balances.GetValueOrDefault(placed.UserId) - placed.Total.Amount;
                    foreach (var line in placed.Lines)
                    {
                        stock[line.ProductId] = stock.GetValueOrDefault(line.ProductId) - line.Quantity;
                        sold[line.ProductId] = sold.GetValueOrDefault(line.ProductId) + line.Quantity;
                        orderedLines.Add((placed.OrderId, line.ProductId));
                    }

                    break;
                case OrderCancelled cancelled:
                    balances[cancelled.UserId] = balances.GetValueOrDefault(cancelled.UserId) + cancelled.Refunded.Amount;
                    foreach (var line in cancelled.Lines)
                    {
                        stock[line.ProductId] = stock.GetValueOrDefault(line.ProductId) + line.Quantity;
                        sold[line.ProductId] = sold.GetValueOrDefault(line.ProductId) - line.Quantity;
                    }

                    break;
                case StockDepleted depletion:
                    depleted.Add(depletion.ProductId);
                    depletedBy.Add((depletion.OrderId, depletion.ProductId));
                    break;
            }
        }

        for (var u = 1; u <= users; u++)
        {
            Assert.Equal(await shop.Wallets.GetBalanceAsync(User(u)), Money(balances.GetValueOrDefault(User(u))));
        }

        for (var p = 1; p <= products; p++)
        {
            Assert.Equal(await shop.StockOfAsync(p), stock[Product(p)]);
        }

        var ranked = await shop.SoldAsync();
        Assert.Equal(
            ranked.Where(r => r.Value > 0).OrderBy(r => r.Key.Value),
            sold.Where(s => s.Value > 0).OrderBy(s => s.Key.Value));
        // Every product at zero was reported depleted, each time by an order that took some of it.
        Assert.All(stock.Where(s => s.Value == 0), s => Assert.True(depleted.Contains(s.Key), $"Seed {seed}: product {s.Key} is at zero stock and was never reported depleted."));
        Assert.All(depletedBy, d => Assert.Contains(d, orderedLines));
    }
}
