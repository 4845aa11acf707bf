using Commerce.Storage;

namespace Commerce.Conformance.Ports;

/// <summary>
/// The storage port's rules, checked on a store through the library's unit of work: what every store
/// must do with batch reads, ranges and change sets, whatever the services ask of it. A storage adapter's
/// test project derives a concrete class and says how to create a fresh, empty store.
/// </summary>
public abstract class StorePortConformanceTests
{
    /// <summary>The instant orders in these tests are placed at.</summary>
    protected static readonly DateTimeOffset At = new(2026, 11, 24, 12, 0, 30, TimeSpan.Zero);

    private static readonly Product Widget = new(new ProductId(1), "Widget", new Money(5));

    /// <summary>A fresh, empty store (the subclass cleans up what it creates).</summary>
    /// <returns>The store.</returns>
    protected abstract ICommerceStore CreateStore();

    [StoreFact]
    public async Task A_batch_read_returns_every_table_present_and_absent()
    {
        var store = CreateStore();
        var order = NewOrder(new UserId(7), 2);
        await CommitAsync(store, u =>
        {
            u.Wallets.Save(new Wallet(new UserId(7), new Money(100)));
            u.Products.Add(Widget);
            u.Inventory.Save(new StockItem(Widget.Id, 10));
            u.Carts.Save(new Cart(new UserId(7), [new CartLine(Widget.Id, 3)]));
            u.Orders.Add(order);
        });

        await using var unitOfWork = await store.BeginAsync();
        StoreKey[] keys =
        [
            StoreKey.ForWallet(new UserId(7)), StoreKey.ForWallet(new UserId(8)),
            StoreKey.ForProduct(Widget.Id), StoreKey.ForProduct(new ProductId(2)),
            StoreKey.ForStock(Widget.Id), StoreKey.ForStock(new ProductId(2)),
            StoreKey.ForCart(new UserId(7)), StoreKey.ForCart(new UserId(8)),
            StoreKey.ForOrder(order.Id), StoreKey.ForOrder(new OrderId(Guid.NewGuid())),
        ];
        foreach (var key in keys)
        {
            unitOfWork.Prefetch(key);
        }

        await unitOfWork.LoadAsync();

        Assert.Equal(new Money(100), (await unitOfWork.Wallets.FindAsync(new UserId(7)))!.Balance);
        Assert.Null(await unitOfWork.Wallets.FindAsync(new UserId(8)));
        Assert.Equal(Widget, await unitOfWork.Products.FindAsync(Widget.Id));
        Assert.Null(await unitOfWork.Products.FindAsync(new ProductId(2)));
        Assert.Equal(10, (await unitOfWork.Inventory.FindAsync(Widget.Id))!.OnHand);
        Assert.Null(await unitOfWork.Inventory.FindAsync(new ProductId(2)));
        Assert.Equal(3, (await unitOfWork.Carts.FindAsync(new UserId(7)))!.QuantityOf(Widget.Id));
        Assert.Null(await unitOfWork.Carts.FindAsync(new UserId(8)));
        Assert.Equal(order, await unitOfWork.Orders.FindAsync(order.Id));
        Assert.Null(await unitOfWork.Orders.FindAsync(new OrderId(Guid.NewGuid())));
        Assert.True(await unitOfWork.CommitAsync());
    }

