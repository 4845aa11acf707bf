using static Commerce.Conformance.RealThreads;

namespace Commerce.Conformance;

/// <summary>
/// Real threads, released together, on idempotency keys, checkouts and cancels: concurrent calls with one
/// key apply at most once and all get the one outcome, and cancels racing with orders conserve stock and
/// money exactly.
/// </summary>
public abstract class LedgerConcurrencyConformanceTests : CommerceConformanceTests
{
    private const int Callers = 50;

    [StoreFact]
    public async Task Fifty_concurrent_identical_keyed_orders_place_one_order_and_every_caller_gets_it()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 30, 100);
        await shop.ChargeAsync(1, 1_000);
        var results = new Result<Order>[Callers];

        RunTogether(Callers, t => results[t] = Wait(shop.KeyedOrderAsync(1, new IdempotencyKey("one-order"), (1, 3))));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.ToString()));
        var id = results[0].Value.Id;
        Assert.All(results, r => Assert.Equal(id, r.Value.Id));
        Assert.Equal(id, Assert.Single(await shop.Orders.ListOrdersAsync(User(1), 1000)).Id);
        Assert.Equal(Money(1_000 - 90), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(97, await shop.StockOfAsync(1));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 3 }, await shop.SoldAsync());
        var ledger = await shop.AssertLedgerConsistentAsync(1);
        Assert.Equal(id, Assert.Single(ledger, e => e.Kind == LedgerEntryKind.Payment).OrderId);
        Assert.Equal(2, ledger.Count);
    }

    [StoreFact]
    public async Task Fifty_concurrent_identical_keyed_charges_charge_once_and_every_caller_gets_the_same_balance()
    {
        using var shop = CreateShop();
        await shop.ChargeAsync(1, 5);
        var results = new Result<Money>[Callers];

        RunTogether(Callers, t => results[t] = Wait(shop.Wallets.ChargeAsync(User(1), Money(100), new IdempotencyKey("one-charge"))));

        Assert.All(results, r => Assert.Equal(Money(105), r.Value));
        Assert.Equal(Money(105), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(2, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task Fifty_concurrent_identical_keyed_checkouts_place_one_order_and_empty_the_cart_once()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 30, 100);
        await shop.AddProductAsync(2, 7, 100);
        await shop.ChargeAsync(1, 1_000);
        await shop.AddToCartAsync(1, 1, 2);
        await shop.AddToCartAsync(1, 2, 5);
        var results = new Result<Order>[Callers];

        RunTogether(Callers, t => results[t] = Wait(shop.Carts.CheckoutAsync(User(1), new IdempotencyKey("one-checkout"))));

        Assert.All(results, r => Assert.True(r.IsSuccess, r.ToString()));
        var order = results[0].Value;
        Assert.All(results, r => Assert.Equal(order, r.Value));
        Assert.Equal([new OrderLine(Product(1), 2, Money(30)), new OrderLine(Product(2), 5, Money(7))], order.Lines);
        Assert.Equal([order], await shop.Orders.ListOrdersAsync(User(1), 1000));
        Assert.Empty((await shop.Carts.GetCartAsync(User(1))).Lines);
        Assert.Equal(Money(1_000 - 95), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(98, await shop.StockOfAsync(1));
        Assert.Equal(95, await shop.StockOfAsync(2));
        Assert.Equal(2, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task Fifty_concurrent_checkouts_without_a_key_check_the_cart_out_exactly_once()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 30, 100);
        await shop.ChargeAsync(1, 1_000);
        await shop.AddToCartAsync(1, 1, 4);
        var results = new Result<Order>[Callers];

        RunTogether(Callers, t => results[t] = Wait(shop.Carts.CheckoutAsync(User(1))));

        var placed = Assert.Single(results, r => r.IsSuccess).Value;
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.EmptyOrder, r.Error!.Code));
        Assert.Equal([placed], await shop.Orders.ListOrdersAsync(User(1), 1000));
        Assert.Equal(Money(1_000 - 120), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(96, await shop.StockOfAsync(1));
        Assert.Empty((await shop.Carts.GetCartAsync(User(1))).Lines);
    }

    [StoreFact]
    public async Task Items_added_while_checkouts_run_end_up_in_exactly_one_order_or_still_in_the_cart()
    {
        using var shop = CreateShop();
        const int adds = 300;
        const int checkouts = 60;
        await shop.AddProductAsync(1, 2, 10_000);
        await shop.ChargeAsync(1, 100_000);
        var orders = new List<Order>();

        RunTogether(2, t =>
        {
            if (t == 0)
            {
                for (var i = 0; i < adds; i++)
                {
                    Assert.True(Wait(shop.Carts.AddItemAsync(User(1), Product(1), 1)).IsSuccess);
                }

                return;
            }

            for (var i = 0; i < checkouts; i++)
            {
                var checkedOut = Wait(shop.Carts.CheckoutAsync(User(1)));
                if (checkedOut.IsSuccess)
                {
                    orders.Add(checkedOut.Value);
                }
                else
                {
                    Assert.Equal(CommerceErrorCode.EmptyOrder, checkedOut.Error!.Code);
                }
            }
        });

        var ordered = orders.Sum(o => Assert.Single(o.Lines).Quantity);
        var inCart = (await shop.Carts.GetCartAsync(User(1))).Lines.Sum(l => l.Quantity);
        Assert.Equal(adds, ordered + inCart);
        Assert.Equal(10_000 - ordered, await shop.StockOfAsync(1));
        Assert.Equal(Money(100_000 - (2 * ordered)), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(orders.Select(o => o.Id).Reverse(), (await shop.Orders.ListOrdersAsync(User(1), 1000)).Select(o => o.Id));
        await shop.AssertLedgerConsistentAsync(1);
    }

    [StoreFact]
    public async Task Concurrent_charges_with_one_key_and_different_amounts_apply_exactly_one_of_them()
    {
        using var shop = CreateShop();
        var results = new Result<Money>[Callers];

        RunTogether(Callers, t => results[t] = Wait(shop.Wallets.ChargeAsync(User(1), Money(t % 2 == 0 ? 100 : 200), new IdempotencyKey("contested"))));

        var balance = await shop.Wallets.GetBalanceAsync(User(1));
        Assert.Contains(balance, new[] { Money(100), Money(200) });
        for (var t = 0; t < Callers; t++)
        {
            if (Money(t % 2 == 0 ? 100 : 200) == balance)
            {
                Assert.Equal(balance, results[t].Value);
            }
            else
            {
                AssertFails(results[t], CommerceErrorCode.IdempotencyKeyReused);
            }
        }

        Assert.Single(await shop.AssertLedgerConsistentAsync(1));
    }

    [StoreFact]
    public async Task Concurrent_keyed_orders_for_scarce_stock_place_one_order_per_key_and_conserve_stock_and_money()
    {
        using var shop = CreateShop();
        const int units = 10;
        const int keys = 25;
        await shop.AddProductAsync(1, 10, units);
        await shop.ChargeAsync(1, 10_000);
        var results = new Result<Order>[Callers];

        // Two callers per key; more keys than units.
        RunTogether(Callers, t => results[t] = Wait(shop.KeyedOrderAsync(1, new IdempotencyKey($"key-{t % keys}"), (1, 1))));

        for (var k = 0; k < keys; k++)
        {
            var first = results[k];
            var second = results[k + keys];
            Assert.Equal(first.IsSuccess, second.IsSuccess);
            if (first.IsSuccess)
            {
                Assert.Equal(first.Value.Id, second.Value.Id);
            }
            else
            {
                Assert.Equal(CommerceErrorCode.InsufficientStock, first.Error!.Code);
                Assert.Equal(CommerceErrorCode.InsufficientStock, second.Error!.Code);
            }
        }

        var orders = results.Where(r => r.IsSuccess).Select(r => r.Value.Id).Distinct().ToList();
        Assert.Equal(units, orders.Count);
        Assert.Equal(0, await shop.StockOfAsync(1));
        Assert.Equal(Money(10_000 - (10 * units)), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(orders.ToHashSet(), (await shop.Orders.ListOrdersAsync(User(1), 1000)).Select(o => o.Id).ToHashSet());
        Assert.Equal(1 + units, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task A_keyed_charge_that_gave_up_on_conflicts_stored_nothing_and_runs_when_called_again()
    {
        using var shop = CreateShop(o => o.MaxCommitAttempts = 1);
        const int threads = 4;
        const int perThread = 300;
        var results = new Result<Money>[threads, perThread];

        RunTogether(threads, t =>
        {
            for (var i = 0; i < perThread; i++)
            {
                results[t, i] = Wait(shop.Wallets.ChargeAsync(User(1), Money(t + 1), new IdempotencyKey($"t{t}-{i}")));
            }
        });

        // Conflicts may or may not happen on a given run; a key that got one was not stored, so calling it
        // again runs the charge, and a key that succeeded answers with its stored balance.
        for (var t = 0; t < threads; t++)
        {
            for (var i = 0; i < perThread; i++)
            {
                var again = await shop.Wallets.ChargeAsync(User(1), Money(t + 1), new IdempotencyKey($"t{t}-{i}"));
                if (results[t, i].IsSuccess)
                {
                    Assert.Equal(results[t, i].Value, again.Value);
                }
                else
                {
                    Assert.Equal(CommerceErrorCode.ConcurrencyConflict, results[t, i].Error!.Code);
                    Assert.True(again.IsSuccess, again.ToString());
                }
            }
        }

        Assert.Equal(Money(perThread * (1 + 2 + 3 + 4)), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(threads * perThread, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task Concurrent_cancels_of_one_order_refund_and_restock_it_once()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 25, 10);
        await shop.ChargeAsync(1, 1_000);
        var order = await shop.PlacedAsync(1, (1, 4));
        const int threads = 16;
        var results = new Result<Order>[threads];

        RunTogether(threads, t => results[t] = Wait(shop.Orders.CancelOrderAsync(order.Id)));

        var cancelled = Assert.Single(results, r => r.IsSuccess).Value;
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.OrderAlreadyCancelled, r.Error!.Code));
        Assert.Equal(cancelled, (await shop.Orders.GetOrderAsync(order.Id)).Value);
        Assert.Equal(Money(1_000), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(10, await shop.StockOfAsync(1));
        Assert.Empty(await shop.SoldAsync());
        Assert.Equal(
            [LedgerEntryKind.Charge, LedgerEntryKind.Payment, LedgerEntryKind.Refund],
            (await shop.AssertLedgerConsistentAsync(1)).Select(e => e.Kind));
    }

    [StoreFact]
    public async Task Cancels_racing_with_orders_for_the_same_product_conserve_stock_and_money_exactly()
    {
        using var shop = CreateShop();
        const int price = 10;
        const int initialStock = 20;
        const long victim = 100;
        const int buyers = 7;
        const int attemptsPerBuyer = 10;
        await shop.AddProductAsync(1, price, initialStock);
        await shop.AddProductAsync(2, 3, 1_000);
        await shop.ChargeAsync(victim, 1_000);
        var toCancel = new List<Order>();
        for (var i = 0; i < 5; i++)
        {
            toCancel.Add(await shop.PlacedAsync(victim, (1, 2), (2, 1)));
        }

        // Buyer 0 is the victim itself, so refunds race with its own payments on one wallet.
        var buyerIds = new long[buyers];
        buyerIds[0] = victim;
        for (var b = 1; b < buyers; b++)
        {
            buyerIds[b] = b;
            await shop.ChargeAsync(b, 200);
        }

        var cancels = new Result<Order>[toCancel.Count];
        var bought = new List<Order>[buyers];
        RunTogether(buyers + 1, t =>
        {
            if (t == buyers)
            {
                for (var i = 0; i < toCancel.Count; i++)
                {
                    cancels[i] = Wait(shop.Orders.CancelOrderAsync(toCancel[i].Id));
                }

                return;
            }

            bought[t] = [];
            for (var i = 0; i < attemptsPerBuyer; i++)
            {
                var placed = Wait(shop.OrderAsync(buyerIds[t], (1, 1)));
                if (placed.IsSuccess)
                {
                    bought[t].Add(placed.Value);
                }
                else
                {
                    Assert.Equal(CommerceErrorCode.InsufficientStock, placed.Error!.Code);
                }
            }
        });

        Assert.All(cancels, c => Assert.True(c.IsSuccess, c.ToString()));
        var sold = bought.Sum(b => b.Count);
        Assert.InRange(sold, initialStock - 10, initialStock);
        Assert.Equal(initialStock - sold, await shop.StockOfAsync(1));
        Assert.Equal(1_000, await shop.StockOfAsync(2));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = sold }, await shop.SoldAsync());
        Assert.Equal(Money(1_000 - (price * bought[0].Count)), await shop.Wallets.GetBalanceAsync(User(victim)));
        for (var b = 1; b < buyers; b++)
        {
            Assert.Equal(Money(200 - (price * bought[b].Count)), await shop.Wallets.GetBalanceAsync(User(b)));
            Assert.Equal(bought[b].Select(o => o.Id).Reverse(), (await shop.Orders.ListOrdersAsync(User(b), 1000)).Select(o => o.Id));
        }

        foreach (var buyer in buyerIds)
        {
            await shop.AssertLedgerConsistentAsync(buyer);
        }

        var victimLedger = await shop.LedgerOfAsync(victim);
        Assert.Equal(toCancel.Count, victimLedger.Count(e => e.Kind == LedgerEntryKind.Refund));
        Assert.Equal(toCancel.Count + bought[0].Count, victimLedger.Count(e => e.Kind == LedgerEntryKind.Payment));
        foreach (var order in toCancel)
        {
            Assert.Equal(OrderStatus.Cancelled, (await shop.Orders.GetOrderAsync(order.Id)).Value.Status);
        }
    }

    [StoreFact]
    public async Task Expired_keys_reused_concurrently_while_a_purge_runs_each_apply_exactly_once_more()
    {
        var retention = TimeSpan.FromMinutes(4);
        using var shop = CreateShop(o => o.IdempotencyRetention = retention);
        const int keys = 20;
        const int threads = 8;
        for (var k = 0; k < keys; k++)
        {
            await shop.Wallets.ChargeAsync(User(1), Money(1), new IdempotencyKey($"k{k}"));
        }

        shop.Time.Advance(retention + TimeSpan.FromSeconds(1));
        var results = new Money[threads, keys];

        // Each thread walks the keys from its own starting point, so first uses collide with repeats and the purge.
        RunTogether(threads, t =>
        {
            for (var i = 0; i < keys; i++)
            {
                var k = (i + (t * 3)) % keys;
                var charged = Wait(shop.Wallets.ChargeAsync(User(1), Money(1), new IdempotencyKey($"k{k}")));
                Assert.True(charged.IsSuccess, charged.ToString());
                results[t, k] = charged.Value;
            }
        });

        Assert.Equal(Money(2 * keys), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(2 * keys, (await shop.AssertLedgerConsistentAsync(1)).Count);
        for (var k = 0; k < keys; k++)
        {
            for (var t = 1; t < threads; t++)
            {
                Assert.Equal(results[0, k], results[t, k]);
            }
        }

        Assert.Equal(keys, Enumerable.Range(0, keys).Select(k => results[0, k]).Distinct().Count());
    }
}
