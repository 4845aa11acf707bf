using System.Collections.Concurrent;
using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>A key of any aggregate, as two 64-bit words (ids take one; order ids and sales buckets take two).</summary>
internal readonly record struct CellKey(long High, long Low)
{
    public static CellKey Of(UserId id) => new(0, id.Value);

    public static CellKey Of(ProductId id) => new(0, id.Value);

    public static CellKey Of(OrderId id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.Value.TryWriteBytes(bytes);
        return new(BitConverter.ToInt64(bytes), BitConverter.ToInt64(bytes[8..]));
    }
}

/// <summary>
/// The cells of one aggregate type, by key. Cells are created on first write and never removed. The
/// index is a <see cref="ConcurrentDictionary{TKey, TValue}"/>: reads of it take no lock; the first
/// insertion of a key takes one of its short internal bucket locks. The commit and read path of the
/// cells themselves is lock-free.
/// </summary>
internal class CellTable
{
    private readonly ConcurrentDictionary<CellKey, Cell> _cells = new();

    public virtual Cell? Find(CellKey key) => _cells.TryGetValue(key, out var cell) ? cell : null;

    public virtual Cell GetOrCreate(CellKey key) => _cells.GetOrAdd(key, static _ => new Cell(Absent.Value));

    /// <summary>The number of cells (for diagnostics and tests).</summary>
    public virtual int Count => _cells.Count;
}

/// <summary>
/// Sales counts per time bucket and product (key: bucket in <see cref="CellKey.High"/>, product in
/// <see cref="CellKey.Low"/>), indexed by bucket so a ranking reads only the buckets in its window.
/// </summary>
internal sealed class SalesCellTable : CellTable
{
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<long, Cell>> _buckets = new();

    public override Cell? Find(CellKey key) =>
        _buckets.TryGetValue(key.High, out var bucket) && bucket.TryGetValue(key.Low, out var cell) ? cell : null;

    public override Cell GetOrCreate(CellKey key) =>
        _buckets.GetOrAdd(key.High, static _ => new ConcurrentDictionary<long, Cell>())
            .GetOrAdd(key.Low, static _ => new Cell(Absent.Value));

    public override int Count => _buckets.Values.Sum(b => b.Count);

    /// <summary>The product cells of one bucket, or <see langword="null"/> if nothing was sold in it.</summary>
    public ConcurrentDictionary<long, Cell>? Bucket(long bucket) => _buckets.TryGetValue(bucket, out var cells) ? cells : null;

    /// <summary>The buckets that have cells.</summary>
    public ICollection<long> Buckets => _buckets.Keys;

    /// <summary>How many buckets have cells.</summary>
    public int BucketCount => _buckets.Count;
}

/// <summary>An immutable sales count: the state of a sales cell.</summary>
internal sealed class SalesCount(long quantity)
{
    public long Quantity { get; } = quantity;
}

/// <summary>
/// The ids of every product ever added, sorted, for keyset paging. Copy-on-write: readers take a
/// snapshot with one volatile read; writers swap a new array with a CAS (products are added rarely).
/// </summary>
internal sealed class ProductIndex
{
    private long[] _ids = [];

    public long[] Snapshot => Volatile.Read(ref _ids);

    public void Add(long id)
    {
        while (true)
        {
            var current = Snapshot;
            var at = Array.BinarySearch(current, id);
            if (at >= 0)
            {
                return;
            }

            at = ~at;
            var next = new long[current.Length + 1];
            Array.Copy(current, next, at);
            next[at] = id;
            Array.Copy(current, at, next, at + 1, current.Length - at);
            if (ReferenceEquals(Interlocked.CompareExchange(ref _ids, next, current), current))
            {
                return;
            }
        }
    }

    /// <summary>The position of the first id greater than <paramref name="after"/>.</summary>
    public static int FirstAfter(long[] ids, long? after)
    {
        if (after is not { } value)
        {
            return 0;
        }

        var at = Array.BinarySearch(ids, value);
        return at >= 0 ? at + 1 : ~at;
    }

    /// <summary>How many ids lie in (<paramref name="after"/>, <paramref name="upTo"/>].</summary>
    public static int CountInRange(long[] ids, long? after, long upTo)
    {
        var start = FirstAfter(ids, after);
        var end = Array.BinarySearch(ids, upTo);
        end = end >= 0 ? end + 1 : ~end;
        return Math.Max(0, end - start);
    }
}
