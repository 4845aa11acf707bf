using System.Collections.Immutable;
using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// The sales totals of one ranking window, built once and reused while the buckets it read stay
/// unchanged. Immutable once built; the store keeps the last one and replaces it whole.
/// </summary>
/// <remarks>
/// For every bucket of the window that existed when it was built, the cache keeps the bucket's cells as
/// read while no commit on the bucket was in flight (see <see cref="SalesBucket.Stamp"/>), and the
/// sum of those cells per product, sorted best first. A query checks each bucket's stamp: unchanged
/// buckets count as cached, changed ones are read live and their difference applied, so the answer is
/// the same as summing every cell at one instant during the call (see <see cref="TryTop"/>), or is flagged.
/// A new bucket (sales in a bucket nobody sold in before) or too many changed buckets rebuild the cache.
/// </remarks>
internal sealed class RankingCache
{
    /// <summary>Changed buckets a query reads live before it rebuilds the cache instead.</summary>
    private const int MaxChangedBuckets = 8;

    private readonly ImmutableDictionary<long, SalesBucket> _bucketSet;
    private readonly Snapshot[] _buckets;
    private readonly Dictionary<long, long> _totals;
    private readonly ProductSales[] _sorted;

    private RankingCache(long first, long end, ImmutableDictionary<long, SalesBucket> bucketSet, Snapshot[] buckets, Dictionary<long, long> totals, ProductSales[] sorted)
    {
        First = first;
        End = end;
        _bucketSet = bucketSet;
        _buckets = buckets;
        _totals = totals;
        _sorted = sorted;
    }

    /// <summary>The first bucket of the window.</summary>
    public long First { get; }

    /// <summary>The bucket after the window's last.</summary>
    public long End { get; }

    /// <summary>The best sellers over buckets [first, end): from the table's cache if it fits, else from a cache built now.</summary>
    /// <param name="table">The sales cells.</param>
    /// <param name="first">The first bucket.</param>
    /// <param name="end">The bucket after the last.</param>
    /// <param name="count">The most entries.</param>
    /// <param name="consistent">
    /// <see langword="false"/> if a bucket had to be read live while a commit on it was in flight or
    /// changed during the read: the answer might then count part of an order, and must be asked again.
    /// </param>
    public static List<ProductSales> Top(SalesCellTable table, long first, long end, int count, out bool consistent)
    {
        var cache = table.Ranking;
        if (cache is not null && cache.First == first && cache.End == end && cache.TryTop(table, count, MaxChangedBuckets, out consistent) is { } top)
        {
            return top;
        }

        cache = Build(table, first, end);
        table.Ranking = cache;
        return cache.TryTop(table, count, int.MaxValue, out consistent)!;
    }

    private static RankingCache Build(SalesCellTable table, long first, long end)
    {
        // The buckets are looked for in one published set, which a bucket created later replaces: the cache is
        // valid while the table's set is this one (a count bumped after the bucket's publication was not, for a
        // query between the two).
        var set = table.BucketSet;
        var buckets = new List<Snapshot>();
        if (end - first <= set.Count)
        {
            for (var number = first; number < end; number++)
            {
                if (set.TryGetValue(number, out var bucket))
                {
                    buckets.Add(Take(bucket));
                }
            }
        }
        else
        {
            foreach (var (number, bucket) in set)
            {
                if (number >= first && number < end)
                {
                    buckets.Add(Take(bucket));
                }
            }
        }

        var totals = new Dictionary<long, long>();
        foreach (var snapshot in buckets)
        {
            foreach (var (product, quantity) in snapshot.Cells)
            {
                totals[product] = totals.GetValueOrDefault(product) + quantity;
            }
        }

        var sorted = new ProductSales[totals.Count];
        var at = 0;
        foreach (var (product, quantity) in totals)
        {
            sorted[at++] = new ProductSales(new ProductId(product), quantity);
        }

        Array.Sort(sorted, ProductSales.BestFirst);
        return new RankingCache(first, end, set, [.. buckets], totals, sorted);
    }

    /// <summary>A bucket's cells if no commit touched them while they were read; otherwise none, and the bucket is always read live.</summary>
    private static Snapshot Take(SalesBucket bucket)
    {
        var stamp = bucket.Stamp();
        if (stamp < 0)
        {
            return new Snapshot(bucket, -1, []);
        }

        var cells = new List<(long Product, long Quantity)>(bucket.Count);
        foreach (var (product, cell) in bucket.Cells)
        {
            if (cell.Count is > 0 and var quantity)
            {
                cells.Add((product, quantity));
            }
        }

        return bucket.Stamp() == stamp ? new Snapshot(bucket, stamp, [.. cells]) : new Snapshot(bucket, -1, []);
    }

