using System.Collections.Immutable;
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
/// index is a lock-free <see cref="ProbingCellTable"/> of cells that know their keys; in front of it, an
/// array of recently used cells (<see cref="RecentCells"/>) answers most lookups with one load. No lookup,
/// insertion or commit takes a lock.
/// </summary>
internal class CellTable
{
    private static readonly Func<CellKey, int, Cell> CreateKeyed = static (key, _) => new KeyedCell(Absent.Value, key);

    private readonly ProbingCellTable? _index;
    private readonly RecentCells _recent = new();

    public CellTable()
        : this(indexed: true)
    {
    }

    /// <param name="indexed">False for a subclass that keeps its cells elsewhere (and overrides every lookup).</param>
    private protected CellTable(bool indexed) => _index = indexed ? new ProbingCellTable() : null;

    /// <summary>The number of slots of recently used cells now (for tests).</summary>
    internal int RecentCapacity => _recent.Capacity;

    public virtual Cell? Find(CellKey key)
    {
        if (_recent.Find(key) is { } hit)
        {
            return hit;
        }

        return _index!.Find(key, Hash(key)) is { } cell ? _recent.Remember(cell) : null;
    }

    /// <summary>
    /// The cell the array of recently used cells holds where <paramref name="key"/>'s would be: perhaps
    /// another key's (not checked, so that the cell is not loaded yet), so the caller checks its key.
    /// </summary>
    public KeyedCell? Recent(CellKey key) => _recent.Peek(key);

    public virtual Cell GetOrCreate(CellKey key)
    {
        return _recent.Find(key) is { } hit ? hit : Add(Hash(key), key);
    }

    /// <summary>
    /// Like <see cref="GetOrCreate"/>, for a key that is most likely absent (an insert): the index's one
    /// probe finds the key's cell or the slot for a new one.
    /// </summary>
    public virtual Cell CreateOrGet(CellKey key) => Add(Hash(key), key);

    /// <summary>Finds the key's cell in the index, or inserts a new one (or finds the one another thread inserted first).</summary>
    private Cell Add(ulong hash, CellKey key)
    {
        var cell = _index!.CreateOrGet(key, hash, CreateKeyed, 0, out var created);
        return created ? _recent.Added((KeyedCell)cell) : _recent.Remember(cell);
    }

    /// <summary>The number of cells (for diagnostics and tests).</summary>
    public virtual int Count => _index!.Count;

    /// <summary>A multiplicative hash of both words of a key (ids and order ids alike spread evenly over its top bits).</summary>
    internal static ulong Hash(in CellKey key) =>
        (((ulong)key.High * 0xC2B2AE3D27D4EB4FUL) ^ (ulong)key.Low) * 0x9E3779B97F4A7C15UL;
}

/// <summary>
/// An array of recently used cells of one table, each cell knowing its key, in front of the table's
/// index: most lookups read one slot and the cell, not the index's slot and entry as well (two more cache
/// misses in a large table).
/// </summary>
/// <remarks>
/// A lossy cache: a slot holds some cell of the table or nothing, written with a plain release store, and a
/// lookup trusts it only if the cell's key is the one it looks for. A slot is filled only with the cell the
/// index holds for that key, and the index never loses or replaces one, so a hit is the key's one
/// cell, whatever races overwrote the slot. A key may sit in its slot or the one beside it (one cache line).
/// A key's slot is picked by its own bits, not by its hash: ids as hosts number them (1, 2, 3…) take
/// consecutive slots, so the cells an order path reads over and over sit in few cache lines (a hash would
/// scatter them over the whole array, one line each).
/// The array grows (a new one, keeping what the old one held) as cells are added, to four slots per cell,
/// up to <see cref="MaxBits"/> bits.
/// </remarks>
internal sealed class RecentCells
{
    private const int MinBits = 6;
    private const int MaxBits = 17; // 1 MiB of references

    private KeyedCell?[] _slots = new KeyedCell?[1 << MinBits];
    private long _added;

    /// <summary>The number of slots now.</summary>
    public int Capacity => Volatile.Read(ref _slots).Length;

