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
/// A multi-word commit in flight or decided; see <see cref="MultiWordCas"/>. Commits of up to sixteen
/// cells (an order of up to four lines, with its ledger entry) keep their updates inline, so a commit
/// allocates one object; larger ones keep an array.
/// </summary>
internal abstract class CommitDescriptor
{
    internal int StatusField;

    /// <summary>The updates, sorted into the global cell order.</summary>
    public abstract ReadOnlySpan<CellUpdate> Updates { get; }

    public CommitStatus Status => (CommitStatus)Volatile.Read(ref StatusField);

    /// <summary>Creates a descriptor holding a copy of <paramref name="updates"/>, sorted into the global cell order.</summary>
    /// <exception cref="ArgumentException">There are no updates, or two name the same cell.</exception>
    public static CommitDescriptor Create(ReadOnlySpan<CellUpdate> updates)
    {
        if (updates.IsEmpty)
        {
            throw new ArgumentException("A commit names at least one cell.", nameof(updates));
        }

        CommitDescriptor descriptor = updates.Length switch
        {
            1 => new Inline<CellUpdate>(1),
            2 => new Inline<Buffer2>(2),
            <= 4 => new Inline<Buffer4>(updates.Length),
            <= 6 => new Inline<Buffer6>(updates.Length),
            <= 8 => new Inline<Buffer8>(updates.Length),
            <= 12 => new Inline<Buffer12>(updates.Length),
            <= 16 => new Inline<Buffer16>(updates.Length),
            _ => new Array(updates.Length),
        };
        var slots = descriptor.Slots;
        updates.CopyTo(slots);
        SortByCellOrder(slots);
        for (var i = 1; i < slots.Length; i++)
        {
            if (ReferenceEquals(slots[i].Cell, slots[i - 1].Cell))
            {
                throw new ArgumentException("A commit names each cell once.", nameof(updates));
            }
        }

        return descriptor;
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

    /// <summary>The writable storage of the updates, used only while the descriptor is created (before anyone can see it).</summary>
    private protected abstract Span<CellUpdate> Slots { get; }

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

    /// <summary>Updates stored in the descriptor itself: <typeparamref name="TBuffer"/> is one update or an inline array of them, holding at least <c>count</c>.</summary>
    private sealed class Inline<TBuffer>(int count) : CommitDescriptor
        where TBuffer : struct
    {
        private TBuffer _updates;

        public override ReadOnlySpan<CellUpdate> Updates => Storage;

        private protected override Span<CellUpdate> Slots => Storage;

        private Span<CellUpdate> Storage => MemoryMarshal.CreateSpan(ref Unsafe.As<TBuffer, CellUpdate>(ref _updates), count);
    }

    private sealed class Array(int count) : CommitDescriptor
    {
        private readonly CellUpdate[] _updates = new CellUpdate[count];

        public override ReadOnlySpan<CellUpdate> Updates => _updates;

        private protected override Span<CellUpdate> Slots => _updates;
    }

    [InlineArray(2)]
    private struct Buffer2
    {
        private CellUpdate _first;
    }

    [InlineArray(4)]
    private struct Buffer4
    {
        private CellUpdate _first;
    }

    [InlineArray(6)]
    private struct Buffer6
    {
        private CellUpdate _first;
    }

    [InlineArray(8)]
    private struct Buffer8
    {
        private CellUpdate _first;
    }

    [InlineArray(12)]
    private struct Buffer12
    {
        private CellUpdate _first;
    }

    [InlineArray(16)]
    private struct Buffer16
    {
        private CellUpdate _first;
    }
}
