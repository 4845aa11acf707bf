using Commerce.InMemory;
using Commerce.Storage;

namespace Commerce.Benchmarks.Stores;

/// <summary>
/// What the baseline stores do alike: list products from a sorted array of their ids, check a listed
/// range at commit, rank sales totals and adjust a number.
/// </summary>
internal static class StoreReads
{
    /// <summary>
    /// Lists up to <paramref name="limit"/> products after <paramref name="after"/>, adding the product and
    /// stock rows of each to <paramref name="rows"/>.
    /// </summary>
    /// <param name="ids">The sorted ids of every product the store holds (or is committing).</param>
    /// <param name="after">Only ids greater than this; <see langword="null"/> from the lowest.</param>
    /// <param name="limit">The most products.</param>
    /// <param name="rows">Where the rows go.</param>
    /// <param name="read">Reads one key.</param>
    /// <returns>The range listed, with <paramref name="ids"/> as its token.</returns>
    public static ProductRange ListProducts(long[] ids, ProductId? after, int limit, ReadBatch rows, Func<StoreKey, StoredState> read)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var listed = 0;
        var upTo = long.MaxValue;
        for (var i = ProductIndex.FirstAfter(ids, after?.Value); i < ids.Length; i++)
        {
            if (listed == limit)
            {
                upTo = ids[i - 1];
                break;
            }

            var product = StoreKey.ForProduct(new ProductId(ids[i]));
            var state = read(product);
            rows.Add(product, state);
            if (state.State is null)
            {
                // Listed by a commit still writing it: the reader's commit checks that it is still absent.
                continue;
            }

            listed++;
            var stock = StoreKey.ForStock(product.ProductId);
            rows.Add(stock, read(stock));
        }

        return new ProductRange(after, upTo, ProductIndex.CountInRange(ids, after?.Value, upTo), ids);
    }

    /// <summary>Whether a listed range still has the products it had, given the ids the store holds now.</summary>
    public static bool Holds(long[] ids, in ProductRange range) =>
        ReferenceEquals(ids, range.Token) || ProductIndex.CountInRange(ids, range.After?.Value, range.UpTo) == range.Count;

    /// <summary>Every range of a change set still holds.</summary>
    public static bool RangesHold(long[] ids, ChangeSet changes)
    {
        var ranges = changes.ProductRanges;
        for (var i = 0; i < ranges.Count; i++)
        {
            if (!Holds(ids, ranges[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A copy of the sorted <paramref name="ids"/> with <paramref name="id"/> in its place (the same array if it is there).</summary>
    public static long[] WithProduct(long[] ids, long id) => ProductIndex.With(ids, id);

    /// <summary>
    /// The number after adding <paramref name="change"/>'s delta to <paramref name="current"/>, unless it
    /// overflows or falls below the change's minimum.
    /// </summary>
    public static bool TryAdjust(long current, in Change change, out long next)
    {
        if (change.Key.Table != StoreTable.Sales)
        {
            throw new NotSupportedException($"Only sales counts are adjusted in this store, not {change.Key}.");
        }

        next = unchecked(current + change.Delta);
        var overflowed = change.Delta >= 0 ? next < current : next > current;
        return !overflowed && next >= change.Minimum;
    }

    /// <summary>
    /// The stock after <paramref name="change"/>'s delta, or <see langword="null"/> if there is none (no
    /// product) or the result leaves [minimum, int.MaxValue]: the guard of an order's relative deduction.
    /// </summary>
    public static StockItem? AdjustedStock(object? current, in Change change)
    {
        if (current is not StockItem stock)
        {
            return null;
        }

        var next = stock.OnHand + change.Delta;
        return next >= Math.Max(0, change.Minimum) && next <= int.MaxValue ? new StockItem(stock.ProductId, (int)next) : null;
    }

    /// <summary>The best sellers of <paramref name="totals"/> (product → units): positive totals only, best first, at most <paramref name="count"/>.</summary>
    public static List<ProductSales> Top(Dictionary<long, long> totals, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return SalesWindow.Top(totals.Select(t => new ProductSales(new ProductId(t.Key), t.Value)), count);
    }
}