    /// <summary>The cell of <paramref name="key"/>, if a slot holds it.</summary>
    public KeyedCell? Find(in CellKey key)
    {
        var slots = Volatile.Read(ref _slots);
        var slot = SlotOf(slots, key);
        var cell = Volatile.Read(ref slots[slot]);
        if (cell is not null && cell.Key.Low == key.Low && cell.Key.High == key.High)
        {
            return cell;
        }

        cell = Volatile.Read(ref slots[slot ^ 1]);
        return cell is not null && cell.Key.Low == key.Low && cell.Key.High == key.High ? cell : null;
    }

    /// <summary>What the slot of <paramref name="key"/> holds, without looking at it.</summary>
    public KeyedCell? Peek(in CellKey key)
    {
        var slots = Volatile.Read(ref _slots);
        return Volatile.Read(ref slots[SlotOf(slots, key)]);
    }

    /// <summary>Puts the key's one cell (the one its table's index holds) in its slot, and returns it.</summary>
    public Cell Remember(Cell cell)
    {
        if (cell is KeyedCell keyed)
        {
            Put(Volatile.Read(ref _slots), keyed);
        }

        return cell;
    }

    /// <summary>Like <see cref="Remember"/>, for a cell just added to the index: grows the array with the table.</summary>
    public Cell Added(KeyedCell cell)
    {
        var count = Interlocked.Increment(ref _added);
        var slots = Volatile.Read(ref _slots);
        if (count > slots.Length / 4 && slots.Length < 1 << MaxBits)
        {
            slots = Grow(slots);
        }

        Put(slots, cell);
        return cell;
    }

    private static void Put(KeyedCell?[] slots, KeyedCell cell)
    {
        var slot = SlotOf(slots, cell.Key);
        if (Volatile.Read(ref slots[slot]) is not null && Volatile.Read(ref slots[slot ^ 1]) is null)
        {
            slot ^= 1;
        }

        Volatile.Write(ref slots[slot], cell);
    }

    /// <summary>Replaces the array with one twice its size, keeping what it can of the old one.</summary>
    private KeyedCell?[] Grow(KeyedCell?[] slots)
    {
        var grown = new KeyedCell?[slots.Length * 2];
        foreach (var cell in slots)
        {
            if (cell is not null)
            {
                Put(grown, cell);
            }
        }

        var seen = Interlocked.CompareExchange(ref _slots, grown, slots);
        return ReferenceEquals(seen, slots) ? grown : seen;
    }

    /// <summary>
    /// A key's slot: an id below the array's length (with <see cref="CellKey.High"/> 0) is its own slot; the bits of a
    /// larger one above the slot's are folded onto it, and a key's high word mixed in, so that keys that differ only
    /// there spread too.
    /// </summary>
    private static int SlotOf(KeyedCell?[] slots, in CellKey key)
    {
        var bits = BitOperations.Log2((uint)slots.Length);
        var x = (ulong)key.Low + ((ulong)key.High * 0x9E3779B97F4A7C15UL);
        x ^= (x >> bits) ^ (x >> (2 * bits)) ^ (x >> 48);
        return (int)(x & (ulong)(slots.Length - 1));
    }
}

/// <summary>
/// Sales counts per time bucket and product (key: bucket in <see cref="CellKey.High"/>, product in
/// <see cref="CellKey.Low"/>), indexed by bucket so a ranking reads only the buckets in its window.
/// </summary>
internal sealed class SalesCellTable() : CellTable(indexed: false)
{
    private static readonly Func<CellKey, SalesCellTable, Cell> CreateCell = static (key, table) =>
    {
        // Listed in its bucket before the index publishes it: whoever finds the cell finds it there too.
        var cell = new SalesCell(key);
        table.GetOrCreateBucket(key.High).Add(cell);
        return cell;
    };

    // Every bucket's cells, by (bucket, product).
    private readonly ProbingCellTable _cells = new();

    // The buckets by number: copy-on-write, replaced by CAS when a bucket is created (about once a minute).
    private ImmutableDictionary<long, SalesBucket> _buckets = ImmutableDictionary<long, SalesBucket>.Empty;
    private RankingCache? _ranking;

    // The bucket used last: orders of one minute all land in one bucket, so most lookups skip the index.
    private LastBucket? _last;

    public override Cell? Find(CellKey key) => _cells.Find(key, Hash(key));

    public override Cell GetOrCreate(CellKey key) => _cells.CreateOrGet(key, Hash(key), CreateCell, this, out _);

