using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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

/// <summary>
/// A multi-word commit in flight or decided; see <see cref="MultiWordCas"/>. One sealed class, so that
/// telling a descriptor from a state in a cell is one type comparison. Commits of up to sixteen cells (an
/// order of up to four lines, with its ledger entry and event) keep their updates inline; larger ones keep
/// an array. Inline ones are reused (<see cref="Rent"/>, <see cref="Release"/>), which is why every
/// descriptor has room for sixteen.
/// </summary>
internal sealed class CommitDescriptor
{
    /// <summary>The most updates a descriptor keeps inline (and so the most a reused one holds).</summary>
    internal const int InlineCapacity = 16;

    internal int StatusField;

    /// <summary>
    /// Run once by the thread that decides the commit a success, the committing thread or a helper (so that
    /// what a commit announces is announced even while its thread is paused); set before the descriptor is
    /// installed anywhere.
    /// </summary>
    internal Action? OnSucceeded;

    private int _count;
    private CellUpdate[]? _overflow;
    private Buffer16 _inline;

    private CommitDescriptor()
    {
    }

    /// <summary>The updates, sorted into the global cell order.</summary>
    public ReadOnlySpan<CellUpdate> Updates => Slots;

    public CommitStatus Status => (CommitStatus)Volatile.Read(ref StatusField);

    /// <summary>Whether the descriptor keeps its updates inline, so that it can be reused.</summary>
    internal bool Reusable => _overflow is null;

    /// <summary>The storage of the updates; written only while the descriptor is filled (before anyone can see it).</summary>
    private Span<CellUpdate> Slots => _overflow is { } array
        ? array
        : MemoryMarshal.CreateSpan(ref Unsafe.As<Buffer16, CellUpdate>(ref _inline), _count);

    /// <summary>Creates a descriptor holding a copy of <paramref name="updates"/>, sorted into the global cell order.</summary>
    /// <exception cref="ArgumentException">There are no updates, or two name the same cell.</exception>
    public static CommitDescriptor Create(ReadOnlySpan<CellUpdate> updates, Action? onSucceeded = null)
    {
        var descriptor = new CommitDescriptor { OnSucceeded = onSucceeded };
        if (updates.Length > InlineCapacity)
        {
            descriptor._overflow = new CellUpdate[updates.Length];
        }

        descriptor.Fill(updates);
        return descriptor;
    }

    /// <summary>
    /// Like <see cref="Create"/>, but reuses a descriptor this thread released (<see cref="Release"/>) once
    /// no other thread can hold it (see <see cref="DescriptorPool"/>).
    /// </summary>
    /// <exception cref="ArgumentException">There are no updates, or two name the same cell.</exception>
    public static CommitDescriptor Rent(ReadOnlySpan<CellUpdate> updates, Action? onSucceeded = null)
    {
        if (updates.Length > InlineCapacity || DescriptorPool.Take() is not { } reused)
        {
            return Create(updates, onSucceeded);
        }

        reused.StatusField = (int)CommitStatus.Active; // Seen by others only once installed (a CAS publishes it).
        reused.OnSucceeded = onSucceeded;
        reused.Fill(updates);
        return reused;
    }

    /// <summary>
    /// Hands a descriptor from <see cref="Rent"/> back once its commit returned (decided and cleaned up);
    /// the caller must not use it again. It is reused only when no thread can still read it.
    /// </summary>
    public static void Release(CommitDescriptor descriptor) => DescriptorPool.Release(descriptor);

    /// <summary>
    /// Takes the descriptor out of every cell that still holds it (a helper's late install after the
    /// decision), putting back the logical value; only once no helper can install it any more.
    /// </summary>
    internal void Withdraw()
    {
        var status = Status;
        foreach (ref readonly var update in Updates)
        {
            if (ReferenceEquals(Volatile.Read(ref update.Cell.Content), this))
            {
                Interlocked.CompareExchange(ref update.Cell.Content, status == CommitStatus.Succeeded ? update.Desired : update.Expected, this);
            }
        }
    }

    /// <summary>Drops the references to cells and states, so that a pooled descriptor keeps nothing alive.</summary>
    internal void Clear()
    {
        Slots.Clear();
        _count = 0;
        OnSucceeded = null;
    }

    /// <summary>The logical value of a cell holding this decided descriptor.</summary>
    public object LogicalValue(Cell cell, CommitStatus decided)
    {
        foreach (ref readonly var update in Updates)
        {
            if (ReferenceEquals(update.Cell, cell))
            {
                return decided == CommitStatus.Succeeded ? update.Desired : update.Expected;
            }
        }

        throw new InvalidOperationException("A cell holds a descriptor that does not name it.");
    }

    private void Fill(ReadOnlySpan<CellUpdate> updates)
    {
        if (updates.IsEmpty)
        {
            throw new ArgumentException("A commit names at least one cell.", nameof(updates));
        }

        _count = updates.Length;
        var slots = Slots;
        updates.CopyTo(slots);
        SortByCellOrder(slots);
        for (var i = 1; i < slots.Length; i++)
        {
            if (ReferenceEquals(slots[i].Cell, slots[i - 1].Cell))
            {
                throw new ArgumentException("A commit names each cell once.", nameof(updates));
            }
        }
    }

    /// <summary>Insertion sort: commits name a handful of cells, where it beats a general sort.</summary>
    private static void SortByCellOrder(Span<CellUpdate> updates)
    {
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

    [InlineArray(InlineCapacity)]
    private struct Buffer16
    {
        private CellUpdate _first;
    }
}
