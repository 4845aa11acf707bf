using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>The in-memory unit of work's handling of products, which the store treats as write-once.</summary>
public sealed class UnitOfWorkTests
{
    private static readonly Product Widget = new(new ProductId(1), "Widget", new Money(5));

    private static InMemoryCommerceStore StoreWithWidget()
    {
        var store = new InMemoryCommerceStore();
        var unitOfWork = Sync.Run(store.BeginAsync());
        unitOfWork.Products.Add(Widget);
        Assert.True(Sync.Run(unitOfWork.CommitAsync()));
        unitOfWork.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return store;
    }

    [Fact]
    public async Task A_unit_of_work_disposed_twice_by_its_owner_leaves_the_next_one_opened_on_the_thread_alone()
    {
        // The store's session opens and closes synchronously, so every await below completes at once, on this
        // thread: the first unit of work's second dispose must not close the second (as it would if the second
        // were the first, handed out again).
        var store = StoreWithWidget();
        var first = await store.BeginAsync();
        await first.DisposeAsync();
        var second = await store.BeginAsync();
        await first.DisposeAsync();

        Assert.NotSame(first, second);
        Assert.Same(Widget, await second.Products.FindAsync(Widget.Id));
        second.Products.Add(new Product(new ProductId(2), "Gadget", new Money(7)));
        Assert.True(await second.CommitAsync());
        await second.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => first.Products.FindAsync(Widget.Id));
    }

    [Fact]
    public void Adding_a_product_over_one_the_unit_of_work_saw_fails_the_commit_and_changes_nothing()
    {
        var store = StoreWithWidget();
        var unitOfWork = Sync.Run(store.BeginAsync());
        Assert.Same(Widget, Sync.Run(unitOfWork.Products.FindAsync(Widget.Id)));
        unitOfWork.Products.Add(new Product(Widget.Id, "Gadget", new Money(5)));

        Assert.False(Sync.Run(unitOfWork.CommitAsync()));
        Assert.Same(Widget, MultiWordCas.Read(store.Products.Find(CellKey.From(StoreKey.ForProduct(Widget.Id)))!));
    }

    [Fact]
    public void Adding_a_product_that_exists_without_reading_it_fails_the_commit()
    {
        var store = StoreWithWidget();
        var unitOfWork = Sync.Run(store.BeginAsync());
        unitOfWork.Products.Add(new Product(Widget.Id, "Gadget", new Money(5)));

        Assert.False(Sync.Run(unitOfWork.CommitAsync()));
        Assert.Same(Widget, MultiWordCas.Read(store.Products.Find(CellKey.From(StoreKey.ForProduct(Widget.Id)))!));
    }

    [Fact]
    public void A_commit_does_not_put_a_product_it_only_read_into_its_multi_word_cas()
    {
        var store = StoreWithWidget();
        var named = new List<Cell>();
        store.AfterInstall = (descriptor, i) => named.Add(descriptor.InstalledAt(i));

        var unitOfWork = Sync.Run(store.BeginAsync());
        Assert.Same(Widget, Sync.Run(unitOfWork.Products.FindAsync(Widget.Id)));
        Assert.Null(Sync.Run(unitOfWork.Products.FindAsync(new ProductId(2))));
        unitOfWork.Wallets.Save(new Wallet(new UserId(7), new Money(3)));
        Assert.True(Sync.Run(unitOfWork.CommitAsync()));

        // The wallet and the absent product 2 (whose absence could change) are checked; the existing product is not.
        Assert.Equal(2, named.Count);
        Assert.DoesNotContain(store.Products.Find(CellKey.From(StoreKey.ForProduct(Widget.Id))), named);
    }

    [Fact]
    public void A_product_that_was_absent_when_read_is_still_checked_at_commit()
    {
        var store = new InMemoryCommerceStore();
        var unitOfWork = Sync.Run(store.BeginAsync());
        Assert.Null(Sync.Run(unitOfWork.Products.FindAsync(Widget.Id)));
        unitOfWork.Wallets.Save(new Wallet(new UserId(7), new Money(3)));

        // Another unit of work adds the product in between: the first one's read is stale.
        var other = Sync.Run(store.BeginAsync());
        other.Products.Add(Widget);
        Assert.True(Sync.Run(other.CommitAsync()));

        Assert.False(Sync.Run(unitOfWork.CommitAsync()));
    }
}
