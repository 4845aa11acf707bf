using Commerce.Postgres.Tests.Support;
using Xunit.Abstractions;

namespace Commerce.Postgres.Tests;

/// <summary>
/// Round trips to the server per use case, counted by the store (each command or batch sent is one;
/// taking a pooled connection is not counted).
/// </summary>
public sealed class RoundTripTests(ITestOutputHelper output)
{
    private static readonly UserId Alice = new(1);

    [PostgresFact]
    public async Task Placing_an_order_of_one_to_three_lines_costs_two_round_trips()
    {
        await using var shop = await SeededAsync();
        for (var lines = 1; lines <= 3; lines++)
        {
            var request = Enumerable.Range(1, lines).Select(p => new OrderLineRequest(new ProductId(p), 1)).ToArray();

            // 1. One statement reading the wallet, every product and every stock row (the use case's prefetch).
            // 2. The commit batch: the wallet's and each stock row's version-checked update, the order with
            //    its lines, and one sales increment per product.
            var (placed, trips) = await CountAsync(shop, () => shop.Orders.PlaceOrderAsync(Alice, request).AsTask());

            Assert.True(placed.IsSuccess, placed.ToString());
            Assert.Equal(2, trips);
        }
    }

    [PostgresFact]
    public async Task Charging_a_wallet_costs_two_round_trips()
    {
        await using var shop = await SeededAsync();

        // 1. The wallet's read. 2. The commit: an insert for a new wallet, a version-checked update after.
        Assert.Equal(2, (await CountAsync(shop, () => shop.Wallets.ChargeAsync(new UserId(2), new Money(5)).AsTask())).Trips);
        Assert.Equal(2, (await CountAsync(shop, () => shop.Wallets.ChargeAsync(new UserId(2), new Money(5)).AsTask())).Trips);
    }

