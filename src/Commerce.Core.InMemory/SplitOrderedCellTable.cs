using System.Buffers.Binary;
using System.Numerics;
using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>
/// The cells of a table that only grows (orders), indexed by a lock-free split-ordered list (Shalev and
/// Shavit, "Split-ordered lists: lock-free extensible hash tables", JACM 2006), without removal, whose
/// entries are values in chunks rather than objects.
/// </summary>
/// <remarks>
/// <para>
/// Every entry lies in one linked list sorted by its hash with the bits reversed; bucket <c>b</c> of a
/// table of <c>2^k</c> buckets is a shortcut into that list: a marker entry placed before every entry
/// whose hash ends in <c>b</c>'s <c>k</c> bits. Doubling the buckets splits each bucket's run of entries
/// in two by adding markers: no entry ever moves, so growing copies nothing. (A dictionary copies every
/// entry it holds each time it grows.)
/// </para>
/// <para>
/// The layout is chosen for a generational collector, which at every collection scans the old objects
/// written since the last one. Entries are structs in chunks of 1,024, appended in blocks that each
/// thread reserves for itself, so the only references an insertion writes (its cell's) land next to
/// the ones written before them; links and bucket slots are positions (numbers), which the collector
/// does not read at all. A list of objects would instead write a reference into a random old node at
/// every insertion (measured: 0.86× the throughput of the dictionary, with the collector's share of the
/// run up from 38 % to 47 %).
/// </para>
/// <para>
/// An insertion is one compare-and-swap of the link before it, retried from the same entry if another
/// insertion got there first; a marker is inserted the same way (whoever inserts it first, every
/// thread ends up using that one). Nothing is removed, so a reader follows links without checks and a
/// retry may resume from the entry it stopped at. The number of entries is counted on striped counters
/// (one per processor, on its own cache line) and summed only now and then, to decide when to double.
/// </para>
/// </remarks>
internal sealed class SplitOrderedCellTable : CellTable
{
    private const int MaxBucketBits = 48;
    private const int InitialBucketBits = 4;
    private const long LoadFactor = 2; // entries per bucket before the buckets double
    private const int CheckEvery = 128; // a stripe's count at which the load is checked
    private const int Pad = 8; // longs per stripe: one 64-byte cache line

    private static readonly int Stripes = Math.Min(64, (int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount));

    private readonly Func<CellKey, ulong> _hash;
    private readonly AppendLog<Entry> _entries = new();
    private readonly long[]?[] _buckets = new long[]?[Segmented.SegmentCount]; // position + 1 of each bucket's marker (0: none yet)
    private readonly long[] _counts = new long[Stripes * Pad];
    private int _bucketBits = InitialBucketBits;

    public SplitOrderedCellTable()
        : this(static key => Hash(key))
    {
    }

    /// <summary>A table with its own hash function (tests use ones that collide on purpose).</summary>
    internal SplitOrderedCellTable(Func<CellKey, ulong> hash)
        : base(indexed: false)
    {
        _hash = hash;

        // Bucket 0's marker (sort key 0, before everything).
        var marker = _entries.Free();
        _entries.Take();
        Segmented.Slot(_buckets, 0) = marker + 1;
    }

    /// <summary>The number of buckets now (a power of two; for tests).</summary>
    internal long BucketCount => 1L << Volatile.Read(ref _bucketBits);

    public override Cell? Find(CellKey key)
    {
        var sortKey = RegularSortKey(_hash(key), out var hash);
        var previous = Bucket(BucketOf(hash));
        var next = Walk(ref previous, sortKey, key);
        return IsEntry(next, sortKey, key) ? At(next - 1).Cell : null;
    }

    public override Cell GetOrCreate(CellKey key) => Find(key) ?? CreateOrGet(key);

    public override Cell CreateOrGet(CellKey key)
    {
        var sortKey = RegularSortKey(_hash(key), out var hash);
        var start = Bucket(BucketOf(hash)); // first: inserting a marker uses this thread's free entry too
        var position = Reserve(sortKey, key, new Cell(Absent.Value));
        var found = InsertOrFind(start, position);
        if (found == position)
        {
            Counted();
        }

        return At(found).Cell!;
    }

    /// <summary>Every cell, in list order (lock-free: cells inserted meanwhile may or may not be met).</summary>
    internal IEnumerable<Cell> Cells()
    {
        for (var next = Volatile.Read(ref At(Bucket(0)).Next); next != 0; next = Volatile.Read(ref At(next - 1).Next))
        {
            if (At(next - 1).Cell is { } cell)
            {
                yield return cell;
            }
        }
    }

    /// <summary>The number of entries: exact when no insertion is under way.</summary>
    public override int Count
    {
        get
        {
            long count = 0;
            for (var i = 0; i < _counts.Length; i += Pad)
            {
                count += Volatile.Read(ref _counts[i]);
            }

            return (int)count;
        }
    }

    /// <summary>The sort key of an entry: its 63-bit hash with the top bit set, reversed (so odd, and after its bucket's marker).</summary>
    private static ulong RegularSortKey(ulong fullHash, out ulong hash)
    {
        hash = fullHash >> 1;
        return Reverse(hash | (1UL << 63));
    }

