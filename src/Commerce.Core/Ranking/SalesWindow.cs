namespace Commerce;

/// <summary>
/// The pure rules of the best-sellers ranking: which instants a window covers, and how sales are
/// ordered.
/// </summary>
/// <remarks>
/// <para>
/// Time is cut into buckets of <see cref="CommerceOptions.RankingResolution"/> (R), aligned to the
/// Unix epoch. A query at <c>now</c> over a window W covers the bucket holding <c>now</c> and the
/// <c>ceil(W / R) − 1</c> buckets before it: the half-open interval
/// <c>[end − ceil(W / R)·R, end)</c>, where <c>end</c> is the end of the bucket holding <c>now</c>.
/// With the defaults (R = 1 minute, W = 3 days) that is every sale in the current minute and the
/// 4,319 whole minutes before it. Sales time-stamped after <c>end</c> (a clock that went back)
/// are not counted.
/// </para>
/// </remarks>
internal static class SalesWindow
{
    /// <summary>The covered interval, [from, to), for a query at <paramref name="now"/>.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Covering(DateTimeOffset now, TimeSpan window, TimeSpan resolution)
    {
        var r = resolution.Ticks;
        var buckets = (window.Ticks + r - 1) / r;
        var to = (BucketOf(now, resolution) + 1) * r;
        var from = to - (buckets * r);
        return (FromEpochTicks(from), FromEpochTicks(to));
    }

    /// <summary>The bucket number holding an instant: floor((t − epoch) / R).</summary>
    public static long BucketOf(DateTimeOffset at, TimeSpan resolution) =>
        FloorDiv(at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks, resolution.Ticks);

    /// <summary>
    /// The bucket after the last one counted in an interval that ends (exclusive) at <paramref name="to"/>: the
    /// bucket holding it, except at <see cref="DateTimeOffset.MaxValue"/>, where an end clamped by
    /// <see cref="Covering"/> stands for the end of the last bucket, which no instant can name.
    /// </summary>
    public static long EndBucketOf(DateTimeOffset to, TimeSpan resolution) =>
        BucketOf(to, resolution) + (to.UtcTicks == DateTimeOffset.MaxValue.UtcTicks ? 1 : 0);

    /// <summary>The first instant of a bucket.</summary>
    public static DateTimeOffset StartOf(long bucket, TimeSpan resolution) => FromEpochTicks(bucket * resolution.Ticks);

    /// <summary>Orders sales best first (more units, then lower product id) and keeps the first <paramref name="count"/>.</summary>
    public static List<Storage.ProductSales> Top(IEnumerable<Storage.ProductSales> sales, int count)
    {
        var list = sales.Where(s => s.Quantity > 0).ToList();
        list.Sort(Storage.ProductSales.BestFirst);
        if (list.Count > count)
        {
            list.RemoveRange(count, list.Count - count);
        }

        return list;
    }

    private static long FloorDiv(long a, long b)
    {
        var q = Math.DivRem(a, b, out var rem);
        return rem < 0 ? q - 1 : q;
    }

    private static DateTimeOffset FromEpochTicks(long ticks) =>
        new(Math.Clamp(ticks + DateTimeOffset.UnixEpoch.UtcTicks, DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero);
}
