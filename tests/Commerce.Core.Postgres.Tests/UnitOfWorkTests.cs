using Commerce.Postgres.Tests.Support;
using Commerce.Storage;

namespace Commerce.Postgres.Tests;

/// <summary>The unit of work's optimistic protocol, interleaved by hand.</summary>
public sealed class UnitOfWorkTests
{
    private static readonly UserId Alice = new(1);
    private static readonly ProductId Apple = new(10);

    [PostgresFact]
    public async Task A_write_based_on_a_stale_read_is_refused_and_applies_nothing_of_the_commit()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);

        await using var stale = await shop.Store.BeginAsync();
        var wallet = (await stale.Wallets.FindAsync(Alice))!;
        var stock = (await stale.Inventory.FindAsync(Apple))!;
        await shop.Catalog.RestockAsync(Apple, 1); // moves the stock row's version

        stale.Wallets.Save(wallet.Debit(new Money(10)).Value);
        stale.Inventory.Save(stock.Deduct(1).Value);
        Assert.False(await stale.CommitAsync());

        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(6, (await shop.Catalog.GetProductAsync(Apple)).Value.Stock);
    }

    [PostgresFact]
    public async Task A_row_only_read_that_changed_refuses_the_commit()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);

        await using var unitOfWork = await shop.Store.BeginAsync();
        await unitOfWork.Inventory.FindAsync(Apple);
        var wallet = (await unitOfWork.Wallets.FindAsync(Alice))!;
        await shop.Catalog.RestockAsync(Apple, 1);
        unitOfWork.Wallets.Save(wallet.Debit(new Money(10)).Value);

        Assert.False(await unitOfWork.CommitAsync());
        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [PostgresFact]
    public async Task A_key_read_as_absent_that_appeared_refuses_the_commit()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));

        await using var unitOfWork = await shop.Store.BeginAsync();
        Assert.Null(await unitOfWork.Products.FindAsync(Apple));
        var wallet = (await unitOfWork.Wallets.FindAsync(Alice))!;
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);
        unitOfWork.Wallets.Save(wallet.Debit(new Money(10)).Value);

        Assert.False(await unitOfWork.CommitAsync());
        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [PostgresFact]
    public async Task Inserting_a_key_that_exists_by_then_is_refused()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var unitOfWork = await shop.Store.BeginAsync();
        unitOfWork.Wallets.Save(new Wallet(Alice, new Money(5)));
        await shop.Wallets.ChargeAsync(Alice, new Money(100));

        Assert.False(await unitOfWork.CommitAsync());
        Assert.Equal(new Money(100), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [PostgresFact]
    public async Task A_read_only_unit_of_work_whose_reads_moved_apart_reports_a_conflict_and_a_steady_one_commits()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);

        await using (var moved = await shop.Store.BeginAsync())
        {
            await moved.Wallets.FindAsync(Alice);
            await moved.Inventory.FindAsync(new ProductId(99));
            await moved.Products.FindAsync(Apple);
            await shop.Wallets.ChargeAsync(Alice, new Money(1));
            Assert.False(await moved.CommitAsync());
        }

        await using (var absentAppeared = await shop.Store.BeginAsync())
        {
            await absentAppeared.Wallets.FindAsync(new UserId(2));
            await absentAppeared.Inventory.FindAsync(Apple);
            await shop.Wallets.ChargeAsync(new UserId(2), new Money(1));
            Assert.False(await absentAppeared.CommitAsync());
        }

        // A product read present never changes: read before the one read that could, both held when that
        // one was read, and the commit needs no check. Read after it, the product might not have existed
        // when the other was read: the commit checks.
        await using (var productFirst = await shop.Store.BeginAsync())
        {
            await productFirst.Products.FindAsync(Apple);
            await productFirst.Wallets.FindAsync(new UserId(5));
            await shop.Wallets.ChargeAsync(new UserId(5), new Money(1));
            var before = shop.Store.RoundTrips;
            Assert.True(await productFirst.CommitAsync());
            Assert.Equal(before, shop.Store.RoundTrips);
        }

        await using (var productLast = await shop.Store.BeginAsync())
        {
            await productLast.Wallets.FindAsync(new UserId(6));
            await productLast.Products.FindAsync(Apple);
            await shop.Wallets.ChargeAsync(new UserId(6), new Money(1));
            var before = shop.Store.RoundTrips;
            Assert.False(await productLast.CommitAsync());
            Assert.Equal(before + 1, shop.Store.RoundTrips);
        }

        await using var steady = await shop.Store.BeginAsync();
        await steady.Wallets.FindAsync(Alice);
        await steady.Inventory.FindAsync(Apple);
        await steady.Wallets.FindAsync(new UserId(3));
        await shop.Wallets.ChargeAsync(new UserId(4), new Money(1));
        Assert.True(await steady.CommitAsync());
    }

    [PostgresFact]
    public async Task A_page_that_gained_a_product_in_its_range_reports_a_conflict()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(new ProductId(1), "A", new Money(1), 1);
        await shop.Catalog.AddProductAsync(new ProductId(5), "B", new Money(1), 1);
        await shop.Catalog.AddProductAsync(new ProductId(9), "C", new Money(1), 1);

        await using (var outside = await shop.Store.BeginAsync())
        {
            Assert.Equal(2, (await outside.Products.ListAsync(null, 2)).Count);
            await outside.Wallets.FindAsync(Alice);
            await shop.Catalog.AddProductAsync(new ProductId(7), "D", new Money(1), 1); // after the page
            Assert.True(await outside.CommitAsync());
        }

        await using var inside = await shop.Store.BeginAsync();
        Assert.Equal(2, (await inside.Products.ListAsync(null, 2)).Count);
        await inside.Wallets.FindAsync(Alice);
        await shop.Catalog.AddProductAsync(new ProductId(3), "E", new Money(1), 1); // inside the page
        inside.Wallets.Save(new Wallet(Alice, new Money(1)));
        Assert.False(await inside.CommitAsync());
        Assert.Equal(new Money(0), await shop.Wallets.GetBalanceAsync(Alice));
    }

    [PostgresFact]
    public async Task Reading_a_key_twice_returns_the_first_state_and_a_staged_write_is_read_back()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Wallets.ChargeAsync(Alice, new Money(100));

        await using var unitOfWork = await shop.Store.BeginAsync();
        var first = await unitOfWork.Wallets.FindAsync(Alice);
        await shop.Wallets.ChargeAsync(Alice, new Money(1));
        Assert.Same(first, await unitOfWork.Wallets.FindAsync(Alice));
        var staged = new Wallet(Alice, new Money(7));
        unitOfWork.Wallets.Save(staged);
        Assert.Same(staged, await unitOfWork.Wallets.FindAsync(Alice));
        Assert.False(await unitOfWork.CommitAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await unitOfWork.Wallets.FindAsync(Alice));
    }

    [PostgresFact]
    public async Task Stock_is_checked_at_commit_only_if_read_and_a_batch_read_sees_one_instant()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);

        await using (var productOnly = await shop.Store.BeginAsync())
        {
            await productOnly.Products.FindAsync(Apple);
            await shop.Catalog.RestockAsync(Apple, 1);
            productOnly.Wallets.Save(new Wallet(Alice, new Money(1)));
            Assert.True(await productOnly.CommitAsync());
        }

        await using var both = await shop.Store.BeginAsync();
        both.Prefetch(StoreKey.ForProduct(Apple));
        both.Prefetch(StoreKey.ForStock(Apple));
        await both.LoadAsync();
        await shop.Catalog.RestockAsync(Apple, 1);
        Assert.Equal(6, (await both.Inventory.FindAsync(Apple))!.OnHand); // as of the batch read
        both.Wallets.Save(new Wallet(new UserId(2), new Money(1)));
        Assert.False(await both.CommitAsync());
    }

    [PostgresFact]
    public async Task Adding_a_product_read_present_fails_the_commit_and_changes_nothing()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(10), 5);

        await using (var unitOfWork = await shop.Store.BeginAsync())
        {
            var apple = (await unitOfWork.Products.FindAsync(Apple))!;
            unitOfWork.Products.Add(new Product(Apple, "Renamed", apple.Price));
            unitOfWork.Wallets.Save(new Wallet(Alice, new Money(1)));
            Assert.False(await unitOfWork.CommitAsync());
        }

        await using (var blind = await shop.Store.BeginAsync())
        {
            blind.Products.Add(new Product(Apple, "Blind", new Money(1)));
            Assert.False(await blind.CommitAsync());
        }

        Assert.Equal(new ProductSummary(Apple, "Apple", new Money(10), 5), (await shop.Catalog.GetProductAsync(Apple)).Value);
        Assert.Equal(new Money(0), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT version FROM {s}.products"));
    }

    [PostgresFact]
    public async Task A_product_read_as_absent_stays_absent_in_a_later_page_and_the_commit_fails()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.Catalog.AddProductAsync(new ProductId(1), "A", new Money(1), 1);

        await using var unitOfWork = await shop.Store.BeginAsync();
        Assert.Null(await unitOfWork.Products.FindAsync(new ProductId(2)));
        await shop.Catalog.AddProductAsync(new ProductId(2), "B", new Money(1), 1);
        var page = await unitOfWork.Products.ListAsync(null, 10);

        Assert.Equal([new ProductId(1)], page.Select(p => p.Id));
        Assert.False(await unitOfWork.CommitAsync());
    }
}
