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

        Prefetch.Object(null);
        Prefetch.Object(array);
        Prefetch.Object(empty);
        Prefetch.Object(text);
        Prefetch.Object(wallet);
        Prefetch.Object(new object());

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

    [Fact]
    public void A_wallet_whose_account_holds_entries_prefetches_its_chunk_and_reads_the_same()
    {
        // Seventeen entries: the latest is the content's record, the sixteenth fills the first chunk, and the hint names
        // the second chunk (where the next copy goes), whose slot and length are prefetched.
        var account = new WalletAccount();
        var entries = Enumerable.Range(1, 17)
            .Select(i => new LedgerEntry(i, new UserId(1), LedgerEntryKind.Charge, new Money(1), new Money(i), null, DateTimeOffset.UnixEpoch))
            .ToArray();
        foreach (var entry in entries[..16])
        {
            account.Store(entry);
        }

        var wallet = new WalletCell(entries[16], 17, 17, account) { ChunkHint = account.ChunkOf(17) };

        wallet.PrefetchLines();

        var now = wallet.Read();
        Assert.Equal((17L, new Money(17)), (now.LedgerLength, now.Balance));
        Assert.Equal(entries, Enumerable.Range(1, 17).Select(i => now.Entry(i, wallet.Account)));
    }
}
