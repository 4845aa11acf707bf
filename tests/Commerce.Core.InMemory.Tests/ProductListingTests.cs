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

    [Fact]
    public async Task A_write_that_listed_products_and_adds_one_in_its_range_is_retried_by_the_store_when_only_a_stock_count_moved_on()
    {
        var store = new InMemoryCommerceStore();
        Assert.True(await AddAsync(store, 10, 20));
        await using (var stocking = await store.BeginAsync())
        {
            stocking.Inventory.Save(new StockItem(new ProductId(10), 10));
            Assert.True(await stocking.CommitAsync());
        }

        await using var listing = await store.BeginAsync();
        Assert.Equal([10L, 20L], (await listing.Products.ListAsync(null, 10)).Select(p => p.Id.Value));
        listing.Products.Add(new Product(new ProductId(15), "P15", new Money(15)));
        listing.Inventory.Adjust(new ProductId(10), -1, 0);

        var casAttempts = 0;
        store.BeforeCas = () =>
        {
            // Another unit of work takes from product 10's stock between this commit's read of it and its CAS.
            if (Interlocked.Increment(ref casAttempts) == 1)
            {
                Assert.True(PausedCommit.CompletesOnAnotherThread(() => TakeOneAsync(store, 10).AsTask().GetAwaiter().GetResult()));
            }
        };

        // Only the adjusted stock count moved on, and no other product was added: the store's own retry commits it.
        Assert.True(await listing.CommitAsync());
        Assert.Equal(3, Volatile.Read(ref casAttempts)); // this commit's first CAS, the other one's, this one's retry
        store.BeforeCas = null;
        await using var check = await store.BeginAsync();
        Assert.Equal([10L, 15L, 20L], (await check.Products.ListAsync(null, 10)).Select(p => p.Id.Value));
        Assert.Equal(8, (await check.Inventory.FindAsync(new ProductId(10)))!.OnHand);
    }

    private static async ValueTask<bool> TakeOneAsync(InMemoryCommerceStore store, long id)
    {
        await using var unitOfWork = await store.BeginAsync();
        unitOfWork.Inventory.Adjust(new ProductId(id), -1, 0);
        return await unitOfWork.CommitAsync();
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
