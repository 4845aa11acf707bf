using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>
/// The cells of a table whose states expire and are purged (idempotency records), in generations: each a
/// lock-free <see cref="ProbingCellTable"/>, which never removes an entry, the newest one taking the
/// keys no generation holds. A purge that finds an expired state in the newest generation, or cells but no
/// state at all, seals it and starts another; every purge retires expired states and unused cells in the sealed ones, and drops a
/// sealed generation once all its cells are retired.
/// </summary>
/// <remarks>
/// <para>
/// A key has at most one cell in use (holding a state, or absent in the newest generation): a cell that
/// holds <see cref="Retired"/> is never used again, and a cell found absent in a sealed generation is
/// retired by whoever finds it (the purge, or a lookup), since a commit could otherwise give it a record
/// that the lookups which already went on to the newer generation would miss. A commit that holds such a
/// cell expects it absent, so it fails, and its use case runs again and finds the key's cell anew.
/// </para>
/// <para>
/// A cell is created in the newest generation of a snapshot of the list only after a lookup of every
/// older generation of the same snapshot found none in use (the insertion itself finds the newest one's
/// cell, if it has one), and only kept if that generation was not sealed once
/// the cell was in it: a seal that comes later comes
/// before the purge's scan, which meets the cell; one that came earlier sends the creator back to the
/// lookup, which retires the cell. So a commit can give a record only to a cell that every later lookup
/// meets. Lock-free throughout: a purge takes no lock, and a lookup at worst retires a cell itself, or
/// appends the generation that a purge sealed the newest one for and has not appended yet.
/// </para>
/// <para>
/// A commit that would replace an expired state in a sealed generation retires it first (see
/// <see cref="RetireExpired"/>) and writes the new state to the key's fresh cell, in the newest generation:
/// a key replaced in place each time it expires would keep its generation, and every dead cell in it, for ever.
/// </para>
/// <para>
/// Compared with one dictionary from which purges remove entries, inserting allocates no node, growing
/// copies only slots (numbers, a chunk at a time, by the inserting threads) where a dictionary copies its
/// buckets in one go, and a purge frees whole generations at once; a
/// lookup of a key that is not there visits every generation: two or three, since a generation that holds
/// states is sealed only once one expired, at most about once per retention period (one that holds none is
/// dropped by the purge that seals it).
/// </para>
/// </remarks>
internal sealed class GenerationalCellTable() : CellTable(indexed: false)
{
    // Oldest first; the last one takes new keys. Replaced (never changed) by CAS.
    private Generation[] _generations = [new()];

    /// <summary>The number of generations (for tests).</summary>
    internal int GenerationCount => Volatile.Read(ref _generations).Length;

    public override Cell? Find(CellKey key) => Find(Volatile.Read(ref _generations), key);

    public override Cell GetOrCreate(CellKey key)
    {
        while (true)
        {
            // One snapshot for the lookup and the creation: a newer generation than the lookup saw may have
            // been started after a cell of this key went into an older one the lookup searched too early.
            // The newest generation is searched by the insertion itself (which returns the key's cell if it has
            // one), so only the older ones are looked up first. A cell of the newest one is in use while it is
            // not sealed, which is checked below either way.
            var generations = Volatile.Read(ref _generations);
            if (Find(generations, key, generations.Length - 2) is { } found)
            {
                return found;
            }

            var newest = generations[^1];
            if (newest.IsSealed)
            {
                // A purge sealed it and has not appended the next one yet (it may have stopped, or given up):
                // append it for the purge, as it would, rather than wait for it.
                StartGeneration(generations);
                continue;
            }

            var cell = newest.Cells.CreateOrGet(key);

            // The insertion (a CAS, a full fence) comes before this look at the seal (see the remarks).
            if (!newest.IsSealed)
            {
                return cell;
            }
        }
    }

    /// <summary>
    /// Seals the newest generation and appends no next one: the table as a purge leaves it when it stops
    /// between the two (for tests).
    /// </summary>
    internal void SealNewest() => Volatile.Read(ref _generations)[^1].Seal();

    public override Cell CreateOrGet(CellKey key) => GetOrCreate(key);

    /// <summary>The number of entries in every generation, retired ones included (for diagnostics and tests).</summary>
    public override int Count => Volatile.Read(ref _generations).Sum(generation => generation.Cells.Count);

    /// <summary>
    /// If the newest generation holds a state <paramref name="expired"/> selects, or absent cells and no
    /// state (see <see cref="DueForSeal"/>), seals it and starts another (so generations that hold states are
    /// started at most about once per retention period, however often purges run); then, in every sealed generation, retires each cell whose state <paramref name="expired"/>
    /// selects and each absent cell (one single-cell commit each, so a commit that read the cell fails),
    /// and drops the generations left with no cell in use.
    /// </summary>
    /// <returns>How many states were retired (absent cells not counted).</returns>
    public int Purge(Func<object, bool> expired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expired);
        while (Volatile.Read(ref _generations) is var generations && DueForSeal(generations[^1], expired, cancellationToken))
        {
            // Sealed first, then followed: a generation that takes keys is never sealed under a later one (see
            // the remarks). A lookup that finds the newest one sealed appends the next itself, so a purge that
            // stops (or is cancelled) between the two steps holds no one up.
            generations[^1].Seal();
            if (StartGeneration(generations))
            {
                break;
            }
        }

