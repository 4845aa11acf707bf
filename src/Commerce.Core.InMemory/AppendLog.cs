using System.Numerics;

namespace Commerce.InMemory;

/// <summary>
/// Items by position, appended in blocks that each thread reserves for itself, in chunks that are never
/// copied: an append writes next to the thread's previous one.
/// </summary>
/// <remarks>
/// <para>
/// Built for a generational collector, which at every collection scans the old objects written since the
/// last one. A store that keeps what it is given (orders, ledger entries) writes a young reference into
/// an old object at every commit; written at random places (a user's own array, a dictionary's buckets),
/// each such write costs the next collection a scan of its own card, while here a thread's writes land
/// side by side. Readers find an item by its position, which callers keep as a number (invisible to the
/// collector) rather than as a reference.
/// </para>
/// <para>
/// Lock-free: a thread reserves a block of positions with one atomic add on a counter only touched once
/// per block, and whoever first needs a chunk publishes it with a CAS. A position is written by the one
/// thread that reserved it before it is published to anyone (through a volatile write or a CAS that
/// orders the item before it), so slots need no synchronization of their own.
/// </para>
/// <para>
/// A thread's blocks in a log double in size, from one position up to <see cref="MaxBlockSize"/>: the
/// positions left in the block of a thread that ends are never used, and a host's pool threads come and
/// go, so a thread never leaves more unused positions than it appended. The log thus reserves at most
/// about twice the items it holds, however many threads appended to it, and a thread that appends all the
/// time still takes the counter once per <see cref="MaxBlockSize"/> positions.
/// </para>
/// </remarks>
internal sealed class AppendLog<T>
{
    private const int ChunkBits = 10;
    private const int ChunkSize = 1 << ChunkBits;
    private const int MaxBlockSize = 64; // positions a thread reserves at a time, once it has appended a few

    // Logs of one item type whose blocks a thread keeps at once (a store's tables each have a log, and
    // an order appends to more than one): a store's hash tables have seven or eight, so this keeps those of
    // two stores. Beyond that, the block kept longest gives way (its unused positions are never used).
    private const int CachedLogs = 16;

    private static long s_lastId;

    // The blocks this thread reserved last, each with the id of its log (an id, not a reference, so that
    // a thread does not keep a log it appended to, and all it holds, from being collected).
    [ThreadStatic]
    private static Block[]? t_blocks;

    [ThreadStatic]
    private static int t_replaced; // the slot of t_blocks that gives way next

    private readonly T[]?[]?[] _chunks = new T[]?[]?[Segmented.SegmentCount];
    private readonly long _id = Interlocked.Increment(ref s_lastId);
    private long _reserved;

    /// <summary>The item at <paramref name="position"/> (a position <see cref="Free"/> returned).</summary>
    public ref T this[long position] =>
        ref Volatile.Read(ref Segmented.Slot(_chunks, (ulong)(position >> ChunkBits)))![position & (ChunkSize - 1)];

    /// <summary>
    /// This thread's next free position (reserving a block if it has none left): the caller writes its item
    /// there and then calls <see cref="Take"/>, or leaves the position (cleared) for this thread's next item.
    /// </summary>
    public long Free()
    {
        ref var block = ref BlockOfThisThread();
        if (block.Next == block.End)
        {
            // Twice the thread's last block here (see the remarks): a block may then span two chunks.
            var size = Math.Clamp(2 * (block.End - block.Start), 1, MaxBlockSize);
            var end = Interlocked.Add(ref _reserved, size);
            var start = end - size;
            EnsureChunk(start);
            EnsureChunk(end - 1);
            block.Start = start;
            block.Next = start;
            block.End = end;
        }

        return block.Next;
    }

