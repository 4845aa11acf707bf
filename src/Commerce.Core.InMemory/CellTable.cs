using System.Collections.Concurrent;
using System.Numerics;
using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>A key of any aggregate, as two 64-bit words (ids take one; order ids and sales buckets take two).</summary>
internal readonly record struct CellKey(long High, long Low)
{
    /// <summary>The cell key of a store key: the same two words (the table picks the <see cref="CellTable"/>).</summary>
    public static CellKey From(in StoreKey key) => new(key.High, key.Low);
}

/// <summary>
/// The cells of one aggregate type, by key. Cells are created on first write and never removed. The
/// index is a <see cref="ConcurrentDictionary{TKey, TValue}"/>: reads of it take no lock; the first
/// insertion of a key takes one of its short internal bucket locks. In front of it, a plain array of
/// recently used cells (each knowing its key) answers most lookups with one load. The commit and read
/// path of the cells themselves is lock-free.
/// </summary>
/// <remarks>
/// The array of recent cells is a lossy cache: a slot holds some cell of the table or nothing, written
/// with a plain release store, and a lookup trusts it only if the cell's key is the one it looks for. A
/// slot is filled only with the cell the dictionary holds for that key, and the dictionary never loses
/// or replaces one, so a hit is the key's one cell, whatever races overwrote the slot. The array grows
/// (a new one, refilled on use) as the table grows, up to <see cref="MaxRecentBits"/> bits: at a
/// quarter full, most lookups of a table that fits in it hit, so the dictionary's bucket and node (two
/// cache misses in a large table) are read once per key rather than once per lookup.
/// </remarks>
internal class CellTable
{
    // Shards, so that a table that keeps growing (orders) grows in small steps: a dictionary grows by
    // copying all it holds, and one copy of millions of entries is a long pause and a burst of garbage.
    private const int ShardBits = 6;
    private const int MinRecentBits = 6;
    private const int MaxRecentBits = 17; // 1 MiB of references

    private readonly ConcurrentDictionary<CellKey, Cell>[] _shards;
    private KeyedCell?[] _recent = new KeyedCell?[1 << MinRecentBits];
    private long _created;

    public CellTable()
        : this(indexed: true)
    {
    }

    /// <param name="indexed">False for a subclass that keeps its cells elsewhere (and overrides every lookup).</param>
    private protected CellTable(bool indexed) => _shards = indexed ? CreateShards() : [];

    /// <summary>The number of slots of recently used cells now (for tests).</summary>
    internal int RecentCapacity => Volatile.Read(ref _recent).Length;

    public virtual Cell? Find(CellKey key)
    {
        var hash = Hash(key);
        var recent = Volatile.Read(ref _recent);
        if (Recent(recent, hash, key) is { } hit)
        {
            return hit;
        }

        if (!ShardOf(hash).TryGetValue(key, out var cell))
        {
            return null;
        }

        Remember(recent, hash, cell);
        return cell;
    }

    public virtual Cell GetOrCreate(CellKey key)
    {
        var hash = Hash(key);
        var recent = Volatile.Read(ref _recent);
        if (Recent(recent, hash, key) is { } hit)
        {
            return hit;
        }

        var shard = ShardOf(hash);
        return shard.TryGetValue(key, out var cell) ? Remember(recent, hash, cell) : Add(shard, hash, key);
    }

    /// <summary>
    /// Like <see cref="GetOrCreate"/>, for a key that is most likely absent (an insert): tries the insertion
    /// first, sparing the lookup that would miss.
    /// </summary>
    public virtual Cell CreateOrGet(CellKey key)
    {
        var hash = Hash(key);
        return Add(ShardOf(hash), hash, key);
    }

    /// <summary>Inserts a new cell for <paramref name="key"/>, or finds the one another thread inserted first.</summary>
    private Cell Add(ConcurrentDictionary<CellKey, Cell> shard, ulong hash, CellKey key)
    {
        var created = new KeyedCell(Absent.Value, key);
        if (!shard.TryAdd(key, created))
        {
            // Cells are never removed, so the one that won is there.
            return Remember(Volatile.Read(ref _recent), hash, shard[key]);
        }

        var count = Interlocked.Increment(ref _created);
        var recent = Volatile.Read(ref _recent);
        if (count > recent.Length / 4 && recent.Length < 1 << MaxRecentBits)
        {
            recent = Grow(recent);
        }

        return Remember(recent, hash, created);
    }

