using System.Collections.Concurrent;
using System.Globalization;
using Commerce.Conformance;
using Commerce.InMemory.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.InMemory.Tests.Stress;

/// <summary>
/// Many threads, a mixed seeded workload, then conservation: money, stock and ranking add up exactly to
/// what the successful calls reported, and every placed order is stored as returned.
/// </summary>
public sealed class StressTests
{
    private const int Threads = 8;
    private const int OpsPerThread = 2500;
    private const int Users = 12;
    private const int Products = 6;
    private const int InitialStock = 150;

    private sealed class Tally
    {
        public readonly long[] Charged = new long[Users + 1];
        public readonly long[] Paid = new long[Users + 1];
        public readonly long[] Restocked = new long[Products + 1];
        public readonly long[] Sold = new long[Products + 1];
        public readonly List<Order> Orders = [];
        public readonly Dictionary<CommerceErrorCode, int> Refusals = [];
        public int Operations;
    }

    public static TheoryData<int> Seeds => new(StressSeed());

    /// <summary>Fixed seeds for CI; set COMMERCE_STRESS_SEED to replay or explore one.</summary>
    private static int[] StressSeed() =>
        Environment.GetEnvironmentVariable("COMMERCE_STRESS_SEED") is { } s ? [int.Parse(s, CultureInfo.InvariantCulture)] : [1, 2];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Mixed_concurrent_workload_conserves_money_stock_and_sales(int seed)
    {
        using var shop = InMemoryShop.Create(o => o.MaxBalance = new Money(1_000_000));
        var prices = new long[Products + 1];
        for (var p = 1; p <= Products; p++)
        {
            prices[p] = p * 3;
            Assert.True((await shop.Catalog.AddProductAsync(new ProductId(p), "P" + p, new Money(prices[p]), InitialStock)).IsSuccess);
        }

        var tallies = Enumerable.Range(0, Threads).Select(_ => new Tally()).ToArray();
        var unexpected = new ConcurrentQueue<string>();
        using var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var random = new Random(HashCode.Combine(seed, t));
            var tally = tallies[t];
            start.SignalAndWait();
            for (var n = 0; n < OpsPerThread; n++)
            {
                try
                {
                    Step(shop, random, tally, prices);
                }
                catch (Exception e)
                {
                    unexpected.Enqueue(e.ToString());
                }
            }
        }) { IsBackground = true }).ToList();
        workers.ForEach(w => w.Start());
        Assert.All(workers, w => Assert.True(w.Join(TimeSpan.FromMinutes(2)), $"seed {seed}: a worker did not finish"));

        var because = $"(seed {seed}; replay with COMMERCE_STRESS_SEED={seed})";
        Assert.True(unexpected.IsEmpty, $"{because} unexpected exceptions:\n{string.Join("\n", unexpected.Take(3))}");
        Assert.Equal(Threads * OpsPerThread, tallies.Sum(t => t.Operations));
        var refusals = tallies.SelectMany(t => t.Refusals).GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Sum(r => r.Value));
        Assert.True(
            refusals.Keys.All(c => c is CommerceErrorCode.InsufficientBalance or CommerceErrorCode.InsufficientStock or CommerceErrorCode.BalanceLimitExceeded or CommerceErrorCode.ConcurrencyConflict),
            $"{because} unexpected refusals: {string.Join(", ", refusals)}");

        // Money: each wallet holds exactly what was charged minus what its orders cost; never negative.
        for (var u = 1; u <= Users; u++)
        {
            var balance = await shop.Wallets.GetBalanceAsync(new UserId(u));
            Assert.True(balance.Amount >= 0, $"{because} user {u} has a negative balance {balance}");
            Assert.True(
                tallies.Sum(t => t.Charged[u]) - tallies.Sum(t => t.Paid[u]) == balance.Amount,
                $"{because} user {u}: charged {tallies.Sum(t => t.Charged[u])} − paid {tallies.Sum(t => t.Paid[u])} ≠ balance {balance}");
        }

        // Stock: initial + restocks − sold, never negative.
        var sold = new long[Products + 1];
        for (var p = 1; p <= Products; p++)
        {
            sold[p] = tallies.Sum(t => t.Sold[p]);
            var stock = (await shop.Catalog.GetProductAsync(new ProductId(p))).Value.Stock;
            Assert.True(stock >= 0, $"{because} product {p} has negative stock");
            Assert.True(InitialStock + tallies.Sum(t => t.Restocked[p]) - sold[p] == stock, $"{because} product {p}: stock {stock} does not conserve");
        }

        // Ranking: exactly the committed sales (every order was placed at the same fake instant).
        var ranking = await shop.Ranking.GetPopularProductsAsync(Products, TimeSpan.FromDays(1));
        var expected = Enumerable.Range(1, Products).Where(p => sold[p] > 0)
            .OrderByDescending(p => sold[p]).ThenBy(p => p).Select(p => ((long)p, sold[p]));
        Assert.True(expected.SequenceEqual(ranking.Select(r => (r.ProductId.Value, r.QuantitySold))), $"{because} ranking differs from committed sales");

        // Every order the services confirmed is stored, once, exactly as returned, and was paid in full.
        var orders = tallies.SelectMany(t => t.Orders).ToList();
        Assert.Equal(orders.Count, orders.Select(o => o.Id).Distinct().Count());
        foreach (var order in orders)
        {
            var stored = await shop.Orders.GetOrderAsync(order.Id);
            Assert.True(stored.IsSuccess && stored.Value == order, $"{because} order {order.Id} is not stored as placed");
            Assert.Equal(order.Lines.Sum(l => prices[l.ProductId.Value] * l.Quantity), order.Total.Amount);
        }

        Assert.True(orders.Count > 0 && refusals.GetValueOrDefault(CommerceErrorCode.InsufficientStock) + refusals.GetValueOrDefault(CommerceErrorCode.InsufficientBalance) > 0, $"{because} the workload exercised no refusals");
    }

    [Fact]
    public void An_order_once_placed_is_found_by_every_lookup_while_other_threads_place_orders()
    {
        // Order ids sort by time, each thread's run of a millisecond apart from the others': one thread's new
        // orders of a millisecond land right before the other's first order of that millisecond. A reader looks
        // up each placer's first order of its current millisecond, and its latest, again and again; the model
        // is simply "placed, so found".
        const int Placers = 2;
        const int OrdersPerPlacer = 40_000;
        // The system's clock, not the fake one: ids then move on with the milliseconds as they do in a host.
        using var shop = new Shop(b => b.UseInMemoryStore().Services.AddSingleton(TimeProvider.System), o => o.MaxBalance = new Money(1_000_000));
        Assert.True(Sync.Run(shop.Catalog.AddProductAsync(new ProductId(1), "P1", new Money(1), Placers * OrdersPerPlacer)).IsSuccess);
        var latest = new Order?[Placers * 2]; // per placer: its first order of its current millisecond, its latest
        var failures = new ConcurrentQueue<string>();
        var placing = Placers;
        var lookups = 0L;
        var placers = Enumerable.Range(0, Placers).Select(t => new Thread(() =>
        {
            var user = new UserId(t + 1);
            Assert.True(Sync.Run(shop.Wallets.ChargeAsync(user, new Money(OrdersPerPlacer))).IsSuccess);
            for (var n = 0; n < OrdersPerPlacer && failures.IsEmpty; n++)
            {
                var placed = Sync.Run(shop.Orders.PlaceOrderAsync(user, [new OrderLineRequest(new ProductId(1), 1)]));
                if (placed.IsFailure)
                {
                    failures.Enqueue($"placing: {placed.Error}");
                    break;
                }

                var previous = latest[(2 * t) + 1];
                if (previous is null || previous.PlacedAt.ToUnixTimeMilliseconds() != placed.Value.PlacedAt.ToUnixTimeMilliseconds())
                {
                    Volatile.Write(ref latest[2 * t], placed.Value);
                }

                Volatile.Write(ref latest[(2 * t) + 1], placed.Value);
            }

            Interlocked.Decrement(ref placing);
        }) { IsBackground = true }).ToList();
        var reader = new Thread(() =>
        {
            while (Volatile.Read(ref placing) > 0 && failures.IsEmpty)
            {
                for (var i = 0; i < latest.Length; i++)
                {
                    if (Volatile.Read(ref latest[i])?.Id is { } id)
                    {
                        lookups++;
                        var found = Sync.Run(shop.Orders.GetOrderAsync(id));
                        if (found.IsFailure || found.Value.Id != id)
                        {
                            failures.Enqueue($"order {id}, placed before the lookup began: {(found.IsFailure ? found.Error.ToString() : "another order")}");
                        }
                    }
                }
            }
        }) { IsBackground = true };
        placers.ForEach(p => p.Start());
        reader.Start();
        Assert.All(placers.Append(reader), w => Assert.True(w.Join(TimeSpan.FromMinutes(2)), "A thread did not finish."));

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(3)));
        Assert.True(lookups > 0);
        Assert.Equal(0, Sync.Run(shop.Catalog.GetProductAsync(new ProductId(1))).Value.Stock);
    }

    private static void Step(Shop shop, Random random, Tally tally, long[] prices)
    {
        var user = random.Next(1, Users + 1);
        var product = random.Next(1, Products + 1);
        tally.Operations++;
        switch (random.Next(20))
        {
            case < 6:
            {
                var amount = random.Next(1, 200);
                var charged = Sync.Run(shop.Wallets.ChargeAsync(new UserId(user), new Money(amount)));
                if (Count(tally, charged))
                {
                    tally.Charged[user] += amount;
                }

                break;
            }

            case < 14:
            {
                var lines = Enumerable.Range(0, random.Next(1, 4))
                    .Select(_ => new OrderLineRequest(new ProductId(random.Next(1, Products + 1)), random.Next(1, 4)))
                    .ToArray();
                var placed = Sync.Run(shop.Orders.PlaceOrderAsync(new UserId(user), lines));
                if (Count(tally, placed))
                {
                    var order = placed.Value;
                    tally.Orders.Add(order);
                    tally.Paid[user] += order.Total.Amount;
                    foreach (var line in order.Lines)
                    {
                        tally.Sold[line.ProductId.Value] += line.Quantity;
                    }

                    Assert.Equal(lines.Sum(l => l.Quantity), order.Lines.Sum(l => l.Quantity));
                }

                break;
            }

            case < 15:
            {
                var quantity = random.Next(1, 10);
                if (Count(tally, Sync.Run(shop.Catalog.RestockAsync(new ProductId(product), quantity))))
                {
                    tally.Restocked[product] += quantity;
                }

                break;
            }

            case < 17:
            {
                var cart = random.Next(2) == 0
                    ? Sync.Run(shop.Carts.AddItemAsync(new UserId(user), new ProductId(product), random.Next(1, 3)))
                    : Sync.Run(shop.Carts.RemoveItemAsync(new UserId(user), new ProductId(product)));
                Assert.True(cart.IsSuccess || cart.Error.Code is CommerceErrorCode.CartItemNotFound or CommerceErrorCode.ConcurrencyConflict, cart.Error?.ToString());
                break;
            }

            case < 19:
                Assert.True(Sync.Run(shop.Wallets.GetBalanceAsync(new UserId(user))).Amount >= 0);
                break;
            default:
                var top = Sync.Run(shop.Ranking.GetPopularProductsAsync());
                Assert.All(top, p => Assert.True(p.QuantitySold > 0 && p.Price.Amount == prices[p.ProductId.Value]));
                break;
        }
    }

    private static bool Count<T>(Tally tally, Result<T> result)
    {
        if (result.IsFailure)
        {
            tally.Refusals[result.Error.Code] = tally.Refusals.GetValueOrDefault(result.Error.Code) + 1;
        }

        return result.IsSuccess;
    }
}
