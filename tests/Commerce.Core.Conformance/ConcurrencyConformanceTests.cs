using Commerce.Events;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Conformance;

/// <summary>
/// Real threads, started together with a <see cref="Barrier"/>, against one shop; each test ends by
/// checking conservation invariants against what the threads saw succeed.
/// </summary>
public abstract class ConcurrencyConformanceTests : CommerceConformanceTests
{
    /// <summary>Runs <paramref name="body"/> on <paramref name="threads"/> new threads released at the same moment, and rethrows every failure.</summary>
    protected static void RunTogether(int threads, Action<int> body) => RealThreads.RunTogether(threads, body);

    /// <summary>Waits for a service call on a worker thread.</summary>
    protected static T Wait<T>(ValueTask<T> pending) => RealThreads.Wait(pending);

    [StoreFact]
    public async Task Concurrent_charges_on_one_wallet_lose_no_update()
    {
        using var shop = CreateShop();
        const int threads = 4;
        const int chargesPerThread = 2_000;
        var seen = new List<long>[threads];

        RunTogether(threads, t =>
        {
            var balances = seen[t] = new List<long>(chargesPerThread);
            for (var i = 0; i < chargesPerThread; i++)
            {
                var charged = Wait(shop.Wallets.ChargeAsync(User(1), Money((i % 7) + 1)));
                balances.Add(charged.Value.Amount);
            }
        });

        var expected = threads * Enumerable.Range(0, chargesPerThread).Sum(i => (long)((i % 7) + 1));
        Assert.Equal(Money(expected), await shop.Wallets.GetBalanceAsync(User(1)));

        // Every charge saw its own new balance: none was applied on top of a stale one.
        var all = seen.SelectMany(s => s).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(expected, all.Max());
        Assert.All(seen, balances => Assert.True(balances.Zip(balances.Skip(1)).All(p => p.First < p.Second), "A thread saw its balance go down."));
    }

    [StoreFact]
    public async Task Concurrent_charges_on_different_wallets_each_add_up()
    {
        using var shop = CreateShop();
        const int threads = 4;

        RunTogether(threads, t =>
        {
            for (var i = 0; i < 1_000; i++)
            {
                Assert.True(Wait(shop.Wallets.ChargeAsync(User(i % 8), Money(t + 1))).IsSuccess);
            }
        });

        for (var user = 0; user < 8; user++)
        {
            Assert.Equal(Money(125 * (1 + 2 + 3 + 4)), await shop.Wallets.GetBalanceAsync(User(user)));
        }
    }

    /// <summary>
    /// A shop whose store can run a hook just before its next commit (<see cref="BeforeCommitStore"/>):
    /// one use case then commits between another's reads and its commit, every time, on every store.
    /// </summary>
    private (Shop Shop, BeforeCommitStore Store) InterleavingShop(Action<CommerceOptions>? configure = null)
    {
        BeforeCommitStore? hooked = null;
        var shop = CreateShop(configure, wrapStore: store => hooked = new BeforeCommitStore(store));
        _ = shop.Store; // The store is built on first use: build it now, to reach its hook.
        return (shop, hooked!);
    }

