using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// The in-memory store keeps a wallet's ledger entries with the wallet: each entry's record is the content its
/// commit wrote in the wallet's cell, and the next commit on the wallet copies it into the user's account first.
/// </summary>
public sealed class WalletCellTests
{
    private static readonly UserId Buyer = new(1);
    private static readonly DateTimeOffset At = TestClock.Start;

    private static LedgerEntry Entry(long sequence, long balanceAfter = 10) =>
        new(sequence, Buyer, LedgerEntryKind.Charge, new Money(10), new Money(balanceAfter), null, At);

    [Fact]
    public void The_account_keeps_entries_across_its_chunks_and_storing_one_again_changes_nothing()
    {
        var account = new WalletAccount();
        var entries = Enumerable.Range(1, 600).Select(i => Entry(i)).ToArray();
        foreach (var entry in entries.Where(e => e.Sequence % 7 != 0))
        {
            account.Store(entry);
        }

        account.Store(entries[15]); // again, with the same reference
        for (var sequence = 1; sequence <= 600; sequence++)
        {
            var found = account.Entry(sequence);
            if (sequence % 7 == 0)
            {
                Assert.Null(found);
            }
            else
            {
                Assert.Same(entries[sequence - 1], found);
            }
        }

        Assert.Null(account.Entry(601));
        Assert.Null(account.Entry(1_000_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => account.Entry(0));
    }

    [Fact]
    public async Task Every_entry_stays_readable_as_its_wallet_moves_on()
    {
        using var shop = InMemoryShop.Create();
        for (var i = 1; i <= 70; i++)
        {
            Assert.True((await shop.Wallets.ChargeAsync(Buyer, new Money(i))).IsSuccess);
        }

        var ledger = await shop.Wallets.GetLedgerAsync(Buyer, 0, 100);
        Assert.Equal(Enumerable.Range(1, 70).Select(i => (long)i), ledger.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(1, 70).Select(i => (long)i), ledger.Select(e => e.Amount.Amount));
        Assert.Equal(new Money(70 * 71 / 2), ledger[^1].BalanceAfter);

        // Only the newest entry is the wallet's content; every older one is in the account.
        var wallet = WalletOf(shop);
        var now = wallet.Read();
        Assert.Equal(70, Assert.IsType<LedgerEntry>(now.LatestRecord).Sequence);
        Assert.Equal((70L, new Money(70 * 71 / 2)), (now.LedgerLength, now.Balance));
        Assert.All(Enumerable.Range(1, 69), s => Assert.NotNull(wallet.Account.Entry(s)));
        Assert.Null(wallet.Account.Entry(70));
    }

    [Fact]
    public async Task An_orders_payment_is_kept_as_its_order_and_read_back_as_the_entry_committed()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.ChargeAsync(Buyer.Value, 100);
        var order = (await shop.OrderAsync(Buyer.Value, (1, 2))).Value;

        var wallet = WalletOf(shop);
        var now = wallet.Read();
        Assert.Same(order, now.LatestRecord); // the order the orders' table keeps, not a 96-byte entry
        var expected = new LedgerEntry(2, Buyer, LedgerEntryKind.Payment, new Money(20), new Money(80), order.Id, order.PlacedAt);
        Assert.Equal(expected, now.Entry(2, wallet.Account));
        Assert.Equal(order.PlacedAt.Offset, now.Entry(2, wallet.Account)!.At.Offset);

        // Moved into the account by the next commit on the wallet, and read back the same from there.
        await shop.ChargeAsync(Buyer.Value, 1);
        Assert.Equal(expected, wallet.Account.Entry(2));
        var ledger = await shop.Wallets.GetLedgerAsync(Buyer);
        Assert.Equal(expected, ledger[1]);
        Assert.Equal([LedgerEntryKind.Charge, LedgerEntryKind.Payment, LedgerEntryKind.Charge], ledger.Select(e => e.Kind));
    }

