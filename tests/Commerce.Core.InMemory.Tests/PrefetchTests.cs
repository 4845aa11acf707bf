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
    public void A_wallet_prefetches_its_numbers_lines_and_reads_the_same()
    {
        var entry = new LedgerEntry(1, new UserId(1), LedgerEntryKind.Charge, new Money(10), new Money(10), null, DateTimeOffset.UnixEpoch);
        var wallet = new WalletCell(entry, 1, 10);

        wallet.PrefetchLines();

        var now = wallet.Read();
        Assert.Equal((1L, new Money(10)), (now.LedgerLength, now.Balance));
        Assert.Equal(entry, now.Entry(1, wallet.Account));
    }
}