    [StoreFact]
    public async Task With_a_single_attempt_a_charge_whose_wallet_changed_before_its_commit_reports_ConcurrencyConflict_and_applies_nothing()
    {
        var (shop, store) = InterleavingShop(o => o.MaxCommitAttempts = 1);
        using var _ = shop;
        await shop.ChargeAsync(1, 100);
        Result<Money>? interleaved = null;
        store.BeforeNextCommit = async () => interleaved = await shop.Wallets.ChargeAsync(User(1), Money(5));

        var charged = await shop.Wallets.ChargeAsync(User(1), Money(7));

        AssertFails(charged, CommerceErrorCode.ConcurrencyConflict);
        Assert.Equal(Money(105), interleaved?.Value);
        Assert.Equal(Money(105), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_charge_whose_wallet_changed_before_its_commit_runs_again_on_the_new_balance()
    {
        var (shop, store) = InterleavingShop();
        using var _ = shop;
        await shop.ChargeAsync(1, 100);
        Result<Money>? interleaved = null;
        store.BeforeNextCommit = async () => interleaved = await shop.Wallets.ChargeAsync(User(1), Money(5));

        var charged = await shop.Wallets.ChargeAsync(User(1), Money(7));

        Assert.Equal(Money(105), interleaved?.Value);
        Assert.Equal(Money(112), charged.Value);
        Assert.Equal(Money(112), await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task A_charge_that_another_client_beats_every_time_gives_up_without_priority_and_commits_with_it()
    {
        // Without priority (never taken), the other client wins every one of the eight attempts.
        var (starved, interleavedFirst, balance) = await StarveAsync(priorityAfter: int.MaxValue);
        AssertFails(starved, CommerceErrorCode.ConcurrencyConflict);
        Assert.Equal(8, interleavedFirst);
        Assert.Equal(Money(100 + 8), balance);

        // With it, the charge takes priority after three lost attempts; the fourth client gives way and
        // goes after it.
        var (served, interleavedBefore, total) = await StarveAsync(priorityAfter: 3);
        Assert.Equal(Money(100 + 3 + 7), served.Value);
        Assert.Equal(3, interleavedBefore);
        Assert.Equal(Money(100 + 4 + 7), total);
    }

    /// <summary>
    /// Charges wallet 1 while, before each of its commits, another client charges the same wallet on
    /// another thread and either commits first or gives way (a test seam says which, with no timing).
    /// </summary>
    private async Task<(Result<Money> Charged, int CommittedFirst, Money Balance)> StarveAsync(int priorityAfter)
    {
        var (shop, store) = InterleavingShop(o => o.MaxCommitAttempts = 8);
        using var _ = shop;
        var contention = shop.Services.GetRequiredService<CommerceRuntime>().Contention;
        contention.PriorityAfterAttempts = priorityAfter;
        contention.FixedPatience = TimeSpan.FromMinutes(5); // a waiter waits until the holder is done (a guard against a hang, not a timing)
        await shop.ChargeAsync(1, 100);

        var others = new List<Task<Result<Money>>>();
        var committedFirst = 0;
        store.BeforeMarkedCommits = async () =>
        {
            var gaveWay = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            contention.OnGiveWay = () => gaveWay.TrySetResult();
            Task<Result<Money>> other;
            using (ExecutionContext.SuppressFlow())
            {
                other = Task.Run(() => shop.Wallets.ChargeAsync(User(1), Money(1)).AsTask());
            }

            others.Add(other);
            if (await Task.WhenAny(other, gaveWay.Task) == other)
            {
                Assert.True((await other).IsSuccess);
                committedFirst++;
            }
        };

        BeforeCommitStore.Marked = true;
        var charged = await shop.Wallets.ChargeAsync(User(1), Money(7));
        BeforeCommitStore.Marked = false;
        store.BeforeMarkedCommits = null;
        Assert.All(await Task.WhenAll(others), r => Assert.True(r.IsSuccess, r.ToString()));
        Assert.False(contention.IsHeld);
        return (charged, committedFirst, await shop.Wallets.GetBalanceAsync(User(1)));
    }

    [StoreFact]
    public async Task An_order_whose_stock_was_sold_before_its_commit_runs_again_and_reports_the_shortage()
    {
        var (shop, store) = InterleavingShop();
        using var _ = shop;
        await shop.AddProductAsync(1, 10, 1);
        await shop.ChargeAsync(1, 100);
        await shop.ChargeAsync(2, 100);
        Result<Order>? interleaved = null;
        store.BeforeNextCommit = async () => interleaved = await shop.OrderAsync(2, (1, 1));

        var ordered = await shop.OrderAsync(1, (1, 1));

        Assert.True(interleaved?.IsSuccess, interleaved?.ToString());
        Assert.Equal([Product(1)], AssertFails(ordered, CommerceErrorCode.InsufficientStock).ProductIds);
        Assert.Equal(Money(100), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(0, await shop.StockOfAsync(1));
    }

    [StoreFact]
    public async Task With_a_single_attempt_an_order_whose_stock_changed_but_still_suffices_commits_without_a_conflict()
    {
        // Without events: with them, an order that finds its stock taken down to its own quantity runs again,
        // to report the depletion it causes (the next test).
        var (shop, store) = InterleavingShop(o =>
        {
            o.MaxCommitAttempts = 1;
            o.PublishEvents = false;
        });
        using var _ = shop;
        await shop.AddProductAsync(1, 10, 5);
        await shop.ChargeAsync(1, 100);
        await shop.ChargeAsync(2, 100);
        Result<Order>? interleaved = null;
        store.BeforeNextCommit = async () => interleaved = await shop.OrderAsync(2, (1, 2));

        // The stock is deducted relatively, guarded by "enough on hand": the other order does not invalidate it.
        var ordered = await shop.OrderAsync(1, (1, 3));

        Assert.True(interleaved?.IsSuccess, interleaved?.ToString());
        Assert.True(ordered.IsSuccess, ordered.ToString());
        Assert.Equal(0, await shop.StockOfAsync(1));
        Assert.Equal(Money(70), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(Money(80), await shop.Wallets.GetBalanceAsync(User(2)));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 5 }, await shop.SoldAsync());
    }

    [StoreFact]
    public async Task With_events_an_order_that_takes_the_last_units_unexpectedly_runs_again_and_commits()
    {
        var (shop, store) = InterleavingShop(o => o.MaxCommitAttempts = 2);
        using var _ = shop;
        await shop.AddProductAsync(1, 10, 5);
        await shop.ChargeAsync(1, 100);
        await shop.ChargeAsync(2, 100);
        Result<Order>? interleaved = null;
        store.BeforeNextCommit = async () => interleaved = await shop.OrderAsync(2, (1, 2));

        // Read 5 on hand, so the order of 3 leaves 2 and must leave at least 1; the other order took 2, so
        // the guard fails, and the re-run takes the last 3 units with a checked write.
        var ordered = await shop.OrderAsync(1, (1, 3));

        Assert.True(interleaved?.IsSuccess, interleaved?.ToString());
        Assert.True(ordered.IsSuccess, ordered.ToString());
        Assert.Equal(0, await shop.StockOfAsync(1));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(1)] = 5 }, await shop.SoldAsync());

        // The re-run took the last units, so it is the order that reports the depletion.
        var page = await shop.Services.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start, 1000);
        var depleted = Assert.Single(page.Events.OfType<StockDepleted>());
        Assert.Equal((Product(1), ordered.Value.Id), (depleted.ProductId, depleted.OrderId));
    }

