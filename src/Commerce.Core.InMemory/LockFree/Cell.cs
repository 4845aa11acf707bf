namespace Commerce.InMemory.LockFree;

/// <summary>
/// One aggregate's slot: a reference to its immutable state, to <see cref="Absent"/>, or to a
/// <see cref="CommitDescriptor"/> (whose logical value stands in for the state). Read it only through
/// <see cref="MultiWordCas.Read"/>.
/// </summary>
internal class Cell
{
    // Orders are handed out in blocks, so that threads creating cells do not all increment one shared counter.
    private const int OrdersPerBlock = 1024;
    private static long s_lastReserved;

    [ThreadStatic]
    private static long t_nextOrder;

    [ThreadStatic]
    private static long t_endOrder;

    /// <summary>The physical content; changed only by CAS.</summary>
    internal object Content;

    public Cell(object initial)
    {
        Content = initial;
        Order = NextOrder();
    }

    /// <summary>
    /// A cell with a fixed place in the order, above every counted one (<paramref name="order"/> must not
    /// be shared with another cell a commit may name with this one): commits install in it after their
    /// other cells.
    /// </summary>
    public Cell(object initial, long order)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(order, long.MaxValue / 2);
        Content = initial;
        Order = order;
    }

    /// <summary>A cell whose value is not an object (see <see cref="WordCell"/>): <see cref="Content"/> stays null.</summary>
    private protected Cell()
    {
        Content = null!;
        Order = NextOrder();
    }

    /// <summary>The cell's place in the one global order in which commits install descriptors (unique per cell).</summary>
    public long Order { get; }

    private static long NextOrder()
    {
        var next = t_nextOrder;
        if (next == t_endOrder)
        {
            var end = Interlocked.Add(ref s_lastReserved, OrdersPerBlock);
            next = end - OrdersPerBlock + 1;
            t_endOrder = end + 1;
        }

        t_nextOrder = next + 1;
        return next;
    }
}

/// <summary>
/// A cell that knows its key, so that a <see cref="CellTable"/> can find it through a plain array of
/// recently used cells (checking the key) rather than its dictionary.
/// </summary>
internal sealed class KeyedCell(object initial, CellKey key) : Cell(initial)
{
    /// <summary>The key the cell is indexed by in its table.</summary>
    public CellKey Key { get; } = key;
}

/// <summary>
/// A cell that holds a number in one 64-bit word rather than a reference to a state object, so that a
/// commit changes it without allocating. The word is the number (0 or more) or, with the sign bit set,
/// the id of the <see cref="CommitDescriptor"/> installed there (see <see cref="CommitDescriptor.Marker"/>).
/// Read it only through <see cref="MultiWordCas.ReadWord"/>.
/// </summary>
/// <remarks>
/// A word cell's number never decreases: every commit that writes it writes a number at least as large as
/// the one it expects (<see cref="WordUpdate"/>). That is what keeps its multi-word CAS free of ABA without
/// conditional installs: a commit that succeeded leaves a larger number behind, so its expected number never
/// comes back, and a helper's late install (which expects it) fails. A number that goes both ways is kept
/// as two word cells, what was added and what was taken.
/// </remarks>
internal class WordCell : Cell
{
    /// <summary>The number, or a descriptor's marker; changed only by CAS.</summary>
    internal long Word;

    /// <summary>A cell holding <paramref name="initial"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initial"/> is negative.</exception>
    public WordCell(long initial = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initial);
        Word = initial;
    }

    /// <summary>
    /// A cell that holds a number in <see cref="Word"/> (<paramref name="initial"/>) and a state in <see cref="Cell.Content"/>
    /// (<paramref name="content"/>), with a counted place in the order. A commit may name it in one update of each kind; it
    /// installs the state's first, then the number's.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initial"/> is negative.</exception>
    private protected WordCell(long initial, object content)
        : base(content)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initial);
        Word = initial;
    }

    /// <summary>
    /// A cell that holds a number in <see cref="Word"/> and a state in <see cref="Cell.Content"/>, both starting
    /// here, with a fixed place in the order (as <see cref="Cell(object, long)"/>). A commit may name it in one
    /// update of each kind; it installs the state's first, then the number's (the one global order of cells,
    /// with the object's update first where a cell has both).
    /// </summary>
    private protected WordCell(object content, long order)
        : base(content, order)
    {
    }
}

/// <summary>The state of a cell whose aggregate does not exist (yet). Never written after a real state.</summary>
internal static class Absent
{
    public static readonly object Value = new AbsentMarker();

    private sealed class AbsentMarker
    {
        public override string ToString() => "(absent)";
    }
}

/// <summary>
/// The state of a cell taken out of use (an expired record purged): never written again. A commit that
/// expects anything else there fails, and lookups skip the cell, so the key gets a fresh cell.
/// </summary>
internal static class Retired
{
    public static readonly object Value = new RetiredMarker();

    private sealed class RetiredMarker
    {
        public override string ToString() => "(retired)";
    }
}