    [StoreFact]
    public async Task A_session_refuses_a_null_batch_or_change_set_naming_it()
    {
        var store = CreateStore();
        await using var session = await store.OpenSessionAsync();
        Assert.Equal("batch", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await session.ReadAsync(null!))).ParamName);
        Assert.Equal("rows", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await session.ReadProductsAsync(null, 10, null!))).ParamName);
        Assert.Equal("rows", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await session.ReadTopSalesAsync(0, 1, 10, null!))).ParamName);
        Assert.Equal("changes", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await session.CommitAsync(null!))).ParamName);
        Assert.Equal("limit", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await session.ReadProductsAsync(null, 0, new ReadBatch()))).ParamName);
        Assert.Equal("count", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await session.ReadTopSalesAsync(0, 1, 0, new ReadBatch()))).ParamName);
    }

    [StoreFact]
    public async Task A_key_read_twice_gives_what_was_first_read_and_a_write_is_read_back()
    {
        var store = CreateStore();
        await ChargeAsync(store, 7, 100);

        await using var unitOfWork = await store.BeginAsync();
        var first = await unitOfWork.Wallets.FindAsync(new UserId(7));
        await ChargeAsync(store, 7, 50);
        Assert.Equal(first, await unitOfWork.Wallets.FindAsync(new UserId(7))); // the same value (a store that reads numbers makes it again)
        Assert.Equal(new Money(100), first!.Balance);

        var staged = new Wallet(new UserId(7), new Money(1));
        unitOfWork.Wallets.Save(staged);
        Assert.Same(staged, await unitOfWork.Wallets.FindAsync(new UserId(7)));

        // The wallet changed after it was read: the commit applies nothing.
        Assert.False(await unitOfWork.CommitAsync());
        Assert.Equal(new Money(150), await BalanceAsync(store, 7));
    }

    [StoreFact]
    public async Task A_write_to_a_key_not_read_is_an_insert_and_fails_over_an_existing_state()
    {
        var store = CreateStore();
        await ChargeAsync(store, 7, 100);

        await using (var blind = await store.BeginAsync())
        {
            blind.Wallets.Save(new Wallet(new UserId(7), new Money(1)));
            blind.Carts.Save(Cart.Empty(new UserId(7)));
            Assert.False(await blind.CommitAsync());
        }

        Assert.Equal(new Money(100), await BalanceAsync(store, 7));
        await using var check = await store.BeginAsync();
        Assert.Null(await check.Carts.FindAsync(new UserId(7)));
    }

    [StoreFact]
    public async Task Adding_a_product_over_one_read_present_fails_and_changes_nothing()
    {
        var store = CreateStore();
        await CommitAsync(store, u => u.Products.Add(Widget));

        await using (var unitOfWork = await store.BeginAsync())
        {
            Assert.Equal(Widget, await unitOfWork.Products.FindAsync(Widget.Id));
            unitOfWork.Products.Add(new Product(Widget.Id, "Gadget", new Money(9)));
            Assert.False(await unitOfWork.CommitAsync());
        }

        await using (var blind = await store.BeginAsync())
        {
            blind.Products.Add(new Product(Widget.Id, "Gadget", new Money(9)));
            Assert.False(await blind.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal(Widget, await check.Products.FindAsync(Widget.Id));
    }

    [StoreFact]
    public async Task Adding_an_order_over_one_read_present_fails_and_changes_nothing()
    {
        var store = CreateStore();
        var order = NewOrder(new UserId(7), 2);
        await CommitAsync(store, u =>
        {
            u.Products.Add(Widget);
            u.Orders.Add(order);
        });

        await using (var unitOfWork = await store.BeginAsync())
        {
            Assert.Equal(order, await unitOfWork.Orders.FindAsync(order.Id));
            unitOfWork.Orders.Add(new Order(order.Id, new UserId(8), [new OrderLine(Widget.Id, 9, new Money(1))], At));
            Assert.False(await unitOfWork.CommitAsync());
        }

        await using (var blind = await store.BeginAsync())
        {
            blind.Orders.Add(new Order(order.Id, new UserId(8), [new OrderLine(Widget.Id, 9, new Money(1))], At));
            Assert.False(await blind.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal(order, await check.Orders.FindAsync(order.Id));
    }

    [StoreFact]
    public async Task A_key_read_absent_that_appears_before_the_commit_fails_it()
    {
        var store = CreateStore();
        await using var unitOfWork = await store.BeginAsync();
        Assert.Null(await unitOfWork.Products.FindAsync(Widget.Id));
        unitOfWork.Wallets.Save(new Wallet(new UserId(7), new Money(3)));

        await CommitAsync(store, u => u.Products.Add(Widget));

        Assert.False(await unitOfWork.CommitAsync());
        Assert.Equal(Money.Zero, await BalanceAsync(store, 7));
    }

    [StoreFact]
    public async Task A_key_only_read_that_changes_before_the_commit_fails_it()
    {
        var store = CreateStore();
        await ChargeAsync(store, 1, 100);

        await using var unitOfWork = await store.BeginAsync();
        _ = await unitOfWork.Wallets.FindAsync(new UserId(1));
        unitOfWork.Wallets.Save(new Wallet(new UserId(2), new Money(5)));

        await ChargeAsync(store, 1, 1);

        Assert.False(await unitOfWork.CommitAsync());
        Assert.Equal(Money.Zero, await BalanceAsync(store, 2));
    }

    [StoreFact]
    public async Task A_read_only_unit_of_work_fails_if_its_reads_did_not_hold_together()
    {
        var store = CreateStore();
        await ChargeAsync(store, 1, 100);
        await ChargeAsync(store, 2, 100);

        await using (var torn = await store.BeginAsync())
        {
            _ = await torn.Wallets.FindAsync(new UserId(1));
            await ChargeAsync(store, 1, 1);
            _ = await torn.Wallets.FindAsync(new UserId(2));
            Assert.False(await torn.CommitAsync());
        }

        await using var steady = await store.BeginAsync();
        _ = await steady.Wallets.FindAsync(new UserId(1));
        _ = await steady.Wallets.FindAsync(new UserId(2));
        Assert.True(await steady.CommitAsync());
    }

    [StoreFact]
    public async Task A_present_product_only_read_does_not_stop_a_commit()
    {
        var store = await StoreWithTenWidgetsAsync();

        await using var unitOfWork = await store.BeginAsync();
        Assert.Equal(Widget, await unitOfWork.Products.FindAsync(Widget.Id));
        var stock = await unitOfWork.Inventory.FindAsync(Widget.Id);
        await CommitAsync(store, u => u.Products.Add(new Product(new ProductId(2), "Other", new Money(1))));
        unitOfWork.Inventory.Save(stock!.Deduct(1).Value);

        Assert.True(await unitOfWork.CommitAsync());
        await using var check = await store.BeginAsync();
        Assert.Equal(9, (await check.Inventory.FindAsync(Widget.Id))!.OnHand);
    }

    [StoreFact]
    public async Task A_listed_page_fails_the_commit_if_a_product_appears_inside_its_range_but_not_beyond()
    {
        var store = CreateStore();
        await CommitAsync(store, u =>
        {
            foreach (var id in new long[] { 10, 20, 30, 40 })
            {
                u.Products.Add(new Product(new ProductId(id), $"P{id}", new Money(id)));
                u.Inventory.Save(new StockItem(new ProductId(id), (int)id));
            }
        });

        await using (var inside = await store.BeginAsync())
        {
            var page = await inside.Products.ListAsync(null, 2);
            Assert.Equal([10L, 20L], page.Select(p => p.Id.Value));
            Assert.Equal(20, (await inside.Inventory.FindAsync(new ProductId(20)))!.OnHand);
            inside.Wallets.Save(new Wallet(new UserId(1), new Money(1)));
            await CommitAsync(store, u => u.Products.Add(new Product(new ProductId(15), "P15", new Money(15))));
            Assert.False(await inside.CommitAsync());
        }

        await using var beyond = await store.BeginAsync();
        var next = await beyond.Products.ListAsync(new ProductId(15), 2);
        Assert.Equal([20L, 30L], next.Select(p => p.Id.Value));
        beyond.Wallets.Save(new Wallet(new UserId(1), new Money(1)));
        await CommitAsync(store, u => u.Products.Add(new Product(new ProductId(35), "P35", new Money(35))));
        Assert.True(await beyond.CommitAsync());
    }

    [StoreFact]
    public async Task A_product_whose_add_failed_is_not_listed_and_takes_no_place_in_a_page()
    {
        var store = CreateStore();
        await CommitAsync(store, u =>
        {
            foreach (var id in new long[] { 10, 30 })
            {
                u.Products.Add(new Product(new ProductId(id), $"P{id}", new Money(id)));
                u.Inventory.Save(new StockItem(new ProductId(id), (int)id));
            }
        });

        await ChargeAsync(store, 1, 1);

        // The add of product 20 fails: the wallet it read was charged again before its commit.
        await using (var failed = await store.BeginAsync())
        {
            _ = await failed.Wallets.FindAsync(new UserId(1));
            failed.Products.Add(new Product(new ProductId(20), "P20", new Money(20)));
            failed.Inventory.Save(new StockItem(new ProductId(20), 20));
            await ChargeAsync(store, 1, 5);
            Assert.False(await failed.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal([10L, 30L], (await check.Products.ListAsync(null, 2)).Select(p => p.Id.Value));
        Assert.Equal([30L], (await check.Products.ListAsync(new ProductId(10), 1)).Select(p => p.Id.Value));
        Assert.Null(await check.Products.FindAsync(new ProductId(20)));
        check.Wallets.Save(new Wallet(new UserId(2), new Money(1)));
        Assert.True(await check.CommitAsync());
    }

    [StoreFact]
    public async Task A_change_set_with_every_kind_of_change_applies_as_a_whole()
    {
        var store = CreateStore();
        await ChargeAsync(store, 7, 100);
        await CommitAsync(store, u =>
        {
            u.Products.Add(Widget);
            u.Inventory.Save(new StockItem(Widget.Id, 10));
        });
        var order = NewOrder(new UserId(7), 4);

        await using (var unitOfWork = await store.BeginAsync())
        {
            Assert.Equal(Widget, await unitOfWork.Products.FindAsync(Widget.Id));          // stable
            Assert.Null(await unitOfWork.Inventory.FindAsync(new ProductId(2)));          // read, absent
            var wallet = await unitOfWork.Wallets.FindAsync(new UserId(7));
            unitOfWork.Wallets.Save(wallet!.Debit(order.Total).Value);                    // update
            var stock = await unitOfWork.Inventory.FindAsync(Widget.Id);
            unitOfWork.Inventory.Save(stock!.Deduct(4).Value);                            // update
            unitOfWork.Carts.Save(new Cart(new UserId(7), [new CartLine(Widget.Id, 1)])); // insert
            unitOfWork.Orders.Add(order);                                                 // insert
            unitOfWork.Sales.Record(order);                                               // adjust
            Assert.True(await unitOfWork.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal(new Money(100) - order.Total, (await check.Wallets.FindAsync(new UserId(7)))!.Balance);
        Assert.Equal(6, (await check.Inventory.FindAsync(Widget.Id))!.OnHand);
        Assert.Equal(1, (await check.Carts.FindAsync(new UserId(7)))!.QuantityOf(Widget.Id));
        Assert.Equal(order, await check.Orders.FindAsync(order.Id));
        Assert.Equal(new[] { new ProductSales(Widget.Id, 4) }, await TopAsync(check));
    }

    [StoreFact]
    public async Task A_failed_commit_applies_none_of_its_changes()
    {
        var store = CreateStore();
        await ChargeAsync(store, 7, 100);
        await CommitAsync(store, u => u.Products.Add(Widget));
        var order = NewOrder(new UserId(7), 4);

        await using (var unitOfWork = await store.BeginAsync())
        {
            var wallet = await unitOfWork.Wallets.FindAsync(new UserId(7));
            unitOfWork.Wallets.Save(wallet!.Debit(order.Total).Value);
            unitOfWork.Orders.Add(order);
            unitOfWork.Sales.Record(order);
            unitOfWork.Carts.Save(Cart.Empty(new UserId(7)));
            await ChargeAsync(store, 7, 1);
            Assert.False(await unitOfWork.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal(new Money(101), (await check.Wallets.FindAsync(new UserId(7)))!.Balance);
        Assert.Null(await check.Orders.FindAsync(order.Id));
        Assert.Null(await check.Carts.FindAsync(new UserId(7)));
        Assert.Empty(await TopAsync(check));
    }

    [StoreFact]
    public async Task Adjustments_of_one_key_need_no_read_so_interleaved_ones_both_count()
    {
        var store = CreateStore();
        await CommitAsync(store, u => u.Products.Add(Widget));
        var first = NewOrder(new UserId(1), 2);
        var second = NewOrder(new UserId(2), 3);

        await using var a = await store.BeginAsync();
        await using var b = await store.BeginAsync();
        a.Sales.Record(first);
        b.Sales.Record(second);
        b.Sales.Record(NewOrder(new UserId(3), 5));
        Assert.True(await b.CommitAsync());
        Assert.True(await a.CommitAsync());

        await using var check = await store.BeginAsync();
        Assert.Equal(new[] { new ProductSales(Widget.Id, 10) }, await TopAsync(check));
    }

    [StoreFact]
    public async Task Stock_read_then_adjusted_is_not_checked_so_concurrent_deductions_both_apply_while_the_guard_holds()
    {
        var store = await StoreWithTenWidgetsAsync();

        // Both read 10 and take 3: neither read is checked, so both commit.
        await using (var a = await store.BeginAsync())
        await using (var b = await store.BeginAsync())
        {
            Assert.Equal(10, (await a.Inventory.FindAsync(Widget.Id))!.OnHand);
            Assert.Equal(10, (await b.Inventory.FindAsync(Widget.Id))!.OnHand);
            a.Inventory.Adjust(Widget.Id, -3);
            b.Inventory.Adjust(Widget.Id, -3);
            Assert.True(await b.CommitAsync());
            Assert.True(await a.CommitAsync());
        }

        Assert.Equal(4, await StockAsync(store));

        // Both read 4 and take 3: the second finds 1 on hand, and its guard fails the whole commit.
        await using (var a = await store.BeginAsync())
        await using (var b = await store.BeginAsync())
        {
            Assert.Equal(4, (await a.Inventory.FindAsync(Widget.Id))!.OnHand);
            Assert.Equal(4, (await b.Inventory.FindAsync(Widget.Id))!.OnHand);
            a.Inventory.Adjust(Widget.Id, -3);
            a.Wallets.Save(new Wallet(new UserId(9), new Money(1)));
            b.Inventory.Adjust(Widget.Id, -3);
            Assert.True(await b.CommitAsync());
            Assert.False(await a.CommitAsync());
        }

        Assert.Equal(1, await StockAsync(store));
        Assert.Equal(Money.Zero, await BalanceAsync(store, 9));

        // Putting units back is guarded too: no stock row (no product) fails the commit.
        await using (var unitOfWork = await store.BeginAsync())
        {
            unitOfWork.Inventory.Adjust(Widget.Id, 5);
            unitOfWork.Inventory.Adjust(new ProductId(2), 5);
            Assert.False(await unitOfWork.CommitAsync());
        }

        await CommitAsync(store, u => u.Inventory.Adjust(Widget.Id, 5));
        Assert.Equal(6, await StockAsync(store));
    }

    [StoreFact]
    public async Task A_refusal_after_adjusting_stock_read_first_checks_that_read_again()
    {
        var store = await StoreWithTenWidgetsAsync();

        // Adjusted, then refused: the writes go and the stock read is checked as a read again.
        await using (var unitOfWork = await store.BeginAsync())
        {
            Assert.Equal(10, (await unitOfWork.Inventory.FindAsync(Widget.Id))!.OnHand);
            Assert.Null(await unitOfWork.Wallets.FindAsync(new UserId(9)));
            unitOfWork.Inventory.Adjust(Widget.Id, -3);
            ((UnitOfWork)unitOfWork).DiscardWrites();
            await CommitAsync(store, u => u.Inventory.Adjust(Widget.Id, -1));
            Assert.False(await unitOfWork.CommitAsync());
        }

        Assert.Equal(9, await StockAsync(store));
    }

    [StoreFact]
    public async Task A_wallet_read_absent_that_is_charged_before_the_commit_fails_it()
    {
        var store = CreateStore();
        await using var unitOfWork = await store.BeginAsync();
        Assert.Null(await unitOfWork.Wallets.FindAsync(new UserId(1)));
        unitOfWork.Products.Add(Widget);

        await ChargeAsync(store, 1, 5);

        Assert.False(await unitOfWork.CommitAsync());
        await using var check = await store.BeginAsync();
        Assert.Null(await check.Products.FindAsync(Widget.Id));
        Assert.Equal(new Money(5), await BalanceAsync(store, 1));
    }

    [StoreFact]
    public async Task A_ledger_entry_read_absent_that_is_appended_before_the_commit_fails_it()
    {
        var store = CreateStore();
        await using var unitOfWork = await store.BeginAsync();
        Assert.Null(await unitOfWork.Ledger.FindAsync(new UserId(1), 1));
        unitOfWork.Products.Add(Widget);

        await ChargeWithEntryAsync(store, 1, 5);

        Assert.False(await unitOfWork.CommitAsync());
        await using var check = await store.BeginAsync();
        Assert.Null(await check.Products.FindAsync(Widget.Id));
        Assert.Equal(new Money(5), (await check.Ledger.FindAsync(new UserId(1), 1))!.BalanceAfter);
    }

    [StoreTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_ledger_entry_read_absent_and_its_wallet_read_hold_together_only_if_no_charge_came_between(bool chargedBetween)
    {
        var store = CreateStore();
        await ChargeWithEntryAsync(store, 1, 5);

        await using var unitOfWork = await store.BeginAsync();
        Assert.Null(await unitOfWork.Ledger.FindAsync(new UserId(1), 2));
        if (chargedBetween)
        {
            await ChargeWithEntryAsync(store, 1, 3);
        }

        var wallet = await unitOfWork.Wallets.FindAsync(new UserId(1));
        unitOfWork.Products.Add(Widget);

        // The wallet read after the charge has two entries, the ledger read before it found no second: not one snapshot.
        Assert.Equal(chargedBetween ? 2 : 1, wallet!.LedgerLength);
        Assert.Equal(!chargedBetween, await unitOfWork.CommitAsync());
        await using var check = await store.BeginAsync();
        Assert.Equal(!chargedBetween, await check.Products.FindAsync(Widget.Id) is not null);
    }

    [StoreTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_commit_appending_an_entry_to_each_of_two_wallets_applies_both_whatever_the_order_they_were_staged_in(bool entriesReversed)
    {
        var store = CreateStore();
        await ChargeWithEntryAsync(store, 2, 7);

        await using (var unitOfWork = await store.BeginAsync())
        {
            var entries = new List<LedgerEntry>();
            foreach (var user in new[] { new UserId(1), new UserId(2) })
            {
                var before = await unitOfWork.Wallets.FindAsync(user) ?? Wallet.Empty(user);
                var after = new Wallet(user, before.Balance + new Money(10), before.LedgerLength + 1);
                unitOfWork.Wallets.Save(after);
                entries.Add(before.EntryTo(after, LedgerEntryKind.Charge, null, At));
            }

            if (entriesReversed)
            {
                entries.Reverse();
            }

            entries.ForEach(unitOfWork.Ledger.Add);
            Assert.True(await unitOfWork.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal(new Wallet(new UserId(1), new Money(10), 1), await check.Wallets.FindAsync(new UserId(1)));
        Assert.Equal(new Wallet(new UserId(2), new Money(17), 2), await check.Wallets.FindAsync(new UserId(2)));
        Assert.Equal(new Money(10), (await check.Ledger.FindAsync(new UserId(1), 1))!.BalanceAfter);
        Assert.Equal(new Money(17), (await check.Ledger.FindAsync(new UserId(2), 2))!.BalanceAfter);
        Assert.Null(await check.Ledger.FindAsync(new UserId(1), 2));
    }

    [StoreFact]
    public async Task Sales_recorded_in_two_buckets_in_one_commit_both_count_and_only_in_their_own_windows()
    {
        var store = CreateStore();
        await CommitAsync(store, u => u.Products.Add(Widget));
        var earlier = new Order(OrderId.New(At.AddDays(-1)), new UserId(1), [new OrderLine(Widget.Id, 2, Widget.Price)], At.AddDays(-1));

        await CommitAsync(store, u =>
        {
            u.Sales.Record(earlier);
            u.Sales.Record(NewOrder(new UserId(2), 3));
        });

        await using var check = await store.BeginAsync();
        Assert.Equal([new ProductSales(Widget.Id, 3)], await TopAsync(check));
        Assert.Equal([new ProductSales(Widget.Id, 2)], await check.Sales.GetTopAsync(At.AddDays(-1).AddMinutes(-5), At.AddDays(-1).AddMinutes(5), 5));
        Assert.Equal([new ProductSales(Widget.Id, 5)], await check.Sales.GetTopAsync(At.AddDays(-2), At.AddMinutes(5), 5));
    }

    [StoreFact]
    public async Task Stock_adjusted_beyond_int_MaxValue_fails_the_commit_and_up_to_it_applies()
    {
        var store = CreateStore();
        await CommitAsync(store, u =>
        {
            u.Products.Add(Widget);
            u.Inventory.Save(new StockItem(Widget.Id, int.MaxValue - 5));
        });

        await using (var unitOfWork = await store.BeginAsync())
        {
            unitOfWork.Inventory.Adjust(Widget.Id, 6);
            unitOfWork.Wallets.Save(new Wallet(new UserId(9), new Money(1)));
            Assert.False(await unitOfWork.CommitAsync());
        }

        Assert.Equal(int.MaxValue - 5, await StockAsync(store));
        Assert.Equal(Money.Zero, await BalanceAsync(store, 9));
        await CommitAsync(store, u => u.Inventory.Adjust(Widget.Id, 5));
        Assert.Equal(int.MaxValue, await StockAsync(store));
    }

    [StoreFact]
    public async Task A_unit_of_work_cannot_be_used_after_its_commit()
    {
        var store = CreateStore();
        var unitOfWork = await store.BeginAsync();
        Assert.True(await unitOfWork.CommitAsync());

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await unitOfWork.Wallets.FindAsync(new UserId(1)));
        Assert.Throws<ObjectDisposedException>(() => unitOfWork.Prefetch(StoreKey.ForWallet(new UserId(1))));
        await unitOfWork.DisposeAsync();
    }

    [StoreFact]
    public async Task Reads_and_a_purge_with_a_cancelled_token_throw_with_it_and_the_unit_of_work_reads_on_after_them()
    {
        // A token cancelled before the call is honoured before anything is done, whether or not the session holds
        // a connection yet or a read would complete at once, as by the store's other methods (opening a session,
        // committing, the event feed): the exception carries the caller's token.
        var store = CreateStore();
        var widget = Widget;
        await using (var setup = await store.BeginAsync())
        {
            setup.Wallets.Save(new Wallet(new UserId(7), new Money(100)));
            setup.Products.Add(widget);
            setup.Inventory.Save(new StockItem(widget.Id, 10));
            Assert.True(await setup.CommitAsync());
        }

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var token = cancelled.Token;
        var (from, to) = (At.AddMinutes(-5), At.AddMinutes(5));
        var uncancelled = new List<string>();

        await using (var unitOfWork = await store.BeginAsync())
        {
            unitOfWork.Prefetch(StoreKey.ForStock(widget.Id));
            await AssertCancelledAsync("LoadAsync", async () => await unitOfWork.LoadAsync(token));
            await AssertCancelledAsync("Wallets.FindAsync", async () => await unitOfWork.Wallets.FindAsync(new UserId(7), token));
            await AssertCancelledAsync("Products.ListAsync", async () => await unitOfWork.Products.ListAsync(null, 10, token));
            await AssertCancelledAsync("Sales.GetTopAsync", async () => await unitOfWork.Sales.GetTopAsync(from, to, 5, token));
            Assert.Empty(uncancelled);

            // Nothing a cancelled read left behind reaches the reads after it.
            Assert.Equal(new Money(100), (await unitOfWork.Wallets.FindAsync(new UserId(7)))!.Balance);
            Assert.Equal(10, (await unitOfWork.Inventory.FindAsync(widget.Id))!.OnHand);
            Assert.Equal([widget], await unitOfWork.Products.ListAsync(null, 10));
            Assert.Empty(await unitOfWork.Sales.GetTopAsync(from, to, 5));
            Assert.True(await unitOfWork.CommitAsync());
        }

        var session = await store.OpenSessionAsync();
        await using (session)
        {
            await AssertCancelledAsync("PurgeIdempotencyAsync", async () => await session.PurgeIdempotencyAsync(DateTimeOffset.MaxValue, token));
        }

        Assert.Empty(uncancelled);

        async Task AssertCancelledAsync(string name, Func<Task> call)
        {
            var thrown = await Record.ExceptionAsync(call);
            if (thrown is not OperationCanceledException { } cancellation || cancellation.CancellationToken != token)
            {
                uncancelled.Add($"{name}: {thrown?.GetType().Name ?? "no exception"}");
            }
        }
    }

    private static Order NewOrder(UserId user, int quantity) =>
        new(OrderId.New(At), user, [new OrderLine(Widget.Id, quantity, Widget.Price)], At);

    private static async Task<IReadOnlyList<ProductSales>> TopAsync(IUnitOfWork unitOfWork) =>
        await unitOfWork.Sales.GetTopAsync(At.AddMinutes(-5), At.AddMinutes(5), 5);

    private static async Task CommitAsync(ICommerceStore store, Action<IUnitOfWork> stage)
    {
        await using var unitOfWork = await store.BeginAsync();
        stage(unitOfWork);
        Assert.True(await unitOfWork.CommitAsync());
    }

    private static async Task ChargeAsync(ICommerceStore store, long user, long amount)
    {
        await using var unitOfWork = await store.BeginAsync();
        var wallet = await unitOfWork.Wallets.FindAsync(new UserId(user)) ?? Wallet.Empty(new UserId(user));
        unitOfWork.Wallets.Save(new Wallet(wallet.UserId, wallet.Balance + new Money(amount)));
        Assert.True(await unitOfWork.CommitAsync());
    }

    /// <summary>Charges a user's wallet with the ledger entry that records it, as the wallet service does.</summary>
    private static async Task ChargeWithEntryAsync(ICommerceStore store, long user, long amount)
    {
        await using var unitOfWork = await store.BeginAsync();
        var before = await unitOfWork.Wallets.FindAsync(new UserId(user)) ?? Wallet.Empty(new UserId(user));
        var after = new Wallet(before.UserId, before.Balance + new Money(amount), before.LedgerLength + 1);
        unitOfWork.Wallets.Save(after);
        unitOfWork.Ledger.Add(before.EntryTo(after, LedgerEntryKind.Charge, null, At));
        Assert.True(await unitOfWork.CommitAsync());
    }

    private async Task<ICommerceStore> StoreWithTenWidgetsAsync()
    {
        var store = CreateStore();
        await CommitAsync(store, u =>
        {
            u.Products.Add(Widget);
            u.Inventory.Save(new StockItem(Widget.Id, 10));
        });
        return store;
    }

    private static async Task<int> StockAsync(ICommerceStore store)
    {
        await using var unitOfWork = await store.BeginAsync();
        return (await unitOfWork.Inventory.FindAsync(Widget.Id))!.OnHand;
    }

    private static async Task<Money> BalanceAsync(ICommerceStore store, long user)
    {
        await using var unitOfWork = await store.BeginAsync();
        return (await unitOfWork.Wallets.FindAsync(new UserId(user)))?.Balance ?? Money.Zero;
    }
}
