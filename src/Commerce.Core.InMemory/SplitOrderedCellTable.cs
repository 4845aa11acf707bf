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
/// The markers are not entries: bucket <c>b</c>'s marker is a link word (and a state) at index <c>b</c>
/// of an array of its own, so a walk starts at a place computed from the hash, one cache miss from the
/// first entry of its bucket. (With markers as entries, a bucket's slot held the marker's position, and
/// every lookup and insertion paid a miss for the slot and one more for the marker.)
/// </para>
/// <para>
/// A link is one word: the position + 1 of the entry it names, or the bucket of the marker it names with
/// a flag bit, and above those the top bits of the named entry's sort key. A walk thus sees that the next
/// entry sorts after its key, or is not its key, without loading that entry: a lookup of a key that is
/// not there (every fresh idempotency key) stops at the link before the entry that follows the key,
/// one cache miss fewer, unless both share those 27 bits. A bucket's entries share its top bits, so a
/// table of 2^k buckets leaves 27 − k of them to tell its entries apart: at four million keys (2^21
/// buckets), one pair in 64 ties and is compared entry to entry. Links name up to 2^36 − 1 entries.
/// </para>
/// <para>
/// An insertion is one compare-and-swap of the link before it, retried from the same node if another
/// insertion got there first. Nothing is removed, so a reader follows links without checks and a
/// retry may resume from the node it stopped at. A bucket's marker is linked into the list on the
/// bucket's first use by the one thread that claims it (a CAS of its state); until that thread has
/// linked it, everyone else starts from the parent bucket's marker, which precedes the same entries, so
/// a claimer that stops never stops anyone. The number of entries is counted on striped counters (one
/// per processor, on its own cache line) and summed only now and then, to decide when to double.
/// </para>
/// </remarks>
internal sealed class SplitOrderedCellTable : CellTable
{
    private const int MaxBucketBits = 36;

    // A link's layout: the position + 1 (or the bucket) in the low bits, the marker flag, then the top bits of the named entry's sort key.
    private const int PositionBits = 36;
    private const long PositionMask = (1L << PositionBits) - 1;
    private const long MarkerFlag = 1L << PositionBits;
    private const int FragmentShift = PositionBits + 1;
    private const int InitialBucketBits = 4;
    private const long LoadFactor = 2; // entries per bucket before the buckets double
    private const int CheckEvery = 128; // a stripe's count at which the load is checked

    private readonly Func<CellKey, ulong> _hash;
    private readonly AppendLog<Entry> _entries = new();
    private readonly Marker[]?[] _markers = new Marker[]?[Segmented.SegmentCount];
    private readonly StripedCount _count = new();
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

