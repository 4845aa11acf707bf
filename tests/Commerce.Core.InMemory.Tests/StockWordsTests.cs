using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A product's stock is held as two numbers that only grow, the units received and the units taken: a read gives
/// its quantity (no <see cref="StockItem"/> made), a read is checked against both numbers (so a quantity that came
/// back to what was read does not pass for unchanged), and units taken and units added commit without conflicting.
/// </summary>
public sealed class StockWordsTests
{
    private static readonly ProductId Widget = new(1);
    private static readonly UserId Alice = new(1);

    [Fact]
    public async Task A_stock_is_read_as_its_quantity_and_a_stock_item_is_made_only_for_a_caller_that_asks()
    {
        var store = await StockedAsync(10);
        await using var unitOfWork = await store.BeginAsync();
        var own = (UnitOfWork)unitOfWork;

        Assert.Equal(10, await own.FindOnHandAsync(Widget, default)); // read by this call
        var before = GC.GetAllocatedBytesForCurrentThread();
        var onHand = await own.FindOnHandAsync(Widget, default);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(10, onHand);
        Assert.Equal(0, allocated);
        Assert.Equal(new StockItem(Widget, 10), await unitOfWork.Inventory.FindAsync(Widget));
        var keyed = store.Inventory.Find(CellKey.From(StoreKey.ForStock(Widget)))!;
        Assert.IsType<StockCell>(MultiWordCas.Read(keyed)); // its state from the stock's creation on
    }

    [Fact]
    public async Task A_stock_read_first_as_its_quantity_makes_no_stock_item_either()
    {
        // The read that loads the stock (nothing prefetched it), as a catalog's product read does.
        var store = await StockedAsync(10);
        await using (var warm = await store.BeginAsync())
        {
            Assert.Equal(10, await ((UnitOfWork)warm).FindOnHandAsync(Widget, default)); // every path run once
        }

        await using var unitOfWork = await store.BeginAsync();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var onHand = await ((UnitOfWork)unitOfWork).FindOnHandAsync(Widget, default);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(10, onHand);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task A_read_only_unit_of_work_that_saw_a_stock_fails_if_its_quantity_came_back_to_what_it_read()
    {
        var store = await StockedAsync(10);
        await using var reader = await store.BeginAsync();
        Assert.Equal(10, (await reader.Inventory.FindAsync(Widget))!.OnHand);
        Assert.Null(await reader.Wallets.FindAsync(Alice)); // a second read: the commit checks both

        Assert.True(await AdjustAsync(store, -2)); // 8
        Assert.True(await AdjustAsync(store, +2)); // 10 again, from other numbers

        Assert.False(await reader.CommitAsync()); // the two reads were not of one instant
    }

    [Fact]
    public async Task A_read_only_unit_of_work_whose_stock_held_passes_its_check()
    {
        var store = await StockedAsync(10);
        Assert.True(await AdjustAsync(store, -3));
        await using var reader = await store.BeginAsync();
        Assert.Equal(7, (await reader.Inventory.FindAsync(Widget))!.OnHand);
        Assert.Null(await reader.Wallets.FindAsync(Alice));

        Assert.True(await reader.CommitAsync());
    }

    [Theory]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(25)]
    public async Task A_stock_saved_whole_over_its_read_applies_its_quantity(int quantity)
    {
        var store = await StockedAsync(10);
        Assert.True(await AdjustAsync(store, -4)); // 6 on hand, from 10 received and 4 taken
        Assert.True(await AdjustAsync(store, +4));

        await using (var unitOfWork = await store.BeginAsync())
        {
            Assert.Equal(10, (await unitOfWork.Inventory.FindAsync(Widget))!.OnHand);
            unitOfWork.Inventory.Save(new StockItem(Widget, quantity));
            Assert.True(await unitOfWork.CommitAsync());
        }

        Assert.Equal(quantity, await OnHandAsync(store));
        Assert.True(await AdjustAsync(store, -quantity)); // every unit of it can be taken, and no more
        Assert.False(await AdjustAsync(store, -1));
    }

    [Fact]
    public async Task A_stock_saved_whole_fails_if_its_quantity_came_back_to_what_it_read_and_changes_nothing()
    {
        var store = await StockedAsync(10);
        await using var writer = await store.BeginAsync();
        Assert.Equal(10, (await writer.Inventory.FindAsync(Widget))!.OnHand);
        writer.Inventory.Save(new StockItem(Widget, 0));

        Assert.True(await AdjustAsync(store, -1));
        Assert.True(await AdjustAsync(store, +1));

        Assert.False(await writer.CommitAsync());
        Assert.Equal(10, await OnHandAsync(store));
    }