        var retired = 0;
        var sealedGenerations = Volatile.Read(ref _generations);
        foreach (var generation in sealedGenerations.AsSpan(0, sealedGenerations.Length - 1))
        {
            var inUse = false;
            foreach (var cell in generation.Cells.Cells())
            {
                cancellationToken.ThrowIfCancellationRequested();
                var state = MultiWordCas.Read(cell);
                if (ReferenceEquals(state, Retired.Value))
                {
                    continue;
                }

                var absent = ReferenceEquals(state, Absent.Value);
                if ((absent || expired(state)) && Retire(cell, state))
                {
                    retired += absent ? 0 : 1;
                    continue;
                }

                inUse = true; // a live state (or one that changed meanwhile: looked at again by the next purge)
            }

            if (!inUse)
            {
                Drop(generation);
            }
        }

        return retired;
    }

    /// <summary>Whether <paramref name="cell"/>, a cell of <paramref name="key"/>, lies in a sealed generation (or a dropped one).</summary>
    public bool InSealedGeneration(CellKey key, Cell cell)
    {
        var generations = Volatile.Read(ref _generations);
        for (var i = generations.Length - 1; i >= 0; i--)
        {
            if (ReferenceEquals(generations[i].Cells.Find(key), cell))
            {
                return generations[i].IsSealed;
            }
        }

        return true;
    }

    /// <summary>
    /// Retires <paramref name="cell"/> if it still holds <paramref name="expected"/> (an expired state), as a
    /// purge would; false if it holds something else.
    /// </summary>
    public static bool RetireExpired(Cell cell, object expected) => Retire(cell, expected);

    /// <summary>The key's cell in use in <paramref name="generations"/>, newest first, or <see langword="null"/>.</summary>
    private static Cell? Find(Generation[] generations, CellKey key) => Find(generations, key, generations.Length - 1);

    /// <summary>The key's cell in use in <paramref name="generations"/> up to index <paramref name="newest"/>, newest first, or <see langword="null"/>.</summary>
    private static Cell? Find(Generation[] generations, CellKey key, int newest)
    {
        for (var i = newest; i >= 0; i--)
        {
            if (generations[i].Cells.Find(key) is { } cell && InUse(generations[i], cell))
            {
                return cell;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether <paramref name="generation"/> is due to be sealed: one of its cells holds a state
    /// <paramref name="expired"/> selects, or it holds cells but no state at all (only the absent cells of
    /// requests that never committed, or are in flight).
    /// </summary>
    /// <remarks>
    /// A generation holding states is sealed once the oldest expires, which retires its absent cells with it.
    /// One that never holds a state would never be sealed that way, and would keep the cell of every failed
    /// request for ever: it is sealed at once, and the same purge retires its cells and drops it (a request
    /// in flight there fails its commit and runs again in the next generation).
    /// </remarks>
    private static bool DueForSeal(Generation generation, Func<object, bool> expired, CancellationToken cancellationToken)
    {
        var holdsState = false;
        var holdsAbsent = false;
        foreach (var cell in generation.Cells.Cells())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var state = MultiWordCas.Read(cell);
            if (ReferenceEquals(state, Absent.Value))
            {
                holdsAbsent = true;
            }
            else if (!ReferenceEquals(state, Retired.Value))
            {
                if (expired(state))
                {
                    return true;
                }

                holdsState = true;
            }
        }

        return holdsAbsent && !holdsState;
    }

    /// <summary>Whether a cell found in <paramref name="generation"/> is in use; one absent in a sealed generation is retired first.</summary>
    private static bool InUse(Generation generation, Cell cell)
    {
        var state = MultiWordCas.Read(cell);
        if (ReferenceEquals(state, Retired.Value))
        {
            return false;
        }

        if (!ReferenceEquals(state, Absent.Value) || !generation.IsSealed)
        {
            return true;
        }

        // Failing, the cell holds something else now: retired by another, or given a record by a commit
        // that found it before the seal (then it is the key's cell).
        return !Retire(cell, Absent.Value) && !ReferenceEquals(MultiWordCas.Read(cell), Retired.Value);
    }

    /// <summary>Replaces <paramref name="expected"/> with <see cref="Retired"/> in one single-cell commit; false if the cell holds something else.</summary>
    private static bool Retire(Cell cell, object expected) =>
        MultiWordCas.Commit(CommitDescriptor.Create([new CellUpdate(cell, expected, Retired.Value)]));

    /// <summary>Appends a new generation after the sealed newest one of <paramref name="generations"/>; false if the list changed meanwhile.</summary>
    private bool StartGeneration(Generation[] generations) =>
        Interlocked.CompareExchange(ref _generations, [.. generations, new Generation()], generations) == generations;

    private void Drop(Generation generation)
    {
        while (true)
        {
            var generations = Volatile.Read(ref _generations);
            var at = Array.IndexOf(generations, generation);
            if (at < 0 || Interlocked.CompareExchange(ref _generations, [.. generations[..at], .. generations[(at + 1)..]], generations) == generations)
            {
                return;
            }
        }
    }

    /// <summary>One generation: its cells, and whether it was sealed (it then takes no new keys).</summary>
    private sealed class Generation
    {
        private int _sealed;

        public ProbingCellTable Cells { get; } = new();

        public bool IsSealed => Volatile.Read(ref _sealed) != 0;

        /// <summary>Seals the generation (a full fence: no read of this thread moves before it).</summary>
        public void Seal() => Interlocked.Exchange(ref _sealed, 1);
    }
}