        // Bucket 0's marker (sort key 0, before everything) heads the list: linked from the start.
        Segmented.Slot(_markers, 0).State = Marker.Linked;
    }

    /// <summary>The number of buckets now (a power of two; for tests).</summary>
    internal long BucketCount => 1L << Volatile.Read(ref _bucketBits);

    public override Cell? Find(CellKey key)
    {
        var sortKey = RegularSortKey(_hash(key), out var hash);
        var previous = Bucket(BucketOf(hash));
        var next = Walk(ref previous, sortKey, key);
        return IsEntry(next, sortKey, key) ? At(PositionOf(next)).Cell : null;
    }

    public override Cell GetOrCreate(CellKey key) => Find(key) ?? CreateOrGet(key);

    public override Cell CreateOrGet(CellKey key)
    {
        var sortKey = RegularSortKey(_hash(key), out var hash);
        var start = Bucket(BucketOf(hash));
        var position = Reserve(sortKey, key, new Cell(Absent.Value));
        var link = EntryLink(position, sortKey);
        var found = InsertOrFind(start, link, sortKey, key);
        if (found == link)
        {
            _entries.Take();
            Counted();
        }
        else
        {
            At(position) = default; // not linked: the slot is reserved again by this thread's next insertion
        }

        return At(PositionOf(found)).Cell!;
    }

    /// <summary>Every cell, in list order (lock-free: cells inserted meanwhile may or may not be met).</summary>
    internal IEnumerable<Cell> Cells()
    {
        for (var next = Volatile.Read(ref NextOf(MarkerLink(0))); next != 0; next = Volatile.Read(ref NextOf(next)))
        {
            if (!IsMarker(next) && At(PositionOf(next)).Cell is { } cell)
            {
                yield return cell;
            }
        }
    }

    /// <summary>The number of entries: exact when no insertion is under way.</summary>
    public override int Count => (int)_count.Sum;

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

    /// <summary>
    /// Whether the node <paramref name="link"/> names sorts before (<paramref name="sortKey"/>,
    /// <paramref name="key"/>). A marker's sort key is even and an entry's odd, so they never tie.
    /// </summary>
    private bool Precedes(long link, ulong sortKey, in CellKey key)
    {
        if (IsMarker(link))
        {
            return MarkerSortKey(link) < sortKey;
        }

        // The link's top bits of the entry's sort key decide, unless they are the key's: then the entry does.
        var fragment = FragmentOf(link);
        if (fragment != sortKey >> FragmentShift)
        {
            return fragment < sortKey >> FragmentShift;
        }

        ref var entry = ref At(PositionOf(link));
        return entry.SortKey != sortKey
            ? entry.SortKey < sortKey
            : entry.Key.High != key.High ? entry.Key.High < key.High : entry.Key.Low < key.Low;
    }

    private ulong BucketOf(ulong hash) => hash & ((1UL << Volatile.Read(ref _bucketBits)) - 1);

    /// <summary>
    /// The link to the first node after <paramref name="previous"/> that does not sort before the key (0 at
    /// the end); <paramref name="previous"/> moves to the node whose link that is.
    /// </summary>
    private long Walk(ref long previous, ulong sortKey, in CellKey key)
    {
        var next = Volatile.Read(ref NextOf(previous));
        while (next != 0 && Precedes(next, sortKey, key))
        {
            previous = next;
            next = Volatile.Read(ref NextOf(previous));
        }

        return next;
    }

    /// <summary>Whether <paramref name="link"/> names the node of (<paramref name="sortKey"/>, <paramref name="key"/>).</summary>
    private bool IsNode(long link, ulong sortKey, in CellKey key)
    {
        if (IsMarker(link))
        {
            return MarkerSortKey(link) == sortKey;
        }

        if (link == 0 || FragmentOf(link) != sortKey >> FragmentShift)
        {
            return false;
        }

        ref var entry = ref At(PositionOf(link)); // found once, for its sort key and its key
        return entry.SortKey == sortKey && entry.Key == key;
    }

    /// <summary>Whether <paramref name="link"/> leads to the entry of (<paramref name="sortKey"/>, <paramref name="key"/>).</summary>
    private bool IsEntry(long link, ulong sortKey, in CellKey key) => link != 0 && !IsMarker(link) && IsNode(link, sortKey, key);

    /// <summary>
    /// Links the node <paramref name="node"/> names (its own link set here) into the list after
    /// <paramref name="start"/>, which sorts before it, and returns its link; or, if an equal node is
    /// there, returns that one's link and leaves the list as it was.
    /// </summary>
    private long InsertOrFind(long start, long node, ulong sortKey, in CellKey key)
    {
        var previous = start;
        while (true)
        {
            var next = Walk(ref previous, sortKey, key);
            if (IsNode(next, sortKey, key))
            {
                return next;
            }

            Volatile.Write(ref NextOf(node), next);
            if (Interlocked.CompareExchange(ref NextOf(previous), node, next) == next)
            {
                return node;
            }

            // Another insertion linked after `previous` first; nothing is ever unlinked, so resume from it.
        }
    }

    /// <summary>Fills this thread's next free entry and returns its position; it is only taken once linked.</summary>
    private long Reserve(ulong sortKey, CellKey key, Cell cell)
    {
        var position = _entries.Free();
        if (position >= PositionMask)
        {
            throw new InvalidOperationException($"The table holds {PositionMask:N0} entries, as many as its links can name.");
        }

        ref var entry = ref At(position);
        entry.SortKey = sortKey;
        entry.Key = key;
        entry.Cell = cell;
        return position;
    }

    /// <summary>
    /// The link of the marker to start a bucket's walk from: the bucket's own once linked; before that, its
    /// parent's (the bucket this one split from: the same bits without the highest one), whose run holds
    /// this bucket's entries too. The first caller to claim the bucket's marker links it.
    /// </summary>
    private long Bucket(ulong bucket)
    {
        ref var marker = ref Segmented.Slot(_markers, bucket);
        var state = Volatile.Read(ref marker.State);
        if (state == Marker.Linked)
        {
            return MarkerLink(bucket);
        }

        var parent = Bucket(bucket ^ (1UL << (63 - BitOperations.LeadingZeroCount(bucket))));
        if (state != Marker.Unused || Interlocked.CompareExchange(ref marker.State, Marker.Claimed, Marker.Unused) != Marker.Unused)
        {
            return parent; // another thread is linking it
        }

        var link = MarkerLink(bucket);
        InsertOrFind(parent, link, Reverse(bucket), default);
        Volatile.Write(ref marker.State, Marker.Linked);
        return link;
    }

    /// <summary>Marks a bucket's marker claimed without linking it, as a thread stopped right after its claim would (for tests).</summary>
    internal void ClaimMarker(ulong bucket) => Segmented.Slot(_markers, bucket).State = Marker.Claimed;

    /// <summary>The link that names a bucket's marker (its sort key is computed from the bucket, so it carries none).</summary>
    private static long MarkerLink(ulong bucket) => MarkerFlag | (long)bucket;

    /// <summary>The link that names the entry at <paramref name="position"/>, whose sort key is <paramref name="sortKey"/>.</summary>
    private static long EntryLink(long position, ulong sortKey) => (long)(sortKey >> FragmentShift << FragmentShift) | (position + 1);

    private static bool IsMarker(long link) => (link & MarkerFlag) != 0;

    /// <summary>The position of the entry a (nonzero, not marker) link names.</summary>
    private static long PositionOf(long link) => (link & PositionMask) - 1;

    /// <summary>The top bits of the sort key of the entry a link names.</summary>
    private static ulong FragmentOf(long link) => (ulong)link >> FragmentShift;

    private static ulong MarkerSortKey(long link) => Reverse((ulong)(link & PositionMask));

    /// <summary>The link word of the node a (nonzero) link names.</summary>
    private ref long NextOf(long link) =>
        ref IsMarker(link) ? ref Segmented.Slot(_markers, (ulong)(link & PositionMask)).Next : ref At(PositionOf(link)).Next;

    private ref Entry At(long position) => ref _entries[position];

    /// <summary>Counts one insertion, and now and then doubles the buckets if the entries outnumber them by more than the load factor.</summary>
    private void Counted()
    {
        if (_count.Increment() % CheckEvery != 0)
        {
            return;
        }

        var count = _count.Sum;
        var bits = Volatile.Read(ref _bucketBits);
        while (bits < MaxBucketBits && count > (1L << bits) * LoadFactor)
        {
            bits = Interlocked.CompareExchange(ref _bucketBits, bits + 1, bits) == bits ? bits + 1 : Volatile.Read(ref _bucketBits);
        }
    }

    /// <summary>An entry, with its cell. Only <see cref="Next"/> changes once linked, by CAS.</summary>
    private struct Entry
    {
        public ulong SortKey;
        public CellKey Key;
        public Cell? Cell;
        public long Next; // the link to the next node in the list; 0 at the end
    }

    /// <summary>A bucket's marker: its link to the next node, and whether it is in the list yet.</summary>
    private struct Marker
    {
        public const int Unused = 0;
        public const int Claimed = 1; // a thread is linking it
        public const int Linked = 2;

        public long Next;
        public int State;
    }
}

