using Commerce.Conformance.Ports;
using Commerce.Storage;

namespace Commerce.InMemory.Tests.Ports;

/// <summary>The storage port's rules on the lock-free in-memory store.</summary>
public sealed class InMemoryStorePortTests : StorePortConformanceTests
{
    protected override ICommerceStore CreateStore() => new InMemoryCommerceStore();

    [Fact]
    public async Task Reads_and_a_purge_with_a_cancelled_token_throw_with_it_and_the_unit_of_work_reads_on_after_them()
    {
        // Every read of this store completes at once, with nothing to stop midway; a token cancelled before the
        // call is still honoured, as by the store's other methods (opening a session, committing, the event feed).
        var store = new InMemoryCommerceStore();
        var widget = new Product(new ProductId(1), "Widget", new Money(5));
        await using (var setup = await store.BeginAsync())
        {
            setup.Wallets.Save(new Wallet(new UserId(7), new Money(100)));
            setup.Products.Add(widget);
            setup.Inventory.Save(new StockItem(widget.Id, 10));
            Assert.True(await setup.CommitAsync());
        }

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var token = cancelled.Token;
        var (from, to) = (At.AddMinutes(-5), At.AddMinutes(5));
        var uncancelled = new List<string>();

        await using (var unitOfWork = await store.BeginAsync())
        {
            unitOfWork.Prefetch(StoreKey.ForStock(widget.Id));
            await AssertCancelledAsync("LoadAsync", async () => await unitOfWork.LoadAsync(token));
            await AssertCancelledAsync("Wallets.FindAsync", async () => await unitOfWork.Wallets.FindAsync(new UserId(7), token));
            await AssertCancelledAsync("Products.ListAsync", async () => await unitOfWork.Products.ListAsync(null, 10, token));
            await AssertCancelledAsync("Sales.GetTopAsync", async () => await unitOfWork.Sales.GetTopAsync(from, to, 5, token));
            Assert.Empty(uncancelled);

            // Nothing a cancelled read left behind reaches the reads after it.
            Assert.Equal(new Money(100), (await unitOfWork.Wallets.FindAsync(new UserId(7)))!.Balance);
            Assert.Equal(10, (await unitOfWork.Inventory.FindAsync(widget.Id))!.OnHand);
            Assert.Equal([widget], await unitOfWork.Products.ListAsync(null, 10));
            Assert.Empty(await unitOfWork.Sales.GetTopAsync(from, to, 5));
            Assert.True(await unitOfWork.CommitAsync());
        }

        var session = await store.OpenSessionAsync();
        await using (session)
        {
            await AssertCancelledAsync("PurgeIdempotencyAsync", async () => await session.PurgeIdempotencyAsync(DateTimeOffset.MaxValue, token));
        }

        Assert.Empty(uncancelled);

        async Task AssertCancelledAsync(string name, Func<Task> call)
        {
            var thrown = await Record.ExceptionAsync(call);
            if (thrown is not OperationCanceledException { } cancellation || cancellation.CancellationToken != token)
            {
                uncancelled.Add($"{name}: {thrown?.GetType().Name ?? "no exception"}");
            }
        }
    }
}