    /// <summary>The recent cell of <paramref name="key"/> in its slot or the slot beside it (one cache line), if either holds it.</summary>
    private static KeyedCell? Recent(KeyedCell?[] recent, ulong hash, in CellKey key)
    {
        var slot = SlotOf(recent, hash);
        var cell = Volatile.Read(ref recent[slot]);
        if (cell is not null && cell.Key.Low == key.Low && cell.Key.High == key.High)
        {
            return cell;
        }

        cell = Volatile.Read(ref recent[slot ^ 1]);
        return cell is not null && cell.Key.Low == key.Low && cell.Key.High == key.High ? cell : null;
    }

    /// <summary>Puts the key's one cell in its slot (or in the one beside it if that is free and its own is not).</summary>
    private static Cell Remember(KeyedCell?[] recent, ulong hash, Cell cell)
    {
        if (cell is KeyedCell keyed)
        {
            var slot = SlotOf(recent, hash);
            if (Volatile.Read(ref recent[slot]) is not null && Volatile.Read(ref recent[slot ^ 1]) is null)
            {
                slot ^= 1;
            }

            Volatile.Write(ref recent[slot], keyed);
        }

        return cell;
    }

    /// <summary>Replaces the array of recent cells with one twice its size, keeping what it can of the old one.</summary>
    private KeyedCell?[] Grow(KeyedCell?[] recent)
    {
        var grown = new KeyedCell?[recent.Length * 2];
        foreach (var cell in recent)
        {
            if (cell is not null)
            {
                Remember(grown, Hash(cell.Key), cell);
            }
        }

        var seen = Interlocked.CompareExchange(ref _recent, grown, recent);
        return ReferenceEquals(seen, recent) ? grown : seen;
    }

    /// <summary>A key's slot: the bits of its hash below the shard's (the best mixed ones).</summary>
    private static int SlotOf(KeyedCell?[] recent, ulong hash) => (int)((hash << ShardBits) >> (64 - BitOperations.Log2((uint)recent.Length)));

    /// <summary>The number of cells (for diagnostics and tests).</summary>
    public virtual int Count => _shards.Sum(shard => shard.Count);

    private static ConcurrentDictionary<CellKey, Cell>[] CreateShards()
    {
        var shards = new ConcurrentDictionary<CellKey, Cell>[1 << ShardBits];
        for (var i = 0; i < shards.Length; i++)
        {
            shards[i] = new();
        }

        return shards;
    }

    /// <summary>A multiplicative hash of both words of a key (ids and order ids alike spread evenly over its top bits).</summary>
    internal static ulong Hash(in CellKey key) =>
        (((ulong)key.High * 0xC2B2AE3D27D4EB4FUL) ^ (ulong)key.Low) * 0x9E3779B97F4A7C15UL;

    /// <summary>The shard of a key: the top bits of its <see cref="Hash"/>.</summary>
    private ConcurrentDictionary<CellKey, Cell> ShardOf(ulong hash) => _shards[(int)(hash >> (64 - ShardBits))];
}

/// <summary>
/// Sales counts per time bucket and product (key: bucket in <see cref="CellKey.High"/>, product in
/// <see cref="CellKey.Low"/>), indexed by bucket so a ranking reads only the buckets in its window.
/// </summary>
internal sealed class SalesCellTable() : CellTable(indexed: false)
{
    private readonly ConcurrentDictionary<long, SalesBucket> _buckets = new();
    private long _bucketsCreated;
    private RankingCache? _ranking;

    // The bucket used last: orders of one minute all land in one bucket, so most lookups skip the index.
    private LastBucket? _last;

    public override Cell? Find(CellKey key) =>
        RecentBucket(key.High) is { } bucket && bucket.Cells.TryGetValue(key.Low, out var cell) ? cell : null;

    public override Cell GetOrCreate(CellKey key) => GetOrCreateBucket(key.High).Cells.GetOrAdd(key.Low, static _ => new Cell(Absent.Value));

    public override Cell CreateOrGet(CellKey key) => GetOrCreate(key);

    public override int Count
    {
        get
        {
            var count = 0;
            foreach (var (_, bucket) in _buckets)
            {
                count += bucket.Cells.Count;
            }

            return count;
        }
    }

    /// <summary>One bucket, or <see langword="null"/> if nothing was ever staged in it.</summary>
    public SalesBucket? Bucket(long bucket) => _buckets.TryGetValue(bucket, out var cells) ? cells : null;