    [Fact]
    public void A_payment_that_says_anything_its_order_does_not_is_kept_as_the_entry()
    {
        var order = new Order(OrderId.New(At), Buyer, [new OrderLine(new ProductId(1), 2, new Money(10))], At.ToOffset(TimeSpan.FromHours(1)));
        Change[] inserted = [new(StoreKey.ForOrder(order.Id), ChangeKind.Insert, false, default, order, 0, 0)];
        var exact = new LedgerEntry(3, Buyer, LedgerEntryKind.Payment, order.Total, new Money(5), order.Id, order.PlacedAt);
        Assert.Same(order, LedgerRecords.RecordOf(exact, 3, new Money(5), inserted));
        foreach (var other in new[]
        {
            exact with { At = order.PlacedAt.ToOffset(TimeSpan.Zero) }, // the same instant, another offset
            exact with { Amount = new Money(21) },
            exact with { UserId = new UserId(2) },
            exact with { OrderId = OrderId.New(At) }, // an order this change set does not insert
            exact with { Kind = LedgerEntryKind.Refund },
        })
        {
            Assert.Same(other, LedgerRecords.RecordOf(other, 3, new Money(5), inserted));
        }

        Assert.Same(exact, LedgerRecords.RecordOf(exact, 3, new Money(6), inserted)); // not the wallet's balance after
        Assert.Same(exact, LedgerRecords.RecordOf(exact, 4, new Money(5), inserted)); // not the wallet's last entry
        Assert.Same(exact, LedgerRecords.RecordOf(exact, 3, new Money(5), [])); // no order inserted at all
        Assert.Equal(exact, LedgerRecords.EntryOf(LedgerRecords.RecordOf(exact, 3, new Money(5), inserted), 3, new Money(5)));
    }

    [Fact]
    public void Each_state_copies_its_entry_into_the_right_chunk_across_chunk_boundaries_and_after_a_state_without_one()
    {
        // Chunks hold entries 1–16, 17–48, 49–112, 113–240, 241–496: 297 entries cross four boundaries. Every
        // tenth state appends nothing (its content is no entry), and copies nothing forward. The cell's hint of the
        // chunk the last copy wrote to is wrong at each boundary, and the copy must find the next chunk itself.
        var wallet = new WalletCell(new NoLedgerEntry(), 0, 0);
        var account = wallet.Account;
        WalletSnapshot? state = null;
        var length = 0L;
        var balance = 0L;
        var entries = new List<LedgerEntry>();
        for (var step = 1; step <= 330; step++)
        {
            state?.CopyForward(wallet); // as a commit does before it replaces the state
            wallet.PrefetchLines(); // with whatever hint the cell holds: a hint, and changes nothing
            object content = new NoLedgerEntry();
            if (step % 10 != 0)
            {
                length++;
                balance += step;
                var entry = new LedgerEntry(length, Buyer, LedgerEntryKind.Charge, new Money(step), new Money(balance), null, At.AddSeconds(step));
                entries.Add(entry);
                content = entry;
            }

            var now = new WalletSnapshot(content, length, balance, 0);
            state = now;
            Assert.Equal(content as LedgerEntry, now.LatestRecord);
            Assert.All(entries, expected => Assert.Equal(expected, now.Entry(expected.Sequence, account)));
            Assert.Null(now.Entry(length + 1, account));
        }

        state!.Value.CopyForward(wallet);
        Assert.True(WalletAccount.IsChunkOf(wallet.ChunkHint, length));
        Assert.All(entries, expected => Assert.Equal(expected, account.Entry(expected.Sequence)));
        Assert.Null(account.Entry(length + 1));
    }

