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
            1 => new Inline<CellUpdate>(),
            2 => new Inline<Buffer2>(),
            <= 4 => new Inline<Buffer4>(),
            <= 6 => new Inline<Buffer6>(),
            <= 8 => new Inline<Buffer8>(),
            <= 12 => new Inline<Buffer12>(),
            <= 16 => new Inline<Buffer16>(),
            _ => new Array(updates.Length),
        };
        descriptor.Fill(updates);
        return descriptor;
    }

    /// <summary>
    /// Like <see cref="Create"/>, but reuses a descriptor this thread released (<see cref="Release"/>) once
    /// no other thread can hold it (see <see cref="DescriptorPool"/>).
    /// </summary>
    /// <exception cref="ArgumentException">There are no updates, or two name the same cell.</exception>
    public static CommitDescriptor Rent(ReadOnlySpan<CellUpdate> updates)
    {
        if (DescriptorPool.Take(updates.Length) is not { } reused)
        {
            return Create(updates);
        }

        reused.StatusField = (int)CommitStatus.Active; // Seen by others only once installed (a CAS publishes it).
        reused.Fill(updates);
        return reused;
    }

    /// <summary>
    /// Hands a descriptor from <see cref="Rent"/> back once its commit returned (decided and cleaned up);
    /// the caller must not use it again. It is reused only when no thread can still read it.
    /// </summary>
    public static void Release(CommitDescriptor descriptor) => DescriptorPool.Release(descriptor);

    /// <summary>The size class of a descriptor of <paramref name="count"/> updates (its inline buffer), or -1 for one that keeps an array.</summary>
    internal static int SizeClassOf(int count) => count switch
    {
        1 => 0,
        2 => 1,
        <= 4 => 2,
        <= 6 => 3,
        <= 8 => 4,
        <= 12 => 5,
        <= 16 => 6,
        _ => -1,
    };

    /// <summary>The number of size classes (see <see cref="SizeClassOf"/>).</summary>
    internal const int SizeClasses = 7;

    /// <summary>The size class of this descriptor.</summary>
    internal abstract int SizeClass { get; }

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
    internal void Clear() => Slots.Clear();

    private void Fill(ReadOnlySpan<CellUpdate> updates)
    {
        if (updates.IsEmpty)
        {
            throw new ArgumentException("A commit names at least one cell.", nameof(updates));
        }

        SetCount(updates.Length);
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

    /// <summary>Sets how many updates the descriptor holds (only before anyone can see it).</summary>
    private protected abstract void SetCount(int count);

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
    private sealed class Inline<TBuffer> : CommitDescriptor
        where TBuffer : struct
    {
        private TBuffer _updates;
        private int _count;

        public override ReadOnlySpan<CellUpdate> Updates => Storage;

        internal override int SizeClass => SizeClassOf(Unsafe.SizeOf<TBuffer>() / Unsafe.SizeOf<CellUpdate>());

        private protected override Span<CellUpdate> Slots => Storage;

        private Span<CellUpdate> Storage => MemoryMarshal.CreateSpan(ref Unsafe.As<TBuffer, CellUpdate>(ref _updates), _count);

        private protected override void SetCount(int count) => _count = count;
    }

    private sealed class Array(int count) : CommitDescriptor
    {
        private readonly CellUpdate[] _updates = new CellUpdate[count];

        public override ReadOnlySpan<CellUpdate> Updates => _updates;

        internal override int SizeClass => -1;

        private protected override Span<CellUpdate> Slots => _updates;

        private protected override void SetCount(int count)
        {
            if (count != _updates.Length)
            {
                throw new InvalidOperationException("A descriptor that keeps an array is never reused.");
            }
        }
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
