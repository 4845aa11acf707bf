using Commerce.Events;
using Commerce.Storage;

namespace Commerce.Tests.Storage;

/// <summary>
/// The change set the core's unit of work hands a store: each rule of the port turned into the right
/// kind of change, checked against a session that only records what it is asked.
/// </summary>
public sealed class UnitOfWorkTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 30, TimeSpan.Zero);
    private static readonly Product Widget = new(new ProductId(1), "Widget", new Money(5));
    private static readonly Wallet Rich = new(new UserId(7), new Money(100));

    [Fact]
    public async Task Reads_become_checks_except_present_write_once_states()
    {
        var session = new RecordingSession((StoreKey.ForProduct(Widget.Id), Widget), (StoreKey.ForWallet(Rich.UserId), Rich));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        _ = await unitOfWork.Products.FindAsync(Widget.Id);
        _ = await unitOfWork.Products.FindAsync(new ProductId(2));
        _ = await unitOfWork.Wallets.FindAsync(Rich.UserId);
        Assert.True(await unitOfWork.CommitAsync());

        Assert.Equal(
            [ChangeKind.Stable, ChangeKind.Read, ChangeKind.Read],
            session.Committed!.Select(c => c.Kind));
        Assert.False(session.CommittedWrites);
    }

    [Fact]
    public async Task A_write_is_an_update_over_a_present_read_and_an_insert_otherwise()
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), Rich));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        _ = await unitOfWork.Wallets.FindAsync(Rich.UserId);
        unitOfWork.Wallets.Save(Rich with { });
        _ = await unitOfWork.Carts.FindAsync(Rich.UserId);
        unitOfWork.Carts.Save(Cart.Empty(Rich.UserId));
        unitOfWork.Inventory.Save(new StockItem(Widget.Id, 3));
        Assert.True(await unitOfWork.CommitAsync());

        var changes = session.Committed!;
        Assert.Equal([ChangeKind.Update, ChangeKind.Insert, ChangeKind.Insert], changes.Select(c => c.Kind));
        Assert.Equal([true, true, false], changes.Select(c => c.WasRead));
        Assert.Same(Rich, changes[0].Seen.State);
    }

    [Fact]
    public async Task A_stock_read_as_its_quantity_is_a_stock_item_to_a_caller_that_asks_and_a_number_to_an_order()
    {
        var handle = new object();
        var session = new RecordingSession((StoreKey.ForStock(Widget.Id), StoredState.OfQuantity(4, 9, handle)));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        Assert.Equal(4, await ((UnitOfWork)unitOfWork).FindOnHandAsync(Widget.Id, default)); // read by this call
        var item = await unitOfWork.Inventory.FindAsync(Widget.Id);
        Assert.Equal(new StockItem(Widget.Id, 4), item);
        Assert.Equal(item, await unitOfWork.Inventory.FindAsync(Widget.Id)); // repeated reads agree
        Assert.Null(await ((UnitOfWork)unitOfWork).FindOnHandAsync(new ProductId(2), default)); // none
        unitOfWork.Inventory.Save(new StockItem(Widget.Id, 3));
        Assert.Equal(3, await ((UnitOfWork)unitOfWork).FindOnHandAsync(Widget.Id, default)); // the state staged
        Assert.True(await unitOfWork.CommitAsync());

        // Saved over the quantity read: an update that hands the store its read back, as it gave it.
        var change = session.Committed!.Single(c => c.Key == StoreKey.ForStock(Widget.Id));
        Assert.Equal(ChangeKind.Update, change.Kind);
        Assert.True(change.Seen.IsQuantity);
        Assert.Equal((4, 9L), (change.Seen.OnHand, change.Seen.Version));
        Assert.Same(handle, change.Seen.Handle);
        Assert.Equal(new StockItem(Widget.Id, 3), change.State);
    }

    [Fact]
    public async Task A_stock_adjusted_in_a_unit_of_work_cannot_be_read_as_a_number_either()
    {
        var session = new RecordingSession((StoreKey.ForStock(Widget.Id), StoredState.OfQuantity(4)));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        Assert.Equal(4, await ((UnitOfWork)unitOfWork).FindOnHandAsync(Widget.Id, default));
        unitOfWork.Inventory.Adjust(Widget.Id, -1, 0);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ((UnitOfWork)unitOfWork).FindOnHandAsync(Widget.Id, default).AsTask());
        Assert.Equal("A key adjusted in a unit of work cannot be read in it.", error.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => unitOfWork.Inventory.FindAsync(Widget.Id).AsTask());
    }

    [Fact]
    public void A_quantity_read_is_marked_as_one_and_no_other_read_is()
    {
        var read = StoredState.OfQuantity(0, 3, "slot");
        Assert.True(read.IsQuantity);
        Assert.Equal((0, 3L, "slot"), (read.OnHand, read.Version, read.Handle));
        Assert.True((read with { Version = 4 }).IsQuantity);
        Assert.NotNull(read.State); // a marker: present, and no aggregate
        Assert.IsNotType<StockItem>(read.State);
        Assert.Equal(read, StoredState.OfQuantity(0, 3, "slot"));
        Assert.NotEqual(read, StoredState.OfQuantity(1, 3, "slot"));

        Assert.False(StoredState.Absent.IsQuantity);
        Assert.False(new StoredState(new StockItem(Widget.Id, 2)).IsQuantity);
        Assert.Equal(0, new StoredState(new StockItem(Widget.Id, 2)).OnHand);
        Assert.Throws<ArgumentOutOfRangeException>(() => StoredState.OfQuantity(-1));
    }

    [Fact]
    public async Task Writing_over_a_present_write_once_state_fails_the_commit_without_asking_the_store()
    {
        var session = new RecordingSession((StoreKey.ForProduct(Widget.Id), Widget));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        _ = await unitOfWork.Products.FindAsync(Widget.Id);
        unitOfWork.Products.Add(new Product(Widget.Id, "Gadget", new Money(1)));

        Assert.False(await unitOfWork.CommitAsync());
        Assert.Null(session.Committed);
    }

    [Fact]
    public async Task Adding_a_key_twice_fails_the_commit_instead_of_keeping_only_the_second()
    {
        var (_, _, entry) = ChargeOf25(At);
        var order = new Order(new OrderId(Guid.CreateVersion7(At)), Rich.UserId, [new OrderLine(Widget.Id, 3, Widget.Price)], At);
        foreach (var add in new Action<IUnitOfWork>[]
        {
            u => u.Products.Add(new Product(Widget.Id, "Gadget", new Money(1))),
            u => u.Orders.Add(order with { }),
            u => u.Ledger.Add(entry with { Amount = new Money(1) }),
        })
        {
            var session = new RecordingSession();
            await using var unitOfWork = await new RecordingStore(session).BeginAsync();
            unitOfWork.Products.Add(Widget);
            unitOfWork.Orders.Add(order);
            unitOfWork.Ledger.Add(entry);

            add(unitOfWork);

            Assert.False(await unitOfWork.CommitAsync());
            Assert.Null(session.Committed);
        }
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    public async Task A_ledger_entry_numbered_below_one_is_refused_and_stages_nothing(long sequence)
    {
        var (_, _, entry) = ChargeOf25(At);
        var session = new RecordingSession();
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        Assert.Throws<ArgumentOutOfRangeException>(() => unitOfWork.Ledger.Add(entry with { Sequence = sequence }));

        Assert.Equal(0, ((UnitOfWork)unitOfWork).Changes.Count);
    }

    [Fact]
    public async Task A_listing_the_store_failed_midway_leaves_nothing_behind_for_the_next_one()
    {
        var session = new RecordingSession((StoreKey.ForProduct(Widget.Id), Widget)) { FailListingOnce = true };
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        await Assert.ThrowsAsync<StoreUnavailableException>(async () => await unitOfWork.Products.ListAsync(null, 10));
        var page = await unitOfWork.Products.ListAsync(null, 10);

        Assert.Equal([Widget], page);
        Assert.True(await unitOfWork.CommitAsync());
        Assert.Equal([StoreKey.ForProduct(Widget.Id)], session.Committed!.Select(c => c.Key));
    }

    [Fact]
    public async Task A_read_the_store_failed_midway_leaves_nothing_behind_for_the_next_one()
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), Rich)) { FailReadOnce = true, AlongsideEachRead = (StoreKey.ForProduct(Widget.Id), Widget) };
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        await Assert.ThrowsAsync<StoreUnavailableException>(async () => await unitOfWork.Wallets.FindAsync(Rich.UserId));
        Assert.Same(Rich, await unitOfWork.Wallets.FindAsync(Rich.UserId));

        Assert.True(await unitOfWork.CommitAsync());
        Assert.Equal([StoreKey.ForWallet(Rich.UserId), StoreKey.ForProduct(Widget.Id)], session.Committed!.Select(c => c.Key));
    }

    [Fact]
    public async Task Prefetched_keys_are_read_in_one_call_and_then_served_from_memory()
    {
        var session = new RecordingSession((StoreKey.ForProduct(Widget.Id), Widget), (StoreKey.ForWallet(Rich.UserId), Rich));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        unitOfWork.Prefetch(StoreKey.ForWallet(Rich.UserId));
        unitOfWork.Prefetch(StoreKey.ForProduct(Widget.Id));
        unitOfWork.Prefetch(StoreKey.ForStock(Widget.Id));
        unitOfWork.Prefetch(StoreKey.ForProduct(Widget.Id));
        await unitOfWork.LoadAsync();
        Assert.Same(Widget, await unitOfWork.Products.FindAsync(Widget.Id));
        Assert.Same(Rich, await unitOfWork.Wallets.FindAsync(Rich.UserId));
        Assert.Null(await unitOfWork.Inventory.FindAsync(Widget.Id));

        Assert.Equal([3], session.BatchSizes);
        Assert.Throws<ArgumentException>(() => unitOfWork.Prefetch(StoreKey.ForSales(0, Widget.Id)));
    }

    [Fact]
    public async Task Recorded_sales_are_adjustments_per_bucket_and_product_that_add_up()
    {
        var session = new RecordingSession();
        await using var unitOfWork = await new RecordingStore(session).BeginAsync(new CommerceOptions { RankingResolution = TimeSpan.FromMinutes(1) });

        unitOfWork.Sales.Record(new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 2, Widget.Price)], At));
        unitOfWork.Sales.Record(new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 3, Widget.Price)], At.AddSeconds(10)));
        Assert.True(await unitOfWork.CommitAsync());

        var bucket = (At - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMinute;
        var change = Assert.Single(session.Committed!);
        Assert.Equal((ChangeKind.Adjust, StoreKey.ForSales(bucket, Widget.Id), 5L, 0L), (change.Kind, change.Key, change.Delta, change.Minimum));
    }

    [Fact]
    public async Task Discarding_writes_keeps_the_reads_and_drops_blind_writes()
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), Rich));
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;

        _ = await unitOfWork.Wallets.FindAsync(Rich.UserId);
        ((IWalletRepository)unitOfWork).Save(Rich with { });
        ((IInventoryRepository)unitOfWork).Save(new StockItem(Widget.Id, 3));
        unitOfWork.DiscardWrites();
        Assert.True(await unitOfWork.CommitAsync());

        var change = Assert.Single(session.Committed!);
        Assert.Equal((ChangeKind.Read, StoreKey.ForWallet(Rich.UserId)), (change.Kind, change.Key));
        Assert.False(session.CommittedWrites);
    }

    [Fact]
    public async Task An_order_placed_is_handed_to_the_store_as_its_order_and_read_as_the_event()
    {
        var session = new RecordingSession();
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;
        var order = new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 2, Widget.Price)], At.ToOffset(TimeSpan.FromHours(2)));
        var depleted = new StockDepleted(Widget.Id, order.Id, At);

        unitOfWork.Orders.Add(order);
        unitOfWork.PublishOrderPlaced(order);
        unitOfWork.Publish(depleted);
        Assert.True(await unitOfWork.CommitAsync());

        var (placed, stream, read) = session.Events![0];
        Assert.Same(order, placed); // no event object until a store reads one
        Assert.Equal(EventStream.ForUser(order.UserId), stream);
        var expected = new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, order.PlacedAt);
        Assert.Equal(expected, read);
        Assert.Same(order.Lines, ((OrderPlaced)read).Lines);
        Assert.Equal(order.PlacedAt.Offset, read.At.Offset);

        Assert.Equal((null, depleted.Stream, depleted), session.Events[1]);
        Assert.Same(depleted, session.Events[1].Read); // any other event is handed over as published
    }

    [Fact]
    public async Task An_order_placed_is_published_with_its_insert_staged_among_other_changes()
    {
        var session = new RecordingSession();
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;
        var order = new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 2, Widget.Price)], At);

        unitOfWork.Wallets.Save(Rich);
        unitOfWork.Orders.Add(order);
        unitOfWork.Inventory.Adjust(Widget.Id, -2);
        unitOfWork.Sales.Record(order);
        unitOfWork.PublishOrderPlaced(order);
        Assert.True(await unitOfWork.CommitAsync());

        Assert.Same(order, Assert.Single(session.Events!).Placed);
    }

    [Fact]
    public async Task An_order_placed_published_as_an_event_stays_that_event()
    {
        var session = new RecordingSession();
        await using var store = await new RecordingStore(session).BeginAsync();
        var order = new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 2, Widget.Price)], At);
        var published = new OrderPlaced(order.Id, order.UserId, order.Lines, order.Total, order.PlacedAt);

        store.Orders.Add(order);
        store.Publish(published);
        Assert.True(await store.CommitAsync());

        Assert.Equal((null, published.Stream, published), Assert.Single(session.Events!));
        Assert.Same(published, session.Events![0].Read);
    }

    [Fact]
    public async Task An_order_placed_is_published_only_with_its_order_inserted_by_the_same_unit_of_work()
    {
        var order = new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 2, Widget.Price)], At);
        var session = new RecordingSession((StoreKey.ForOrder(order.Id), order));
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;

        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderPlaced(order)); // not inserted
        unitOfWork.Orders.Add(order with { });
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderPlaced(order)); // another instance inserted
        _ = await unitOfWork.Wallets.FindAsync(Rich.UserId);
        Assert.True(await unitOfWork.CommitAsync());
        Assert.Empty(session.Events!);
    }

    [Fact]
    public async Task An_order_cancelled_is_handed_to_the_store_as_the_cancelled_order_and_read_as_the_event()
    {
        var order = new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 2, Widget.Price)], At);
        var session = new RecordingSession((StoreKey.ForOrder(order.Id), order));
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;
        ChangeSet? changes = null;
        session.OnCommit = c => changes = c;

        var read = (await unitOfWork.Orders.FindAsync(order.Id))!;
        var cancelled = read.Cancel(At.AddHours(1).ToOffset(TimeSpan.FromHours(-3))).Value;
        unitOfWork.Orders.Save(cancelled);
        unitOfWork.PublishOrderCancelled(cancelled);
        Assert.True(await unitOfWork.CommitAsync());

        Assert.True(changes!.TryGetCancelledOrder(0, out var handed));
        Assert.Same(cancelled, handed); // no event object until a store reads one
        Assert.False(changes.TryGetPlacedOrder(0, out _));
        Assert.False(changes.TryGetChargeEntry(0, out _));
        Assert.Equal(EventStream.ForUser(order.UserId), changes.EventStreamOf(0));
        var @event = changes.Events[0];
        Assert.Equal(new OrderCancelled(order.Id, order.UserId, order.Lines, order.Total, At.AddHours(1)), @event);
        Assert.Same(cancelled.Lines, ((OrderCancelled)@event).Lines);
        Assert.Equal(TimeSpan.FromHours(-3), @event.At.Offset);
    }

    [Fact]
    public async Task An_order_cancelled_is_published_only_with_the_cancelled_order_saved_by_the_same_unit_of_work()
    {
        var order = new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 2, Widget.Price)], At);
        var session = new RecordingSession((StoreKey.ForOrder(order.Id), order));
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;
        var cancelled = order.Cancel(At).Value;

        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderCancelled(cancelled)); // not saved
        _ = await unitOfWork.Orders.FindAsync(order.Id);
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderCancelled(cancelled)); // read, not saved
        unitOfWork.Orders.Save(cancelled with { });
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderCancelled(cancelled)); // another instance saved
        var standing = order with { };
        unitOfWork.Orders.Save(standing);
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderCancelled(standing)); // saved, not cancelled
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderPlaced(standing)); // saved, not inserted

        var placed = new Order(OrderId.New(At), Rich.UserId, order.Lines, At, At);
        unitOfWork.Orders.Add(placed);
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishOrderPlaced(placed)); // inserted, but cancelled
        ChangeSet? changes = null;
        session.OnCommit = c => changes = c;
        Assert.True(await unitOfWork.CommitAsync());
        Assert.Empty(changes!.Events);
        Assert.Throws<ArgumentOutOfRangeException>(() => changes.TryGetCancelledOrder(0, out _));
    }

    [Fact]
    public async Task A_charge_is_handed_to_the_store_as_its_ledger_entry_and_read_as_the_event()
    {
        var session = new RecordingSession();
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;
        var (_, after, entry) = ChargeOf25(At.ToOffset(TimeSpan.FromHours(-5)));
        ChangeSet? changes = null;
        session.OnCommit = c => changes = c;

        unitOfWork.Wallets.Save(after);
        unitOfWork.Ledger.Add(entry);
        unitOfWork.PublishWalletCharged(entry);
        Assert.True(await unitOfWork.CommitAsync());

        Assert.True(changes!.TryGetChargeEntry(0, out var handed));
        Assert.Same(entry, handed); // no event object until a store reads one
        Assert.False(changes.TryGetPlacedOrder(0, out _));
        Assert.Equal(EventStream.ForUser(Rich.UserId), changes.EventStreamOf(0));
        var read = changes.Events[0];
        Assert.Equal(new WalletCharged(Rich.UserId, new Money(25), new Money(35), entry.At), read);
        Assert.Equal(TimeSpan.FromHours(-5), read.At.Offset);
    }

    [Fact]
    public async Task A_charge_is_published_only_with_its_charge_entry_inserted_by_the_same_unit_of_work()
    {
        var session = new RecordingSession();
        await using var store = await new RecordingStore(session).BeginAsync();
        var unitOfWork = (UnitOfWork)store;
        var (before, after, entry) = ChargeOf25(At);

        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishWalletCharged(entry)); // not inserted
        unitOfWork.Ledger.Add(entry with { });
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishWalletCharged(entry)); // another instance inserted
        var payment = after.EntryTo(before, LedgerEntryKind.Payment, null, At) with { Sequence = 5 };
        unitOfWork.Ledger.Add(payment);
        Assert.Throws<InvalidOperationException>(() => unitOfWork.PublishWalletCharged(payment)); // not a charge
        ChangeSet? changes = null;
        session.OnCommit = c => changes = c;
        unitOfWork.Wallets.Save(after);
        Assert.True(await unitOfWork.CommitAsync());
        Assert.Empty(changes!.Events);
        Assert.Throws<ArgumentOutOfRangeException>(() => changes.TryGetChargeEntry(0, out _));
    }

    [Fact]
    public async Task A_change_set_refuses_an_event_index_out_of_range()
    {
        var session = new RecordingSession();
        await using var store = await new RecordingStore(session).BeginAsync();
        store.Wallets.Save(Rich);
        ChangeSet? changes = null;
        session.OnCommit = c => changes = c;
        Assert.True(await store.CommitAsync());

        Assert.Throws<ArgumentOutOfRangeException>(() => changes!.TryGetPlacedOrder(0, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => changes!.EventStreamOf(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => changes!.Events[0]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_payment_is_staged_as_its_order_only_for_a_store_that_keeps_payments_so(bool keepsPaymentsAsOrders)
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), Rich));
        ICommerceStore store = keepsPaymentsAsOrders ? new PaymentsAsOrdersStore(session) : new RecordingStore(session);
        await using var unitOfWork = await store.BeginAsync();
        var order = new Order(new OrderId(Guid.CreateVersion7(At)), Rich.UserId, [new OrderLine(Widget.Id, 3, Widget.Price)], At);
        var before = (await unitOfWork.Wallets.FindAsync(Rich.UserId))!;
        var after = before.Debit(order.Total).Value;
        unitOfWork.Wallets.Save(after);
        UnitOfWork.AddPayment(unitOfWork, before, after, order);
        unitOfWork.Orders.Add(order);

        // Read back in the same unit of work, it is the entry either way.
        var expected = before.EntryTo(after, LedgerEntryKind.Payment, order.Id, At);
        Assert.Equal(expected, await unitOfWork.Ledger.FindAsync(Rich.UserId, after.LedgerLength));
        Assert.True(await unitOfWork.CommitAsync());

        var payment = Assert.Single(session.Committed!, c => c.Key.Table == StoreTable.Ledger);
        Assert.Equal((ChangeKind.Insert, StoreKey.ForLedger(Rich.UserId, after.LedgerLength)), (payment.Kind, payment.Key));
        if (keepsPaymentsAsOrders)
        {
            Assert.Same(order, payment.State);
        }
        else
        {
            Assert.Equal(expected, payment.State);
        }
    }

    [Fact]
    public async Task A_wallet_read_as_its_numbers_is_a_wallet_to_a_caller_that_asks_and_numbers_to_an_order()
    {
        var handle = new object();
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), StoredState.OfBalance(new Money(100), 4, 9, handle)));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        Assert.Equal(new WalletNumbers(new Money(100), 4), await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Rich.UserId, default)); // read by this call
        var wallet = await unitOfWork.Wallets.FindAsync(Rich.UserId);
        Assert.Equal(new Wallet(Rich.UserId, new Money(100), 4), wallet);
        Assert.Null(await UnitOfWork.FindWalletNumbersAsync(unitOfWork, new UserId(8), default)); // never charged
        unitOfWork.Wallets.Save(new Wallet(Rich.UserId, new Money(90), 5));
        Assert.Equal(new WalletNumbers(new Money(90), 5), await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Rich.UserId, default)); // the state staged
        Assert.True(await unitOfWork.CommitAsync());

        // Saved over the numbers read: an update that hands the store its read back, as it gave it.
        var change = session.Committed!.Single(c => c.Key == StoreKey.ForWallet(Rich.UserId));
        Assert.Equal(ChangeKind.Update, change.Kind);
        Assert.True(change.Seen.IsBalance);
        Assert.Equal((new Money(100), 4L, 9L), (change.Seen.Balance, change.Seen.LedgerLength, change.Seen.Version));
        Assert.Same(handle, change.Seen.Handle);
    }

    [Fact]
    public void A_balance_read_is_marked_as_one_and_no_other_read_is()
    {
        var read = StoredState.OfBalance(new Money(12), 3, 5, "slot");
        Assert.True(read.IsBalance);
        Assert.False(read.IsQuantity);
        Assert.Equal((new Money(12), 3L, 5L, "slot", 0), (read.Balance, read.LedgerLength, read.Version, read.Handle, read.OnHand));
        Assert.NotNull(read.State); // a marker: present, and no aggregate
        Assert.IsNotType<Wallet>(read.State);
        Assert.Equal(read, StoredState.OfBalance(new Money(12), 3, 5, "slot"));
        Assert.NotEqual(read, StoredState.OfBalance(new Money(13), 3, 5, "slot"));
        Assert.NotEqual(read, StoredState.OfBalance(new Money(12), 4, 5, "slot"));
        Assert.NotEqual(StoredState.OfQuantity(12, 5, "slot"), read);

        Assert.False(StoredState.OfQuantity(12).IsBalance);
        Assert.Equal((Money.Zero, 0L), (StoredState.OfQuantity(12).Balance, StoredState.OfQuantity(12).LedgerLength));
        Assert.Equal(Money.Zero, new StoredState(Rich).Balance);
        Assert.Throws<ArgumentOutOfRangeException>(() => StoredState.OfBalance(new Money(-1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => StoredState.OfBalance(Money.Zero, -1));
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task A_payment_over_a_wallet_read_as_numbers_is_an_adjustment_only_for_a_store_that_keeps_payments_as_orders(bool numbers, bool keepsPaymentsAsOrders)
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), numbers ? StoredState.OfBalance(Rich.Balance, 4, 0, "handle") : new Wallet(Rich.UserId, Rich.Balance, 4)));
        ICommerceStore store = keepsPaymentsAsOrders ? new PaymentsAsOrdersStore(session) : new RecordingStore(session);
        await using var unitOfWork = await store.BeginAsync();
        var order = new Order(new OrderId(Guid.CreateVersion7(At)), Rich.UserId, [new OrderLine(Widget.Id, 3, Widget.Price)], At);
        var before = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Rich.UserId, default);
        UnitOfWork.Pay(unitOfWork, before, order);
        unitOfWork.Orders.Add(order);

        // Read back in the same unit of work, the payment is the entry numbered after the ledger read, either way.
        var entry = new LedgerEntry(5, Rich.UserId, LedgerEntryKind.Payment, order.Total, new Money(85), order.Id, At);
        Assert.Equal(entry, await unitOfWork.Ledger.FindAsync(Rich.UserId, 5));
        Assert.True(await unitOfWork.CommitAsync());

        var wallet = session.Committed!.Single(c => c.Key == StoreKey.ForWallet(Rich.UserId));
        var payment = session.Committed!.Single(c => c.Key.Table == StoreTable.Ledger);
        Assert.Equal((ChangeKind.Insert, StoreKey.ForLedger(Rich.UserId, 5)), (payment.Kind, payment.Key));
        if (numbers && keepsPaymentsAsOrders)
        {
            // No wallet made: the balance taken (at least zero left), with the read the store checks the ledger's length against.
            Assert.Equal((ChangeKind.Adjust, -15L, 0L, true), (wallet.Kind, wallet.Delta, wallet.Minimum, wallet.WasRead));
            Assert.Equal(StoredState.OfBalance(Rich.Balance, 4, 0, "handle"), wallet.Seen);
            Assert.Null(wallet.State);
            Assert.Same(order, payment.State);
        }
        else
        {
            Assert.Equal((ChangeKind.Update, new Wallet(Rich.UserId, new Money(85), 5)), (wallet.Kind, wallet.State));
            Assert.Equal(keepsPaymentsAsOrders ? order : entry, payment.State);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_charge_over_a_wallet_read_as_numbers_is_an_adjustment_with_its_entry_and_otherwise_a_wallet(bool numbers)
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), numbers ? StoredState.OfBalance(Rich.Balance, 4, 0, "handle") : new Wallet(Rich.UserId, Rich.Balance, 4)));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();
        var before = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Rich.UserId, default);

        var entry = UnitOfWork.Credit(unitOfWork, Rich.UserId, before, new Money(25), LedgerEntryKind.Charge, null, At);
        Assert.Equal(new LedgerEntry(5, Rich.UserId, LedgerEntryKind.Charge, new Money(25), new Money(125), null, At), entry);
        Assert.True(await unitOfWork.CommitAsync());

        var wallet = session.Committed!.Single(c => c.Key == StoreKey.ForWallet(Rich.UserId));
        Assert.Same(entry, session.Committed!.Single(c => c.Key == StoreKey.ForLedger(Rich.UserId, 5)).State);
        if (numbers)
        {
            Assert.Equal((ChangeKind.Adjust, 25L, 0L, true), (wallet.Kind, wallet.Delta, wallet.Minimum, wallet.WasRead));
            Assert.Null(wallet.State);
        }
        else
        {
            Assert.Equal((ChangeKind.Update, new Wallet(Rich.UserId, new Money(125), 5)), (wallet.Kind, wallet.State));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_refund_over_a_wallet_read_as_numbers_is_an_adjustment_with_its_entry_naming_the_order_and_otherwise_a_wallet(bool numbers)
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), numbers ? StoredState.OfBalance(Rich.Balance, 4, 0, "handle") : new Wallet(Rich.UserId, Rich.Balance, 4)));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();
        var before = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Rich.UserId, default);
        var orderId = new OrderId(Guid.CreateVersion7(At));

        var entry = UnitOfWork.Credit(unitOfWork, Rich.UserId, before, new Money(30), LedgerEntryKind.Refund, orderId, At);
        Assert.Equal(new LedgerEntry(5, Rich.UserId, LedgerEntryKind.Refund, new Money(30), new Money(130), orderId, At), entry);
        Assert.True(await unitOfWork.CommitAsync());

        var wallet = session.Committed!.Single(c => c.Key == StoreKey.ForWallet(Rich.UserId));
        Assert.Same(entry, session.Committed!.Single(c => c.Key == StoreKey.ForLedger(Rich.UserId, 5)).State);
        Assert.Equal(
            numbers ? (ChangeKind.Adjust, 30L, (object?)null) : (ChangeKind.Update, 0L, new Wallet(Rich.UserId, new Money(130), 5)),
            (wallet.Kind, wallet.Delta, wallet.State));
    }

    [Fact]
    public async Task A_first_charge_is_a_wallet_inserted_with_its_first_entry()
    {
        var session = new RecordingSession();
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();
        var before = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Rich.UserId, default);

        var entry = UnitOfWork.Credit(unitOfWork, Rich.UserId, before, new Money(25), LedgerEntryKind.Charge, null, At);
        Assert.True(await unitOfWork.CommitAsync());

        Assert.Null(before);
        Assert.Equal((1L, new Money(25)), (entry.Sequence, entry.BalanceAfter));
        var wallet = session.Committed!.Single(c => c.Key == StoreKey.ForWallet(Rich.UserId));
        Assert.Equal((ChangeKind.Insert, new Wallet(Rich.UserId, new Money(25), 1)), (wallet.Kind, wallet.State));
    }

    [Fact]
    public async Task A_payment_of_more_than_the_wallet_read_is_refused_with_nothing_staged()
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), StoredState.OfBalance(new Money(10), 4, 0, "handle")));
        await using var unitOfWork = await new PaymentsAsOrdersStore(session).BeginAsync();
        var order = new Order(new OrderId(Guid.CreateVersion7(At)), Rich.UserId, [new OrderLine(Widget.Id, 3, Widget.Price)], At);
        var before = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Rich.UserId, default);

        Assert.Throws<InvalidOperationException>(() => UnitOfWork.Pay(unitOfWork, before, order));
        Assert.True(await unitOfWork.CommitAsync());
        Assert.Equal([ChangeKind.Read], session.Committed!.Select(c => c.Kind));
    }

    [Fact]
    public async Task A_payment_staged_as_its_order_is_not_read_after_the_commit()
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), Rich));
        await using var unitOfWork = await new PaymentsAsOrdersStore(session).BeginAsync();
        var order = new Order(new OrderId(Guid.CreateVersion7(At)), Rich.UserId, [new OrderLine(Widget.Id, 3, Widget.Price)], At);
        var before = (await unitOfWork.Wallets.FindAsync(Rich.UserId))!;
        var after = before.Debit(order.Total).Value;
        unitOfWork.Wallets.Save(after);
        UnitOfWork.AddPayment(unitOfWork, before, after, order);
        Assert.True(await unitOfWork.CommitAsync());

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await unitOfWork.Ledger.FindAsync(Rich.UserId, after.LedgerLength));
        await unitOfWork.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await unitOfWork.Ledger.FindAsync(Rich.UserId, after.LedgerLength));
    }

    [Fact]
    public async Task Saving_an_order_after_the_commit_is_refused_as_a_use_after_the_commit()
    {
        var session = new RecordingSession();
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();
        Assert.True(await unitOfWork.CommitAsync());

        var order = new Order(new OrderId(Guid.CreateVersion7(At)), Rich.UserId, [new OrderLine(Widget.Id, 3, Widget.Price)], At);
        Assert.Throws<ObjectDisposedException>(() => unitOfWork.Orders.Save(order));
    }

    [Fact]
    public async Task Mixing_whole_writes_adjustments_and_reads_of_one_key_is_refused_and_the_commit_still_applies_the_rest()
    {
        var session = new RecordingSession((StoreKey.ForStock(Widget.Id), new StockItem(Widget.Id, 10)));
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        // An adjusted stock has no state to read or to replace: its value is known only at commit.
        unitOfWork.Inventory.Adjust(Widget.Id, -2);
        Assert.Contains("cannot be read", (await Assert.ThrowsAsync<InvalidOperationException>(async () => await unitOfWork.Inventory.FindAsync(Widget.Id))).Message, StringComparison.Ordinal);
        Assert.Contains("cannot also be written whole", Assert.Throws<InvalidOperationException>(() => unitOfWork.Inventory.Save(new StockItem(Widget.Id, 1))).Message, StringComparison.Ordinal);

        // A stock written whole cannot then be adjusted; a change of int.MinValue is out of range.
        var other = new ProductId(2);
        unitOfWork.Inventory.Save(new StockItem(other, 4));
        Assert.Contains("cannot also be adjusted", Assert.Throws<InvalidOperationException>(() => unitOfWork.Inventory.Adjust(other, 1)).Message, StringComparison.Ordinal);
        Assert.Equal("delta", Assert.Throws<ArgumentOutOfRangeException>(() => unitOfWork.Inventory.Adjust(new ProductId(3), int.MinValue)).ParamName);

        // An order not read is added, not saved.
        var order = new Order(OrderId.New(At), Rich.UserId, [new OrderLine(Widget.Id, 1, Widget.Price)], At);
        Assert.Contains("saved only after it was read", Assert.Throws<InvalidOperationException>(() => unitOfWork.Orders.Save(order)).Message, StringComparison.Ordinal);
        Assert.Null(await unitOfWork.Orders.FindAsync(order.Id));
        Assert.Contains("saved only after it was read", Assert.Throws<InvalidOperationException>(() => unitOfWork.Orders.Save(order)).Message, StringComparison.Ordinal);

        Assert.True(await unitOfWork.CommitAsync());
        Assert.Equal(
            [(StoreKey.ForStock(Widget.Id), ChangeKind.Adjust, -2L), (StoreKey.ForStock(other), ChangeKind.Insert, 0L), (StoreKey.ForOrder(order.Id), ChangeKind.Read, 0L)],
            session.Committed!.Select(c => (c.Key, c.Kind, c.Delta)));
    }

    [Fact]
    public async Task A_store_that_leaves_a_key_without_a_result_fails_the_read_naming_the_key()
    {
        var session = new RecordingSession((StoreKey.ForWallet(Rich.UserId), Rich)) { Unanswered = StoreKey.ForProduct(Widget.Id) };
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await unitOfWork.Products.FindAsync(Widget.Id));

        Assert.Equal($"The store returned no result for {StoreKey.ForProduct(Widget.Id)}.", error.Message);
        Assert.Same(Rich, await unitOfWork.Wallets.FindAsync(Rich.UserId)); // nothing of the failed read is kept
    }

    [Fact]
    public async Task Events_without_a_write_to_report_are_refused_at_commit()
    {
        var session = new RecordingSession();
        await using var unitOfWork = await new RecordingStore(session).BeginAsync();
        unitOfWork.Publish(new StockDepleted(Widget.Id, OrderId.New(At), At));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await unitOfWork.CommitAsync());

        Assert.Contains("stages none", error.Message, StringComparison.Ordinal);
        Assert.Null(session.Committed);
    }

    /// <summary>A charge of 25 to a wallet of 10 with three ledger entries: the wallet before and after, and the charge's entry.</summary>
    private static (Wallet Before, Wallet After, LedgerEntry Entry) ChargeOf25(DateTimeOffset at)
    {
        var before = new Wallet(Rich.UserId, new Money(10), 3);
        var after = new Wallet(Rich.UserId, new Money(35), 4);
        return (before, after, before.EntryTo(after, LedgerEntryKind.Charge, null, at));
    }

    /// <summary>A store whose one session answers reads from a fixed set of states and records each commit.</summary>
    private sealed class RecordingStore(RecordingSession session) : ICommerceStore
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => new(session);
    }

    /// <summary>The same, for a store that keeps an order's payment as the order (<see cref="IStoresPaymentsAsOrders"/>).</summary>
    private sealed class PaymentsAsOrdersStore(RecordingSession session) : ICommerceStore, IStoresPaymentsAsOrders
    {
        public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) => new(session);
    }

    private sealed class RecordingSession(params (StoreKey Key, object State)[] states) : IStoreSession
    {
        public List<int> BatchSizes { get; } = [];

        public Change[]? Committed { get; private set; }

        public bool CommittedWrites { get; private set; }

        /// <summary>Each event committed: the order it was handed over as (if so), its stream, and the event read.</summary>
        public List<(Order? Placed, EventStream Stream, CommerceEvent Read)>? Events { get; private set; }

        public Action<ChangeSet>? OnCommit { get; set; }

        /// <summary>Whether the next read sets its results and rows, then fails (as a store whose connection drops midway).</summary>
        public bool FailReadOnce { get; set; }

        /// <summary>A row each read adds alongside the keys asked for, if any.</summary>
        public (StoreKey Key, object State)? AlongsideEachRead { get; set; }

        /// <summary>A key the reads leave without a result (as a faulty store would), if any.</summary>
        public StoreKey? Unanswered { get; set; }

        public ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
        {
            BatchSizes.Add(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                var key = batch[i];
                if (key == Unanswered)
                {
                    continue;
                }

                var state = states.FirstOrDefault(s => s.Key == key).State;
                batch.SetResult(i, state as StoredState? ?? new StoredState(state)); // a read given whole, or a state
            }

            if (AlongsideEachRead is var (rowKey, rowState))
            {
                batch.Add(rowKey, new StoredState(rowState));
            }

            if (FailReadOnce)
            {
                FailReadOnce = false;
                return ValueTask.FromException(new StoreUnavailableException("The connection dropped."));
            }

            return ValueTask.CompletedTask;
        }

        /// <summary>Whether the next listing adds its rows, then fails (as a store whose connection drops midway).</summary>
        public bool FailListingOnce { get; set; }

        public ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default)
        {
            foreach (var (key, state) in states.Where(s => s.Key.Table == StoreTable.Products))
            {
                rows.Add(key, new StoredState(state));
            }

            if (FailListingOnce)
            {
                FailListingOnce = false;
                throw new StoreUnavailableException("The connection dropped.");
            }

            return ValueTask.FromResult(new ProductRange(after, long.MaxValue, rows.Added?.Count ?? 0));
        }

        public ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
        {
            Committed = changes.Changes.ToArray();
            CommittedWrites = changes.HasWrites;
            Events = [.. changes.Events.Select((e, i) => (changes.TryGetPlacedOrder(i, out var order) ? order : null, changes.EventStreamOf(i), changes.Events[i]))];
            OnCommit?.Invoke(changes);
            return ValueTask.FromResult(true);
        }

        public ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