    /// <summary>
    /// The item at <paramref name="position"/>, or the default if its chunk was not allocated yet: for a
    /// reader that goes through every position reserved so far (<see cref="Reserved"/>), some of them perhaps
    /// not written yet.
    /// </summary>
    public T? ItemOrDefault(long position) =>
        Segmented.Peek(_chunks, (ulong)(position >> ChunkBits)) is { } chunk ? chunk[position & (ChunkSize - 1)] : default;

    /// <summary>Takes the position <see cref="Free"/> returned last on this thread: the next call returns the one after.</summary>
    public void Take()
    {
        ref var block = ref BlockOfThisThread();
        if (block.Next != block.End)
        {
            block.Next++; // (an empty block: the one the position was in gave way meanwhile, and is never used again)
        }
    }

    /// <summary>The positions reserved so far, by every thread (in whole blocks; for tests).</summary>
    internal long Reserved => Volatile.Read(ref _reserved);

    /// <summary>Appends an item and returns its position.</summary>
    public long Append(T item)
    {
        var position = Free();
        this[position] = item;
        Take();
        return position;
    }

    /// <summary>Allocates the chunk of <paramref name="position"/> if no one has.</summary>
    private void EnsureChunk(long position)
    {
        ref var chunk = ref Segmented.Slot(_chunks, (ulong)(position >> ChunkBits));
        if (Volatile.Read(ref chunk) is null)
        {
            Interlocked.CompareExchange(ref chunk, new T[ChunkSize], null);
        }
    }

    /// <summary>This thread's block in this log (an empty one if it has none: <see cref="Free"/> reserves it).</summary>
    private ref Block BlockOfThisThread()
    {
        var blocks = t_blocks ??= new Block[CachedLogs];
        for (var i = 0; i < blocks.Length; i++)
        {
            if (blocks[i].Log == _id)
            {
                return ref blocks[i];
            }
        }

        ref var replaced = ref blocks[t_replaced++ & (CachedLogs - 1)];
        replaced = new Block { Log = _id };
        return ref replaced;
    }

    /// <summary>
    /// A thread's reserved block in one log, positions <see cref="Start"/> to <see cref="End"/> (excluded):
    /// those from <see cref="Next"/> on are still free.
    /// </summary>
    private struct Block
    {
        public long Log;
        public long Start;
        public long Next;
        public long End;
    }
}

/// <summary>
/// Arrays kept in segments that double in size and are never copied, allocated on first use: segment 0
/// holds indexes [0, 1024), segment s ≥ 1 holds [2^(9+s), 2^(10+s)).
/// </summary>
internal static class Segmented
{
    private const int FirstSegmentBits = 10;
    private const int MaxBits = 48;

    /// <summary>The length of a segment array: enough for indexes below 2^48.</summary>
    public const int SegmentCount = MaxBits - FirstSegmentBits + 1;

    /// <summary>Element <paramref name="index"/> (below 2^48), its segment allocated if no one has.</summary>
    public static ref T Slot<T>(T[]?[] segments, ulong index)
    {
        var (segment, offset) = Locate(index);
        var slots = Volatile.Read(ref segments[segment]);
        if (slots is null)
        {
            var created = new T[segment == 0 ? 1 << FirstSegmentBits : 1L << (FirstSegmentBits + segment - 1)];
            slots = Interlocked.CompareExchange(ref segments[segment], created, null) ?? created;
        }

        return ref slots[offset];
    }

    /// <summary>Element <paramref name="index"/> (below 2^48), or the default if its segment was not allocated yet.</summary>
    public static T? Peek<T>(T[]?[] segments, ulong index)
    {
        var (segment, offset) = Locate(index);
        return Volatile.Read(ref segments[segment]) is { } slots ? slots[offset] : default;
    }

    private static (int Segment, long Offset) Locate(ulong index)
    {
        if (index < 1UL << FirstSegmentBits)
        {
            return (0, (long)index);
        }

        var top = 63 - BitOperations.LeadingZeroCount(index);
        return (top - FirstSegmentBits + 1, (long)(index - (1UL << top)));
    }
}
