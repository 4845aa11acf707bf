using System.Globalization;
using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>
/// The cells of a table that only grows: a lock-free open-addressing hash index (linear probing) whose
/// slots are numbers naming entries in an append log, grown by copying slots into a table twice the size,
/// a chunk at a time, by the threads that insert meanwhile. It indexes the ids' tables (behind their arrays
/// of recently used cells), the sales counts, and each generation of idempotency keys, whose lookups mostly
/// miss. The scheme of Maier, Sanders and Dementiev, "Concurrent Hash Tables: Fast and
/// General(?)!" (ACM TOPC 2019), and of Click's non-blocking hash map, for a table without removal.
/// </summary>
/// <remarks>
/// <para>
/// A slot is one word: 0 when empty; <see cref="Moved"/> once growth has taken it out of use; otherwise the
/// position + 1 of its entry in the append log, and above that the top 27 bits of the key's hash. A lookup of
/// a key that is not there (every fresh idempotency key) reads the slot its hash picks and the few after
/// it, which share its cache line, and stops at the first empty one: one cache miss, where a split-ordered
/// list walked a bucket's marker and entries (three or four). An entry is loaded only when its slot's hash
/// bits are the key's. Slots hold no references, so the collector never scans them, and entries are
/// appended next to each other (see <see cref="AppendLog{T}"/>).
/// </para>
/// <para>
/// A key is inserted by one compare-and-swap of the first empty slot from the one its hash picks, after
/// checking every slot before it; nothing is ever removed or moved within a table, so a key's slot, once
/// filled, names it for good, and a lookup that meets an empty slot knows the key is not there.
/// </para>
/// <para>
/// Growth. Once the entries outnumber half the slots, one thread publishes a table twice the size as the
/// current one's successor (a CAS). From then on the old table takes no insertion: an inserter that reaches
/// an empty slot there turns it to <see cref="Moved"/> (a CAS) and goes on in the successor, and every
/// thread that goes on that way first copies one chunk of the old table's slots: it claims the chunk with an
/// atomic add, turns each empty slot to <see cref="Moved"/> and places each filled one's word in the
/// successor (the word's hash bits say where, so the entry is not loaded). A key is in the old table at a
/// slot before the first <see cref="Moved"/> one of its run, or not in it at all; so a lookup follows the
/// chain of tables, from the current one, to the first empty slot or its key, and each key has one entry
/// whichever tables its word was copied to. Once every chunk is copied, the successor becomes the current
/// table. A thread stopped in the middle of a chunk delays only that: the others go on through the old table
/// to its successor. Lock-free throughout.
/// </para>
/// </remarks>
internal sealed class ProbingCellTable : CellTable
{
    private const int InitialBits = 10;
    private const int MaxBits = 30;
    private const int PositionBits = 36;
    private const long PositionMask = (1L << PositionBits) - 1;
    private const int HashBits = 27; // the top bits of the hash a slot keeps
    private const long HashMask = ~PositionMask & long.MaxValue;
    private const long Moved = long.MinValue;
    private const int CopyChunk = 128; // slots a thread copies at a time
    private const int ProbeLimit = 48; // a run this long makes a table a quarter full grow
    private const int CheckEvery = 16; // a stripe's count at which the load is checked

    private readonly Func<CellKey, ulong> _hash;
    private readonly AppendLog<Entry> _entries = new();
    private readonly StripedCount _count = new();
    private Slots _current;

    public ProbingCellTable()
        : this(static key => Hash(key))
    {
    }