    public override Cell CreateOrGet(CellKey key) => GetOrCreate(key);

    public override int Count => _cells.Count;

    /// <summary>One bucket, or <see langword="null"/> if nothing was ever staged in it.</summary>
    public SalesBucket? Bucket(long bucket) => Volatile.Read(ref _buckets).TryGetValue(bucket, out var cells) ? cells : null;

    /// <summary>A bucket, created if absent.</summary>
    public SalesBucket GetOrCreateBucket(long bucket)
    {
        if (RecentBucket(bucket) is { } existing)
        {
            return existing;
        }

        SalesBucket? created = null;
        while (true)
        {
            var buckets = Volatile.Read(ref _buckets);
            if (buckets.TryGetValue(bucket, out var stored))
            {
                return stored;
            }

            created ??= new SalesBucket();
            if (Interlocked.CompareExchange(ref _buckets, buckets.Add(bucket, created), buckets) == buckets)
            {
                return created;
            }
        }
    }

    /// <summary>Like <see cref="Bucket"/>, through the bucket used last (for the write path, where one bucket is hot).</summary>
    private SalesBucket? RecentBucket(long bucket)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && last.Id == bucket)
        {
            return last.Bucket;
        }

        if (Bucket(bucket) is not { } cells)
        {
            return null;
        }

        Volatile.Write(ref _last, new LastBucket(bucket, cells));
        return cells;
    }

    /// <summary>
    /// Every bucket, as published: a new bucket replaces the whole set in the same CAS that makes it findable,
    /// and none is ever removed. So a reader that keeps the set it read, and later finds the table's set to be
    /// the same reference, knows that no bucket was created in between (a ranking cache's validity).
    /// </summary>
    public ImmutableDictionary<long, SalesBucket> BucketSet => Volatile.Read(ref _buckets);

    /// <summary>How many buckets have cells.</summary>
    public int BucketCount => Volatile.Read(ref _buckets).Count;

    /// <summary>A bucket and its id, published together (buckets are never replaced, so any pair read is right).</summary>
    private sealed record LastBucket(long Id, SalesBucket Bucket);

    /// <summary>The last ranking cache built (immutable; replaced whole).</summary>
    public RankingCache? Ranking
    {
        get => Volatile.Read(ref _ranking);
        set => Volatile.Write(ref _ranking, value);
    }

    /// <summary>A test seam: called by a ranking query that found changed buckets, after its check of the buckets' stamps and before it reads the changed ones.</summary>
    internal Action? BeforeLiveReads { get; set; }
}

/// <summary>
/// The product cells of one sales bucket, and counters of the commits that write to it. A commit
/// increments <c>started</c> before its multi-word CAS can be seen and <c>finished</c> after it is
/// decided, on one stripe of its choosing (stripes, one per thread up to <see cref="Stripes"/>, keep
/// concurrent commits off one cache line; see <see cref="ThreadStripe"/>). A reader that sums every
/// <c>finished</c> and then every <c>started</c> and finds them equal knows that no commit on the bucket
/// was in flight at the instant between the two passes; two equal sums around a read of the cells mean
/// the cells did not change during it.
/// </summary>
internal sealed class SalesBucket
{
    /// <summary>The number of stripes of every bucket.</summary>
    internal const int Stripes = 8;

    private const int Pad = 16; // longs per stripe: two 64-byte cache lines

    // Stripe i's counters at (i + 1) · Pad (started) and the long after it (finished): the first line holds
    // the array's length, which every commit's bounds check reads, so no stripe is written there. A stripe's
    // two counters (16 bytes) may straddle a line boundary, since the array starts wherever the collector put it:
    // 128 bytes apart, no two stripes' counters share a line, wherever the lines fall (64 would not ensure it).
    private readonly long[] _counters = new long[(Stripes + 1) * Pad];

    // The bucket's cells, newest first: a list that only grows, by a CAS of its head.
    private CellNode? _cells;
    private int _count;

    /// <summary>The bucket's cells with their products (lock-free: cells added meanwhile may or may not be met).</summary>
    public IEnumerable<KeyValuePair<long, SalesCell>> Cells
    {
        get
        {
            for (var node = Volatile.Read(ref _cells); node is not null; node = node.Next)
            {
                yield return new(node.Cell.Key.Low, node.Cell);
            }
        }
    }

