using Commerce.Conformance;
using Commerce.InMemory.Tests.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A keyed request refused for keys that do not exist (products, a wallet never charged, a cart never filled)
/// stores its refusal, and leaves no cell behind for those keys: its reads of them are checked at the commit
/// rather than pinned by cells of their own.
/// </summary>
public sealed class AbsentKeyReadTests
{
    private static readonly UserId Alice = new(1);
    private static readonly UserId Stranger = new(424242);

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

    [Fact]
    public async Task A_keyed_order_from_a_user_never_charged_stores_its_refusal_and_leaves_no_wallet_cell()
    {
        using var shop = InMemoryShop.Create();
        Assert.True((await shop.Catalog.AddProductAsync(new ProductId(7), "Lamp", new Money(10), 5)).IsSuccess);

        var refused = await shop.Orders.PlaceOrderAsync(Stranger, [new(new ProductId(7), 1)], new IdempotencyKey("k"));
        var replayed = await shop.Orders.PlaceOrderAsync(Stranger, [new(new ProductId(7), 1)], new IdempotencyKey("k"));

        Assert.Equal(CommerceErrorCode.InsufficientBalance, refused.Error!.Code);
        Assert.Equal(refused.Error, replayed.Error);
        Assert.Null(shop.InMemoryStore().Wallets.Find(CellKey.From(StoreKey.ForWallet(Stranger))));
        Assert.Equal(5, (await shop.Catalog.GetProductAsync(new ProductId(7))).Value.Stock);
    }

    [Fact]
    public async Task A_keyed_checkout_of_a_cart_never_filled_stores_its_refusal_and_leaves_no_cart_cell()
    {
        using var shop = InMemoryShop.Create();

        var refused = await shop.Carts.CheckoutAsync(Stranger, new IdempotencyKey("k"));
        var replayed = await shop.Carts.CheckoutAsync(Stranger, new IdempotencyKey("k"));

        Assert.Equal(CommerceErrorCode.EmptyOrder, refused.Error!.Code);
        Assert.Equal(refused.Error, replayed.Error);
        Assert.Null(shop.InMemoryStore().Carts.Find(CellKey.From(StoreKey.ForCart(Stranger))));
        Assert.Null(shop.InMemoryStore().Wallets.Find(CellKey.From(StoreKey.ForWallet(Stranger))));
    }

    [Fact]
    public async Task A_keyed_refusal_whose_missing_wallet_is_charged_before_its_commit_is_not_stored_and_its_rerun_places_the_order()
    {
        BeforeCommitStore? beforeCommit = null;
        using var shop = InMemoryShop.Create(wrap: store => beforeCommit = new BeforeCommitStore(store));
        Assert.True((await shop.Catalog.AddProductAsync(new ProductId(7), "Lamp", new Money(10), 5)).IsSuccess);
        beforeCommit!.Action = () =>
        {
            // The wallet comes after the order read it absent, before the order's commit.
            Assert.True(PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Wallets.ChargeAsync(Stranger, new Money(100)))).IsSuccess);
        };

        var placed = await shop.Orders.PlaceOrderAsync(Stranger, [new(new ProductId(7), 2)], new IdempotencyKey("k"));

        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.Equal(new Money(80), await shop.Wallets.GetBalanceAsync(Stranger));
        Assert.Equal(placed.Value.Id, (await shop.Orders.PlaceOrderAsync(Stranger, [new(new ProductId(7), 2)], new IdempotencyKey("k"))).Value.Id);
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