    /// <summary>A bucket, created if absent.</summary>
    public SalesBucket GetOrCreateBucket(long bucket)
    {
        if (RecentBucket(bucket) is { } existing)
        {
            return existing;
        }

        var created = new SalesBucket();
        var stored = _buckets.GetOrAdd(bucket, created);
        if (ReferenceEquals(stored, created))
        {
            Interlocked.Increment(ref _bucketsCreated);
        }

        return stored;
    }

    /// <summary>Like <see cref="Bucket"/>, through the bucket used last (for the write path, where one bucket is hot).</summary>
    private SalesBucket? RecentBucket(long bucket)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && last.Id == bucket)
        {
            return last.Bucket;
        }

        if (!_buckets.TryGetValue(bucket, out var cells))
        {
            return null;
        }

        Volatile.Write(ref _last, new LastBucket(bucket, cells));
        return cells;
    }

    /// <summary>How many buckets were ever created (only grows).</summary>
    public long BucketsCreated => Interlocked.Read(ref _bucketsCreated);

    /// <summary>The buckets that have cells.</summary>
    public ICollection<long> Buckets => _buckets.Keys;

    /// <summary>How many buckets have cells.</summary>
    public int BucketCount => _buckets.Count;

    /// <summary>A bucket and its id, published together (buckets are never replaced, so any pair read is right).</summary>
    private sealed record LastBucket(long Id, SalesBucket Bucket);

    /// <summary>The last ranking cache built (immutable; replaced whole).</summary>
    public RankingCache? Ranking
    {
        get => Volatile.Read(ref _ranking);
        set => Volatile.Write(ref _ranking, value);
    }
}

/// <summary>
/// The product cells of one sales bucket, and counters of the commits that write to it. A commit
/// increments <c>started</c> before its multi-word CAS can be seen and <c>finished</c> after it is
/// decided, on one stripe of its choosing (stripes keep concurrent commits off one cache line). A
/// reader that sums every <c>finished</c> and then every <c>started</c> and finds them equal knows
/// that no commit on the bucket was in flight at the instant between the two passes; two equal sums
/// around a read of the cells mean the cells did not change during it.
/// </summary>
internal sealed class SalesBucket
{
    private const int Pad = 8; // longs per stripe: one 64-byte cache line
    private static readonly int Stripes = Math.Min(8, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));
    private readonly long[] _counters = new long[Stripes * Pad];

    public ConcurrentDictionary<long, Cell> Cells { get; } = new();

    /// <summary>Announces a commit that writes to this bucket; pass the result to <see cref="EndCommit"/>.</summary>
    public int BeginCommit()
    {
        var stripe = (Thread.GetCurrentProcessorId() & (Stripes - 1)) * Pad;
        BeginCommit(stripe);
        return stripe;
    }

    /// <summary>Announces a commit on a given stripe (one commit uses one stripe for every bucket it writes).</summary>
    public void BeginCommit(int stripe) => Interlocked.Increment(ref _counters[stripe]);

    /// <summary>Marks an announced commit as decided (whether it succeeded or failed).</summary>
    public void EndCommit(int stripe) => Interlocked.Increment(ref _counters[stripe + 1]);

    /// <summary>
    /// The number of decided commits, if no commit was in flight at some instant during the call;
    /// otherwise -1.
    /// </summary>
    public long Stamp()
    {
        long finished = 0;
        for (var i = 1; i < _counters.Length; i += Pad)
        {
            finished += Volatile.Read(ref _counters[i]);
        }

        long started = 0;
        for (var i = 0; i < _counters.Length; i += Pad)
        {
            started += Volatile.Read(ref _counters[i]);
        }

        return started == finished ? finished : -1;
    }
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
            var next = With(current, id);
            if (ReferenceEquals(next, current) || ReferenceEquals(Interlocked.CompareExchange(ref _ids, next, current), current))
            {
                return;
            }
        }
    }

    /// <summary>A copy of the sorted <paramref name="ids"/> with <paramref name="id"/> in its place (the same array if it is there).</summary>
    public static long[] With(long[] ids, long id)
    {
        var at = Array.BinarySearch(ids, id);
        if (at >= 0)
        {
            return ids;
        }

        at = ~at;
        var next = new long[ids.Length + 1];
        Array.Copy(ids, next, at);
        next[at] = id;
        Array.Copy(ids, at, next, at + 1, ids.Length - at);
        return next;
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