    [PostgresFact]
    public async Task Every_use_case_costs_at_most_its_known_number_of_round_trips()
    {
        await using var shop = await SeededAsync();
        var order = (await shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1)])).Value;
        await shop.Carts.AddItemAsync(Alice, new ProductId(1), 1);

        (string UseCase, int Expected, Func<Task> Run)[] cases =
        [
            ("Charge, new wallet", 2, () => shop.Wallets.ChargeAsync(new UserId(3), new Money(5)).AsTask()),
            ("Charge", 2, () => shop.Wallets.ChargeAsync(Alice, new Money(5)).AsTask()),
            ("GetBalance", 1, () => shop.Wallets.GetBalanceAsync(Alice).AsTask()),
            ("AddProduct", 2, () => shop.Catalog.AddProductAsync(new ProductId(50), "New", new Money(1), 1).AsTask()),
            ("AddProduct, duplicate (refused)", 1, () => shop.Catalog.AddProductAsync(new ProductId(50), "New", new Money(1), 1).AsTask()),
            ("Restock", 2, () => shop.Catalog.RestockAsync(new ProductId(1), 1).AsTask()),
            ("GetProduct", 1, () => shop.Catalog.GetProductAsync(new ProductId(1)).AsTask()),
            ("ListProducts", 1, () => shop.Catalog.ListProductsAsync().AsTask()),
            ("PlaceOrder, 1 line", 2, () => shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1)]).AsTask()),
            ("PlaceOrder, 3 lines", 2, () => shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1), new(new ProductId(2), 1), new(new ProductId(3), 1)]).AsTask()),
            ("PlaceOrder, short of stock (refused)", 1, () => shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1_000)]).AsTask()),
            ("PlaceOrder, unknown product (refused)", 1, () => shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(99), 1)]).AsTask()),
            ("GetOrder", 1, () => shop.Orders.GetOrderAsync(order.Id).AsTask()),
            ("GetPopularProducts", 1, () => shop.Ranking.GetPopularProductsAsync().AsTask()),
            ("AddCartItem, product already in the cart", 2, () => shop.Carts.AddItemAsync(Alice, new ProductId(1), 1).AsTask()),
            ("AddCartItem, new product", 3, () => shop.Carts.AddItemAsync(Alice, new ProductId(2), 1).AsTask()),
            ("RemoveCartItem", 3, () => shop.Carts.RemoveItemAsync(Alice, new ProductId(2)).AsTask()),
            // The cart, then its products, then a check that the cart has not changed since (the products
            // were read after it, so might not have existed when it was read).
            ("GetCart", 3, () => shop.Carts.GetCartAsync(Alice).AsTask()),
        ];

        var failures = new List<string>();
        foreach (var (useCase, expected, run) in cases)
        {
            var (_, trips) = await CountAsync(shop, async () =>
            {
                await run();
                return 0;
            });
            output.WriteLine($"{useCase}: {trips}");
            if (trips > expected)
            {
                failures.Add($"{useCase}: {trips} round trips, expected at most {expected}");
            }
        }

        Assert.Empty(failures);
    }

    [PostgresFact]
    public async Task Keyed_requests_cancels_ledgers_and_order_lists_cost_at_most_their_known_number_of_round_trips()
    {
        await using var shop = await SeededAsync();
        var toCancel = (await shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1), new(new ProductId(2), 1)])).Value;
        await shop.Carts.AddItemAsync(new UserId(5), new ProductId(1), 1);
        await shop.Wallets.ChargeAsync(new UserId(5), new Money(100));

        // A process's first keyed request also purges expired records: done here, so that each case counts only its own.
        await shop.Wallets.ChargeAsync(new UserId(6), new Money(1), new IdempotencyKey("first"));

        (string UseCase, int Expected, Func<Task> Run)[] cases =
        [
            // The record read with the wallet (and with the products and stock, for an order); the commit writes it with the rest.
            ("Charge with a key", 2, () => shop.Wallets.ChargeAsync(Alice, new Money(5), new IdempotencyKey("c")).AsTask()),
            ("Charge with a key, repeated", 1, () => shop.Wallets.ChargeAsync(Alice, new Money(5), new IdempotencyKey("c")).AsTask()),
            // A refusal that depends on state commits its record under the key.
            ("PlaceOrder with a key, short of stock (refused)", 2, () => shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1_000)], new IdempotencyKey("z")).AsTask()),
            ("PlaceOrder with a key, 2 lines", 2, () => shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1), new(new ProductId(2), 1)], new IdempotencyKey("o")).AsTask()),
            // The record, then the order it names, then a check that the record has not changed since.
            ("PlaceOrder with a key, repeated", 3, () => shop.Orders.PlaceOrderAsync(Alice, [new(new ProductId(1), 1), new(new ProductId(2), 1)], new IdempotencyKey("o")).AsTask()),
            // The cart and the record, then the cart's products with the wallet and stock, then the commit.
            ("Checkout with a key", 3, () => shop.Carts.CheckoutAsync(new UserId(5), new IdempotencyKey("x")).AsTask()),
            // The order, then its wallet and stock, then the commit.
            ("CancelOrder, 2 lines", 3, () => shop.Orders.CancelOrderAsync(toCancel.Id).AsTask()),
            ("CancelOrder, already cancelled (refused)", 1, () => shop.Orders.CancelOrderAsync(toCancel.Id).AsTask()),
            // The wallet, then its entries, then a check that the wallet has not changed since.
            ("GetLedger", 3, () => shop.Wallets.GetLedgerAsync(Alice).AsTask()),
            // The wallet, its entries, the orders they name, then a check.
            ("ListOrders", 4, () => shop.Orders.ListOrdersAsync(Alice).AsTask()),
        ];

        var failures = new List<string>();
        foreach (var (useCase, expected, run) in cases)
        {
            var (_, trips) = await CountAsync(shop, async () =>
            {
                await run();
                return 0;
            });
            output.WriteLine($"{useCase}: {trips}");
            if (trips > expected)
            {
                failures.Add($"{useCase}: {trips} round trips, expected at most {expected}");
            }
        }

        Assert.Empty(failures);

        // A purge is one statement.
        await shop.AgeIdempotencyRecordsAsync();
        var (purged, purgeTrips) = await CountAsync(shop, async () =>
        {
            await using var session = await shop.Store.OpenSessionAsync();
            return await session.PurgeIdempotencyAsync(DateTimeOffset.MaxValue);
        });
        Assert.Equal((5, 1L), (purged, purgeTrips));
    }

    /// <summary>Products 1..3 (price 10, stock 100) and a rich Alice.</summary>
    private static async Task<PgShop> SeededAsync()
    {
        var shop = await PgShop.CreateAsync();
        for (var p = 1; p <= 3; p++)
        {
            await shop.Catalog.AddProductAsync(new ProductId(p), "P" + p, new Money(10), 100);
        }

        await shop.Wallets.ChargeAsync(Alice, new Money(10_000));
        return shop;
    }

    private static async Task<(T Result, long Trips)> CountAsync<T>(PgShop shop, Func<Task<T>> useCase)
    {
        var before = shop.Store.RoundTrips;
        var result = await useCase();
        return (result, shop.Store.RoundTrips - before);
    }
}