    [StoreFact]
    public async Task Sixteen_buyers_of_one_hot_product_sell_exactly_its_stock()
    {
        using var shop = CreateShop();
        const int threads = 16;
        const int units = 200;
        await shop.AddProductAsync(3, 1, units, "Hot");
        for (var u = 0; u < threads; u++)
        {
            await shop.ChargeAsync(u, units + 2); // enough for every unit: only the stock runs out
        }

        // Every buyer orders one or two units at a time until the product runs out.
        var bought = new int[threads];
        RunTogether(threads, t =>
        {
            while (true)
            {
                var quantity = 1 + ((t + bought[t]) % 2);
                var result = Wait(shop.OrderAsync(t, (3, quantity)));
                if (result.IsFailure)
                {
                    Assert.Equal(CommerceErrorCode.InsufficientStock, result.Error!.Code);
                    if (quantity == 1)
                    {
                        return;
                    }

                    quantity = 1;
                    result = Wait(shop.OrderAsync(t, (3, quantity)));
                    if (result.IsFailure)
                    {
                        Assert.Equal(CommerceErrorCode.InsufficientStock, result.Error!.Code);
                        return;
                    }
                }

                bought[t] += quantity;
            }
        });

        Assert.Equal(units, bought.Sum());
        Assert.Equal(0, await shop.StockOfAsync(3));
        Assert.Equal(new Dictionary<ProductId, long> { [Product(3)] = units }, await shop.SoldAsync());
        for (var u = 0; u < threads; u++)
        {
            Assert.Equal(Money(units + 2 - bought[u]), await shop.Wallets.GetBalanceAsync(User(u)));
        }
    }