    private static ulong Reverse(ulong value)
    {
        value = ((value >> 1) & 0x5555555555555555UL) | ((value & 0x5555555555555555UL) << 1);
        value = ((value >> 2) & 0x3333333333333333UL) | ((value & 0x3333333333333333UL) << 2);
        value = ((value >> 4) & 0x0F0F0F0F0F0F0F0FUL) | ((value & 0x0F0F0F0F0F0F0F0FUL) << 4);
        return BinaryPrimitives.ReverseEndianness(value);
    }

    /// <summary>Whether <paramref name="entry"/> sorts before (<paramref name="sortKey"/>, <paramref name="key"/>).</summary>
    private static bool Precedes(ref Entry entry, ulong sortKey, in CellKey key) =>
        entry.SortKey != sortKey
            ? entry.SortKey < sortKey
            : entry.Key.High != key.High ? entry.Key.High < key.High : entry.Key.Low < key.Low;

    private ulong BucketOf(ulong hash) => hash & ((1UL << Volatile.Read(ref _bucketBits)) - 1);

    /// <summary>
    /// The link (position + 1, or 0 for the end) to the first entry after <paramref name="previous"/> that
    /// does not sort before the key; <paramref name="previous"/> moves to the entry whose link that is.
    /// </summary>
    private long Walk(ref long previous, ulong sortKey, in CellKey key)
    {
        var next = Volatile.Read(ref At(previous).Next);
        while (next != 0 && Precedes(ref At(next - 1), sortKey, key))
        {
            previous = next - 1;
            next = Volatile.Read(ref At(previous).Next);
        }

        return next;
    }

    /// <summary>Whether <paramref name="link"/> leads to the entry of (<paramref name="sortKey"/>, <paramref name="key"/>).</summary>
    private bool IsEntry(long link, ulong sortKey, in CellKey key) =>
        link != 0 && At(link - 1).SortKey == sortKey && At(link - 1).Key == key;

    /// <summary>
    /// Links the entry at <paramref name="position"/> into the list after <paramref name="start"/> (which sorts
    /// before it) and returns its position; or, if an equal entry is there, gives the reserved one back and
    /// returns the equal one's.
    /// </summary>
    private long InsertOrFind(long start, long position)
    {
        ref var entry = ref At(position);
        var previous = start;
        while (true)
        {
            var next = Walk(ref previous, entry.SortKey, entry.Key);
            if (IsEntry(next, entry.SortKey, entry.Key))
            {
                entry = default; // not linked: the slot is reserved again by this thread's next insertion
                return next - 1;
            }

            entry.Next = next;
            if (Interlocked.CompareExchange(ref At(previous).Next, position + 1, next) == next)
            {
                _entries.Take();
                return position;
            }

            // Another insertion linked after `previous` first; nothing is ever unlinked, so resume from it.
        }
    }

    /// <summary>Fills this thread's next free entry and returns its position; it is only taken once linked.</summary>
    private long Reserve(ulong sortKey, CellKey key, Cell? cell)
    {
        var position = _entries.Free();
        ref var entry = ref At(position);
        entry.SortKey = sortKey;
        entry.Key = key;
        entry.Cell = cell;
        return position;
    }

    /// <summary>The position of a bucket's marker, inserted (after its parent's) on first use.</summary>
    private long Bucket(ulong bucket)
    {
        ref var slot = ref Segmented.Slot(_buckets, bucket);
        var link = Volatile.Read(ref slot);
        if (link != 0)
        {
            return link - 1;
        }

        // The parent is the bucket this one split from: the same bits without the highest one.
        var parent = Bucket(bucket ^ (1UL << (63 - BitOperations.LeadingZeroCount(bucket))));
        var marker = InsertOrFind(parent, Reserve(Reverse(bucket), default, null));
        var raced = Interlocked.CompareExchange(ref slot, marker + 1, 0);
        return raced == 0 ? marker : raced - 1;
    }

    private ref Entry At(long position) => ref _entries[position];

    /// <summary>Counts one insertion, and now and then doubles the buckets if the entries outnumber them by more than the load factor.</summary>
    private void Counted()
    {
        var stripe = (Thread.GetCurrentProcessorId() & (Stripes - 1)) * Pad;
        if (Interlocked.Increment(ref _counts[stripe]) % CheckEvery != 0)
        {
            return;
        }

        var count = (long)Count;
        var bits = Volatile.Read(ref _bucketBits);
        while (bits < MaxBucketBits && count > (1L << bits) * LoadFactor)
        {
            bits = Interlocked.CompareExchange(ref _bucketBits, bits + 1, bits) == bits ? bits + 1 : Volatile.Read(ref _bucketBits);
        }
    }

    /// <summary>An entry (with its cell) or a bucket's marker (without one). Only <see cref="Next"/> changes once linked, by CAS.</summary>
    private struct Entry
    {
        public ulong SortKey;
        public CellKey Key;
        public Cell? Cell;
        public long Next; // position + 1 of the next entry in the list; 0 at the end
    }
}