    /// <summary>The answer from this cache, or <see langword="null"/> if it is out of date.</summary>
    /// <remarks>
    /// The answer is the sales of one instant. Every cached bucket whose stamp is unchanged was quiescent and
    /// unchanged from its build to its check here; the changed ones are read live, all once, then all again
    /// (unchanged in between); then the unchanged ones' stamps are checked again, and the set of buckets. So
    /// every count used held at every instant between the last of the first looks and the first of the
    /// last: a sale moved from one bucket to another (a cancellation, then an order) is never counted twice.
    /// </remarks>
    private List<ProductSales>? TryTop(SalesCellTable table, int count, int maxChanged, out bool consistent)
    {
        consistent = true;
        // A bucket created since the build may hold sales the cache never saw. (A cache just built is
        // used regardless, and the bucket set is checked again once everything was read.)
        if (maxChanged != int.MaxValue && !ReferenceEquals(table.BucketSet, _bucketSet))
        {
            return null;
        }

        List<int>? changed = null;
        for (var i = 0; i < _buckets.Length; i++)
        {
            var snapshot = _buckets[i];
            if (snapshot.Stamp < 0 || snapshot.Bucket.Stamp() != snapshot.Stamp)
            {
                (changed ??= []).Add(i);
                if (changed.Count > maxChanged)
                {
                    return null;
                }
            }
        }

        if (changed is null)
        {
            consistent = ReferenceEquals(table.BucketSet, _bucketSet);
            var top = new List<ProductSales>(Math.Min(count, _sorted.Length));
            for (var i = 0; i < _sorted.Length && top.Count < count; i++)
            {
                top.Add(_sorted[i]);
            }

            return top;
        }

        table.BeforeLiveReads?.Invoke();
        var answer = TopWithChanges(count, changed, out consistent);
        consistent &= UnchangedStill(changed) && ReferenceEquals(table.BucketSet, _bucketSet);
        return answer;
    }

    /// <summary>Whether every bucket not in <paramref name="changed"/> (ascending) still has the stamp it was cached with.</summary>
    private bool UnchangedStill(List<int> changed)
    {
        var next = 0;
        for (var i = 0; i < _buckets.Length; i++)
        {
            if (next < changed.Count && changed[next] == i)
            {
                next++;
                continue;
            }

            if (_buckets[i].Bucket.Stamp() != _buckets[i].Stamp)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The cached totals corrected by the live counts of the changed buckets.</summary>
    private List<ProductSales> TopWithChanges(int count, List<int> changed, out bool consistent)
    {
        // Read every changed bucket live, then every one again (a double collect): reads help any commit in
        // flight to its decision, and since a sales cell's two numbers only grow, equal numbers in both passes
        // mean no cell changed in between, so the first pass holds at every instant between the passes, and
        // counts every order (whose lines all fall in one bucket) whole or not at all. Otherwise the answer is
        // flagged, and the caller asks again; nothing waits for a committing thread.
        var delta = new Dictionary<long, long>();
        var seen = new Dictionary<SalesCell, (long Sold, long Returned)>();
        foreach (var i in changed)
        {
            var snapshot = _buckets[i];
            foreach (var (product, quantity) in snapshot.Cells)
            {
                delta[product] = delta.GetValueOrDefault(product) - quantity;
            }

            foreach (var (product, cell) in snapshot.Bucket.Cells)
            {
                var numbers = Numbers(cell);
                seen[cell] = numbers;
                delta[product] = delta.GetValueOrDefault(product) + numbers.Sold - numbers.Returned;
            }
        }

        consistent = true;
        var again = 0;
        foreach (var i in changed)
        {
            foreach (var (_, cell) in _buckets[i].Bucket.Cells)
            {
                again++;
                consistent &= seen.TryGetValue(cell, out var numbers) && Numbers(cell) == numbers;
            }
        }

        consistent &= again == seen.Count;

        var candidates = new List<ProductSales>(Math.Min(count, _sorted.Length) + delta.Count);
        foreach (var (product, change) in delta)
        {
            var total = _totals.GetValueOrDefault(product) + change;
            if (total > 0)
            {
                candidates.Add(new ProductSales(new ProductId(product), total));
            }
        }

        // Products no changed bucket sold keep their cached totals; the best of them are at the front.
        var taken = 0;
        for (var i = 0; i < _sorted.Length && taken < count; i++)
        {
            if (!delta.ContainsKey(_sorted[i].ProductId.Value))
            {
                candidates.Add(_sorted[i]);
                taken++;
            }
        }

        candidates.Sort(ProductSales.BestFirst);
        if (candidates.Count > count)
        {
            candidates.RemoveRange(count, candidates.Count - count);
        }

        return candidates;
    }

    /// <summary>A sales cell's two numbers, the units taken back read first (see <see cref="SalesCell.Count"/>).</summary>
    private static (long Sold, long Returned) Numbers(SalesCell cell)
    {
        var returned = cell.Returned is { } taken ? MultiWordCas.ReadWord(taken) : 0;
        return (MultiWordCas.ReadWord(cell), returned);
    }

    /// <summary>One bucket as cached: its stamp when read (-1: not cached, read live) and its positive counts.</summary>
    private readonly record struct Snapshot(SalesBucket Bucket, long Stamp, (long Product, long Quantity)[] Cells);
}
