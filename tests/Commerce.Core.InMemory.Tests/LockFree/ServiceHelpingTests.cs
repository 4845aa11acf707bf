using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;
using Commerce.Storage;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>The same lock-freedom guarantees, through the services: an order parked mid-commit blocks no one.</summary>
public sealed class ServiceHelpingTests
{
    private static readonly UserId Buyer = new(1);
    private static readonly UserId Other = new(2);
    private static readonly ProductId Widget = new(10);
    private static readonly ProductId Gadget = new(11);
    private static readonly ProductId Elsewhere = new(12);

    private static Shop NewShop()
    {
        var shop = InMemoryShop.Create();
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(Widget, "Widget", new Money(30), 10)).IsSuccess);
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(Gadget, "Gadget", new Money(20), 10)).IsSuccess);
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(Elsewhere, "Elsewhere", new Money(5), 10)).IsSuccess);
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(1000))).IsSuccess);
        Assert.True(Sync.Run(shop.Wallets.ChargeAsync(Other, new Money(1000))).IsSuccess);
        return shop;
    }

    /// <summary>Parks the buyer's order right after its descriptor is installed in the buyer's wallet cell.</summary>
    private static PausedCommit ParkOrderInWallet(Shop shop, Func<Result<Order>, bool> record)
    {
        var walletCell = (WalletCell)MultiWordCas.Read(shop.InMemoryStore().Wallets.Find(CellKey.From(StoreKey.ForWallet(Buyer)))!); // the wallet's from its first commit on
        var paused = new PausedCommit(
            (descriptor, i) => ReferenceEquals(descriptor.InstalledAt(i), walletCell),
            hook =>
            {
                shop.InMemoryStore().AfterInstall = hook;
                return record(Sync.Run(shop.Orders.PlaceOrderAsync(Buyer, [new(Widget, 2), new(Gadget, 1)])));
            });
        return paused;
    }

    [Fact]
    public void Balance_reads_and_charges_on_the_wallet_of_a_parked_order_complete_and_see_the_order_once()
    {
        using var shop = NewShop();
        Result<Order> placed = default;
        using var paused = ParkOrderInWallet(shop, r => (placed = r).IsSuccess);
        paused.Start();
        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);

        var balance = PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Wallets.GetBalanceAsync(Buyer)));
        Assert.Equal(new Money(1000 - 80), balance);
        Assert.Equal(CommitStatus.Succeeded, paused.Descriptor.Status);

        var charged = PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Wallets.ChargeAsync(Buyer, new Money(5))));
        Assert.Equal(new Money(1000 - 80 + 5), charged.Value);

        var stock = PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Catalog.GetProductAsync(Widget)).Value.Stock);
        Assert.Equal(8, stock);

        Assert.True(paused.Resume());
        Assert.True(placed.IsSuccess);
        Assert.Equal(new Money(925), Sync.Run(shop.Wallets.GetBalanceAsync(Buyer)));
        Assert.Equal(8, Sync.Run(shop.Catalog.GetProductAsync(Widget)).Value.Stock);
        Assert.Equal(9, Sync.Run(shop.Catalog.GetProductAsync(Gadget)).Value.Stock);
        Assert.Equal(placed.Value, Sync.Run(shop.Orders.GetOrderAsync(placed.Value.Id)).Value);
        var ranking = Sync.Run(shop.Ranking.GetPopularProductsAsync());
        Assert.Equal([(Widget, 2L), (Gadget, 1L)], ranking.Select(p => (p.ProductId, p.QuantitySold)));
    }

    [Fact]
    public void Operations_on_other_wallets_and_products_complete_without_deciding_a_parked_order()
    {
        using var shop = NewShop();
        Result<Order> placed = default;
        using var paused = ParkOrderInWallet(shop, r => (placed = r).IsSuccess);
        paused.Start();

        PausedCommit.CompletesOnAnotherThread(() =>
        {
            for (var i = 0; i < 10; i++)
            {
                Assert.True(Sync.Run(shop.Wallets.ChargeAsync(Other, new Money(1))).IsSuccess);
                Assert.True(Sync.Run(shop.Orders.PlaceOrderAsync(Other, [new(Elsewhere, 1)])).IsSuccess);
            }

            return 0;
        });

        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);
        Assert.True(paused.Resume());
        Assert.True(placed.IsSuccess);
        Assert.Equal(new Money(920), Sync.Run(shop.Wallets.GetBalanceAsync(Buyer)));
        Assert.Equal(new Money(1000 + 10 - (10 * 5)), Sync.Run(shop.Wallets.GetBalanceAsync(Other)));
        Assert.Equal(8, Sync.Run(shop.Catalog.GetProductAsync(Widget)).Value.Stock);
        Assert.Equal(9, Sync.Run(shop.Catalog.GetProductAsync(Gadget)).Value.Stock);
    }

    [Fact]
    public void A_competing_order_for_the_last_units_helps_a_parked_order_and_is_refused_once_it_succeeded()
    {
        using var shop = NewShop();
        Assert.True(Sync.Run(shop.Orders.PlaceOrderAsync(Other, [new(Widget, 8)])).IsSuccess);
        Result<Order> placed = default;
        using var paused = ParkOrderInWallet(shop, r => (placed = r).IsSuccess);
        paused.Start();

        // Only 2 widgets remain and the parked order takes both; the competitor must help it, then see none.
        var competing = PausedCommit.CompletesOnAnotherThread(() => Sync.Run(shop.Orders.PlaceOrderAsync(Other, [new(Widget, 1)])));

        Assert.Equal(CommerceErrorCode.InsufficientStock, competing.Error!.Code);
        Assert.True(paused.Resume());
        Assert.True(placed.IsSuccess);
        Assert.Equal(0, Sync.Run(shop.Catalog.GetProductAsync(Widget)).Value.Stock);
        Assert.Equal(10L, Sync.Run(shop.Ranking.GetPopularProductsAsync()).Single(p => p.ProductId == Widget).QuantitySold);
    }
}
