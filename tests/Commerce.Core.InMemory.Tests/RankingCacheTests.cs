using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests;

/// <summary>
/// The ranking's cache of one window: reused while its buckets are unchanged, a changed bucket read live, and
/// out of date as soon as a bucket is published that its build did not see.
/// </summary>
public sealed class RankingCacheTests
{
    [Fact]
    public void A_cached_ranking_counts_a_changed_bucket_live_and_is_out_of_date_once_a_new_bucket_is_published()
    {
        var table = new SalesCellTable();
        Sell(table, bucket: 0, product: 1, quantity: 3);
        Sell(table, bucket: 1, product: 2, quantity: 2);

        Assert.Equal([(1L, 3L), (2L, 2L)], Top(table));
        var cache = table.Ranking;
        Assert.NotNull(cache);

        // Nothing changed: the same cache answers.
        Assert.Equal([(1L, 3L), (2L, 2L)], Top(table));
        Assert.Same(cache, table.Ranking);

        // A changed bucket is read live through the same cache.
        Sell(table, bucket: 1, product: 2, quantity: 2);
        Assert.Equal([(2L, 4L), (1L, 3L)], Top(table));
        Assert.Same(cache, table.Ranking);

        // A bucket the build never saw: its publication replaces the table's set of buckets, which the cache
        // was built from, so the cache is rebuilt and counts it.
        var set = table.BucketSet;
        Sell(table, bucket: 5, product: 3, quantity: 9);
        Assert.NotSame(set, table.BucketSet);
        Assert.Equal([(3L, 9L), (2L, 4L), (1L, 3L)], Top(table));
        Assert.NotSame(cache, table.Ranking);

        // Outside the window: the set changes, the answer does not.
        Sell(table, bucket: 10, product: 4, quantity: 50);
        Assert.Equal([(3L, 9L), (2L, 4L), (1L, 3L)], Top(table));
    }

    [Fact]
    public void A_cached_ranking_with_more_than_eight_changed_buckets_is_rebuilt_and_counts_every_change()
    {
        var table = new SalesCellTable();
        for (var bucket = 0; bucket < 10; bucket++)
        {
            Sell(table, bucket, product: bucket + 1, quantity: 1);
        }

        Assert.Equal(10, Top(table).Length);
        var cache = table.Ranking;

        // Eight changed buckets are read live through the same cache.
        for (var bucket = 0; bucket < 8; bucket++)
        {
            Sell(table, bucket, product: bucket + 1, quantity: 1);
        }

        Assert.Equal([.. Enumerable.Range(1, 8).Select(p => ((long)p, 2L)), (9L, 1L), (10L, 1L)], Top(table));
        Assert.Same(cache, table.Ranking);

        // A ninth: reading them all live would cost more than a rebuild, which counts every change.
        Sell(table, bucket: 8, product: 9, quantity: 5);
        Assert.Equal([(9L, 6L), .. Enumerable.Range(1, 8).Select(p => ((long)p, 2L)), (10L, 1L)], Top(table));
        Assert.NotSame(cache, table.Ranking);
    }

    [Fact]
    public void A_unit_moved_from_a_cached_bucket_to_a_changed_one_during_a_query_is_not_counted_twice()
    {
        var table = new SalesCellTable();
        Sell(table, bucket: 0, product: 1, quantity: 1);
        Sell(table, bucket: 1, product: 2, quantity: 1);
        Assert.Equal([(1L, 1L), (2L, 1L)], Top(table));
        Sell(table, bucket: 1, product: 2, quantity: 1); // bucket 1 changed: the next query reads it live

        // After the query found bucket 0 unchanged (cached: product 1 sold 1) and before it reads bucket 1:
        // the unit is cancelled in bucket 0 and sold again in bucket 1. Product 1 sold 1 at every instant.
        table.BeforeLiveReads = () =>
        {
            table.BeforeLiveReads = null;
            Sell(table, bucket: 0, product: 1, quantity: -1);
            Sell(table, bucket: 1, product: 1, quantity: 1);
        };

        var top = RankingCache.Top(table, 0, 10, 10, out var consistent);
        Assert.False(consistent && top.Single(p => p.ProductId.Value == 1).Quantity != 1, "Product 1 was counted twice in an answer flagged consistent.");
        Assert.False(consistent); // bucket 0's stamp moved on meanwhile: the caller asks again

        Assert.Equal([(2L, 2L), (1L, 1L)], Top(table));
    }

    private static (long Product, long Quantity)[] Top(SalesCellTable table)
    {
        var top = RankingCache.Top(table, 0, 10, 10, out var consistent);
        Assert.True(consistent);
        return [.. top.Select(p => (p.ProductId.Value, p.Quantity))];
    }

    /// <summary>Adds to a product's count in a bucket (or, negative, takes from it) as a commit does: announced on the bucket, one CAS, decided.</summary>
    private static void Sell(SalesCellTable table, long bucket, long product, long quantity)
    {
        var cell = (SalesCell)table.GetOrCreate(new CellKey(bucket, product));
        var sales = table.Bucket(bucket)!;
        var stripe = sales.BeginCommit();
        try
        {
            // A negative quantity is a cancellation: added to the units taken back, as the store does.
            var (counted, added) = quantity >= 0 ? ((WordCell)cell, quantity) : (cell.GetOrCreateReturned(), -quantity);
            var number = MultiWordCas.ReadWord(counted);
            Assert.True(MultiWordCas.Commit(CommitDescriptor.Create([], [new WordUpdate(counted, number, number + added)])));
        }
        finally
        {
            sales.EndCommit(stripe);
        }
    }
}