/// <summary>
/// A count kept on striped counters, one per thread (<see cref="ThreadStripe"/>; threads share them
/// beyond <see cref="Stripes"/>), each on its own cache line, so that threads counting at once do not all
/// write one word; summed only when read.
/// </summary>
internal sealed class StripedCount
{
    /// <summary>The number of stripes: twice the processors, at least 8 and at most 64.</summary>
    internal static readonly int Stripes = Math.Clamp((int)BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount * 2), 8, 64);

    private const int Pad = 8; // longs per stripe: one 64-byte cache line

    // Stripe i at index (i + 1) · Pad: the first line holds the array's length, which every increment's
    // bounds check reads, so no stripe is written there.
    private readonly long[] _counts = new long[(Stripes + 1) * Pad];

    /// <summary>Adds one on this thread's stripe.</summary>
    /// <returns>That stripe's count now.</returns>
    public long Increment() => Interlocked.Increment(ref _counts[(ThreadStripe.Of(Stripes) + 1) * Pad]);

    /// <summary>The sum of the stripes: exact when no increment is under way.</summary>
    public long Sum
    {
        get
        {
            long sum = 0;
            for (var i = Pad; i < _counts.Length; i += Pad)
            {
                sum += Volatile.Read(ref _counts[i]);
            }

            return sum;
        }
    }
}
