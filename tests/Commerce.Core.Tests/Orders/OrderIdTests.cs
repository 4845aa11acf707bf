namespace Commerce.Tests.Orders;

public sealed class OrderIdTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 12, 30, 15, 123, TimeSpan.Zero);

    [Fact]
    public void A_new_id_is_a_version_7_guid_laid_out_like_the_frameworks()
    {
        var id = OrderId.New(At).Value;
        var framework = Guid.CreateVersion7(At);

        Assert.Equal(7, id.Version);
        Assert.Equal(framework.Version, id.Version);
        // RFC 9562 variant: the top two bits are 10 (the other two are random).
        Assert.Equal(0b1000, id.Variant & 0b1100);
        Assert.Equal(framework.Variant & 0b1100, id.Variant & 0b1100);
        Assert.Equal(framework.ToByteArray(bigEndian: true)[..6], id.ToByteArray(bigEndian: true)[..6]);
    }

    [Fact]
    public void A_new_id_carries_its_placement_time_in_milliseconds()
    {
        var bytes = OrderId.New(At).Value.ToByteArray(bigEndian: true);
        var milliseconds = 0L;
        for (var i = 0; i < 6; i++)
        {
            milliseconds = (milliseconds << 8) | bytes[i];
        }

        Assert.Equal(At.ToUnixTimeMilliseconds(), milliseconds);
    }

    [Fact]
    public void Ids_are_unique_and_sort_by_placement_time()
    {
        // More ids than one random buffer holds, on several threads.
        var ids = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        Parallel.For(0, 4, _ =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                ids.Add(OrderId.New(At).Value);
            }
        });

        Assert.Equal(20_000, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(7, id.Version));

        var earlier = OrderId.New(At.AddMilliseconds(-1)).Value;
        var later = OrderId.New(At.AddMilliseconds(1)).Value;
        // The text form (like the byte form) starts with the timestamp, so ids sort by time.
        Assert.True(string.CompareOrdinal(earlier.ToString(), OrderId.New(At).ToString()) < 0);
        Assert.True(string.CompareOrdinal(OrderId.New(At).ToString(), later.ToString()) < 0);
    }

    [Fact]
    public void One_threads_ids_of_one_millisecond_sort_in_the_order_made_in_their_own_lane()
    {
        // rand_a (the 12 bits after the version) is the thread's lane, then its count in the millisecond.
        static int RandA(Guid id)
        {
            var bytes = id.ToByteArray(bigEndian: true);
            return ((bytes[6] & 0x0F) << 8) | bytes[7];
        }

        var threads = 4;
        var perThread = 200; // below the 256 a millisecond counts before wrapping
        var made = new Guid[threads][];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            OrderId.New(At.AddMilliseconds(-5)); // another millisecond first: the count starts again at At
            made[t] = Enumerable.Range(0, perThread).Select(_ => OrderId.New(At).Value).ToArray();
        })).ToArray();
        foreach (var worker in workers)
        {
            worker.Start();
        }

        foreach (var worker in workers)
        {
            worker.Join();
        }

        foreach (var ids in made)
        {
            var lane = RandA(ids[0]) >> 8;
            Assert.Equal(Enumerable.Range(0, perThread), ids.Select(id => RandA(id) & 0xFF));
            Assert.All(ids, id => Assert.Equal(lane, RandA(id) >> 8));
            // Sorted as text (and as big-endian bytes), in the order made.
            Assert.Equal(ids.Select(id => id.ToString()), ids.Select(id => id.ToString()).Order(StringComparer.Ordinal));
        }

        Assert.Equal(threads, made.Select(ids => RandA(ids[0]) >> 8).Distinct().Count());
    }

    [Fact]
    public void A_time_outside_the_version_7_range_is_refused()
    {
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => OrderId.New(DateTimeOffset.UnixEpoch.AddMilliseconds(-1)));
        Assert.Equal("placedAt", refused.ParamName); // the argument of OrderId.New, which a caller can find
        Assert.Equal(0, OrderId.New(DateTimeOffset.UnixEpoch).Value.ToByteArray(bigEndian: true)[..6].Sum(b => b));
    }
}