    [Fact]
    public async Task Units_taken_commit_in_one_attempt_over_units_added_meanwhile_and_keep_their_minimum()
    {
        var store = await StockedAsync(3);
        await using var taking = await store.BeginAsync();
        taking.Inventory.Adjust(Widget, -3, 0);
        var casAttempts = 0;
        store.BeforeCas = () =>
        {
            // Units added between the taking commit's build and its CAS: the units received, which it does not expect.
            if (Interlocked.Increment(ref casAttempts) == 1)
            {
                Assert.True(PausedCommit.CompletesOnAnotherThread(() => AdjustAsync(store, +5).AsTask().GetAwaiter().GetResult()));
            }
        };

        Assert.True(await taking.CommitAsync());
        Assert.Equal(2, Volatile.Read(ref casAttempts)); // its one CAS, after the other one's
        store.BeforeCas = null;
        Assert.Equal(5, await OnHandAsync(store));
        Assert.False(await AdjustAsync(store, -5, minimum: 1)); // would leave none
        Assert.True(await AdjustAsync(store, -4, minimum: 1));
        Assert.Equal(1, await OnHandAsync(store));
    }

    [Fact]
    public async Task Units_added_never_take_a_quantity_past_the_largest_a_stock_holds()
    {
        var store = await StockedAsync(int.MaxValue - 5);
        Assert.True(await AdjustAsync(store, -10));
        Assert.True(await AdjustAsync(store, +15));
        Assert.Equal(int.MaxValue, await OnHandAsync(store));

        Assert.False(await AdjustAsync(store, +1));
        Assert.Equal(int.MaxValue, await OnHandAsync(store));
    }

    [Fact]
    public async Task An_adjustment_of_a_stock_that_does_not_exist_fails()
    {
        var store = new InMemoryCommerceStore();
        Assert.False(await AdjustAsync(store, +1));
        Assert.False(await AdjustAsync(store, -1));
        Assert.Null(await OnHandAsync(store));
    }

    [Fact]
    public void Concurrent_takes_and_additions_on_one_stock_never_conflict_and_leave_what_a_sequential_run_leaves()
    {
        // Takes only expect the units taken, additions only the units received: each kind is retried by the store
        // among its own, and the two never fail each other. Sequentially, the same adjustments in any order leave
        // the first quantity, less every unit taken, plus every unit added (no take runs short: enough to start with).
        const int Threads = 4;
        const int PerThread = 400;
        const int First = Threads * PerThread * 3;
        var store = Sync.Run(StockedAsync(First));
        var committed = new int[Threads];

        RealThreads.RunTogether(Threads, t =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                var delta = t % 2 == 0 ? -(1 + (i % 3)) : 1 + (i % 2);
                Assert.True(Sync.Run(AdjustAsync(store, delta)), $"thread {t}, adjustment {i}");
                committed[t] += delta;
            }
        });

        var expected = First + committed.Sum();
        Assert.Equal(expected, Sync.Run(OnHandAsync(store)));
        var keyed = store.Inventory.Find(CellKey.From(StoreKey.ForStock(Widget)))!;
        var numbers = ((StockCell)MultiWordCas.Read(keyed)).Read();
        Assert.Equal(First + committed.Where(d => d > 0).Sum(), numbers.Received);
        Assert.Equal(-committed.Where(d => d < 0).Sum(), numbers.Taken);
    }

    [Fact]
    public async Task An_order_of_more_lines_than_a_commit_first_makes_room_for_takes_every_stock_and_counts_every_sale()
    {
        // Twenty lines: past the eight stock and sales entries a commit's scratch starts with, so both grow.
        using var shop = InMemoryShop.Create();
        for (var id = 1; id <= 20; id++)
        {
            await shop.AddProductAsync(id, price: 1, stock: 100);
        }

        await shop.ChargeAsync(Alice.Value, 1_000);
        var lines = Enumerable.Range(1, 20).Select(id => ((long)id, 1 + (id % 3))).ToArray();

        var placed = await shop.OrderAsync(Alice.Value, lines);

        Assert.True(placed.IsSuccess, placed.IsFailure ? placed.Error.Message : null);
        foreach (var (id, quantity) in lines)
        {
            Assert.Equal(100 - quantity, (await shop.Catalog.GetProductAsync(new ProductId(id))).Value.Stock);
        }

        var ranking = await shop.Ranking.GetPopularProductsAsync(20, TimeSpan.FromDays(1));
        Assert.Equal(lines.OrderBy(l => l.Item1).Select(l => l.Item2), ranking.OrderBy(r => r.ProductId.Value).Select(r => (int)r.QuantitySold));
    }

    private static async ValueTask<InMemoryCommerceStore> StockedAsync(int onHand)
    {
        var store = new InMemoryCommerceStore();
        await using var unitOfWork = await store.BeginAsync();
        unitOfWork.Inventory.Save(new StockItem(Widget, onHand));
        Assert.True(await unitOfWork.CommitAsync());
        return store;
    }

    /// <summary>One adjustment of the stock, not read first, committed once (the store's own retries aside).</summary>
    private static async ValueTask<bool> AdjustAsync(InMemoryCommerceStore store, int delta, int minimum = 0)
    {
        await using var unitOfWork = await store.BeginAsync();
        unitOfWork.Inventory.Adjust(Widget, delta, minimum);
        return await unitOfWork.CommitAsync();
    }

    private static async ValueTask<int?> OnHandAsync(InMemoryCommerceStore store)
    {
        await using var unitOfWork = await store.BeginAsync();
        return (await unitOfWork.Inventory.FindAsync(Widget))?.OnHand;
    }
}
