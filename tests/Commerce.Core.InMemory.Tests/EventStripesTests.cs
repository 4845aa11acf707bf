using Commerce.Conformance;
using Commerce.Events;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;
using System.Runtime.CompilerServices;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// The in-memory store keeps events on the states of its stripe cells: each commit's events ride on the
/// stripe state it installs, and the next commit on the stripe copies them into the stripe's log first.
/// A stripe is one more cell of the multi-word CAS, so it inherits its lock-freedom.
/// </summary>
public sealed class EventStripesTests
{
    private static readonly DateTimeOffset At = TestClock.Start;

    [Fact]
    public void No_two_stripes_words_share_a_cache_line()
    {
        // Every commit on a stripe writes its cell's content and word (and the order beside them): between one
        // cell's words and the next cell's, enough bytes that no line holds both, wherever the lines fall.
        var stripes = new EventStripes();
        for (var i = 0; i + 1 < stripes.StripeCount; i++)
        {
            // Allocated one after another, most often side by side; but a cell that opens a new allocation context may
            // land anywhere, before the one made just before it too. So from whichever comes first in memory, the
            // second's content at least 63 bytes past the end of the first's word. (Each offset is taken at one
            // instant; a collection that moved the cells between the two is seen as a gap of the wrong sign: again.)
            long gap;
            do
            {
                var (first, second) = OffsetFromWordToContent(stripes.CellOf(i), stripes.CellOf(i + 1)) >= 0
                    ? (stripes.CellOf(i), stripes.CellOf(i + 1))
                    : (stripes.CellOf(i + 1), stripes.CellOf(i));
                gap = OffsetFromWordToContent(first, second);
            }
            while (gap < 0);

            Assert.True(gap - sizeof(long) >= 63, $"Stripes {i} and {i + 1}: {gap} bytes from one's word to the next's content.");
        }

        static long OffsetFromWordToContent(StripeCell from, StripeCell to) => (long)Unsafe.ByteOffset(
            ref Unsafe.As<long, byte>(ref from.Word),
            ref Unsafe.As<object, byte>(ref to.Content));
    }

    private static WalletCharged Charged(long user, long sequence, int stripe = 0) =>
        new WalletCharged(new UserId(user), new Money(1), new Money(sequence), At) with { Position = new EventPosition(stripe, sequence) };

    /// <summary>The first users (from 1) whose streams share one stripe, and that stripe.</summary>
    private static (UserId[] Users, int Stripe) UsersSharingAStripe(int count)
    {
        var users = Enumerable.Range(1, 10_000).Select(i => new UserId(i))
            .GroupBy(u => EventStream.ForUser(u).StripeOf(EventStripes.DefaultStripeCount))
            .First(g => g.Count() >= count);
        return ([.. users.Take(count)], users.Key);
    }

    /// <summary>
    /// Charges <paramref name="user"/> 5 on another thread, parked right after the charge's descriptor is installed
    /// in <paramref name="cell"/> (its stripe's, the last it installs in: the entries, then the count), so undecided;
    /// with <paramref name="beforeItsCount"/>, parked between the two.
    /// </summary>
    private static PausedCommit ParkChargeIn(StripeCell cell, Shop shop, UserId user, bool beforeItsCount = false)
    {
        var store = shop.InMemoryStore();
        var paused = new PausedCommit(
            (descriptor, i) => ReferenceEquals(descriptor.InstalledAt(i), cell)
                && i == descriptor.Updates.Length + descriptor.WordUpdates.Length - (beforeItsCount ? 2 : 1),
            hook =>
            {
                store.AfterInstall = hook;
                return Sync.Run(shop.Wallets.ChargeAsync(user, new Money(5))).IsSuccess;
            });
        try
        {
            paused.Start();
            return paused;
        }
        catch
        {
            paused.Dispose();
            throw;
        }
    }

    private static List<CommerceEvent> ReadAll(InMemoryCommerceStore store)
    {
        var events = new List<CommerceEvent>();
        var cursor = EventCursor.Start;
        while (store.Events.Read(cursor, 1000) is { Events.Count: > 0 } page)
        {
            events.AddRange(page.Events);
            cursor = page.Next;
        }

        return events;
    }

    [Fact]
    public void Prefetching_a_logs_tail_or_a_store_changes_nothing_whatever_the_number()
    {
        var log = new EventLog();
        log.PrefetchTail(); // no tail yet
        log.PrefetchStore(1);

        var events = Enumerable.Range(1, 1_500).Select(i => Charged(1, i)).ToArray();
        foreach (var e in events)
        {
            log.Store(e.Position.Sequence, e);
        }

        // In the tail's page, past it, before it, and a stripe's marker (a negative word): none is stored by a prefetch.
        foreach (var sequence in new long[] { 1_025, 1_500, 1_501, 2_048, 2_049, 1, 1_024, 0, -1, long.MinValue, long.MaxValue })
        {
            log.PrefetchTail();
            log.PrefetchStore(sequence);
        }

        Assert.Equal(events, Enumerable.Range(1, 1_500).Select(i => log.Entry(i)));
        Assert.Null(log.Entry(1_501));
        Assert.Null(log.Entry(2_048));
    }