    /// <summary>How many cells the bucket lists.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Lists a cell (its key's <see cref="CellKey.Low"/> is its product) in the bucket.</summary>
    public void Add(SalesCell cell)
    {
        var node = new CellNode(cell);
        do
        {
            node.Next = Volatile.Read(ref _cells);
        }
        while (Interlocked.CompareExchange(ref _cells, node, node.Next) != node.Next);

        Interlocked.Increment(ref _count);
    }

    /// <summary>Announces a commit that writes to this bucket; pass the result to <see cref="EndCommit"/>.</summary>
    public int BeginCommit()
    {
        var stripe = (ThreadStripe.Of(Stripes) + 1) * Pad;
        BeginCommit(stripe);
        return stripe;
    }

    /// <summary>Announces a commit on a given stripe (one commit uses one stripe for every bucket it writes).</summary>
    public void BeginCommit(int stripe) => Interlocked.Increment(ref _counters[stripe]);

    /// <summary>A stripe's counter of started or of finished commits (for tests).</summary>
    internal ref long CounterOf(int stripe, bool finished) => ref _counters[((stripe + 1) * Pad) + (finished ? 1 : 0)];

    /// <summary>Marks an announced commit as decided (whether it succeeded or failed).</summary>
    public void EndCommit(int stripe) => Interlocked.Increment(ref _counters[stripe + 1]);

    /// <summary>
    /// The number of decided commits, if no commit was in flight at some instant during the call;
    /// otherwise -1.
    /// </summary>
    public long Stamp()
    {
        long finished = 0;
        for (var i = Pad + 1; i < _counters.Length; i += Pad)
        {
            finished += Volatile.Read(ref _counters[i]);
        }

        long started = 0;
        for (var i = Pad; i < _counters.Length; i += Pad)
        {
            started += Volatile.Read(ref _counters[i]);
        }

        return started == finished ? finished : -1;
    }
}

/// <summary>A link of a bucket's list of cells: written before the CAS that publishes it, never after.</summary>
internal sealed class CellNode(SalesCell cell)
{
    public SalesCell Cell { get; } = cell;

    public CellNode? Next;
}

/// <summary>
/// A product's sales count in one bucket, held in place: the units its orders placed, as this word cell's
/// number, and the units cancellations took back, in a second word cell (<see cref="Returned"/>) made by
/// the first cancellation. The count is the first less the second; both only grow, which is what lets the
/// multi-word CAS change them in place (see <see cref="WordCell"/>).
/// </summary>
internal sealed class SalesCell(CellKey key) : WordCell
{
    private WordCell? _returned;

    /// <summary>The bucket (<see cref="CellKey.High"/>) and the product (<see cref="CellKey.Low"/>).</summary>
    public CellKey Key { get; } = key;

    /// <summary>The units cancellations took back, or <see langword="null"/> if none ever did.</summary>
    public WordCell? Returned => Volatile.Read(ref _returned);

    /// <summary>
    /// The count, read without a snapshot: the units taken back first, then the units placed, so that it is
    /// never negative (a caller that needs one instant checks its reads some other way).
    /// </summary>
    public long Count
    {
        get
        {
            var returned = Returned is { } cell ? MultiWordCas.ReadWord(cell) : 0;
            return MultiWordCas.ReadWord(this) - returned;
        }
    }

    /// <summary>The cell of the units taken back, made (with 0) if there is none yet.</summary>
    public WordCell GetOrCreateReturned() =>
        Returned ?? Interlocked.CompareExchange(ref _returned, new WordCell(), null) ?? Returned!;
}

/// <summary>
/// The ids of every product ever added, sorted, for keyset paging. Copy-on-write: readers take a
/// snapshot with one volatile read; writers swap a new array with a CAS (products are added rarely).
/// </summary>
internal sealed class ProductIndex
{
    private long[] _ids = [];

    /// <summary>
    /// A cell of the multi-word CAS for the listing as a whole: every commit that inserts a product writes it (a
    /// fresh object each time), and every write commit that read a range of products names it as read, expecting
    /// what it held before the commit checked its ranges. The ranges are checked against <see cref="Snapshot"/>
    /// before the CAS, so without it a product committed between that check and the commit's decision would
    /// go unseen.
    /// </summary>
    public Cell Listing { get; } = new(new object());

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
