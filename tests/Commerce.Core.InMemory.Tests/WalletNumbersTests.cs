using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A wallet is read as its numbers (<see cref="StoredState.OfBalance"/>): an order's read and a balance query make no
/// <see cref="Wallet"/>, and an order's payment is an adjustment that the store applies only if the wallet's ledger is
/// still as long as read (the payment's entry is numbered after it).
/// </summary>
public sealed class WalletNumbersTests
{
    private static readonly UserId Alice = new(1);
    private static readonly DateTimeOffset At = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_wallet_is_read_as_its_numbers_and_a_wallet_is_made_only_for_a_caller_that_asks()
    {
        var store = await ChargedAsync(100);
        await using var unitOfWork = await store.BeginAsync();

        Assert.Equal(new WalletNumbers(new Money(100), 1), await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Alice, default)); // read by this call
        var before = GC.GetAllocatedBytesForCurrentThread();
        var numbers = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Alice, default);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(new WalletNumbers(new Money(100), 1), numbers);
        Assert.Equal(0, allocated);
        Assert.Equal(new Wallet(Alice, new Money(100), 1), await unitOfWork.Wallets.FindAsync(Alice));
    }

    [Fact]
    public async Task A_payment_commits_the_balance_taken_and_its_entry_numbered_after_the_ledger_read()
    {
        var store = await ChargedAsync(100);
        var order = OrderOf(30);
        await using (var unitOfWork = await store.BeginAsync())
        {
            UnitOfWork.Pay(unitOfWork, await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Alice, default), order);
            unitOfWork.Orders.Add(order);
            Assert.True(await unitOfWork.CommitAsync());
        }

        await using var reader = await store.BeginAsync();
        Assert.Equal(new Wallet(Alice, new Money(70), 2), await reader.Wallets.FindAsync(Alice));
        Assert.Equal(
            new LedgerEntry(2, Alice, LedgerEntryKind.Payment, new Money(30), new Money(70), order.Id, At),
            await reader.Ledger.FindAsync(Alice, 2));
    }

    [Fact]
    public async Task A_payment_fails_and_changes_nothing_if_the_wallet_moved_on_since_it_was_read()
    {
        var store = await ChargedAsync(100);
        var order = OrderOf(30);
        await using (var unitOfWork = await store.BeginAsync())
        {
            UnitOfWork.Pay(unitOfWork, await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Alice, default), order);
            unitOfWork.Orders.Add(order);
            await ChargeAsync(store, 5); // entry 2: the payment's number is taken

            Assert.False(await unitOfWork.CommitAsync());
        }

        await using var reader = await store.BeginAsync();
        Assert.Equal(new Wallet(Alice, new Money(105), 2), await reader.Wallets.FindAsync(Alice));
        Assert.Equal(LedgerEntryKind.Charge, (await reader.Ledger.FindAsync(Alice, 2))!.Kind);
        Assert.Null(await reader.Orders.FindAsync(order.Id));
    }

    [Fact]
    public async Task A_charge_over_numbers_read_commits_its_entry_and_fails_over_a_wallet_that_moved_on()
    {
        using var shop = Support.InMemoryShop.Create();
        foreach (var amount in new[] { 10, 1, 1 })
        {
            Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(amount))).IsSuccess);
        }

        Assert.Equal(new Money(17), (await shop.Wallets.ChargeAsync(Alice, new Money(5))).Value);

        // Staged over numbers read, then another charge takes the entry's number: nothing applied.
        var store = Support.InMemoryShop.InMemoryStore(shop);
        await using (var unitOfWork = await store.BeginAsync())
        {
            var numbers = await UnitOfWork.FindWalletNumbersAsync(unitOfWork, Alice, default);
            UnitOfWork.Credit(unitOfWork, Alice, numbers, new Money(100), LedgerEntryKind.Charge, null, At);
            Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(1))).IsSuccess);
            Assert.False(await unitOfWork.CommitAsync());
        }

        Assert.Equal(new Money(18), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal([10L, 1L, 1L, 5L, 1L], (await shop.Wallets.GetLedgerAsync(Alice)).Select(e => e.Amount.Amount));
    }

    private static Order OrderOf(long total) =>
        new(new OrderId(Guid.CreateVersion7(At)), Alice, [new OrderLine(new ProductId(1), 1, new Money(total))], At);

    private static async ValueTask<InMemoryCommerceStore> ChargedAsync(long amount)
    {
        var store = new InMemoryCommerceStore();
        await ChargeAsync(store, amount);
        return store;
    }

    /// <summary>A charge as the wallet service commits it: the wallet and its ledger entry.</summary>
    private static async ValueTask ChargeAsync(InMemoryCommerceStore store, long amount)
    {
        await using var unitOfWork = await store.BeginAsync();
        var wallet = await unitOfWork.Wallets.FindAsync(Alice) ?? Wallet.Empty(Alice);
        var charged = wallet.Charge(new Money(amount), new Money(long.MaxValue), new Money(long.MaxValue)).Value;
        unitOfWork.Wallets.Save(charged);
        unitOfWork.Ledger.Add(wallet.EntryTo(charged, LedgerEntryKind.Charge, null, At));
        Assert.True(await unitOfWork.CommitAsync());
    }
}
