namespace Commerce.InMemory.LockFree;

/// <summary>Where a commit stands. It leaves <see cref="Active"/> exactly once.</summary>
internal enum CommitStatus
{
    Active = 0,
    Succeeded = 1,
    Failed = 2,
}

/// <summary>One cell of a commit: the state the commit read there, and the state it writes (the same reference for a cell only read).</summary>
internal readonly struct CellUpdate(Cell cell, object expected, object desired)
{
    public Cell Cell { get; } = cell;

    public object Expected { get; } = expected;

    public object Desired { get; } = desired;
}

/// <summary>A multi-word commit in flight or decided; see <see cref="MultiWordCas"/>.</summary>
internal sealed class CommitDescriptor
{
    internal int StatusField;

    /// <summary>Creates a descriptor; sorts <paramref name="updates"/> into the global cell order.</summary>
    /// <exception cref="ArgumentException">Two updates name the same cell.</exception>
    public CommitDescriptor(CellUpdate[] updates)
    {
        SortByCellOrder(updates);
        for (var i = 1; i < updates.Length; i++)
        {
            if (ReferenceEquals(updates[i].Cell, updates[i - 1].Cell))
            {
                throw new ArgumentException("A commit names each cell once.", nameof(updates));
            }
        }

        Updates = updates;
    }

    public CellUpdate[] Updates { get; }

    /// <summary>Insertion sort: commits name a handful of cells, where it beats a general sort.</summary>
    private static void SortByCellOrder(CellUpdate[] updates)
    {
        if (updates.Length > 16)
        {
            Array.Sort(updates, static (a, b) => a.Cell.Order.CompareTo(b.Cell.Order));
            return;
        }

        for (var i = 1; i < updates.Length; i++)
        {
            var update = updates[i];
            var order = update.Cell.Order;
            var j = i - 1;
            while (j >= 0 && updates[j].Cell.Order > order)
            {
                updates[j + 1] = updates[j];
                j--;
            }

            updates[j + 1] = update;
        }
    }

    public CommitStatus Status => (CommitStatus)Volatile.Read(ref StatusField);

    /// <summary>The logical value of a cell holding this decided descriptor.</summary>
    public object LogicalValue(Cell cell, CommitStatus decided)
    {
        foreach (ref readonly var update in Updates.AsSpan())
        {
            if (ReferenceEquals(update.Cell, cell))
            {
                return decided == CommitStatus.Succeeded ? update.Desired : update.Expected;
            }
        }

        throw new InvalidOperationException("A cell holds a descriptor that does not name it.");
    }
}