    [Fact]
    public void A_commits_prefetch_of_its_stripes_log_slot_changes_nothing_and_the_events_read_the_same()
    {
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var user = new UserId(7);
        store.Events.PrefetchState(null, user); // no cell: nothing
        for (var i = 0; i < 1_100; i++)
        {
            // Across a leaf page's end (1,024 events): the prefetch names the slot before it and after.
            Assert.True(Sync.Run(shop.Wallets.ChargeAsync(user, new Money(1))).IsSuccess);
            store.Events.PrefetchState(store.Events.PrefetchCellOf(user), user);
        }

        var changes = new ChangeSet();
        changes.AddEvent(new WalletCharged(user, new Money(1), new Money(1_101), At));
        store.Events.PrefetchCopy(changes);
        store.Events.PrefetchCopy(new ChangeSet()); // no event: nothing

        var charged = ReadAll(store).Cast<WalletCharged>().ToList();
        Assert.Equal(1_100, charged.Count);
        Assert.Equal(Enumerable.Range(1, 1_100).Select(i => (long)i), charged.Select(e => e.Position.Sequence));
        Assert.Equal(new Money(1_100), charged[^1].BalanceAfter);
    }

    [Fact]
    public void The_log_keeps_events_across_its_pages_and_storing_one_again_changes_nothing()
    {
        var log = new EventLog();
        var events = Enumerable.Range(1, 5_000).Select(i => Charged(1, i)).ToArray();
        foreach (var e in events.Where(e => e.Position.Sequence % 7 != 0))
        {
            log.Store(e.Position.Sequence, e);
        }

        log.Store(events[15].Position.Sequence, events[15]); // again, with the same reference
        for (var sequence = 1; sequence <= 5_000; sequence++)
        {
            var found = log.Entry(sequence);
            if (sequence % 7 == 0)
            {
                Assert.Null(found);
            }
            else
            {
                Assert.Same(events[sequence - 1], found);
            }
        }

        Assert.Null(log.Entry(5_001));
        Assert.Null(log.Entry(200_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => log.Entry(0));
    }

    [Fact]
    public void Stores_that_go_back_and_forth_across_leaf_pages_each_land_at_their_own_number()
    {
        // The tail (the leaf stored in last) serves the stores in its range; any other goes down the walk and
        // becomes the tail. Numbers at either edge of a leaf must never land in a neighbour's.
        var log = new EventLog();
        var events = Enumerable.Range(1, 4_100).Select(i => Charged(1, i)).ToArray();
        long[] order = [1, 1_024, 1_025, 1_023, 2_048, 1, 2_049, 1_024, 4_096, 3_073, 3_072, 4_097, 2, 1_026];
        foreach (var sequence in order)
        {
            log.Store(sequence, events[sequence - 1]);
            Assert.Equal(((sequence - 1) / 1_024 * 1_024) + 1, log.TailFirst);
        }

        for (var sequence = 1; sequence <= 4_100; sequence++)
        {
            if (order.Contains(sequence))
            {
                Assert.Same(events[sequence - 1], log.Entry(sequence));
            }
            else
            {
                Assert.Null(log.Entry(sequence));
            }
        }
    }

    [Fact]
    public void A_purge_drops_the_tail_once_its_leaf_is_purged_whole()
    {
        var log = new EventLog();
        var events = Enumerable.Range(1, 2_100).Select(i => Charged(1, i)).ToArray();
        foreach (var e in events.Take(2_048))
        {
            log.Store(e.Position.Sequence, e);
        }

        Assert.Equal(1_025, log.TailFirst);
        log.PurgeThrough(2_047);
        Assert.Equal(1_025, log.TailFirst); // one of its events is kept
        log.PurgeThrough(2_048);
        Assert.Null(log.TailFirst);

        log.Store(2_048, events[2_047]); // a late copy of a purged one: nothing, and no tail
        Assert.Null(log.TailFirst);
        Assert.False(log.HoldsPageOf(2_048));
        log.Store(2_049, events[2_048]);
        Assert.Equal(2_049, log.TailFirst);
        Assert.Same(events[2_048], log.Entry(2_049));
    }

    [Fact]
    public void A_log_numbers_events_beyond_its_ring_once_those_before_are_purged()
    {
        const long Ring = 1L << 28; // 256 pages of 2^20 events: number Ring + 1 takes the page slot of number 1
        var log = new EventLog();
        var first = Charged(1, 1);
        var last = Charged(1, Ring);
        log.Store(1, first);
        log.Store(Ring, last);

        // Event 1 is still kept, and the next number would take its page's slot: refused, nothing changed.
        var next = Charged(1, Ring + 1);
        Assert.Throws<InvalidOperationException>(() => log.Store(Ring + 1, next));
        Assert.Same(first, log.Entry(1));
        Assert.Null(log.Entry(Ring + 1));

        // Purged, the slot is free: the log goes on numbering, and a number of the earlier range reads as absent.
        Assert.Equal(Ring - 1, log.PurgeThrough(Ring - 1));
        log.Store(Ring + 1, next);
        Assert.Same(next, log.Entry(Ring + 1));
        Assert.Same(last, log.Entry(Ring));
        Assert.Null(log.Entry(1));
        Assert.Null(log.Entry(Ring + 2));
        Assert.Null(log.Entry((2 * Ring) + 1)); // the same slot, a range not stored yet

        // A late copy of a purged event of the earlier range changes nothing.
        log.Store(1, first);
        Assert.Null(log.Entry(1));
        Assert.Same(next, log.Entry(Ring + 1));
    }

    [Fact]
    public void A_log_keeps_its_capacity_whatever_the_purged_prefix()
    {
        // The worst case: the oldest page kept is purged but for its last event.
        var log = new EventLog();
        const long PageEnd = 1L << 20;
        log.Store(PageEnd, Charged(1, PageEnd));
        Assert.Equal(PageEnd - 1, log.PurgeThrough(PageEnd - 1));
        var end = PageEnd + EventLog.Capacity - 1; // Capacity events kept, from PageEnd on
        log.Store(end, Charged(1, end));
        Assert.NotNull(log.Entry(end));

        // The first number whose page would take the slot of the page still kept is refused.
        const long Wrap = (1L << 28) + 1;
        log.Store(Wrap - 1, Charged(1, Wrap - 1));
        Assert.Throws<InvalidOperationException>(() => log.Store(Wrap, Charged(1, Wrap)));
        Assert.NotNull(log.Entry(PageEnd));
    }

    [Fact]
    public void A_full_log_names_its_capacity_in_the_invariant_culture_whatever_the_current_one()
    {
        var log = new EventLog();
        const long PageEnd = 1L << 20;
        log.Store(PageEnd, Charged(1, PageEnd));
        log.PurgeThrough(PageEnd - 1);
        const long Wrap = (1L << 28) + 1;
        log.Store(Wrap - 1, Charged(1, Wrap - 1));
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.GetCultureInfo("de-DE");
        try
        {
            var thrown = Assert.Throws<InvalidOperationException>(() => log.Store(Wrap, Charged(1, Wrap)));

            Assert.Contains("at most 267,386,880 events", thrown.Message, StringComparison.Ordinal);
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = culture;
        }
    }

    [Fact]
    public async Task A_stripe_past_its_log_ring_takes_commits_once_the_events_before_are_purged()
    {
        const long Ring = 1L << 28;
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var user = new UserId(1);
        var stripe = EventStream.ForUser(user).StripeOf(store.StripeCount);
        var cell = store.Events.CellOf(stripe);

        // The stripe as after 2^28 events, every one but the last purged: the next number wraps the ring.
        var last = new WalletCharged(user, new Money(1), new Money(1), shop.Time.GetUtcNow());
        Assert.True(MultiWordCas.Commit(CommitDescriptor.Create([new CellUpdate(cell, MultiWordCas.Read(cell), last)], [new WordUpdate(cell, MultiWordCas.ReadWord(cell), Ring)])));
        store.Events.LogOf(stripe).PurgeThrough(Ring - 1);

        for (var round = 0; round < 3; round++)
        {
            await store.PurgeEventsAsync(DateTimeOffset.MaxValue, EventCursor.Start.Through(new EventPosition(stripe, store.Events.StateOf(stripe).Count)));
            Assert.True((await shop.Wallets.ChargeAsync(user, new Money(5))).IsSuccess);
            Assert.True((await shop.Wallets.ChargeAsync(user, new Money(5))).IsSuccess);
        }

        var page = store.Events.Read(EventCursor.Start.Through(new EventPosition(stripe, Ring + 4)), 10);
        Assert.Equal([Ring + 5, Ring + 6], page.Events.Select(e => e.Position.Sequence));
    }

    [Fact]
    public void A_purge_empties_a_prefix_once_and_an_event_stored_late_in_it_is_not_kept()
    {
        var log = new EventLog();
        var events = Enumerable.Range(1, 3_000).Select(i => Charged(1, i)).ToArray();
        foreach (var e in events)
        {
            log.Store(e.Position.Sequence, e);
        }

        Assert.Equal(2_500, log.PurgeThrough(2_500));
        Assert.Equal(0, log.PurgeThrough(2_000));
        Assert.Equal(2_500, log.PurgedThrough);
        Assert.All(Enumerable.Range(1, 2_500), s => Assert.Null(log.Entry(s)));
        Assert.All(Enumerable.Range(2_501, 500), s => Assert.Same(events[s - 1], log.Entry(s)));

        // A copier that read a state before the purge writes its events again: they stay out.
        log.Store(events[99].Position.Sequence, events[99]);
        log.Store(events[2_499].Position.Sequence, events[2_499]);
        Assert.Null(log.Entry(100));
        Assert.Null(log.Entry(2_500));
        Assert.Equal(500, log.PurgeThrough(3_000));
    }

    [Theory]
    [InlineData(1_500)] // in a leaf the purge leaves partly purged
    [InlineData(500)] // in a leaf the purge drops whole
    public void An_event_written_just_after_a_purge_passed_its_number_is_taken_back(int sequence)
    {
        var log = new EventLog();
        var events = Enumerable.Range(1, 3_000).Select(i => Charged(1, i)).ToArray();
        foreach (var e in events.Take(sequence - 1))
        {
            log.Store(e.Position.Sequence, e);
        }

        // The copier looked at the bound before the purge moved it, and writes after the purge cleared.
        log.BeforeWrite = () =>
        {
            log.BeforeWrite = null;
            Assert.Equal(2_000, log.PurgeThrough(2_000));
        };
        log.Store(sequence, events[sequence - 1]);

        Assert.Null(log.Entry(sequence));
        Assert.All(Enumerable.Range(1, 2_000), s => Assert.Null(log.Entry(s)));
        Assert.Equal(sequence > 1_024, log.HoldsPageOf(sequence)); // a page the write brought back is dropped again
    }

    [Fact]
    public void Stores_racing_purges_on_real_threads_leave_nothing_purged_in_the_log_and_lose_nothing_beyond_it()
    {
        // Two threads store the events of one stripe in turn (as the commits of two cores do, with the
        // copies of each commit's events made again by the next), while a third purges right behind them.
        const int count = 20_000;
        var log = new EventLog();
        var events = Enumerable.Range(1, count).Select(i => Charged(1, i)).ToArray();
        var stored = 0L;
        using var start = new Barrier(3);
        var storers = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            var spinner = default(SpinWait);
            for (var sequence = 1 + t; sequence <= count; sequence += 2)
            {
                // Never far ahead of the purge, so that stores and purges keep meeting at the same numbers.
                while (sequence > log.PurgedThrough + 64)
                {
                    spinner.SpinOnce();
                }

                log.Store(sequence, events[sequence - 1]);
                if (sequence > 1)
                {
                    log.Store(sequence - 1, events[sequence - 2]); // the other thread's, again
                }

                Interlocked.Increment(ref stored);
            }
        })).ToArray();
        var purger = new Thread(() =>
        {
            start.SignalAndWait();
            while (Interlocked.Read(ref stored) < count)
            {
                log.PurgeThrough(Math.Max(0, Interlocked.Read(ref stored) - 2)); // right behind the stores, racing them
            }
        });

        foreach (var thread in storers.Append(purger))
        {
            thread.Start();
        }

        foreach (var thread in storers.Append(purger))
        {
            thread.Join();
        }

        var purged = log.PurgedThrough;
        Assert.InRange(purged, count - 100, count);
        for (var sequence = 1; sequence <= count; sequence++)
        {
            if (sequence <= purged)
            {
                Assert.Null(log.Entry(sequence));
            }
            else
            {
                Assert.Same(events[sequence - 1], log.Entry(sequence));
            }
        }
    }

    [Fact]
    public async Task An_order_placed_is_kept_as_its_order_and_read_back_as_the_event_published()
    {
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.ChargeAsync(7, 100);

        var order = (await shop.OrderAsync(7, (1, 2))).Value;

        var stripe = EventStream.ForUser(new UserId(7)).StripeOf(store.Events.StripeCount);
        var state = store.Events.StateOf(stripe);
        var entry = state.Entry(state.Count, store.Events.LogOf(stripe));
        Assert.Same(order, entry); // no object of its own: the orders' table keeps this one anyway
        var placed = Assert.IsType<OrderPlaced>(ReadAll(store).Last(e => e is OrderPlaced));
        Assert.Equal(new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, order.PlacedAt) { Position = new EventPosition(stripe, state.Count) }, placed);
        Assert.Equal(order.PlacedAt.Offset, placed.At.Offset);
    }

    [Fact]
    public async Task A_charge_is_kept_as_its_ledger_entry_and_read_back_as_the_event_published()
    {
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        await shop.ChargeAsync(7, 100);
        await shop.ChargeAsync(7, 25);

        var stripe = EventStream.ForUser(new UserId(7)).StripeOf(store.Events.StripeCount);
        var state = store.Events.StateOf(stripe);
        var entry = Assert.IsType<LedgerEntry>(state.Entry(state.Count, store.Events.LogOf(stripe)));
        var ledger = await shop.Wallets.GetLedgerAsync(new UserId(7));
        Assert.Same(ledger[^1], entry); // no object of its own: the wallet's ledger keeps this one anyway
        Assert.Same(ledger[0], store.Events.LogOf(stripe).Entry(state.Count - 1)); // and the older one, copied to the log

        var charges = ReadAll(store).OfType<WalletCharged>().ToArray();
        Assert.Equal(
            [
                new WalletCharged(new UserId(7), new Money(100), new Money(100), ledger[0].At) { Position = new EventPosition(stripe, state.Count - 1) },
                new WalletCharged(new UserId(7), new Money(25), new Money(125), ledger[1].At) { Position = new EventPosition(stripe, state.Count) },
            ],
            charges);
    }

    [Fact]
    public async Task An_order_placed_published_as_an_event_is_kept_as_that_event()
    {
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var order = new Order(OrderId.New(At), new UserId(7), [new OrderLine(new ProductId(1), 2, new Money(10))], At);
        var published = new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, order.PlacedAt);

        await using (var unitOfWork = await store.BeginAsync())
        {
            unitOfWork.Orders.Add(order);
            unitOfWork.Publish(published);
            Assert.True(await unitOfWork.CommitAsync());
        }

        var stripe = published.Stream.StripeOf(store.Events.StripeCount);
        var state = store.Events.StateOf(stripe);
        Assert.Same(published, state.Entry(state.Count, store.Events.LogOf(stripe)));
    }

    [Fact]
    public void The_newest_events_are_in_the_log_before_the_next_commit_on_their_stripe_can_be_seen()
    {
        var (users, stripe) = UsersSharingAStripe(2);
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(users[0], new Money(100))).IsSuccess);
        var cell = store.Events.CellOf(stripe);
        var state = store.Events.StateOf(stripe);
        Assert.Equal(1, state.LatestCount);
        var first = state.Entry(1, store.Events.LogOf(stripe));
        Assert.NotNull(first);

        using var paused = ParkChargeIn(cell, shop, users[1]);

        // The charge's descriptor sits in the stripe's cell, undecided: the event it follows is in the log already.
        var parked = paused.Descriptor!.Updates.ToArray().Single(u => ReferenceEquals(u.Cell, cell));
        var parkedCount = paused.Descriptor.WordUpdates.ToArray().Single(u => ReferenceEquals(u.Cell, cell));
        Assert.Same(first, parked.Expected);
        Assert.Equal((1L, 2L), (parkedCount.Expected, parkedCount.Desired));
        Assert.Same(first, store.Events.LogOf(stripe).Entry(1));
        Assert.IsType<LedgerEntry>(parked.Desired);

        // A reader helps the charge to its decision and sees both events, numbered 1 and 2.
        var events = PausedCommit.CompletesOnAnotherThread(() => ReadAll(store));
        Assert.Equal([(users[0], 1L), (users[1], 2L)], events.Cast<WalletCharged>().Select(e => (e.UserId, e.Position.Sequence)));
        Assert.True(paused.Resume());
    }

    [Fact]
    public void A_stripe_read_while_a_commit_is_parked_between_its_entries_and_its_count_is_read_as_of_one_instant()
    {
        var (users, stripe) = UsersSharingAStripe(2);
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(users[0], new Money(100))).IsSuccess);
        var cell = store.Events.CellOf(stripe);
        var first = store.Events.StateOf(stripe).Latest;

        using var paused = ParkChargeIn(cell, shop, users[1], beforeItsCount: true);

        // The cell's reference holds the undecided commit, its word still the number 1: read alone, the number is
        // the one before the commit, and the entries (which help the commit) the ones after it.
        Assert.Same(paused.Descriptor, Volatile.Read(ref cell.Content));
        Assert.Equal(1, Volatile.Read(ref cell.Word));

        var state = PausedCommit.CompletesOnAnotherThread(() => store.Events.StateOf(stripe));

        Assert.Equal(CommitStatus.Succeeded, paused.Descriptor!.Status);
        Assert.Equal(2, state.Count);
        var second = Assert.IsType<LedgerEntry>(state.Latest);
        Assert.Equal(users[1], second.UserId);
        Assert.Same(second, state.Entry(2, store.Events.LogOf(stripe)));
        Assert.True(paused.Resume());
        Assert.Same(first, store.Events.LogOf(stripe).Entry(1));
        Assert.Equal([(users[0], 1L), (users[1], 2L)], ReadAll(store).Cast<WalletCharged>().Select(e => (e.UserId, e.Position.Sequence)));
    }

    [Fact]
    public async Task An_event_published_twice_never_lets_a_late_install_of_a_commit_between_the_two_succeed()
    {
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var published = new ProductAdded(new ProductId(1), "Pen", new Money(10), 5, At);
        var stripe = published.Stream.StripeOf(store.Events.StripeCount);
        var cell = store.Events.CellOf(stripe);
        await PublishAsync(store, published);
        var before = store.Events.StateOf(stripe);

        // A commit on the stripe that succeeds, whose helper read the cell before the decision and was preempted...
        var between = new WalletCharged(new UserId(1), new Money(1), new Money(1), At);
        var helped = CommitDescriptor.Create([new CellUpdate(cell, before.Latest, between)], [new WordUpdate(cell, before.Count, before.Count + 1)]);
        Assert.True(MultiWordCas.Commit(helped));

        // ...then the same event object, published again (a host may keep one).
        await PublishAsync(store, published);
        var after = store.Events.StateOf(stripe);

        // The helper's install CAS expects what it read: the cell never holds it again, so it fails.
        Assert.NotSame(before.Latest, Interlocked.CompareExchange(ref cell.Content, helped, before.Latest));
        Assert.Equal((before.Count + 2, after.Latest), (store.Events.StateOf(stripe).Count, store.Events.StateOf(stripe).Latest));
        Assert.Same(published, store.Events.StateOf(stripe).Entry(before.Count + 2, store.Events.LogOf(stripe)));
    }

    /// <summary>Publishes <paramref name="published"/> with a write (an order of its own) for it to report.</summary>
    private static async Task PublishAsync(InMemoryCommerceStore store, CommerceEvent published)
    {
        await using var unitOfWork = await store.BeginAsync();
        unitOfWork.Orders.Add(new Order(OrderId.New(At), new UserId(7), [new OrderLine(new ProductId(1), 2, new Money(10))], At));
        unitOfWork.Publish(published);
        Assert.True(await unitOfWork.CommitAsync());
    }

    [Fact]
    public void Stripe_states_read_on_a_real_thread_while_commits_append_each_name_the_entries_of_their_own_count()
    {
        const int Writers = 3;
        const int ChargesEach = 400;
        var (users, stripe) = UsersSharingAStripe(Writers);
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var seen = new List<(long Count, object Latest)>();
        using var done = new CancellationTokenSource();
        var reader = new Thread(() =>
        {
            while (!done.IsCancellationRequested)
            {
                var state = store.Events.StateOf(stripe);
                if (seen.Count == 0 || seen[^1].Count != state.Count || !ReferenceEquals(seen[^1].Latest, state.Latest))
                {
                    seen.Add((state.Count, state.Latest));
                }
            }
        });
        reader.Start();
        var refused = 0;
        var writers = users.Select(user => new Thread(() =>
        {
            for (var i = 1; i <= ChargesEach; i++)
            {
                if (!Sync.Run(shop.Wallets.ChargeAsync(user, new Money(i))).IsSuccess)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })).ToArray();
        Array.ForEach(writers, w => w.Start());
        Array.ForEach(writers, w => w.Join());
        done.Cancel();
        reader.Join();
        Assert.Equal(0, refused);

        // The model: the log as the commits numbered it. Every state read names, as its latest, the entry of its own number.
        var log = store.Events.LogOf(stripe);
        var final = store.Events.StateOf(stripe);
        Assert.Equal(Writers * ChargesEach, final.Count);
        var entries = Enumerable.Range(1, (int)final.Count).Select(n => final.Entry(n, log)).ToArray();
        Assert.All(entries, Assert.NotNull);
        Assert.All(seen.Where(s => s.Count > 0), s => Assert.Same(entries[s.Count - 1], s.Latest));
        Assert.Equal(users.Select(u => Enumerable.Range(1, ChargesEach).Select(i => (long)i)), users.Select(u => entries.Cast<LedgerEntry>().Where(e => e.UserId == u).Select(e => e.Amount.Amount)));
    }

    [Fact]
    public void A_committer_parked_in_a_stripe_blocks_no_other_committer_on_that_stripe()
    {
        var (users, stripe) = UsersSharingAStripe(3);
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(users[0], new Money(100))).IsSuccess);
        var cell = store.Events.CellOf(stripe);

        using var paused = ParkChargeIn(cell, shop, users[1]);
        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);
        Assert.Same(cell, paused.Descriptor.Updates[^1].Cell); // stripes come last: installed right before the decision

        // Another user on the same stripe commits: it helps the parked commit, then appends after it.
        var charged = PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Wallets.ChargeAsync(users[2], new Money(7))));
        Assert.Equal(new Money(7), charged.Value);
        Assert.Equal(CommitStatus.Succeeded, paused.Descriptor.Status);

        // So does a waiting reader, at once.
        Assert.True(store.WaitForEventsAsync(EventCursor.Start.Through(new EventPosition(stripe, 2))).IsCompletedSuccessfully);

        Assert.True(paused.Resume());
        var events = ReadAll(store).Cast<WalletCharged>().ToList();
        Assert.Equal([users[0], users[1], users[2]], events.Select(e => e.UserId));
        Assert.Equal([1L, 2L, 3L], events.Select(e => e.Position.Sequence));
        Assert.All(events, e => Assert.Equal(stripe, e.Position.Stripe));
    }

    [Fact]
    public void Reads_prefetch_no_stripe_until_a_commit_publishes_an_event()
    {
        using var quiet = InMemoryShop.Create(options => options.PublishEvents = false);
        Assert.True(Sync.Run(quiet.Wallets.ChargeAsync(new UserId(1), new Money(100))).IsSuccess);
        Assert.Null(quiet.InMemoryStore().Events.PrefetchCellOf(new UserId(1)));

        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        Assert.Null(store.Events.PrefetchCellOf(new UserId(1)));
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(new UserId(1), new Money(100))).IsSuccess);
        Assert.Same(store.Events.CellOf(EventStream.ForUser(new UserId(1)).StripeOf(store.Events.StripeCount)), store.Events.PrefetchCellOf(new UserId(1)));
    }

    [Fact]
    public void A_read_that_prefetches_a_stripe_where_a_commit_is_parked_neither_fails_nor_helps_it()
    {
        var (users, stripe) = UsersSharingAStripe(3);
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(users[0], new Money(100))).IsSuccess); // a commit published: reads prefetch stripes from now on
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(users[2], new Money(3))).IsSuccess);
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(new ProductId(1), "Product 1", new Money(10), 5)).IsSuccess);
        var cell = store.Events.CellOf(stripe);

        using var paused = ParkChargeIn(cell, shop, users[1]);
        Assert.Same(paused.Descriptor, Volatile.Read(ref cell.Content));

        // An order of another user on that stripe reads the user's wallet with the stock in one batch, which
        // prefetches the stripe's cell and what it holds (here, the parked commit's descriptor). A hint only:
        // the order is refused (its buyer's balance is short) as it would be anyway, and the parked commit is
        // still undecided and still in the cell.
        Assert.Equal(CommerceErrorCode.InsufficientBalance, Sync.Run(shop.OrderAsync(users[2].Value, (1, 1))).Error?.Code);
        var prefetched = store.Events.PrefetchCellOf(users[2]);
        Assert.Same(cell, prefetched); // the cell the user's commits swap
        store.Events.PrefetchState(prefetched, users[2]);
        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);
        Assert.Same(paused.Descriptor, Volatile.Read(ref cell.Content));

        // A commit's prefetch of the stripe's log slot reads the cell's word, which the parked commit marked: nothing.
        Assert.True(Volatile.Read(ref cell.Word) < 0);
        var changes = new ChangeSet();
        changes.AddEvent(new WalletCharged(users[2], new Money(1), new Money(1), At));
        store.Events.PrefetchCopy(changes);
        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);
        Assert.Same(paused.Descriptor, Volatile.Read(ref cell.Content));

        Assert.True(paused.Resume());
        Assert.Equal([users[0], users[2], users[1]], ReadAll(store).OfType<WalletCharged>().Select(e => e.UserId));
    }

    [Fact]
    public void A_commit_whose_stripe_moved_on_after_it_read_it_is_retried_in_the_store_without_running_its_use_case_again()
    {
        // A single attempt: the use case cannot run again, so only the store's own retry can save the commit.
        var (users, stripe) = UsersSharingAStripe(2);
        using var shop = InMemoryShop.Create(o => o.MaxCommitAttempts = 1);
        var store = shop.InMemoryStore();
        var reads = 0;
        store.BeforeCas = () =>
        {
            // Once: another user on the same stripe commits (on its own thread, as a commit uses its thread's
            // scratch) between this commit's stripe read and its CAS.
            if (Interlocked.Increment(ref reads) == 1)
            {
                Assert.True(PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Wallets.ChargeAsync(users[1], new Money(5)))).IsSuccess);
            }
        };

        var charged = Sync.Run(shop.Wallets.ChargeAsync(users[0], new Money(7)));

        Assert.Equal(new Money(7), charged.Value);
        Assert.Equal(3, reads); // the first attempt, the interleaved charge, the retry
        var events = ReadAll(store).Cast<WalletCharged>().ToList();
        Assert.Equal([(users[1], 1L), (users[0], 2L)], events.Select(e => (e.UserId, e.Position.Sequence)));
        Assert.All(events, e => Assert.Equal(stripe, e.Position.Stripe));
    }

    [Fact]
    public void Commits_that_meet_only_on_a_stripe_never_conflict_even_with_a_single_attempt()
    {
        // Each thread charges its own users, so only the stripes are shared: a commit that fails because a
        // stripe moved on is retried in the store, and no use case runs out of its one attempt.
        using var shop = InMemoryShop.Create(o => o.MaxCommitAttempts = 1);
        const int threads = 4;
        const int charges = 1_500;
        RealThreads.RunTogether(threads, t =>
        {
            for (var i = 0; i < charges; i++)
            {
                var charged = RealThreads.Wait(shop.Wallets.ChargeAsync(new UserId((t * 100) + (i % 100)), new Money(1)));
                Assert.True(charged.IsSuccess, charged.ToString());
            }
        });

        var events = ReadAll(shop.InMemoryStore());
        Assert.Equal(threads * charges, events.Count);
        foreach (var stripe in events.GroupBy(e => e.Position.Stripe))
        {
            Assert.Equal(Enumerable.Range(1, stripe.Count()).Select(i => (long)i), stripe.Select(e => e.Position.Sequence).Order());
        }
    }

    [Fact]
    public async Task A_waiter_is_woken_when_a_reader_decides_a_commit_whose_thread_is_paused()
    {
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var user = new UserId(1);
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(user, new Money(100))).IsSuccess);
        var cursor = store.Events.Read(EventCursor.Start, 1000).Next;
        var cell = store.Events.CellOf(EventStream.ForUser(user).StripeOf(store.StripeCount));
        var waiting = store.WaitForEventsAsync(cursor).AsTask();
        Assert.False(waiting.IsCompleted);

        // The charge is parked after installing its descriptor in every cell (the stripe's last): undecided.
        using var paused = ParkChargeIn(cell, shop, user);
        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);

        // A reader meets the descriptor and decides the commit: whoever decides it wakes the waiter, so the
        // wait ends while the committing thread is still parked.
        Assert.Single(PausedCommit.CompletesOnAnotherThread(() => store.Events.Read(cursor, 1000)).Events);
        await waiting.WaitAsync(PausedCommit.Guard);
        Assert.Equal(CommitStatus.Succeeded, paused.Descriptor.Status);
        Assert.True(paused.Resume());
    }

    [Fact]
    public async Task Waits_ended_by_their_tokens_leave_nothing_on_the_signal_nor_keep_their_token_sources_alive()
    {
        // 100,000 waits on a quiet store, a thousand at a time, each ended by its own token: every wait shares the
        // one signal, so a wait that left its continuation or its registration behind would keep its token source
        // and its task alive for as long as the store waits for an event.
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        var tracked = new List<WeakReference>();
        for (var round = 0; round < 100; round++)
        {
            tracked.AddRange(await CancelledWaitsAsync(store, 1_000));
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal(0, tracked.Count(w => w.IsAlive));

        // The signal still wakes a new waiter.
        var waiting = store.WaitForEventsAsync(EventCursor.Start).AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(new UserId(1), new Money(1))).IsSuccess);
        await waiting.WaitAsync(PausedCommit.Guard);
    }

    /// <summary>
    /// Starts <paramref name="count"/> waits for events, each with a token source of its own, cancels them all, and
    /// checks that each ended with its token; returns weak references to every tenth source and wait.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<List<WeakReference>> CancelledWaitsAsync(InMemoryCommerceStore store, int count)
    {
        var sources = new CancellationTokenSource[count];
        var waits = new Task[count];
        for (var i = 0; i < count; i++)
        {
            sources[i] = new CancellationTokenSource();
            waits[i] = store.WaitForEventsAsync(EventCursor.Start, sources[i].Token).AsTask();
            Assert.False(waits[i].IsCompleted);
        }

        var tracked = new List<WeakReference>();
        for (var i = 0; i < count; i++)
        {
            await sources[i].CancelAsync();
            var ended = await Record.ExceptionAsync(() => waits[i].WaitAsync(PausedCommit.Guard));
            Assert.Equal(sources[i].Token, Assert.IsAssignableFrom<OperationCanceledException>(ended).CancellationToken);
            if (i % 10 == 0)
            {
                tracked.Add(new WeakReference(sources[i]));
                tracked.Add(new WeakReference(waits[i]));
            }
        }

        // The caller may go on inside this method's completion (on its stack): it keeps nothing of what it tracks.
        Array.Clear(sources);
        Array.Clear(waits);
        return tracked;
    }

    [Fact]
    public async Task A_consumer_that_waits_reads_and_purges_behind_concurrent_committers_sees_every_event_once()
    {
        // Real threads commit while a consumer waits for events, reads pages and purges what it read: no
        // wake-up is lost, no event is read twice or missed, and a purge never removes one still unread.
        using var shop = InMemoryShop.Create();
        var store = shop.InMemoryStore();
        const int threads = 2;
        const int charges = 1_500;
        var seen = new HashSet<EventPosition>();
        var consumer = Task.Run(async () =>
        {
            var cursor = EventCursor.Start;
            var pages = 0;
            while (seen.Count < threads * charges)
            {
                var page = await store.ReadEventsAsync(cursor, 50);
                if (page.Events.Count == 0)
                {
                    await store.WaitForEventsAsync(cursor);
                    continue;
                }

                foreach (var e in page.Events)
                {
                    Assert.True(seen.Add(e.Position), $"Event {e.Position} was read twice.");
                }

                cursor = page.Next;
                if (++pages % 7 == 0)
                {
                    await store.PurgeEventsAsync(DateTimeOffset.MaxValue, cursor);
                }
            }

            return cursor;
        });

        RealThreads.RunTogether(threads, t =>
        {
            for (var i = 0; i < charges; i++)
            {
                Assert.True(RealThreads.Wait(shop.Wallets.ChargeAsync(new UserId((t * 1_000) + (i % 50)), new Money(1))).IsSuccess);
            }
        });

        var last = await consumer.WaitAsync(PausedCommit.Guard);
        Assert.Equal(threads * charges, seen.Count);
        Assert.Equal(threads * charges, last.Stripes.Sum(p => p.Sequence));
        Assert.Empty(store.Events.Read(last, 1000).Events);
        Assert.True(Enumerable.Range(0, store.StripeCount).Sum(i => store.Events.LogOf(i).PurgedThrough) > 0, "The consumer purged nothing.");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Waits_started_while_the_store_is_disposed_on_another_thread_all_end_with_ObjectDisposedException(int round)
    {
        _ = round;
        const int Stores = 500;
        for (var i = 0; i < Stores; i++)
        {
            var store = new InMemoryCommerceStore();
            using var start = new Barrier(2);
            var disposer = new Thread(() =>
            {
                start.SignalAndWait();
                store.Dispose();
            }) { IsBackground = true };
            disposer.Start();
            start.SignalAndWait();
            var waiting = store.Events.WaitAsync(EventCursor.Start, CancellationToken.None).AsTask();
            disposer.Join();

            // A guard against a hang, not a timing assertion: a wait the closing thread missed would never end.
            var thrown = Assert.Throws<AggregateException>(() => waiting.Wait(TimeSpan.FromSeconds(30)));
            Assert.IsType<ObjectDisposedException>(thrown.InnerException);
            Assert.Throws<ObjectDisposedException>(() => store.WaitForEventsAsync(EventCursor.Start).AsTask().GetAwaiter().GetResult());
        }
    }
}