    /// <summary>A table with its own hash function and first size (tests use ones that collide on purpose, and small ones).</summary>
    internal ProbingCellTable(Func<CellKey, ulong> hash, int initialBits = InitialBits)
        : base(indexed: false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(initialBits, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(initialBits, MaxBits);
        _hash = hash;
        _current = new Slots(initialBits);
    }

    /// <summary>A test seam: called by a thread that claimed a chunk of slots to copy, before it copies them.</summary>
    internal Action? ChunkClaimed { get; set; }

    /// <summary>The number of slots of the newest table (for tests).</summary>
    internal int NewestSlotCount => Newest().Words.Length;

    /// <summary>The number of tables from the current one to the newest (1 when none is growing; for tests).</summary>
    internal int TableCount
    {
        get
        {
            var count = 0;
            for (var slots = Volatile.Read(ref _current); slots is not null; slots = Volatile.Read(ref slots.Next))
            {
                count++;
            }

            return count;
        }
    }

    /// <summary>The number of entries: exact when no insertion is under way.</summary>
    public override int Count => (int)_count.Sum;

    public override Cell? Find(CellKey key) => Find(key, _hash(key));

    /// <summary>Like <see cref="Find(CellKey)"/>, with the key's hash computed by the caller (with the table's hash function).</summary>
    public Cell? Find(CellKey key, ulong hash)
    {
        var tag = TagOf(hash);
        for (var slots = Volatile.Read(ref _current); slots is not null; slots = Volatile.Read(ref slots.Next))
        {
            var words = slots.Words;
            var mask = words.Length - 1;
            var i = IndexOf(hash, slots.Bits);
            for (var probes = 0; probes < words.Length; probes++, i = (i + 1) & mask)
            {
                var word = Volatile.Read(ref words[i]);
                if (word == 0)
                {
                    return null;
                }

                if (word == Moved)
                {
                    break;
                }

                if ((word & HashMask) == tag && At(word).Key == key)
                {
                    return At(word).Cell;
                }
            }
        }

        return null;
    }

    public override Cell GetOrCreate(CellKey key) => CreateOrGet(key);

    public override Cell CreateOrGet(CellKey key) => CreateOrGet(key, _hash(key), static (_, _) => new Cell(Absent.Value), 0, out _);

    /// <summary>
    /// The cell of <paramref name="key"/> (whose hash, by the table's hash function, is <paramref name="hash"/>),
    /// inserting one that <paramref name="create"/> makes if the key has none. <paramref name="create"/> runs
    /// before its cell is published, at most once per call, and its cell may lose to another thread's (then
    /// <paramref name="created"/> is false and the other one is returned).
    /// </summary>
    public Cell CreateOrGet<TState>(CellKey key, ulong hash, Func<CellKey, TState, Cell> create, TState state, out bool created)
    {
        var tag = TagOf(hash);
        var position = -1L;
        var slots = Volatile.Read(ref _current);
        while (true)
        {
            var words = slots.Words;
            var mask = words.Length - 1;
            var i = IndexOf(hash, slots.Bits);
            var probes = 0;
            while (true)
            {
                var word = Volatile.Read(ref words[i]);
                if (word == Moved)
                {
                    break;
                }

                if (word != 0)
                {
                    if ((word & HashMask) == tag && At(word).Key == key)
                    {
                        if (position >= 0)
                        {
                            _entries[position] = default; // named by no slot: this thread's next insertion takes the position
                        }

                        created = false;
                        return At(word).Cell!;
                    }

                    if (++probes == words.Length)
                    {
                        Grow(slots, force: true); // full (only when growth lags far behind): go on in the successor
                        break;
                    }

                    i = (i + 1) & mask;
                    continue;
                }

                var growing = Volatile.Read(ref slots.Next) is not null;
                if (!growing && probes > ProbeLimit && _count.Sum > words.Length / 4)
                {
                    Grow(slots, force: false);
                    growing = Volatile.Read(ref slots.Next) is not null;
                }

                if (growing)
                {
                    if (TakeOutOfUse(ref words[i]))
                    {
                        break;
                    }

                    continue;
                }

                if (position < 0)
                {
                    position = Reserve(key, create(key, state));
                }

                if (Interlocked.CompareExchange(ref words[i], tag | (position + 1), 0) == 0)
                {
                    _entries.Take();
                    Counted();
                    created = true;
                    return _entries[position].Cell!;
                }

                // Another thread filled the slot first: look at it again.
            }

            var next = Volatile.Read(ref slots.Next)!;
            Copy(slots);
            slots = next;
        }
    }

    /// <summary>Every cell inserted, each once, in the order of its entry (lock-free: cells inserted meanwhile may or may not be met).</summary>
    internal IEnumerable<Cell> Cells()
    {
        var reserved = _entries.Reserved;
        for (var position = 0L; position < reserved; position++)
        {
            if (_entries.ItemOrDefault(position).Cell is { } cell)
            {
                yield return cell;
            }
        }
    }

    /// <summary>The hash bits a slot keeps, in place.</summary>
    private static long TagOf(ulong hash) => (long)(hash >> (64 - HashBits)) << PositionBits;

    /// <summary>The slot a hash picks in a table of 2^<paramref name="bits"/> slots: its top bits.</summary>
    private static int IndexOf(ulong hash, int bits) => (int)(hash >> (64 - bits));

    /// <summary>The slot a filled slot's word belongs in, in a table of 2^<paramref name="bits"/> slots: from the word's hash bits while they suffice.</summary>
    private int IndexOfWord(long word, int bits) => bits <= HashBits
        ? (int)((ulong)word >> PositionBits >> (HashBits - bits))
        : IndexOf(_hash(At(word).Key), bits);

    /// <summary>The entry a filled slot's word names.</summary>
    private ref Entry At(long word) => ref _entries[(word & PositionMask) - 1];

    /// <summary>Fills this thread's next free entry with <paramref name="key"/> and its new cell and returns its position; it is taken only once a slot names it.</summary>
    private long Reserve(CellKey key, Cell cell)
    {
        var position = _entries.Free();
        if (position >= PositionMask - 1)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"The table holds {PositionMask - 1:N0} entries, as many as its slots can name."));
        }

        _entries[position] = new Entry(key, cell);
        return position;
    }

    /// <summary>Counts one insertion, and now and then starts growth if the entries outnumber half the newest table's slots.</summary>
    private void Counted()
    {
        if (_count.Increment() % CheckEvery != 0)
        {
            return;
        }

        var newest = Newest();
        if (_count.Sum > newest.Words.Length / 2)
        {
            Grow(newest, force: false);
        }
    }

    /// <summary>The last table of the chain, which takes insertions.</summary>
    private Slots Newest()
    {
        var newest = Volatile.Read(ref _current);
        while (Volatile.Read(ref newest.Next) is { } next)
        {
            newest = next;
        }

        return newest;
    }

    /// <summary>
    /// Gives <paramref name="slots"/> a successor twice its size, unless it has one. One thread allocates it
    /// (the one that claims the growth); <paramref name="force"/>: a thread that cannot go on without one
    /// allocates it even if another claimed it first (that one may have stopped).
    /// </summary>
    private static void Grow(Slots slots, bool force)
    {
        if (Volatile.Read(ref slots.Next) is not null
            || (!force && (Volatile.Read(ref slots.Growing) != 0 || Interlocked.CompareExchange(ref slots.Growing, 1, 0) != 0)))
        {
            return;
        }

        if (slots.Bits == MaxBits)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"The table holds as many entries as {1 << MaxBits:N0} slots can keep."));
        }

        Interlocked.CompareExchange(ref slots.Next, new Slots(slots.Bits + 1), null);
    }

    /// <summary>Copies one chunk of a growing table's slots to its successor, if any is left to claim; the last chunk makes the successor current.</summary>
    private void Copy(Slots from)
    {
        var words = from.Words;
        if (Volatile.Read(ref from.Claimed) >= words.Length)
        {
            return;
        }

        var start = Interlocked.Add(ref from.Claimed, CopyChunk) - CopyChunk;
        if (start >= words.Length)
        {
            return;
        }

        ChunkClaimed?.Invoke();
        var end = (int)Math.Min(start + CopyChunk, words.Length);
        var to = Volatile.Read(ref from.Next)!;
        for (var i = (int)start; i < end; i++)
        {
            var word = Interlocked.CompareExchange(ref words[i], Moved, 0);
            if (word is not 0 and not Moved)
            {
                Place(to, word);
            }
        }

        if (Interlocked.Add(ref from.Copied, end - start) == words.Length)
        {
            Advance();
        }
    }

    /// <summary>
    /// Places a filled slot's word, copied from a table that grew, in <paramref name="slots"/> or (if that one
    /// grows too) a later table. It never meets itself there: each slot is copied by the one thread that
    /// claimed its chunk, and no thread inserts a key that a table before holds.
    /// </summary>
    private void Place(Slots slots, long word)
    {
        while (true)
        {
            var words = slots.Words;
            var mask = words.Length - 1;
            var i = IndexOfWord(word, slots.Bits);
            var probes = 0;
            while (true)
            {
                var current = Volatile.Read(ref words[i]);
                if (current == Moved)
                {
                    break;
                }

                if (current != 0)
                {
                    if (++probes == words.Length)
                    {
                        Grow(slots, force: true);
                        break;
                    }

                    i = (i + 1) & mask;
                    continue;
                }

                if (Volatile.Read(ref slots.Next) is not null)
                {
                    if (TakeOutOfUse(ref words[i]))
                    {
                        break;
                    }

                    continue;
                }

                if (Interlocked.CompareExchange(ref words[i], word, 0) == 0)
                {
                    return;
                }
            }

            slots = Volatile.Read(ref slots.Next)!;
        }
    }

    /// <summary>
    /// Takes an empty slot of a growing table out of use (turns it to <see cref="Moved"/>): true if it is out
    /// of use now, so the caller goes on in the successor; false if another thread filled it first, so the
    /// caller looks at it again.
    /// </summary>
    private static bool TakeOutOfUse(ref long slot) => Interlocked.CompareExchange(ref slot, Moved, 0) is 0 or Moved;

    /// <summary>Makes the successor of every fully copied table at the head of the chain current.</summary>
    private void Advance()
    {
        var current = Volatile.Read(ref _current);
        while (Volatile.Read(ref current.Copied) == current.Words.Length && Volatile.Read(ref current.Next) is { } next)
        {
            current = Interlocked.CompareExchange(ref _current, next, current) == current ? next : Volatile.Read(ref _current);
        }
    }

    /// <summary>An entry: a key and its cell, written once before a slot names it.</summary>
    private readonly record struct Entry(CellKey Key, Cell? Cell);

    /// <summary>One table of slots, and its growth.</summary>
    private sealed class Slots(int bits)
    {
        public readonly long[] Words = new long[1 << bits];
        public readonly int Bits = bits;

        /// <summary>The table twice this size that takes its keys once it grows; set once, by CAS.</summary>
        public Slots? Next;

        /// <summary>1 once a thread claimed the allocation of <see cref="Next"/>.</summary>
        public int Growing;

        /// <summary>Slots claimed for copying, in chunks (may run past the length).</summary>
        public long Claimed;

        /// <summary>Slots copied; the length once growth is done.</summary>
        public long Copied;
    }
}
