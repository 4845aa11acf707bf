using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests;

/// <summary>A prefetch is only a hint: it takes any object (or none) and changes nothing.</summary>
public sealed class PrefetchTests
{
    [Fact]
    public void Prefetching_any_object_or_none_changes_nothing()
    {
        var array = new long[] { 1, 2, 3 };
        var empty = Array.Empty<object>();
        var text = "x";
        var wallet = new Wallet(new UserId(1), new Money(5));

        Prefetch.Line(null);
        Prefetch.Line(array);
        Prefetch.Line(empty);
        Prefetch.Line(text);
        Prefetch.Line(wallet);
        Prefetch.Line(new object());

        Assert.Equal([1L, 2, 3], array);
        Assert.Empty(empty);
        Assert.Equal("x", text);
        Assert.Equal(new Money(5), wallet.Balance);
    }

    [Fact]
    public void A_wallet_state_prefetches_with_or_without_a_ledger_chunk()
    {
        var account = new WalletAccount(new Cell(Absent.Value));
        var first = new Wallet(new UserId(1), new Money(10), ledgerLength: 1);
        var entry = new LedgerEntry(1, new UserId(1), LedgerEntryKind.Charge, new Money(10), new Money(10), null, DateTimeOffset.UnixEpoch);
        var withRecord = new WalletState(first, entry, account);
        var withoutRecord = new WalletState(first, null, account, withRecord);

        withRecord.PrefetchLines();
        withoutRecord.PrefetchLines();

        Assert.Equal(entry, withRecord.Entry(1));
        Assert.Same(first, withoutRecord.Wallet);
    }
}
