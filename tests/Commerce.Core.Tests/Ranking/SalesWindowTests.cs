using Commerce.Storage;
using Commerce.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.Tests.Ranking;

[Properties(Replay = "20261206,1442695040888963407")]
public sealed class SalesWindowTests
{
    /// <summary>Instants from 1970 to about 2100, windows from a tick to 366 days, resolutions from a second to a day.</summary>
    public static class Times
    {
        public static Arbitrary<DateTimeOffset> Instant() =>
            Gen.Choose(0, int.MaxValue).SelectMany(_ => Gen.Choose(0, int.MaxValue), (a, b) => DateTimeOffset.UnixEpoch.AddTicks(((long)a * b) % (130L * 365 * TimeSpan.TicksPerDay)))
                .ToArbitrary();

        public static Arbitrary<TimeSpan> Span() =>
            Gen.Frequency(
                    (2, Gen.Choose(1, 366 * 24 * 60).Select(minutes => TimeSpan.FromMinutes(minutes))),
                    (1, Gen.Choose(1, int.MaxValue).Select(ticks => TimeSpan.FromTicks(ticks))),
                    (1, Gen.Elements(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromHours(1), TimeSpan.FromDays(1), TimeSpan.FromDays(3))))
                .ToArbitrary();
    }

    private static TimeSpan Resolution(TimeSpan any) =>
        TimeSpan.FromTicks(Math.Clamp(any.Ticks, TimeSpan.TicksPerSecond, TimeSpan.TicksPerDay));

    [Property(Arbitrary = [typeof(Times)])]
    public bool Covering_contains_now_ends_at_the_end_of_its_bucket_and_spans_whole_buckets(DateTimeOffset now, TimeSpan window, TimeSpan resolution)
    {
        resolution = Resolution(resolution);
        var (from, to) = SalesWindow.Covering(now, window, resolution);
        var buckets = (window.Ticks + resolution.Ticks - 1) / resolution.Ticks;
        var sinceEpoch = (to - DateTimeOffset.UnixEpoch).Ticks;

        return from <= now && now < to
            && to - now <= resolution
            && sinceEpoch % resolution.Ticks == 0
            && (to - from).Ticks == buckets * resolution.Ticks
            && to - from >= window && to - from < window + resolution;
    }

    [Property(Arbitrary = [typeof(Times)])]
    public bool Covering_starts_at_the_start_of_a_bucket_and_BucketOf_agrees(DateTimeOffset now, TimeSpan window, TimeSpan resolution)
    {
        resolution = Resolution(resolution);
        var (from, to) = SalesWindow.Covering(now, window, resolution);
        var current = SalesWindow.BucketOf(now, resolution);
        return SalesWindow.StartOf(current + 1, resolution) == to
            && SalesWindow.BucketOf(from, resolution) == current + 1 - ((window.Ticks + resolution.Ticks - 1) / resolution.Ticks)
            && SalesWindow.BucketOf(to.AddTicks(-1), resolution) == current;
    }

    [Fact]
    public void BucketOf_rounds_down_before_the_epoch_too()
    {
        Assert.Equal(-1, SalesWindow.BucketOf(DateTimeOffset.UnixEpoch.AddTicks(-1), TimeSpan.FromMinutes(1)));
        Assert.Equal(0, SalesWindow.BucketOf(DateTimeOffset.UnixEpoch, TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void EndBucketOf_is_the_bucket_holding_the_end_and_the_one_after_the_last_bucket_at_MaxValue()
    {
        var resolution = TimeSpan.FromMinutes(1);
        var inside = DateTimeOffset.UnixEpoch.AddSeconds(90);
        Assert.Equal(SalesWindow.BucketOf(inside, resolution), SalesWindow.EndBucketOf(inside, resolution));
        Assert.Equal(2, SalesWindow.EndBucketOf(DateTimeOffset.UnixEpoch.AddMinutes(2), resolution));

        var (_, to) = SalesWindow.Covering(DateTimeOffset.MaxValue.AddSeconds(-30), TimeSpan.FromDays(3), resolution);
        Assert.Equal(DateTimeOffset.MaxValue, to);
        Assert.Equal(SalesWindow.BucketOf(DateTimeOffset.MaxValue, resolution) + 1, SalesWindow.EndBucketOf(to, resolution));
    }

    [Property(Arbitrary = [typeof(Generators)])]
    public bool Top_orders_by_units_descending_then_lower_id_and_keeps_only_positive_entries(ProductSales[] sales, int count)
    {
        count = Math.Clamp(Math.Abs(count % 10), 1, 10);
        var expected = sales.Where(s => s.Quantity > 0)
            .OrderByDescending(s => s.Quantity).ThenBy(s => s.ProductId.Value)
            .Take(count);
        return SalesWindow.Top(sales, count).SequenceEqual(expected);
    }
}
