using Commerce.InMemory.Tests.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A unit of work that lists products and writes commits only if no product was committed in the ranges it
/// listed, up to its decision (not only up to the check of its ranges before the multi-word CAS); and
/// products added at once do not make each other's use cases run again.
/// </summary>
public sealed class ProductListingTests
{
    [Fact]
    public async Task A_write_fails_when_a_product_is_committed_in_its_listed_range_between_the_range_check_and_the_cas()
    {
        var store = new InMemoryCommerceStore();
        await using var listing = await ListedAndWrittenAsync(store);

        var casAttempts = 0;
        store.BeforeCas = () =>
        {
            // After the ranges were checked: product 15 commits inside the listed range.
            if (Interlocked.Increment(ref casAttempts) == 1)
            {
                Assert.True(PausedCommit.CompletesOnAnotherThread(() => AddAsync(store, 15).AsTask().GetAwaiter().GetResult()));
            }
        };

        Assert.False(await listing.CommitAsync());
        store.BeforeCas = null;
        await using var check = await store.BeginAsync();
        Assert.Null(await check.Wallets.FindAsync(new UserId(1)));
    }

    [Fact]
    public async Task A_write_fails_when_a_product_is_committed_in_its_listed_range_right_after_the_range_check()
    {
        var store = new InMemoryCommerceStore();
        await using var listing = await ListedAndWrittenAsync(store);

        // The listing's cell was read before the check, so the CAS sees that it moved on.
        store.AfterRangeCheck = () =>
        {
            store.AfterRangeCheck = null;
            Assert.True(PausedCommit.CompletesOnAnotherThread(() => AddAsync(store, 15).AsTask().GetAwaiter().GetResult()));
        };

        Assert.False(await listing.CommitAsync());
    }

    [Fact]
    public async Task A_write_that_listed_products_commits_when_none_was_added()
    {
        var store = new InMemoryCommerceStore();
        await using var listing = await ListedAndWrittenAsync(store);

        Assert.True(await listing.CommitAsync());
    }

    [Fact]
    public async Task A_product_added_while_another_product_is_added_commits_in_its_one_attempt()
    {
        var store = new InMemoryCommerceStore();
        await using var first = await store.BeginAsync();
        first.Products.Add(new Product(new ProductId(1), "P1", new Money(1)));

        var casAttempts = 0;
        store.BeforeCas = () =>
        {
            // Product 2's commit moves the listing on between this commit's read of it and its CAS.
            if (Interlocked.Increment(ref casAttempts) == 1)
            {
                Assert.True(PausedCommit.CompletesOnAnotherThread(() => AddAsync(store, 2).AsTask().GetAwaiter().GetResult()));
            }
        };

        Assert.True(await first.CommitAsync()); // retried by the store: a product's add only bumps the listing
        Assert.Equal(3, Volatile.Read(ref casAttempts)); // this commit's first CAS, product 2's, this one's retry
        store.BeforeCas = null;
        await using var check = await store.BeginAsync();
        Assert.Equal([1L, 2L], (await check.Products.ListAsync(null, 10)).Select(p => p.Id.Value));
    }

    /// <summary>Products 10 and 20, and a unit of work that listed them and saved a wallet (not committed).</summary>
    private static async Task<IUnitOfWork> ListedAndWrittenAsync(InMemoryCommerceStore store)
    {
        Assert.True(await AddAsync(store, 10, 20));
        var listing = await store.BeginAsync();
        Assert.Equal([10L, 20L], (await listing.Products.ListAsync(null, 10)).Select(p => p.Id.Value));
        listing.Wallets.Save(new Wallet(new UserId(1), new Money(1)));
        return listing;
    }

    private static async ValueTask<bool> AddAsync(InMemoryCommerceStore store, params long[] ids)
    {
        await using var unitOfWork = await store.BeginAsync();
        foreach (var id in ids)
        {
            unitOfWork.Products.Add(new Product(new ProductId(id), $"P{id}", new Money(id)));
        }

        return await unitOfWork.CommitAsync();
    }
}