    [StoreFact]
    public async Task More_buyers_than_stock_sell_exactly_the_stock_and_conserve_money()
    {
        using var shop = CreateShop();
        const int buyers = 400;
        const int units = 50;
        const int threads = 8;
        await shop.AddProductAsync(7, 10, units, "Scarce");
        for (var u = 0; u < buyers; u++)
        {
            await shop.ChargeAsync(u, 10);
        }

        var results = new Result<Order>[buyers];
        RunTogether(threads, t =>
        {
            for (var u = t; u < buyers; u += threads)
            {
                results[u] = Wait(shop.OrderAsync(u, (7, 1)));
            }
        });

        Assert.Equal(units, results.Count(r => r.IsSuccess));
        Assert.All(results.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.InsufficientStock, r.Error!.Code));
        Assert.Equal(0, await shop.StockOfAsync(7));
        for (var u = 0; u < buyers; u++)
        {
            Assert.Equal(Money(results[u].IsSuccess ? 0 : 10), await shop.Wallets.GetBalanceAsync(User(u)));
        }

        Assert.Equal(new Dictionary<ProductId, long> { [Product(7)] = units }, await shop.SoldAsync());
        foreach (var order in results.Where(r => r.IsSuccess).Select(r => r.Value))
        {
            Assert.Equal(order, (await shop.Orders.GetOrderAsync(order.Id)).Value);
        }
    }

    [StoreFact]
    public async Task Buyers_sharing_one_wallet_never_overspend_it()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 7, 10_000);
        await shop.ChargeAsync(1, 700);
        var placed = new int[4];

        RunTogether(4, t =>
        {
            for (var i = 0; i < 60; i++)
            {
                var result = Wait(shop.OrderAsync(1, (1, 1)));
                if (result.IsSuccess)
                {
                    placed[t]++;
                }
                else
                {
                    Assert.Equal(CommerceErrorCode.InsufficientBalance, result.Error!.Code);
                }
            }
        });

        Assert.Equal(100, placed.Sum());
        Assert.Equal(Money(0), await shop.Wallets.GetBalanceAsync(User(1)));
        Assert.Equal(10_000 - 100, await shop.StockOfAsync(1));
    }

    [StoreFact]
    public async Task Racing_to_add_the_same_product_id_lets_exactly_one_win()
    {
        using var shop = CreateShop();
        const int threads = 4;
        var results = new Result<ProductSummary>[threads * 25];

        RunTogether(threads, t =>
        {
            for (var i = t; i < results.Length; i += threads)
            {
                results[i] = Wait(shop.Catalog.AddProductAsync(Product(i / 10), $"Racer {i}", Money(i), i));
            }
        });

        foreach (var group in results.GroupBy(r => r.IsSuccess ? r.Value.Id : r.Error!.ProductIds.Single()))
        {
            var winner = Assert.Single(group, r => r.IsSuccess).Value;
            Assert.All(group.Where(r => !r.IsSuccess), r => Assert.Equal(CommerceErrorCode.ProductAlreadyExists, r.Error!.Code));
            Assert.Equal(winner, (await shop.Catalog.GetProductAsync(winner.Id)).Value);
        }

        Assert.Equal(10, (await shop.AllProductsAsync()).Count);
    }

    [StoreFact]
    public async Task A_checkout_racing_an_addition_to_its_cart_agrees_with_one_of_the_two_sequential_orders()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 1_000);
        await shop.AddProductAsync(2, 20, 1_000);
        await shop.ChargeAsync(1, 100_000);
        const int rounds = 40;
        var units = 0L;

        for (var round = 0; round < rounds; round++)
        {
            // The cart holds one unit of product 1; the addition is to that line or a new one.
            await shop.AddToCartAsync(1, 1, 1);
            var added = Product(1 + (round % 2));
            var checkout = default(Result<Order>);
            var addition = default(Result<CartView>);
            RunTogether(2, t =>
            {
                if (t == 0)
                {
                    checkout = Wait(shop.Carts.CheckoutAsync(User(1)));
                }
                else
                {
                    addition = Wait(shop.Carts.AddItemAsync(User(1), added, 1));
                }
            });

            Assert.True(checkout.IsSuccess, checkout.ToString());
            Assert.True(addition.IsSuccess, addition.ToString());
            var ordered = checkout.Value.Lines.Select(l => (l.ProductId, l.Quantity)).ToList();
            var viewed = addition.Value.Lines.Select(l => (l.ProductId, l.Quantity)).ToList();
            var cart = (await shop.Carts.GetCartAsync(User(1))).Lines.Select(l => (l.ProductId, l.Quantity)).ToList();

            // Either the addition came first (the order took it and the cart is empty) or the checkout did (the
            // order is the unit of product 1 alone and the cart holds the addition alone): nothing else, and
            // the addition's view is the cart it left.
            List<(ProductId, int)> withAddition = added == Product(1) ? [(Product(1), 2)] : [(Product(1), 1), (Product(2), 1)];
            if (cart.Count == 0)
            {
                Assert.Equal(withAddition, ordered);
                Assert.Equal(withAddition, viewed);
            }
            else
            {
                Assert.Equal([(Product(1), 1)], ordered);
                Assert.Equal([(added, 1)], cart);
                Assert.Equal(cart, viewed);
                Assert.True((await shop.Carts.RemoveItemAsync(User(1), added)).IsSuccess);
            }

            units += ordered.Sum(l => (long)l.Item2);
        }

        // Stock and the ranking hold exactly the units the orders took.
        var sold = await shop.SoldAsync();
        Assert.Equal(units, sold.Values.Sum());
        Assert.Equal(2_000 - units, await shop.StockOfAsync(1) + await shop.StockOfAsync(2));
        Assert.Equal(rounds, (await shop.Orders.ListOrdersAsync(User(1), 1_000)).Count);
    }

    [StoreFact]
    public async Task A_checkout_racing_a_removal_from_its_cart_agrees_with_one_of_the_two_sequential_orders()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 10, 1_000);
        await shop.AddProductAsync(2, 20, 1_000);
        await shop.ChargeAsync(1, 100_000);
        const int rounds = 40;
        var units = 0L;

        for (var round = 0; round < rounds; round++)
        {
            // The cart holds products 1 and 2; the removal takes product 2's line out.
            await shop.AddToCartAsync(1, 1, 1);
            await shop.AddToCartAsync(1, 2, 3);
            var checkout = default(Result<Order>);
            var removal = default(Result<CartView>);
            RunTogether(2, t =>
            {
                if (t == 0)
                {
                    checkout = Wait(shop.Carts.CheckoutAsync(User(1)));
                }
                else
                {
                    removal = Wait(shop.Carts.RemoveItemAsync(User(1), Product(2)));
                }
            });

            Assert.True(checkout.IsSuccess, checkout.ToString());
            var ordered = checkout.Value.Lines.Select(l => (l.ProductId, l.Quantity)).ToList();
            Assert.Empty((await shop.Carts.GetCartAsync(User(1))).Lines);

            // Either the checkout came first (it ordered both lines and the removal found no line) or the removal
            // did (it left product 1 alone, which the checkout ordered): nothing else.
            if (removal.IsSuccess)
            {
                Assert.Equal([(Product(1), 1)], removal.Value.Lines.Select(l => (l.ProductId, l.Quantity)));
                Assert.Equal([(Product(1), 1)], ordered);
            }
            else
            {
                Assert.Equal(CommerceErrorCode.CartItemNotFound, removal.Error!.Code);
                Assert.Equal([(Product(1), 1), (Product(2), 3)], ordered);
            }

            units += ordered.Sum(l => (long)l.Item2);
        }

        // Stock and the ranking hold exactly the units the orders took.
        var sold = await shop.SoldAsync();
        Assert.Equal(units, sold.Values.Sum());
        Assert.Equal(2_000 - units, await shop.StockOfAsync(1) + await shop.StockOfAsync(2));
        Assert.Equal(rounds, (await shop.Orders.ListOrdersAsync(User(1), 1_000)).Count);
    }

    [StoreFact]
    public async Task Listings_read_while_a_user_places_orders_each_show_a_prefix_of_them_newest_first()
    {
        const int orders = 60;
        const int readers = 2;
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 1, 1_000);
        await shop.ChargeAsync(1, 1_000);
        var placed = new List<Order>();
        var placing = 1;
        var listings = new List<List<OrderId>>[readers];

        RunTogether(readers + 1, t =>
        {
            if (t == readers)
            {
                try
                {
                    for (var i = 0; i < orders; i++)
                    {
                        var order = Wait(shop.OrderAsync(1, (1, 1)));
                        Assert.True(order.IsSuccess, order.ToString());
                        placed.Add(order.Value);
                    }
                }
                finally
                {
                    Volatile.Write(ref placing, 0);
                }

                return;
            }

            listings[t] = [];
            while (Volatile.Read(ref placing) == 1)
            {
                listings[t].Add(Wait(shop.Orders.ListOrdersAsync(User(1), 1_000)).Select(o => o.Id).ToList());
            }
        });

        // A sequential model: one placing thread, so every listing is the orders placed so far, newest first,
        // and a reader never sees an order disappear.
        var newestFirst = placed.Select(o => o.Id).Reverse().ToList();
        foreach (var reader in listings)
        {
            var seen = 0;
            foreach (var listing in reader)
            {
                Assert.Equal(newestFirst.Skip(orders - listing.Count), listing);
                Assert.True(listing.Count >= seen, $"A listing of {listing.Count} orders came after one of {seen}.");
                seen = listing.Count;
            }
        }

        Assert.Equal(newestFirst, (await shop.Orders.ListOrdersAsync(User(1), 1_000)).Select(o => o.Id));
    }

    [StoreFact]
    public async Task Every_page_of_products_and_every_ranking_read_while_orders_and_cancels_commit_is_a_consistent_snapshot()
    {
        const int pairs = 4;
        const int writers = 3;
        const int readers = 2;
        const int ordersPerWriter = 80;
        using var shop = CreateShop();
        for (var p = 1; p <= 2 * pairs; p++)
        {
            await shop.AddProductAsync(p, 1, 10_000);
        }

        var writersLeft = writers;
        var pages = new int[readers];
        var compared = new int[readers];

        RunTogether(writers + readers, t =>
        {
            if (t >= writers)
            {
                // Every commit changes the two products of a pair together, so in any snapshot they hold
                // equal stock; a page that mixes states from before and after one commit shows them apart.
                // At least one pass, even if the writers finish before this thread first gets to run.
                do
                {
                    var limit = 1 + ((t + pages[t - writers]) % (2 * pairs));
                    var after = default(ProductId?);
                    while (true)
                    {
                        var page = Wait(shop.Catalog.ListProductsAsync(after, limit));
                        pages[t - writers]++;
                        Assert.True(page.Zip(page.Skip(1)).All(p => p.First.Id.Value < p.Second.Id.Value), "A page is not in ascending id order.");
                        var stock = page.ToDictionary(p => p.Id.Value, p => p.Stock);
                        foreach (var (id, units) in stock.Where(s => s.Key % 2 == 1))
                        {
                            if (stock.TryGetValue(id + 1, out var partner))
                            {
                                Assert.True(units == partner, $"One page holds product {id} with {units} and product {id + 1} with {partner}.");
                                compared[t - writers]++;
                            }
                        }

                        if (page.Count < limit)
                        {
                            break;
                        }

                        after = page[^1].Id;
                    }

                    // The ranking counts each commit whole too: the two products of a pair sold as many units.
                    var sold = Wait(shop.Ranking.GetPopularProductsAsync(2 * pairs, TimeSpan.FromDays(1))).ToDictionary(r => r.ProductId.Value, r => r.QuantitySold);
                    for (var id = 1L; id <= 2 * pairs; id += 2)
                    {
                        Assert.True(
                            sold.GetValueOrDefault(id) == sold.GetValueOrDefault(id + 1),
                            $"One ranking counts {sold.GetValueOrDefault(id)} units of product {id} and {sold.GetValueOrDefault(id + 1)} of product {id + 1}.");
                    }
                }
                while (Volatile.Read(ref writersLeft) > 0);

                return;
            }

            try
            {
                var random = new Random(20261206 + t);
                var mine = new List<OrderId>();
                for (var i = 0; i < ordersPerWriter; i++)
                {
                    if (mine.Count > 0 && random.Next(4) == 0)
                    {
                        var index = random.Next(mine.Count);
                        Assert.True(Wait(shop.Orders.CancelOrderAsync(mine[index])).IsSuccess);
                        mine.RemoveAt(index);
                        continue;
                    }

                    var first = (2 * random.Next(pairs)) + 1;
                    var quantity = random.Next(1, 4);
                    var charged = Wait(shop.Wallets.ChargeAsync(User(t + 1), Money(2 * quantity)));
                    Assert.True(charged.IsSuccess, charged.ToString());
                    var placed = Wait(shop.OrderAsync(t + 1, (first, quantity), (first + 1, quantity)));
                    Assert.True(placed.IsSuccess, placed.ToString());
                    mine.Add(placed.Value.Id);
                }
            }
            finally
            {
                Interlocked.Decrement(ref writersLeft);
            }
        });

        Assert.All(compared, c => Assert.True(c > 0, "No page held both products of a pair."));
        var ranking = (await shop.Ranking.GetPopularProductsAsync(2 * pairs, TimeSpan.FromDays(1))).ToDictionary(r => r.ProductId.Value, r => r.QuantitySold);
        for (var p = 1; p <= 2 * pairs; p += 2)
        {
            Assert.Equal(await shop.StockOfAsync(p), await shop.StockOfAsync(p + 1));
            Assert.Equal(10_000 - await shop.StockOfAsync(p), ranking.GetValueOrDefault(p));
        }
    }

    [StoreFact]
    public async Task A_ranking_read_while_orders_commit_never_goes_down_and_ends_at_the_committed_total()
    {
        using var shop = CreateShop();
        await shop.AddProductAsync(1, 1, 100_000);
        const int buyers = 3;
        for (var u = 0; u < buyers; u++)
        {
            await shop.ChargeAsync(u, 1_000_000);
        }

        var observed = new List<long>();
        var placed = new int[buyers];
        RunTogether(buyers + 1, t =>
        {
            if (t == buyers)
            {
                // The reader: the ranking only ever counts committed orders, so what it sees only grows.
                for (var i = 0; i < 300; i++)
                {
                    var ranking = Wait(shop.Ranking.GetPopularProductsAsync());
                    observed.Add(ranking.Count == 0 ? 0 : ranking[0].QuantitySold);
                }

                return;
            }

            for (var i = 0; i < 300; i++)
            {
                Assert.True(Wait(shop.OrderAsync(t, (1, 2))).IsSuccess);
                placed[t]++;
            }
        });

        Assert.True(observed.Zip(observed.Skip(1)).All(p => p.First <= p.Second), "The ranking went down while orders committed.");
        Assert.All(observed, sold => Assert.Equal(0, sold % 2));
        Assert.Equal(2 * placed.Sum(), Assert.Single(await shop.Ranking.GetPopularProductsAsync()).QuantitySold);
        Assert.Equal(100_000 - (2 * placed.Sum()), await shop.StockOfAsync(1));
    }

    [StoreFact]
    public async Task A_random_mixed_workload_conserves_money_stock_sales_and_cart_contents()
    {
        const int threads = 4;
        const int operationsPerThread = 400;
        const int users = 6;
        const int initialStock = 40;
        long[] products = [1, 2, 3, 4];
        using var shop = CreateShop();
        foreach (var product in products)
        {
            await shop.AddProductAsync(product, product * 3, initialStock);
        }

        var logs = new WorkerLog[threads];
        RunTogether(threads, t =>
        {
            var log = logs[t] = new WorkerLog();
            var random = new Random(20261124 + t);
            for (var i = 0; i < operationsPerThread; i++)
            {
                var user = random.Next(users);
                var roll = random.Next(100);
                if (roll < 30)
                {
                    var amount = random.Next(1, 60);
                    var charged = Wait(shop.Wallets.ChargeAsync(User(user), Money(amount)));
                    Assert.True(charged.IsSuccess, charged.ToString());
                    log.Charged += amount;
                    log.ChargedByUser[user] = log.ChargedByUser.GetValueOrDefault(user) + amount;
                }
                else if (roll < 75)
                {
                    var lines = Enumerable.Range(0, random.Next(1, 4))
                        .Select(_ => (products[random.Next(products.Length)], random.Next(1, 4)))
                        .ToArray();
                    var placed = Wait(shop.OrderAsync(user, lines));
                    if (placed.IsSuccess)
                    {
                        log.Orders.Add(placed.Value);
                    }
                    else
                    {
                        Assert.Contains(placed.Error!.Code, new[] { CommerceErrorCode.InsufficientBalance, CommerceErrorCode.InsufficientStock, CommerceErrorCode.ConcurrencyConflict });
                    }
                }
                else if (roll < 85)
                {
                    var product = products[random.Next(products.Length)];
                    var quantity = random.Next(1, 6);
                    Assert.True(Wait(shop.Catalog.RestockAsync(Product(product), quantity)).IsSuccess);
                    log.Restocked[product] = log.Restocked.GetValueOrDefault(product) + quantity;
                }
                else
                {
                    var product = products[random.Next(products.Length)];
                    var quantity = random.Next(1, 4);
                    Assert.True(Wait(shop.Carts.AddItemAsync(User(user), Product(product), quantity)).IsSuccess);
                    log.Carted[(user, product)] = log.Carted.GetValueOrDefault((user, product)) + quantity;
                }
            }
        });

        var orders = logs.SelectMany(l => l.Orders).ToList();
        Assert.NotEmpty(orders);

        // Money: every successful charge in, every successful order's total out.
        var balances = 0L;
        for (var user = 0; user < users; user++)
        {
            balances += (await shop.Wallets.GetBalanceAsync(User(user))).Amount;
        }

        Assert.Equal(logs.Sum(l => l.Charged) - orders.Sum(o => o.Total.Amount), balances);
        for (var user = 0; user < users; user++)
        {
            var charged = logs.Sum(l => l.ChargedByUser.GetValueOrDefault(user));
            var paid = orders.Where(o => o.UserId == User(user)).Sum(o => o.Total.Amount);
            Assert.Equal(Money(charged - paid), await shop.Wallets.GetBalanceAsync(User(user)));
        }

        // Stock: initial + restocks − sold = on hand, for every product; and the ranking agrees with the orders.
        var sold = orders.SelectMany(o => o.Lines).GroupBy(l => l.ProductId).ToDictionary(g => g.Key, g => (long)g.Sum(l => l.Quantity));
        foreach (var product in products)
        {
            var restocked = logs.Sum(l => l.Restocked.GetValueOrDefault(product));
            Assert.Equal(initialStock + restocked - sold.GetValueOrDefault(Product(product)), await shop.StockOfAsync(product));
        }

        Assert.Equal(sold, await shop.SoldAsync());

        // Every successful order was stored as returned, with a consistent total.
        foreach (var order in orders)
        {
            Assert.Equal(order, (await shop.Orders.GetOrderAsync(order.Id)).Value);
            Assert.Equal(order.Lines.Sum(l => l.Quantity * l.UnitPrice.Amount), order.Total.Amount);
        }

        // Carts: every add landed.
        for (var user = 0; user < users; user++)
        {
            var cart = await shop.Carts.GetCartAsync(User(user));
            foreach (var product in products)
            {
                var expected = logs.Sum(l => l.Carted.GetValueOrDefault((user, product)));
                Assert.Equal(expected, cart.Lines.Where(l => l.ProductId == Product(product)).Sum(l => l.Quantity));
            }
        }
    }

    private sealed class WorkerLog
    {
        public long Charged { get; set; }

        public Dictionary<long, long> ChargedByUser { get; } = [];

        public List<Order> Orders { get; } = [];

        public Dictionary<long, int> Restocked { get; } = [];

        public Dictionary<(long User, long Product), int> Carted { get; } = [];
    }
}
