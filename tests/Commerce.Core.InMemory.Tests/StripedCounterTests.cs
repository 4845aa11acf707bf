using System.Runtime.CompilerServices;

namespace Commerce.InMemory.Tests;

/// <summary>
/// The striped counters on the order path (the tables' entry counts, the sales buckets' commit counters)
/// write one stripe per thread and stay exact when summed, whatever the number of threads.
/// </summary>
public sealed class StripedCounterTests
{
    private const int IncrementsPerThread = 20_000;

    [Fact]
    public void Each_thread_keeps_one_stripe_and_threads_get_different_numbers()
    {
        var threads = 16;
        var numbers = new int[threads];
        var stable = new bool[threads];
        RunOnThreads(threads, i =>
        {
            numbers[i] = ThreadStripe.Of(1 << 30); // the thread's number itself, less one
            stable[i] = ThreadStripe.Of(1 << 30) == numbers[i] && ThreadStripe.Of(8) == (numbers[i] & 7);
        });

        Assert.All(stable, Assert.True);
        Assert.Equal(threads, numbers.Distinct().Count());
    }

    [Fact]
    public void No_two_stripes_of_a_sales_bucket_share_a_cache_line()
    {
        // A stripe's two counters (started, finished) are 16 bytes that may straddle a line boundary: between one
        // stripe's finished counter and the next stripe's started counter, enough bytes that no line holds both,
        // wherever the array starts.
        var bucket = new SalesBucket();
        for (var i = 0; i + 1 < SalesBucket.Stripes; i++)
        {
            var gap = Unsafe.ByteOffset(ref bucket.CounterOf(i, finished: true), ref bucket.CounterOf(i + 1, finished: false));
            Assert.True(gap - sizeof(long) >= 63, $"Stripes {i} and {i + 1}: {gap} bytes from one's finished counter to the next's started counter.");
            Assert.Equal(sizeof(long), Unsafe.ByteOffset(ref bucket.CounterOf(i, finished: false), ref bucket.CounterOf(i, finished: true)));
        }
    }

    [Fact]
    public void A_striped_count_summed_after_threads_counted_at_once_is_their_total()
    {
        var count = new StripedCount();
        var threads = (StripedCount.Stripes * 2) + 1; // more threads than stripes: some share one
        RunOnThreads(threads, _ =>
        {
            for (var i = 0; i < IncrementsPerThread; i++)
            {
                count.Increment();
            }
        });

        Assert.Equal((long)threads * IncrementsPerThread, count.Sum);
    }

    [Fact]
    public void A_sales_bucket_stamps_only_when_no_commit_is_in_flight_and_counts_every_decided_one()
    {
        var bucket = new SalesBucket();
        Assert.Equal(0, bucket.Stamp());

        // A commit announced on another thread (its own stripe) and not yet decided.
        var stripe = 0;
        RunOnThreads(1, _ => stripe = bucket.BeginCommit());
        Assert.Equal(-1, bucket.Stamp());
        bucket.EndCommit(stripe);
        Assert.Equal(1, bucket.Stamp());

        var threads = (SalesBucket.Stripes * 2) + 1;
        RunOnThreads(threads, _ =>
        {
            for (var i = 0; i < IncrementsPerThread; i++)
            {
                bucket.EndCommit(bucket.BeginCommit());
            }
        });

        Assert.Equal(1 + ((long)threads * IncrementsPerThread), bucket.Stamp());
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="count"/> new threads, started together, and waits for all.</summary>
    private static void RunOnThreads(int count, Action<int> body)
    {
        using var start = new Barrier(count);
        var threads = Enumerable.Range(0, count).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            body(i);
        })).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }
    }
}
