using Commerce.InMemory;
using Commerce.InMemory.LockFree;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Benchmarks;

/// <summary>
/// A self-check run with <c>-- check-ranking</c>: the lock-free store's cached ranking must equal a
/// full scan of its sales cells, and the global-lock store's ranking, after random orders with a clock
/// that moves forward and back, and after concurrent writers.
/// </summary>
internal static class RankingCheck
{
    public static int Run()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var lockFree = new Shop(StoreKind.LockFree, clock, products: 50, users: 20);
        using var reference = new Shop(StoreKind.GlobalLock, clock, products: 50, users: 20);
        var random = new Random(5);
        var orders = Requests.Orders(6, 20_000, hot: false, products: 50);
        var failures = 0;
        for (var i = 0; i < orders.Length; i++)
        {
            var user = new UserId(random.Next(1, 21));
            Sync.Check(lockFree.Orders.PlaceOrderAsync(user, orders[i]));
            Sync.Check(reference.Orders.PlaceOrderAsync(user, orders[i]));
            var move = random.Next(100);
            clock.Advance(move < 80 ? TimeSpan.FromSeconds(random.Next(0, 40)) : move < 95 ? TimeSpan.FromMinutes(random.Next(1, 90)) : -TimeSpan.FromMinutes(random.Next(1, 600)));
            if (i % 3 == 0)
            {
                // The default window, asked again and again: this reuses the cache and corrects it by changed buckets.
                var actual = Sync.Wait(lockFree.Ranking.GetPopularProductsAsync());
                var expected = Sync.Wait(reference.Ranking.GetPopularProductsAsync());
                if (!actual.SequenceEqual(expected))
                {
                    failures++;
                    Console.WriteLine($"MISMATCH (default) at order {i}: {string.Join(",", actual)} vs {string.Join(",", expected)}");
                }
            }

            if (i % 7 == 0)
            {
                var count = random.Next(1, 30);
                var window = TimeSpan.FromMinutes(random.Next(1, 6000));
                var actual = Sync.Wait(lockFree.Ranking.GetPopularProductsAsync(count, window));
                var expected = Sync.Wait(reference.Ranking.GetPopularProductsAsync(count, window));
                if (!actual.SequenceEqual(expected))
                {
                    failures++;
                    Console.WriteLine($"MISMATCH at order {i}: {string.Join(",", actual)} vs {string.Join(",", expected)}");
                }
            }
        }

        failures += Concurrent();
        Console.WriteLine(failures == 0 ? "ranking check passed" : $"ranking check FAILED: {failures}");
        return failures == 0 ? 0 : 1;
    }

    private static int Concurrent()
    {
        var clock = TimeProvider.System;
        using var shop = new Shop(StoreKind.LockFree, clock, products: 20, users: 20);
        var store = (InMemoryCommerceStore)shop.Provider.GetRequiredService<Commerce.Storage.ICommerceStore>();
        var failures = 0;
        using var start = new Barrier(4);
        var writers = Enumerable.Range(0, 3).Select(w => new Thread(() =>
        {
            var orders = Requests.Orders(w, 20_000, hot: true, products: 20);
            start.SignalAndWait();
            foreach (var order in orders)
            {
                Sync.Check(shop.Orders.PlaceOrderAsync(new UserId(1 + w), order));
            }
        })).ToList();
        writers.ForEach(t => t.Start());
        start.SignalAndWait();
        long lastHot = 0;
        while (writers.Exists(t => t.IsAlive))
        {
            var top = Sync.Wait(shop.Ranking.GetPopularProductsAsync(20, TimeSpan.FromDays(1)));
            var hot = top.FirstOrDefault(p => p.ProductId.Value == Requests.HotProduct)?.QuantitySold ?? 0;
            if (hot < lastHot)
            {
                failures++;
                Console.WriteLine($"hot product went back from {lastHot} to {hot}");
            }

            lastHot = hot;
        }

        writers.ForEach(t => t.Join());
        var (from, to) = SalesWindow.Covering(clock.GetUtcNow(), TimeSpan.FromDays(1), TimeSpan.FromMinutes(1));
        var cached = Sync.Wait(shop.Ranking.GetPopularProductsAsync(20, TimeSpan.FromDays(1))).Select(p => (p.ProductId.Value, p.QuantitySold));
        var scanned = Scan(store, SalesWindow.BucketOf(from, TimeSpan.FromMinutes(1)), SalesWindow.BucketOf(to, TimeSpan.FromMinutes(1)), 20);
        if (!cached.SequenceEqual(scanned))
        {
            failures++;
            Console.WriteLine($"after concurrent writers: {string.Join(",", cached)} vs scan {string.Join(",", scanned)}");
        }

        return failures;
    }

    private static List<(long, long)> Scan(InMemoryCommerceStore store, long first, long end, int count)
    {
        var totals = new Dictionary<long, long>();
        for (var b = first; b < end; b++)
        {
            if (store.Sales.Bucket(b) is { } bucket)
            {
                foreach (var (product, cell) in bucket.Cells)
                {
                    totals[product] = totals.GetValueOrDefault(product) + cell.Count;
                }
            }
        }

        return [.. totals.Where(t => t.Value > 0).OrderByDescending(t => t.Value).ThenBy(t => t.Key).Take(count).Select(t => (t.Key, t.Value))];
    }
}
