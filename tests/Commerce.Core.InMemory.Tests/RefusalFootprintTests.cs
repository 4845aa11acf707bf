using Commerce.Conformance;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests;

/// <summary>
/// A refused request changes nothing, in memory too: requests naming keys that do not exist (users never
/// charged, products never added, carts never filled, orders never placed), or refused for their amounts
/// and quantities, leave no cell behind, however many a client sends.
/// </summary>
public sealed class RefusalFootprintTests
{
    [Fact]
    public async Task Refused_requests_for_keys_that_do_not_exist_or_past_the_limits_leave_no_cell_behind()
    {
        using var shop = InMemoryShop.Create();
        await shop.AddProductAsync(1, price: long.MaxValue / 2, stock: 10);
        await shop.AddProductAsync(2, price: 10, stock: int.MaxValue);
        await shop.AddProductAsync(3, price: 1, stock: 1);
        await shop.ChargeAsync(1, 1_000);
        var placed = (await shop.OrderAsync(1, (2, 1))).Value;
        Assert.True((await shop.Carts.AddItemAsync(new UserId(1), new ProductId(2), 1)).IsSuccess);
        var store = shop.InMemoryStore();
        var before = Counts();
        var described = await shop.DescribeAllAsync(1, 2);

        for (var i = 0; i < 200; i++)
        {
            var stranger = new UserId(1_000 + i);
            var unknown = new ProductId(1_000 + i);
            Assert.Equal(Money.Zero, await shop.Wallets.GetBalanceAsync(stranger));
            Assert.Empty(await shop.Wallets.GetLedgerAsync(stranger));
            Assert.Empty(await shop.Orders.ListOrdersAsync(stranger));
            Assert.Empty((await shop.Carts.GetCartAsync(stranger)).Lines);
            Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.Catalog.GetProductAsync(unknown)).Error!.Code);
            Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.Catalog.RestockAsync(unknown, 1)).Error!.Code);
            Assert.Equal(CommerceErrorCode.InvalidQuantity, (await shop.Catalog.RestockAsync(new ProductId(2), 2)).Error!.Code);
            Assert.Equal(CommerceErrorCode.OrderNotFound, (await shop.Orders.GetOrderAsync(OrderId.New(shop.Time.GetUtcNow()))).Error!.Code);
            Assert.Equal(CommerceErrorCode.OrderNotFound, (await shop.Orders.CancelOrderAsync(OrderId.New(shop.Time.GetUtcNow()))).Error!.Code);
            Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.OrderAsync(stranger.Value, (2, 1), (unknown.Value, 1))).Error!.Code);
            Assert.Equal(CommerceErrorCode.InsufficientBalance, (await shop.OrderAsync(stranger.Value, (2, 1))).Error!.Code);
            Assert.Equal(CommerceErrorCode.AmountOverflow, (await shop.OrderAsync(1, (1, 1), (1, 2))).Error!.Code);
            Assert.Equal(CommerceErrorCode.InsufficientStock, (await shop.OrderAsync(1, (2, 1), (3, 2))).Error!.Code);
            Assert.Equal(CommerceErrorCode.ProductNotFound, (await shop.Carts.AddItemAsync(stranger, unknown, 1)).Error!.Code);
            Assert.Equal(CommerceErrorCode.CartItemNotFound, (await shop.Carts.RemoveItemAsync(stranger, new ProductId(2))).Error!.Code);
            Assert.Equal(CommerceErrorCode.EmptyOrder, (await shop.Carts.CheckoutAsync(stranger)).Error!.Code);
            Assert.Equal(CommerceErrorCode.InsufficientBalance, (await shop.Orders.PlaceOrderAsync(stranger, [new OrderLineRequest(new ProductId(2), 1)])).Error!.Code);
            Assert.Equal(CommerceErrorCode.ChargeLimitExceeded, (await shop.Wallets.ChargeAsync(stranger, new Money(long.MaxValue))).Error!.Code);
        }

        Assert.Equal(before, Counts());
        Assert.Equal(described, await shop.DescribeAllAsync(1, 2));
        Assert.Equal(OrderStatus.Placed, (await shop.Orders.GetOrderAsync(placed.Id)).Value.Status);

        (int Wallets, int Products, int Stock, int Carts, int Orders, int Idempotency) Counts() =>
            (store.Wallets.Count, store.Products.Count, store.Inventory.Count, store.Carts.Count, store.Orders.Count, store.Idempotency.Count);
    }
}
