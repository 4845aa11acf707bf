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

    /// <summary>
    /// Four threads, each a seeded random sequence of keyed charges, orders and checkouts (a pool of four keys per
    /// user and operation, so that the same key is used at once and again later, mostly for the same request,
    /// sometimes for another) and unkeyed cart additions: for each user, operation and key, every answer that is
    /// not a reuse or a conflict is the same outcome, to the same request, and a reuse answers another request;
    /// the ledger holds exactly one charge per key answered a charge, and exactly the orders the keys were
    /// answered with, each paid once; and every ledger adds up.
    /// </summary>
    [StoreFact]
    public async Task Random_concurrent_keyed_requests_apply_once_per_key_and_every_answer_is_the_first_outcome()
    {
        const int threads = 4;
        const int operationsPerThread = 60;
        long[] users = [1, 2];
        using var shop = CreateShop();
        for (var p = 1; p <= 3; p++)
        {
            await shop.AddProductAsync(p, 5, 1_000);
        }

        var answers = new System.Collections.Concurrent.ConcurrentQueue<(long User, string Operation, string Key, string Request, string Outcome)>();
        RunTogether(threads, t =>
        {
            var random = new Random(20261206 + t);
            for (var i = 0; i < operationsPerThread; i++)
            {
                var user = users[random.Next(users.Length)];
                var index = random.Next(4);
                var key = new IdempotencyKey("k" + index.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var other = random.Next(5) == 0;
                switch (random.Next(4))
                {
                    case 0:
                        var amount = 10 + index + (other ? 1 : 0);
                        var charged = Wait(shop.Wallets.ChargeAsync(User(user), Money(amount), key));
                        answers.Enqueue((user, "charge", key.Value, amount.ToString(System.Globalization.CultureInfo.InvariantCulture), charged.IsSuccess ? "ok " + charged.Value : charged.Error!.Code.ToString()));
                        break;
                    case 1:
                        (long Product, int Quantity) line = other ? (1, 2) : ((index % 3) + 1, 1);
                        var ordered = Wait(shop.KeyedOrderAsync(user, key, line));
                        answers.Enqueue((user, "order", key.Value, $"{line.Product}x{line.Quantity}", ordered.IsSuccess ? "ok " + ordered.Value.Id : ordered.Error!.Code.ToString()));
                        break;
                    case 2:
                        var checkedOut = Wait(shop.Carts.CheckoutAsync(User(user), key));
                        answers.Enqueue((user, "checkout", key.Value, "cart", checkedOut.IsSuccess ? "ok " + checkedOut.Value.Id : checkedOut.Error!.Code.ToString()));
                        break;
                    default:
                        Assert.True(Wait(shop.Carts.AddItemAsync(User(user), Product(random.Next(1, 4)), 1)).IsSuccess);
                        break;
                }
            }
        });

        var conflict = CommerceErrorCode.ConcurrencyConflict.ToString();
        var reused = CommerceErrorCode.IdempotencyKeyReused.ToString();

        // The workload reached what it is meant to: reuses, and keys answered more than once, of every operation.
        Assert.Contains(answers, a => a.Outcome == reused);
        Assert.All(new[] { "charge", "order", "checkout" }, operation =>
            Assert.Contains(answers.Where(a => a.Operation == operation && a.Outcome != reused).GroupBy(a => (a.User, a.Key)), g => g.Count() > 1));
        var stored = new Dictionary<(long User, string Operation, string Key), (string Request, string Outcome)>();
        foreach (var key in answers.GroupBy(a => (a.User, a.Operation, a.Key)))
        {
            var decided = key.Where(a => a.Outcome != conflict && a.Outcome != reused).ToList();
            if (decided.Count == 0)
            {
                continue;
            }

            var first = decided[0];
            Assert.All(decided, a => Assert.True(a.Request == first.Request && a.Outcome == first.Outcome, $"{key.Key}: {a.Request} -> {a.Outcome}, but {first.Request} -> {first.Outcome}."));
            Assert.All(key.Where(a => a.Outcome == reused), a => Assert.NotEqual(first.Request, a.Request));
            stored[key.Key] = (first.Request, first.Outcome);
        }

        foreach (var user in users)
        {
            var ledger = await shop.AssertLedgerConsistentAsync(user);
            var charges = stored.Where(s => s.Key.User == user && s.Key.Operation == "charge" && s.Value.Outcome.StartsWith("ok ", StringComparison.Ordinal)).ToList();
            Assert.Equal(charges.Select(c => long.Parse(c.Value.Request, System.Globalization.CultureInfo.InvariantCulture)).Order(), ledger.Where(e => e.Kind == LedgerEntryKind.Charge).Select(e => e.Amount.Amount).Order());
            var orders = stored.Where(s => s.Key.User == user && s.Key.Operation != "charge" && s.Value.Outcome.StartsWith("ok ", StringComparison.Ordinal)).Select(s => s.Value.Outcome[3..]).ToList();
            Assert.Equal(orders.Order(StringComparer.Ordinal), ledger.Where(e => e.Kind == LedgerEntryKind.Payment).Select(e => e.OrderId!.Value.ToString()).Order(StringComparer.Ordinal));
        }
    }

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
    public async Task Concurrent_orders_with_one_key_and_different_lines_place_exactly_one_of_them()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 1_000);
        await shop.AddProductAsync(2, 20, 1_000);
        await shop.ChargeAsync(1, 10_000);
        var results = new Result<Order>[Callers];

        RunTogether(Callers, t => results[t] = Wait(shop.KeyedOrderAsync(1, new IdempotencyKey("contested"), (1 + (t % 2), 1))));

        var order = Assert.Single(await shop.Orders.ListOrdersAsync(User(1), 1000));
        var winner = order.Lines.Single().ProductId;
        for (var t = 0; t < Callers; t++)
        {
            if (Product(1 + (t % 2)) == winner)
            {
                Assert.Equal(order.Id, results[t].Value.Id);
            }
            else
            {
                AssertFails(results[t], CommerceErrorCode.IdempotencyKeyReused);
            }
        }

        Assert.Equal(Money(10_000) - order.Total, await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(1_999, await shop.StockOfAsync(1) + await shop.StockOfAsync(2));
        Assert.Equal(2, (await shop.AssertLedgerConsistentAsync(1)).Count);
    }

    [StoreFact]
    public async Task One_key_used_concurrently_for_a_charge_an_order_and_a_checkout_applies_each_once()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 1_000);
        await shop.AddProductAsync(2, 20, 1_000);
        await shop.ChargeAsync(1, 500);
        await shop.AddToCartAsync(1, 2, 2);
        var key = new IdempotencyKey("shared");
        var charges = new Result<Money>[Callers / 3];
        var orders = new Result<Order>[Callers / 3];
        var checkouts = new Result<Order>[Callers / 3];

        RunTogether(3 * (Callers / 3), t =>
        {
            var i = t / 3;
            switch (t % 3)
            {
                case 0:
                    charges[i] = Wait(shop.Wallets.ChargeAsync(User(1), Money(100), key));
                    break;
                case 1:
                    orders[i] = Wait(shop.KeyedOrderAsync(1, key, (1, 3)));
                    break;
                default:
                    checkouts[i] = Wait(shop.Carts.CheckoutAsync(User(1), key));
                    break;
            }
        });

        // Keys are scoped per operation: each kind ran once and all its callers got that one outcome.
        Assert.All(charges, c => Assert.True(c.IsSuccess, c.ToString()));
        Assert.All(orders, o => Assert.Equal(orders[0].Value, o.Value));
        Assert.All(checkouts, c => Assert.Equal(checkouts[0].Value, c.Value));
        Assert.Equal([(Product(1), 3)], orders[0].Value.Lines.Select(l => (l.ProductId, l.Quantity)));
        Assert.Equal([(Product(2), 2)], checkouts[0].Value.Lines.Select(l => (l.ProductId, l.Quantity)));
        Assert.Equal(
            new[] { orders[0].Value.Id, checkouts[0].Value.Id }.ToHashSet(),
            (await shop.Orders.ListOrdersAsync(User(1), 1000)).Select(o => o.Id).ToHashSet());
        Assert.Empty((await shop.Carts.GetCartAsync(User(1))).Lines);
        Assert.Equal(Money(500 + 100 - 30 - 40), await shop.Wallets.GetBalanceAsync(User(1)));
        var ledger = await shop.AssertLedgerConsistentAsync(1);
        Assert.Equal(4, ledger.Count);

        // The charge's callers all saw the balance its ledger entry records.
        var charged = Assert.Single(ledger, e => e.Kind == LedgerEntryKind.Charge && e.Sequence > 1);
        Assert.All(charges, c => Assert.Equal(charged.BalanceAfter, c.Value));
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
    public async Task Charges_orders_checkouts_and_cancels_on_shared_wallets_are_each_explained_by_the_ledger_and_conserve_money_stock_and_sales()
    {
        const int threads = 4;
        const int operationsPerThread = 150;
        long[] users = [1, 2];
        long[] products = [1, 2];
        var initialStock = new Dictionary<long, int> { [1] = 60, [2] = 40 };
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 5, initialStock[1]);
        await shop.AddProductAsync(2, 9, initialStock[2]);
        var charges = new List<(long User, long Amount, Money Balance)>[threads];
        var placed = new List<Order>[threads];
        var checkedOut = new List<Order>[threads];
        var cancelled = new List<Order>[threads];
        var refusedCancels = new List<OrderId>[threads];
        var carted = new Dictionary<(long User, long Product), int>[threads];
        var cancellable = new List<OrderId>();

        RunTogether(threads, t =>
        {
            charges[t] = [];
            placed[t] = [];
            checkedOut[t] = [];
            cancelled[t] = [];
            refusedCancels[t] = [];
            carted[t] = [];
            var random = new Random(20261206 + t);
            for (var i = 0; i < operationsPerThread; i++)
            {
                var user = users[random.Next(users.Length)];
                switch (random.Next(100))
                {
                    case < 30:
                        var amount = random.Next(1, 40);
                        var charged = Wait(shop.Wallets.ChargeAsync(User(user), Money(amount)));
                        Assert.True(charged.IsSuccess || charged.Error!.Code == CommerceErrorCode.ConcurrencyConflict, charged.ToString());
                        if (charged.IsSuccess)
                        {
                            charges[t].Add((user, amount, charged.Value));
                        }

                        break;
                    case < 60:
                        var lines = products.Where(_ => random.Next(2) == 0).Select(p => (p, random.Next(1, 3))).DefaultIfEmpty((products[0], 1)).ToArray();
                        var order = Wait(shop.OrderAsync(user, lines));
                        if (order.IsSuccess)
                        {
                            placed[t].Add(order.Value);
                            lock (cancellable)
                            {
                                cancellable.Add(order.Value.Id);
                            }
                        }
                        else
                        {
                            Assert.Contains(order.Error!.Code, new[] { CommerceErrorCode.InsufficientBalance, CommerceErrorCode.InsufficientStock, CommerceErrorCode.ConcurrencyConflict });
                        }

                        break;
                    case < 75:
                        // Any placed order, so that cancels of one order race each other as well as the orders.
                        OrderId target;
                        lock (cancellable)
                        {
                            if (cancellable.Count == 0)
                            {
                                break;
                            }

                            target = cancellable[random.Next(cancellable.Count)];
                        }

                        var cancel = Wait(shop.Orders.CancelOrderAsync(target));
                        if (cancel.IsSuccess)
                        {
                            Assert.Equal(target, cancel.Value.Id);
                            cancelled[t].Add(cancel.Value);
                        }
                        else
                        {
                            Assert.Equal(CommerceErrorCode.OrderAlreadyCancelled, cancel.Error!.Code);
                            refusedCancels[t].Add(target);
                        }

                        break;
                    case < 90:
                        var product = products[random.Next(products.Length)];
                        var quantity = random.Next(1, 3);
                        Assert.True(Wait(shop.Carts.AddItemAsync(User(user), Product(product), quantity)).IsSuccess);
                        carted[t][(user, product)] = carted[t].GetValueOrDefault((user, product)) + quantity;
                        break;
                    default:
                        var checkout = Wait(shop.Carts.CheckoutAsync(User(user)));
                        if (checkout.IsSuccess)
                        {
                            checkedOut[t].Add(checkout.Value);
                            lock (cancellable)
                            {
                                cancellable.Add(checkout.Value.Id);
                            }
                        }
                        else
                        {
                            Assert.Contains(checkout.Error!.Code, new[] { CommerceErrorCode.EmptyOrder, CommerceErrorCode.InsufficientBalance, CommerceErrorCode.InsufficientStock, CommerceErrorCode.ConcurrencyConflict });
                        }

                        break;
                }
            }
        });

        var orders = placed.Concat(checkedOut).SelectMany(o => o).ToDictionary(o => o.Id);
        var cancels = cancelled.SelectMany(c => c).ToList();
        Assert.NotEmpty(orders);
        Assert.NotEmpty(cancels);

        // Each order was cancelled at most once, and a refused cancel met an order someone cancelled.
        Assert.Equal(cancels.Count, cancels.Select(c => c.Id).Distinct().Count());
        var cancelledIds = cancels.Select(c => c.Id).ToHashSet();
        Assert.All(refusedCancels.SelectMany(r => r), id => Assert.Contains(id, cancelledIds));

        // The ledger is one sequential history per wallet (numbered without gaps, each balance the one before it
        // plus or minus its amount, never below zero, ending at the balance), and every result the threads saw
        // is a step of it: each charge at the balance it returned, each order's payment, each cancel's refund
        // after its payment, and nothing else.
        foreach (var user in users)
        {
            var ledger = await shop.AssertLedgerConsistentAsync(user);
            Assert.All(ledger, e => Assert.False(e.BalanceAfter.Amount < 0, $"The wallet of user {user} was overdrawn: {LedgerShopExtensions.Describe(e)}."));
            Assert.Equal(
                charges.SelectMany(c => c).Where(c => c.User == user).Select(c => (c.Amount, c.Balance.Amount)).Order(),
                ledger.Where(e => e.Kind == LedgerEntryKind.Charge).Select(e => (e.Amount.Amount, e.BalanceAfter.Amount)).Order());
            var payments = ledger.Where(e => e.Kind == LedgerEntryKind.Payment).ToDictionary(e => e.OrderId!.Value);
            var userOrders = orders.Values.Where(o => o.UserId == User(user)).ToList();
            Assert.Equal(userOrders.Select(o => o.Id).ToHashSet(), payments.Keys.ToHashSet());
            Assert.All(userOrders, o => Assert.Equal(o.Total, payments[o.Id].Amount));
            var refunds = ledger.Where(e => e.Kind == LedgerEntryKind.Refund).ToDictionary(e => e.OrderId!.Value);
            var userCancels = cancels.Where(c => c.UserId == User(user)).ToList();
            Assert.Equal(userCancels.Select(c => c.Id).ToHashSet(), refunds.Keys.ToHashSet());
            Assert.All(userCancels, c => Assert.Equal(orders[c.Id].Total, refunds[c.Id].Amount));
            Assert.All(userCancels, c => Assert.True(payments[c.Id].Sequence < refunds[c.Id].Sequence, $"Order {c.Id} was refunded before it was paid."));
        }

        // Stock and sales: what the orders took, less what the cancels gave back.
        var sold = new Dictionary<ProductId, long>();
        foreach (var order in orders.Values)
        {
            var sign = cancelledIds.Contains(order.Id) ? 0 : 1;
            foreach (var line in order.Lines)
            {
                sold[line.ProductId] = sold.GetValueOrDefault(line.ProductId) + (sign * line.Quantity);
            }
        }

        foreach (var product in products)
        {
            Assert.Equal(initialStock[product] - sold.GetValueOrDefault(Product(product)), await shop.StockOfAsync(product));
        }

        Assert.Equal(sold.Where(s => s.Value > 0).OrderBy(s => s.Key.Value), (await shop.SoldAsync()).OrderBy(s => s.Key.Value));

        // Every order reads back as returned, cancelled exactly when a cancel succeeded.
        foreach (var order in orders.Values)
        {
            var stored = (await shop.Orders.GetOrderAsync(order.Id)).Value;
            Assert.Equal(order.Lines, stored.Lines);
            Assert.Equal(cancelledIds.Contains(order.Id) ? OrderStatus.Cancelled : OrderStatus.Placed, stored.Status);
        }

        // Carts: every unit added is in exactly one checked-out order of its user or still in the cart.
        foreach (var user in users)
        {
            var cart = await shop.Carts.GetCartAsync(User(user));
            foreach (var product in products)
            {
                var added = carted.Sum(c => c.GetValueOrDefault((user, product)));
                var ordered = checkedOut.SelectMany(c => c).Where(o => o.UserId == User(user)).SelectMany(o => o.Lines).Where(l => l.ProductId == Product(product)).Sum(l => l.Quantity);
                var left = cart.Lines.Where(l => l.ProductId == Product(product)).Sum(l => l.Quantity);
                Assert.Equal(added, ordered + left);
            }
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