    [Fact]
    public void The_newest_entry_is_in_the_account_before_the_next_commit_on_its_wallet_can_be_seen()
    {
        using var shop = InMemoryShop.Create();
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(100))).IsSuccess);
        var cell = WalletOf(shop);
        var first = cell.Read().LatestRecord!;

        using var paused = new PausedCommit(
            (descriptor, i) => ReferenceEquals(descriptor.InstalledAt(i), cell),
            hook =>
            {
                shop.InMemoryStore().AfterInstall = hook;
                return Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(5))).IsSuccess;
            });
        paused.Start();

        // The charge's descriptor sits in the wallet cell, undecided: the entry it replaces is stored already.
        var parked = paused.Descriptor!.Updates.ToArray().Single(u => ReferenceEquals(u.Cell, cell)).Expected;
        Assert.Same(first, parked);
        Assert.Same(first, cell.Account.Entry(1));

        // A reader helps the charge to its decision and sees both entries.
        var ledger = PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Wallets.GetLedgerAsync(Buyer)));
        Assert.Equal([1L, 2L], ledger.Select(e => e.Sequence));
        Assert.Equal([new Money(100), new Money(105)], ledger.Select(e => e.BalanceAfter));
        Assert.True(paused.Resume());
    }

    [Fact]
    public async Task A_ledger_entry_committed_without_its_wallet_is_refused_and_nothing_changes()
    {
        var store = new InMemoryCommerceStore();
        await using (var unitOfWork = await store.BeginAsync())
        {
            unitOfWork.Ledger.Add(Entry(1));
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await unitOfWork.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Null(await check.Wallets.FindAsync(Buyer));
        Assert.Null(await check.Ledger.FindAsync(Buyer, 1));
    }

    [Fact]
    public async Task A_ledger_entry_numbered_other_than_its_wallets_new_length_is_refused()
    {
        var store = new InMemoryCommerceStore();
        await using (var unitOfWork = await store.BeginAsync())
        {
            unitOfWork.Wallets.Save(new Wallet(Buyer, new Money(10), ledgerLength: 1));
            unitOfWork.Ledger.Add(Entry(2));
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await unitOfWork.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Null(await check.Wallets.FindAsync(Buyer));
    }

    [Fact]
    public async Task A_ledger_entry_whose_number_the_ledger_has_already_fails_the_commit_and_changes_nothing()
    {
        var store = new InMemoryCommerceStore();
        await ChargeAsync(store, 1);
        await using (var unitOfWork = await store.BeginAsync())
        {
            var wallet = (await unitOfWork.Wallets.FindAsync(Buyer))!;
            unitOfWork.Wallets.Save(new Wallet(Buyer, new Money(99), wallet.LedgerLength)); // the length unchanged
            unitOfWork.Ledger.Add(Entry(1, balanceAfter: 99));
            Assert.False(await unitOfWork.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal(new Wallet(Buyer, new Money(10), 1), await check.Wallets.FindAsync(Buyer));
        Assert.Equal(new Money(10), (await check.Ledger.FindAsync(Buyer, 1))!.BalanceAfter);
    }

    [Fact]
    public async Task An_entry_read_absent_holds_until_its_wallet_moves_on()
    {
        var store = new InMemoryCommerceStore();
        await ChargeAsync(store, 1);

        // Read absent, nothing else changes: the read-only commit and a writing one both hold.
        await using (var unitOfWork = await store.BeginAsync())
        {
            Assert.Null(await unitOfWork.Ledger.FindAsync(Buyer, 2));
            unitOfWork.Carts.Save(Cart.Empty(Buyer));
            Assert.True(await unitOfWork.CommitAsync());
        }

        // Read absent, then the wallet gains entry 2: both kinds of commit fail.
        await using (var reader = await store.BeginAsync())
        await using (var writer = await store.BeginAsync())
        {
            Assert.Null(await reader.Ledger.FindAsync(Buyer, 2));
            Assert.Null(await writer.Ledger.FindAsync(Buyer, 2));
            Assert.Null(await reader.Carts.FindAsync(new UserId(3))); // two reads: not a snapshot by itself
            writer.Carts.Save(Cart.Empty(new UserId(2)));
            await ChargeAsync(store, 2);
            Assert.False(await reader.CommitAsync());
            Assert.False(await writer.CommitAsync());
        }

        // Read absent with the wallet it is checked against, and written together: one check, no conflict.
        await using (var unitOfWork = await store.BeginAsync())
        {
            var wallet = (await unitOfWork.Wallets.FindAsync(Buyer))!;
            Assert.Null(await unitOfWork.Ledger.FindAsync(Buyer, 3));
            var charged = wallet.Charge(new Money(10), new Money(1_000), new Money(1_000_000)).Value;
            unitOfWork.Wallets.Save(charged);
            unitOfWork.Ledger.Add(wallet.EntryTo(charged, LedgerEntryKind.Charge, null, At));
            Assert.True(await unitOfWork.CommitAsync());
        }

        await using var check = await store.BeginAsync();
        Assert.Equal(3, (await check.Wallets.FindAsync(Buyer))!.LedgerLength);
        Assert.Equal(new Money(30), (await check.Ledger.FindAsync(Buyer, 3))!.BalanceAfter);
    }

    [Fact]
    public void Ledger_pages_read_while_two_threads_charge_one_wallet_are_gapless_and_agree_with_their_balances()
    {
        const int ChargesPerThread = 2_000;
        using var shop = InMemoryShop.Create();
        var pages = 0;
        var writersDone = 0;
        RealThreads.RunTogether(
            3,
            worker =>
            {
                if (worker < 2)
                {
                    try
                    {
                        for (var i = 0; i < ChargesPerThread; i++)
                        {
                            Assert.True(Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(1 + worker))).IsSuccess);
                        }
                    }
                    finally
                    {
                        Interlocked.Increment(ref writersDone);
                    }

                    return;
                }

                do
                {
                    var ledger = Sync.Run(shop.Wallets.GetLedgerAsync(Buyer, 0, CommerceOptions.MaxListLimit));
                    CheckGapless(ledger, 1);
                    var tail = Sync.Run(shop.Wallets.GetLedgerAsync(Buyer, Math.Max(0, ledger.Count - 5), 10));
                    CheckGapless(tail, Math.Max(0, ledger.Count - 5) + 1);
                    pages++;
                }
                while (Volatile.Read(ref writersDone) < 2);
            });

        var all = Sync.Run(shop.Wallets.GetLedgerAsync(Buyer, 0, CommerceOptions.MaxListLimit));
        var rest = new List<LedgerEntry>(all);
        while (rest.Count < 2 * ChargesPerThread)
        {
            rest.AddRange(Sync.Run(shop.Wallets.GetLedgerAsync(Buyer, rest.Count, CommerceOptions.MaxListLimit)));
        }

        CheckGapless(rest, 1);
        Assert.Equal(2 * ChargesPerThread, rest.Count);
        Assert.Equal(Sync.Run(shop.Wallets.GetBalanceAsync(Buyer)), rest[^1].BalanceAfter);
        Assert.Equal(3L * ChargesPerThread, rest.Sum(e => e.Amount.Amount));
        Assert.True(pages > 0);
    }

    [Fact]
    public async Task An_order_and_a_charge_change_the_wallet_in_its_cell_its_content_the_latest_record_its_numbers_moved_on()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.ChargeAsync(Buyer.Value, 100);
        var wallet = WalletOf(shop);
        var before = wallet.Read();
        var order = (await shop.OrderAsync(Buyer.Value, (1, 3))).Value;

        // The same cell: the order's payment took 30 from the money spent and counted entry 2; nothing was received.
        Assert.Same(wallet, WalletOf(shop));
        var paid = wallet.Read();
        Assert.Same(order, paid.Content);
        Assert.Equal((2L, before.Received, before.Spent + 30, new Money(70)), (paid.LedgerLength, paid.Received, paid.Spent, paid.Balance));

        await shop.ChargeAsync(Buyer.Value, 5);
        var charged = wallet.Read();
        Assert.Same(wallet, WalletOf(shop));
        Assert.Equal((3L, paid.Received + 5, paid.Spent, new Money(75)), (charged.LedgerLength, charged.Received, charged.Spent, charged.Balance));
        Assert.Equal(LedgerEntryKind.Charge, Assert.IsType<LedgerEntry>(charged.Content).Kind);
        Assert.True(charged.Version > paid.Version && paid.Version > before.Version);
    }

    [Fact]
    public async Task A_unit_of_work_that_read_a_wallet_fails_if_its_balance_moved_and_came_back_with_the_ledger_as_long()
    {
        var store = new InMemoryCommerceStore();
        await ChargeAsync(store, 1); // 10, one entry
        await using var reader = await store.BeginAsync();
        Assert.Equal(new Money(10), (await reader.Wallets.FindAsync(Buyer))!.Balance);
        Assert.Null(await reader.Carts.FindAsync(Buyer)); // a second read: the commit checks both

        // A host's own writes, with no ledger entry: 10 → 4 → 10, the ledger one entry long throughout.
        await SaveAsync(store, new Wallet(Buyer, new Money(4), 1));
        await SaveAsync(store, new Wallet(Buyer, new Money(10), 1));

        Assert.False(await reader.CommitAsync()); // the two reads were not of one instant
    }

    [Fact]
    public async Task A_write_that_makes_the_ledger_shorter_gives_the_wallet_a_new_cell_and_a_unit_of_work_that_read_the_old_one_fails()
    {
        using var shop = InMemoryShop.Create();
        await shop.ChargeAsync(Buyer.Value, 10);
        await shop.ChargeAsync(Buyer.Value, 20);
        await shop.ChargeAsync(Buyer.Value, 30);
        var old = WalletOf(shop);
        var store = shop.InMemoryStore();
        await using var reader = await store.BeginAsync();
        Assert.Equal(3, (await reader.Wallets.FindAsync(Buyer))!.LedgerLength);

        await SaveAsync(store, new Wallet(Buyer, new Money(5), 1)); // a host's own write: each number only grows in a cell

        var replacement = WalletOf(shop);
        Assert.NotSame(old, replacement);
        Assert.IsType<RetiredWallet>(old.Read().Content);
        Assert.Same(old.Account, replacement.Account);
        reader.Carts.Save(Cart.Empty(Buyer));
        Assert.False(await reader.CommitAsync());

        await using var check = await store.BeginAsync();
        Assert.Equal(new Wallet(Buyer, new Money(5), 1), await check.Wallets.FindAsync(Buyer));
        Assert.Equal(new Money(10), (await check.Ledger.FindAsync(Buyer, 1))!.BalanceAfter);
        Assert.Null(await check.Ledger.FindAsync(Buyer, 2));
        Assert.Equal(new Money(15), (await shop.Wallets.ChargeAsync(Buyer, new Money(10))).Value); // and it goes on from there
        Assert.Equal([1L, 2L], (await shop.Wallets.GetLedgerAsync(Buyer)).Select(e => e.Sequence));
    }

    [Fact]
    public async Task More_money_in_all_than_a_word_holds_gives_the_wallet_a_new_cell_and_every_entry_stays_readable()
    {
        using var shop = InMemoryShop.Create(options =>
        {
            options.MaxChargeAmount = new Money(long.MaxValue);
            options.MaxBalance = new Money(long.MaxValue);
        });
        await shop.AddProductAsync(1, price: long.MaxValue / 2, stock: 5);
        await shop.ChargeAsync(Buyer.Value, long.MaxValue); // all a word holds, received
        var first = WalletOf(shop);
        var order = (await shop.OrderAsync(Buyer.Value, (1, 1))).Value;
        Assert.Same(first, WalletOf(shop)); // spent: in place

        Assert.True((await shop.Orders.CancelOrderAsync(order.Id)).IsSuccess); // received again: past what the word holds
        var second = WalletOf(shop);
        Assert.NotSame(first, second);
        Assert.Equal((0L, new Money(long.MaxValue)), (second.Read().Spent, second.Read().Balance));

        var ledger = await shop.Wallets.GetLedgerAsync(Buyer);
        Assert.Equal([LedgerEntryKind.Charge, LedgerEntryKind.Payment, LedgerEntryKind.Refund], ledger.Select(e => e.Kind));
        Assert.Equal([long.MaxValue, long.MaxValue - (long.MaxValue / 2), long.MaxValue], ledger.Select(e => e.BalanceAfter.Amount));
        Assert.Equal(new Money(long.MaxValue), await shop.Wallets.GetBalanceAsync(Buyer));
    }

    [Fact]
    public async Task A_wallets_numbers_and_latest_entry_read_while_threads_pay_and_charge_are_always_of_one_instant()
    {
        // Each read takes the wallet's numbers and the entry its ledger's length names in one unit of work; the entry's
        // balance after is the wallet's balance only if the content and the three words were read as of one instant.
        const int PerThread = 1_500;
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: 1, stock: 1_000_000);
        Assert.True((await shop.Wallets.ChargeAsync(Buyer, new Money(PerThread))).IsSuccess); // the orders never run short, whoever runs ahead
        var store = shop.InMemoryStore();
        var done = 0;
        var reads = 0;
        RealThreads.RunTogether(
            3,
            worker =>
            {
                if (worker < 2)
                {
                    try
                    {
                        for (var i = 0; i < PerThread; i++)
                        {
                            Assert.True(worker == 0
                                ? Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(1))).IsSuccess
                                : Sync.Run(shop.Orders.PlaceOrderAsync(Buyer, [new(new ProductId(1), 1)])).IsSuccess);
                        }
                    }
                    finally
                    {
                        Interlocked.Increment(ref done);
                    }

                    return;
                }

                do
                {
                    ReadOnceAsync().GetAwaiter().GetResult();
                    reads++;
                }
                while (Volatile.Read(ref done) < 2);
            });

        Assert.True(reads > 0);
        Assert.Equal(new Money(PerThread), await shop.Wallets.GetBalanceAsync(Buyer));

        async Task ReadOnceAsync()
        {
            await using var unitOfWork = await store.BeginAsync();
            var numbers = (await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Buyer, default))!.Value;
            var latest = await unitOfWork.Ledger.FindAsync(Buyer, numbers.LedgerLength);
            Assert.Equal(numbers.Balance, latest!.BalanceAfter);
        }
    }

    private static void CheckGapless(IReadOnlyList<LedgerEntry> entries, long first)
    {
        for (var i = 0; i < entries.Count; i++)
        {
            Assert.Equal(first + i, entries[i].Sequence);
            if (i > 0)
            {
                Assert.Equal(entries[i - 1].BalanceAfter.Amount + entries[i].Amount.Amount, entries[i].BalanceAfter.Amount);
            }
        }
    }

    /// <summary>The buyer's wallet: the state its keyed cell holds from the wallet's first commit on.</summary>
    private static WalletCell WalletOf(Shop shop) =>
        Assert.IsType<WalletCell>(MultiWordCas.Read(shop.InMemoryStore().Wallets.Find(CellKey.From(StoreKey.ForWallet(Buyer)))!));

    /// <summary>Saves a wallet over the one read, as a host's own use case may (with no ledger entry).</summary>
    private static async Task SaveAsync(InMemoryCommerceStore store, Wallet wallet)
    {
        await using var unitOfWork = await store.BeginAsync();
        _ = await unitOfWork.Wallets.FindAsync(wallet.UserId);
        unitOfWork.Wallets.Save(wallet);
        Assert.True(await unitOfWork.CommitAsync());
    }

    private static async Task ChargeAsync(InMemoryCommerceStore store, long sequence)
    {
        await using var unitOfWork = await store.BeginAsync();
        var wallet = await unitOfWork.Wallets.FindAsync(Buyer) ?? Wallet.Empty(Buyer);
        var charged = wallet.Charge(new Money(10), new Money(1_000), new Money(1_000_000)).Value;
        Assert.Equal(sequence, charged.LedgerLength);
        unitOfWork.Wallets.Save(charged);
        unitOfWork.Ledger.Add(wallet.EntryTo(charged, LedgerEntryKind.Charge, null, At));
        Assert.True(await unitOfWork.CommitAsync());
    }
}
