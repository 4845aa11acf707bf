using Commerce.Conformance;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A keyed request refused for products that do not exist stores its refusal, and leaves no cell behind for
/// those products: its reads of them are checked at the commit rather than pinned by cells of their own.
/// </summary>
public sealed class AbsentProductReadTests
{
    private static readonly UserId Alice = new(1);

    [Fact]
    public async Task A_keyed_order_for_products_that_do_not_exist_stores_its_refusal_and_leaves_no_cell_for_them()
    {
        using var shop = InMemoryShop.Create();
        await shop.ChargeAsync(Alice.Value, 100);
        OrderLineRequest[] lines = [new(new ProductId(1000), 1), new(new ProductId(1001), 2)];

        var refused = await shop.Orders.PlaceOrderAsync(Alice, lines, new IdempotencyKey("k"));
        var replayed = await shop.Orders.PlaceOrderAsync(Alice, lines, new IdempotencyKey("k"));

        Assert.Equal(CommerceErrorCode.ProductNotFound, refused.Error!.Code);
        Assert.Equal(refused.Error, replayed.Error);
        var store = shop.InMemoryStore();
        foreach (var id in new long[] { 1000, 1001 })
        {
            Assert.Null(store.Products.Find(CellKey.From(StoreKey.ForProduct(new ProductId(id)))));
            Assert.Null(store.Inventory.Find(CellKey.From(StoreKey.ForStock(new ProductId(id)))));
        }
    }

    [Fact]
    public async Task A_keyed_refusal_whose_missing_product_is_added_before_its_commit_is_not_stored_and_its_rerun_places_the_order()
    {
        BeforeCommitStore? beforeCommit = null;
        using var shop = InMemoryShop.Create(wrap: store => beforeCommit = new BeforeCommitStore(store));
        await shop.ChargeAsync(Alice.Value, 100);
        beforeCommit!.Action = () =>
        {
            // The product comes after the order read it absent, before the order's commit.
            Assert.True(PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Catalog.AddProductAsync(new ProductId(7), "Late", new Money(10), 5))).IsSuccess);
        };

        var placed = await shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(7), 2)], new IdempotencyKey("k"));

        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(Alice));
        Assert.Equal(placed.Value.Id, (await shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(7), 2)], new IdempotencyKey("k"))).Value.Id);
    }

    /// <summary>Runs <see cref="Action"/> once, before the first commit that writes an idempotency record.</summary>
    private sealed class BeforeCommitStore(ICommerceStore inner) : ICommerceStore
    {
        private Action? _action;

        public Action? Action
        {
            get => Volatile.Read(ref _action);
            set => Volatile.Write(ref _action, value);
        }

        public async ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default) =>
            new Session(this, await inner.OpenSessionAsync(cancellationToken));

        private sealed class Session(BeforeCommitStore owner, IStoreSession session) : DelegatingStoreSession(session)
        {
            public override ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
            {
                var writesRecord = false;
                foreach (var change in changes.Changes)
                {
                    writesRecord |= change.Key.Table == StoreTable.Idempotency && change.Kind != ChangeKind.Read;
                }

                if (writesRecord && Interlocked.Exchange(ref owner._action, null) is { } action)
                {
                    action();
                }

                return Inner.CommitAsync(changes, cancellationToken);
            }
        }
    }
}
