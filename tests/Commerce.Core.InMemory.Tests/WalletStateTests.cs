using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// The in-memory store keeps a wallet's ledger entries with the wallet: each entry rides on the wallet
/// state its commit wrote, and the next commit on the wallet copies it into the user's account first.
/// </summary>
public sealed class WalletStateTests
{
    private static readonly UserId Buyer = new(1);
    private static readonly DateTimeOffset At = TestClock.Start;

    private static LedgerEntry Entry(long sequence, long balanceAfter = 10) =>
        new(sequence, Buyer, LedgerEntryKind.Charge, new Money(10), new Money(balanceAfter), null, At);

    [Fact]
    public void The_account_keeps_entries_across_its_chunks_and_storing_one_again_changes_nothing()
    {
        var account = new WalletAccount(new Cell(Absent.Value));
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

        // Only the newest entry is carried by the wallet's state; every older one is in the account.
        var state = (WalletState)MultiWordCas.Read(WalletCell(shop));
        Assert.Equal(70, state.Latest!.Sequence);
        Assert.All(Enumerable.Range(1, 69), s => Assert.NotNull(state.Account.Entry(s)));
    }

    [Fact]
    public async Task An_orders_payment_is_kept_as_its_order_and_read_back_as_the_entry_committed()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: 10, stock: 5);
        await shop.ChargeAsync(Buyer.Value, 100);
        var order = (await shop.OrderAsync(Buyer.Value, (1, 2))).Value;

        var state = (WalletState)MultiWordCas.Read(WalletCell(shop));
        Assert.Same(order, state.LatestRecord); // the order the orders' table keeps, not a 96-byte entry
        var expected = new LedgerEntry(2, Buyer, LedgerEntryKind.Payment, new Money(20), new Money(80), order.Id, order.PlacedAt);
        Assert.Equal(expected, state.Latest);
        Assert.Equal(order.PlacedAt.Offset, state.Latest!.At.Offset);

        // Moved into the account by the next commit on the wallet, and read back the same from there.
        await shop.ChargeAsync(Buyer.Value, 1);
        state = (WalletState)MultiWordCas.Read(WalletCell(shop));
        Assert.Equal(expected, state.Account.Entry(2));
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
        var wallet = new Wallet(Buyer, new Money(5), 3);

        Assert.Same(order, LedgerRecords.RecordOf(exact, wallet, inserted));
        foreach (var other in new[]
        {
            exact with { At = order.PlacedAt.ToOffset(TimeSpan.Zero) }, // the same instant, another offset
            exact with { Amount = new Money(21) },
            exact with { UserId = new UserId(2) },
            exact with { OrderId = OrderId.New(At) }, // an order this change set does not insert
            exact with { Kind = LedgerEntryKind.Refund },
        })
        {
            Assert.Same(other, LedgerRecords.RecordOf(other, wallet, inserted));
        }

        Assert.Same(exact, LedgerRecords.RecordOf(exact, new Wallet(Buyer, new Money(6), 3), inserted)); // not the wallet's balance after
        Assert.Same(exact, LedgerRecords.RecordOf(exact, new Wallet(Buyer, new Money(5), 4), inserted)); // not the wallet's last entry
        Assert.Same(exact, LedgerRecords.RecordOf(exact, wallet, [])); // no order inserted at all
        Assert.Equal(exact, LedgerRecords.EntryOf(LedgerRecords.RecordOf(exact, wallet, inserted), 3, new Money(5)));
    }

    [Fact]
    public void Each_state_copies_its_entry_into_the_right_chunk_across_chunk_boundaries_and_after_a_state_without_one()
    {
        // Chunks hold entries 1–16, 17–48, 49–112, 113–240, 241–496: 297 entries cross four boundaries. Every
        // tenth state appends nothing, so the next one finds its chunk through the account, not its predecessor.
        var account = new WalletAccount(new Cell(Absent.Value));
        WalletState? state = null;
        var length = 0L;
        var balance = 0L;
        var entries = new List<LedgerEntry>();
        for (var step = 1; step <= 330; step++)
        {
            state?.CopyForward(); // as a commit does before it replaces the state
            LedgerEntry? entry = null;
            if (step % 10 != 0)
            {
                length++;
                balance += step;
                entry = new LedgerEntry(length, Buyer, LedgerEntryKind.Charge, new Money(step), new Money(balance), null, At.AddSeconds(step));
                entries.Add(entry);
            }

            state = new WalletState(new Wallet(Buyer, new Money(balance), length), entry, account, state);
            Assert.Equal(entry, state.Latest);
            Assert.All(entries, expected => Assert.Equal(expected, state.Entry(expected.Sequence)));
        }

        state!.CopyForward();
        Assert.All(entries, expected => Assert.Equal(expected, account.Entry(expected.Sequence)));
        Assert.Null(account.Entry(length + 1));
    }

    [Fact]
    public void The_newest_entry_is_in_the_account_before_the_next_commit_on_its_wallet_can_be_seen()
    {
        using var shop = InMemoryShop.Create();
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(100))).IsSuccess);
        var cell = WalletCell(shop);
        var first = ((WalletState)MultiWordCas.Read(cell)).Latest!;

        using var paused = new PausedCommit(
            (descriptor, i) => ReferenceEquals(descriptor.InstalledAt(i), cell),
            hook =>
            {
                shop.InMemoryStore().AfterInstall = hook;
                return Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(5))).IsSuccess;
            });
        paused.Start();

        // The charge's descriptor sits in the wallet cell, undecided: the entry it replaces is stored already.
        var parked = (WalletState)paused.Descriptor!.Updates.ToArray().Single(u => ReferenceEquals(u.Cell, cell)).Expected;
        Assert.Same(first, parked.Latest);
        Assert.Same(first, parked.Account.Entry(1));

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

    private static Cell WalletCell(Shop shop) => shop.InMemoryStore().Wallets.Find(CellKey.From(StoreKey.ForWallet(Buyer)))!;

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
