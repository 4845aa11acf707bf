using Commerce.Conformance;
using Commerce.Storage;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests.Domain;

/// <summary>The ranking rules against a brute-force recount of every committed line.</summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class RankingProperties
{
    internal readonly record struct Sale(long Product, long Quantity, long OffsetSeconds)
    {
        public override string ToString() => $"{Quantity}×P{Product}@{OffsetSeconds}s";
    }

    internal sealed record Scenario(Sale[] Sales, long NowSeconds, long WindowSeconds, long ResolutionSeconds, int Count)
    {
        public override string ToString() =>
            $"now={NowSeconds}s window={WindowSeconds}s resolution={ResolutionSeconds}s count={Count} sales=[{string.Join(", ", Sales)}]";
    }

    private static readonly Arbitrary<Scenario> Scenarios = Arb.From(
        from resolution in Gen.Elements(1L, 7L, 60L, 3600L)
        from window in Gen.Choose(1, 20).Select(k => k * resolution + (resolution > 1 ? (long)(k % 3) : 0))
        from now in Gen.Choose(-50, 50).Select(x => x * resolution / 4)
        from count in Gen.Choose(1, 6)
        from sales in (from product in Gen.Choose(1, 8)
                       from quantity in Gen.Choose(1, 5)
                       from half in Gen.Choose(-30, 10)
                       select new Sale(product, quantity, (half * resolution / 2) + product)).ArrayOf()
        select new Scenario(sales, now, window, resolution, count),
        s => Shrink.List(s.Sales).Select(sales => s with { Sales = sales }));

    [Property(MaxTest = 300)]
    public Property Ranking_equals_a_brute_force_recount_of_the_lines_inside_the_covered_window() =>
        Prop.ForAll(Scenarios, s =>
        {
            var origin = TestClock.Start;
            var resolution = TimeSpan.FromSeconds(s.ResolutionSeconds);
            var window = TimeSpan.FromSeconds(s.WindowSeconds);
            var now = origin.AddSeconds(s.NowSeconds);
            var (from, to) = SalesWindow.Covering(now, window, resolution);

            // The documented window: whole buckets aligned to the epoch, ending with the bucket holding now,
            // ceil(W / R) of them.
            Assert.Equal(0, (to - DateTimeOffset.UnixEpoch).Ticks % resolution.Ticks);
            Assert.True(now >= to - resolution && now < to);
            var buckets = (s.WindowSeconds + s.ResolutionSeconds - 1) / s.ResolutionSeconds;
            Assert.Equal(TimeSpan.FromSeconds(buckets * s.ResolutionSeconds), to - from);
            Assert.True(to - from >= window && to - from < window + resolution);

            // Brute force: every line time-stamped inside [from, to), summed per product, best first, ties by lower id.
            var expected = s.Sales
                .Where(x => origin.AddSeconds(x.OffsetSeconds) >= from && origin.AddSeconds(x.OffsetSeconds) < to)
                .GroupBy(x => x.Product)
                .Select(g => (Product: g.Key, Quantity: g.Sum(x => x.Quantity)))
                .OrderByDescending(x => x.Quantity)
                .ThenBy(x => x.Product)
                .Take(s.Count)
                .ToList();

            // The rule the stores use: bucket the sales, keep the buckets the window covers, total per product, rank.
            var first = SalesWindow.BucketOf(from, resolution);
            var end = SalesWindow.BucketOf(to, resolution);
            var counted = s.Sales
                .Where(x => SalesWindow.BucketOf(origin.AddSeconds(x.OffsetSeconds), resolution) is var b && b >= first && b < end)
                .GroupBy(x => x.Product)
                .Select(g => new ProductSales(new ProductId(g.Key), g.Sum(x => x.Quantity)));
            var actual = SalesWindow.Top(counted, s.Count);

            Assert.Equal(expected, actual.Select(p => (p.ProductId.Value, p.Quantity)));
        });

    [Property(MaxTest = 200)]
    public Property Top_orders_by_quantity_then_lower_id_and_drops_products_without_sales() =>
        Prop.ForAll(
            Arb.From(Gen.Zip(Gen.Zip(Gen.Choose(1, 30), Gen.Choose(-2, 6)).ArrayOf(), Gen.Choose(1, 10))),
            t =>
            {
                var (raw, count) = t;
                var sales = raw.DistinctBy(x => x.Item1).Select(x => new ProductSales(new ProductId(x.Item1), x.Item2)).ToArray();
                var top = SalesWindow.Top(sales, count);
                Assert.True(top.Count <= count);
                Assert.All(top, p => Assert.True(p.Quantity > 0));
                for (var i = 1; i < top.Count; i++)
                {
                    var (a, b) = (top[i - 1], top[i]);
                    Assert.True(a.Quantity > b.Quantity || (a.Quantity == b.Quantity && a.ProductId.Value < b.ProductId.Value), $"{a} before {b}");
                }

                // Nothing better was dropped.
                var kept = top.Select(p => p.ProductId).ToHashSet();
                var weakest = top.Count == count ? top[^1] : default;
                foreach (var s in sales.Where(s => s.Quantity > 0 && !kept.Contains(s.ProductId)))
                {
                    Assert.True(top.Count == count, $"{s} was dropped though there was room");
                    Assert.True(s.Quantity < weakest.Quantity || (s.Quantity == weakest.Quantity && s.ProductId.Value > weakest.ProductId.Value));
                }
            });
}
