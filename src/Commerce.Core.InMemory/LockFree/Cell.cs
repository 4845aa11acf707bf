namespace Commerce.InMemory.LockFree;

/// <summary>
/// One aggregate's slot: a reference to its immutable state, to <see cref="Absent"/>, or to a
/// <see cref="CommitDescriptor"/> (whose logical value stands in for the state). Read it only through
/// <see cref="MultiWordCas.Read"/>.
/// </summary>
internal sealed class Cell
{
    private static long s_lastOrder;

    /// <summary>The physical content; changed only by CAS.</summary>
    internal object Content;

    public Cell(object initial)
    {
        Content = initial;
        Order = Interlocked.Increment(ref s_lastOrder);
    }

    /// <summary>The cell's place in the one global order in which commits install descriptors.</summary>
    public long Order { get; }
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
