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

/// <summary>An update of one cell, of either kind: what sorting a commit's updates into the global cell order needs.</summary>
internal interface IUpdateOfCell
{
    /// <summary>The updated cell's place in the global order (<see cref="Cell.Order"/>).</summary>
    long CellOrder { get; }
}

/// <summary>One cell of a commit: the state the commit read there, and the state it writes (the same reference for a cell only read).</summary>
internal readonly struct CellUpdate(Cell cell, object expected, object desired) : IUpdateOfCell
{
    public Cell Cell { get; } = cell;

    /// <inheritdoc />
    public long CellOrder => Cell.Order;

    public object Expected { get; } = expected;

    public object Desired { get; } = desired;
}

/// <summary>
/// One word cell of a commit: the number the commit read there, and the number it writes, which is never
/// smaller (see <see cref="WordCell"/>; the same number for a cell only read).
/// </summary>
internal readonly struct WordUpdate(WordCell cell, long expected, long desired) : IUpdateOfCell
{
    public WordCell Cell { get; } = cell;

    /// <inheritdoc />
    public long CellOrder => Cell.Order;

    public long Expected { get; } = expected;

    public long Desired { get; } = desired;
}

/// <summary>
/// A multi-word commit in flight or decided; see <see cref="MultiWordCas"/>. One sealed class, so that
/// telling a descriptor from a state in a cell is one type comparison. Commits of up to sixteen cells holding
/// objects and twelve word cells (an order of up to four lines, with its wallet's two numbers, its stock and
/// sales counts, and its event) keep their updates inline; larger ones keep an array. Inline ones are reused (<see cref="Rent(ReadOnlySpan{CellUpdate}, Action?)"/>, <see cref="Release"/>), which is why every
/// descriptor has room for sixteen, and for <see cref="InlineWordCapacity"/> word updates.
/// </summary>
/// <remarks>
/// A word cell cannot hold a reference, so a descriptor that updates word cells is named there by an id
/// (<see cref="Marker"/>), given the first time it is filled with word updates and kept while it is reused;
/// <see cref="DescriptorIds"/> maps ids back to descriptors. A released descriptor may be left to the
/// collector like any other (see <see cref="DescriptorPool"/>); only its id then waits for the epochs, and is
/// given to another descriptor once no cell holds its marker and no thread that read the marker is still in
/// its critical section.
/// </remarks>
internal sealed class CommitDescriptor
{
    /// <summary>The most updates a descriptor keeps inline (and so the most a reused one holds).</summary>
    internal const int InlineCapacity = 16;

    /// <summary>The most word updates a descriptor keeps inline (and so the most a reused one holds).</summary>
    internal const int InlineWordCapacity = 12;

    internal int StatusField;

    /// <summary>
    /// Run by a helper that decides the commit a success, so that what a commit announces is announced even while
    /// its thread is paused; set before the descriptor is installed anywhere. Not run when the committing thread
    /// decides: <see cref="MultiWordCas.Commit"/> returns the success, and its caller announces it (once more, if a
    /// helper did).
    /// </summary>
    internal Action? OnSucceeded;

    // 1 once a thread other than the committing one set out to help the commit (see MarkHelped); 0 while it is filled.
    private int _helped;

    private int _count;
    private CellUpdate[]? _overflow;
    private Buffer16 _inline;
    private int _wordCount;
    private WordUpdate[]? _wordOverflow;
    private WordBuffer12 _words;
    private long _id;

    private CommitDescriptor()
    {
    }

    /// <summary>The updates of cells holding objects, sorted into the global cell order.</summary>
    public ReadOnlySpan<CellUpdate> Updates => Slots;

    /// <summary>The updates of word cells, sorted into the global cell order.</summary>
    public ReadOnlySpan<WordUpdate> WordUpdates => WordSlots;

    public CommitStatus Status => (CommitStatus)Volatile.Read(ref StatusField);

    /// <summary>
    /// Whether a thread other than the committing one set out to help the commit (<see cref="MarkHelped"/>): only such
    /// a helper can install the descriptor in a cell after the committing thread's clean-up passed it (a late
    /// install), so only a helped descriptor needs <see cref="Withdraw"/> before it is reused.
    /// </summary>
    internal bool WasHelped => Volatile.Read(ref _helped) != 0;

    /// <summary>Whether the descriptor keeps its updates inline, so that it can be reused.</summary>
    internal bool Reusable => _overflow is null && _wordOverflow is null;

    /// <summary>The descriptor's id (see the remarks), or 0 if it was never filled with word updates.</summary>
    internal long Id => _id;

    /// <summary>What a word cell holding this descriptor holds: its id with the sign bit set (numbers are never negative).</summary>
    internal long Marker => long.MinValue | _id;

    /// <summary>The storage of the updates; written only while the descriptor is filled (before anyone can see it).</summary>
    private Span<CellUpdate> Slots => _overflow is { } array
        ? array
        : MemoryMarshal.CreateSpan(ref Unsafe.As<Buffer16, CellUpdate>(ref _inline), _count);

    /// <summary>The storage of the word updates, as <see cref="Slots"/> is of the others.</summary>
    private Span<WordUpdate> WordSlots => _wordOverflow is { } array
        ? array
        : MemoryMarshal.CreateSpan(ref Unsafe.As<WordBuffer12, WordUpdate>(ref _words), _wordCount);

    /// <summary>Creates a descriptor holding a copy of <paramref name="updates"/>, sorted into the global cell order.</summary>
    /// <exception cref="ArgumentException">There are no updates, or two name the same cell.</exception>
    public static CommitDescriptor Create(ReadOnlySpan<CellUpdate> updates, Action? onSucceeded = null) =>
        Create(updates, [], onSucceeded);

    /// <summary>
    /// Creates a descriptor holding a copy of <paramref name="updates"/> and <paramref name="words"/>, each
    /// sorted into the global cell order.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// There are no updates, two name the same cell, or a word update expects a negative number or writes a
    /// smaller one than it expects.
    /// </exception>
    public static CommitDescriptor Create(ReadOnlySpan<CellUpdate> updates, ReadOnlySpan<WordUpdate> words, Action? onSucceeded = null)
    {
        var descriptor = new CommitDescriptor { OnSucceeded = onSucceeded };
        if (updates.Length > InlineCapacity)
        {
            descriptor._overflow = new CellUpdate[updates.Length];
        }

        if (words.Length > InlineWordCapacity)
        {
            descriptor._wordOverflow = new WordUpdate[words.Length];
        }

        descriptor.Fill(updates, words);
        return descriptor;
    }

    /// <summary>
    /// Like <see cref="Create(ReadOnlySpan{CellUpdate}, Action?)"/>, but reuses a descriptor this thread
    /// released (<see cref="Release"/>) once no other thread can hold it (see <see cref="DescriptorPool"/>).
    /// </summary>
    /// <exception cref="ArgumentException">There are no updates, or two name the same cell.</exception>
    public static CommitDescriptor Rent(ReadOnlySpan<CellUpdate> updates, Action? onSucceeded = null) =>
        Rent(updates, [], onSucceeded);

    /// <summary>
    /// Like <see cref="Create(ReadOnlySpan{CellUpdate}, ReadOnlySpan{WordUpdate}, Action?)"/>, but reuses a
    /// descriptor this thread released (<see cref="Release"/>) once no other thread can hold it (see
    /// <see cref="DescriptorPool"/>).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// There are no updates, two name the same cell, or a word update expects a negative number or writes a
    /// smaller one than it expects.
    /// </exception>
    public static CommitDescriptor Rent(ReadOnlySpan<CellUpdate> updates, ReadOnlySpan<WordUpdate> words, Action? onSucceeded = null)
    {
        if (updates.Length > InlineCapacity || words.Length > InlineWordCapacity || DescriptorPool.Take() is not { } reused)
        {
            return Create(updates, words, onSucceeded);
        }

        reused.StatusField = (int)CommitStatus.Active; // Seen by others only once installed (a CAS publishes it).
        reused._helped = 0; // Every helper of its earlier commit left its critical section before it was rented.
        reused.OnSucceeded = onSucceeded;
        reused.Fill(updates, words);
        return reused;
    }

    /// <summary>
    /// The descriptor a word cell's <paramref name="marker"/> names (read inside a critical section), or
    /// <see langword="null"/> if it was released and collected (see <see cref="DescriptorIds"/>): then the
    /// marker is no longer in the cell.
    /// </summary>
    public static CommitDescriptor? OfMarker(long marker) => DescriptorIds.Get(marker & long.MaxValue);

    /// <summary>
    /// Hands a descriptor from <see cref="Rent(ReadOnlySpan{CellUpdate}, ReadOnlySpan{WordUpdate}, Action?)"/> back once its commit returned (decided and cleaned up);
    /// the caller must not use it again. It is reused only when no thread can still read it.
    /// </summary>
    public static void Release(CommitDescriptor descriptor) => DescriptorPool.Release(descriptor);

    /// <summary>
    /// Records that a thread other than the committing one is about to help the commit: called by the helper
    /// inside its critical section, before any install it makes (each install's CAS is a full fence, so the mark
    /// is visible before the install is). The reclaimer reads it once every thread that could have read the
    /// descriptor left its section, so a descriptor that a late install left in a cell is always seen helped.
    /// </summary>
    internal void MarkHelped()
    {
        if (Volatile.Read(ref _helped) == 0)
        {
            Volatile.Write(ref _helped, 1); // a read first: many helpers of one commit need not all write the line
        }
    }

    /// <summary>
    /// Takes the descriptor out of every cell that still holds it (a helper's late install after the
    /// decision), putting back the logical value; only once no helper can install it any more. Needed only for
    /// a descriptor that was helped (<see cref="WasHelped"/>): the committing thread's own installs, late ones
    /// included, are all behind it once its clean-up returned.
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

        var marker = Marker;
        foreach (ref readonly var word in WordUpdates)
        {
            if (Volatile.Read(ref word.Cell.Word) == marker)
            {
                Interlocked.CompareExchange(ref word.Cell.Word, status == CommitStatus.Succeeded ? word.Desired : word.Expected, marker);
            }
        }
    }

    /// <summary>Drops the references to cells and states, so that a pooled descriptor keeps nothing alive (it keeps its id).</summary>
    internal void Clear()
    {
        Slots.Clear();
        _count = 0;
        WordSlots.Clear();
        _wordCount = 0;
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

    /// <summary>
    /// The cell of the <paramref name="index"/>-th install: of the updates of both kinds, merged into the global
    /// order of cells, as a commit installs them (what the after-install seam's index counts).
    /// </summary>
    public Cell InstalledAt(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var updates = Updates;
        var words = WordUpdates;
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, updates.Length + words.Length);
        for (int i = 0, w = 0; ; )
        {
            var word = w < words.Length && (i == updates.Length || words[w].Cell.Order < updates[i].Cell.Order);
            if (i + w == index)
            {
                return word ? words[w].Cell : updates[i].Cell;
            }

            _ = word ? w++ : i++;
        }
    }

    /// <summary>The logical value of a word cell holding this decided descriptor's marker.</summary>
    public long LogicalWord(WordCell cell, CommitStatus decided)
    {
        foreach (ref readonly var word in WordUpdates)
        {
            if (ReferenceEquals(word.Cell, cell))
            {
                return decided == CommitStatus.Succeeded ? word.Desired : word.Expected;
            }
        }

        throw new InvalidOperationException("A word cell holds the marker of a descriptor that does not name it.");
    }

    private void Fill(ReadOnlySpan<CellUpdate> updates, ReadOnlySpan<WordUpdate> words)
    {
        if (updates.IsEmpty && words.IsEmpty)
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

        if (words.IsEmpty)
        {
            return;
        }

        _wordCount = words.Length;
        var wordSlots = WordSlots;
        words.CopyTo(wordSlots);
        SortByCellOrder(wordSlots);
        for (var i = 0; i < wordSlots.Length; i++)
        {
            if (wordSlots[i].Expected < 0 || wordSlots[i].Desired < wordSlots[i].Expected)
            {
                Clear();
                throw new ArgumentException("A word update expects a number of 0 or more and writes one at least as large.", nameof(words));
            }

            if (i > 0 && ReferenceEquals(wordSlots[i].Cell, wordSlots[i - 1].Cell))
            {
                Clear();
                throw new ArgumentException("A commit names each cell once.", nameof(words));
            }
        }

        // Registered, and held strongly until it is released, before the descriptor can be installed anywhere
        // (an install is a CAS, which publishes it).
        if (_id == 0)
        {
            _id = DescriptorIds.Assign(this);
        }
        else
        {
            DescriptorIds.Hold(_id, this);
        }
    }

    /// <summary>
    /// Insertion sort by the cells' order: commits name a handful of cells, where it beats a general sort. Generic
    /// over the two kinds of update (structs, so each gets its own code, with no interface call left in it).
    /// </summary>
    private static void SortByCellOrder<TUpdate>(Span<TUpdate> updates)
        where TUpdate : struct, IUpdateOfCell
    {
        for (var i = 1; i < updates.Length; i++)
        {
            var update = updates[i];
            var order = update.CellOrder;
            var j = i - 1;
            while (j >= 0 && updates[j].CellOrder > order)
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

    [InlineArray(InlineWordCapacity)]
    private struct WordBuffer12
    {
        private WordUpdate _first;
    }
}

/// <summary>
/// The ids of the descriptors that update word cells (see <see cref="CommitDescriptor"/>): a lock-free
/// table from id to descriptor, in segments that are never copied. The table holds a descriptor strongly
/// from the time it is filled until its owner releases it (<see cref="Release"/>), and only weakly after,
/// so that the collector can take a released descriptor the pool does not keep: a word cell holds a
/// descriptor's marker only while some thread holds the descriptor (see <see cref="MultiWordCas"/>), so a
/// marker whose descriptor is gone is gone from its cell too, and a reader that finds no descriptor for an
/// id reads the cell again. An id comes back only through <see cref="Recycle"/>, which the pool calls when
/// it gives up a descriptor, with the epoch from which on no cell holds its marker; the thread that recycled
/// it gives it out again once the epoch has moved two past that, when no thread that read the marker can
/// still be in the section it read it in (see <see cref="Epochs"/>).
/// </summary>
/// <remarks>
/// The ids a thread holds when it ends (those it recycled and not given out yet, and those of the descriptors
/// in its pool) are handed back by finalizers once the thread's state is collected (see <see cref="Strand"/>),
/// and the next thread that needs an id takes them, so that threads that come and go (a host's pool threads)
/// do not make the table grow for ever.
/// </remarks>
internal static class DescriptorIds
{
    private static readonly Entry?[]?[] s_segments = new Entry?[]?[Segmented.SegmentCount];
    private static long s_last;

    // Ids handed back from threads that ended: a lock-free stack (pushed and popped by CAS of its head;
    // every node is new, so a popped node never comes back).
    private static Stranded? s_stranded;

    [ThreadStatic]
    private static RecycledIds? t_recycled;

    /// <summary>How many ids were ever made (for tests: recycled ones are given out again, not made).</summary>
    internal static long Made => Volatile.Read(ref s_last);

    /// <summary>Gives <paramref name="descriptor"/> an id, one this thread recycled, one a thread that ended held, or a new one; and holds it strongly.</summary>
    public static long Assign(CommitDescriptor descriptor)
    {
        // This thread's own ids first (as they become free), then those it took from threads that ended, then new ones.
        var epoch = Epochs.Current;
        var recycled = t_recycled;
        var id = recycled is { Queue.Count: > 0 } && recycled.Queue.Peek().Epoch <= epoch - 2 ? recycled.Queue.Dequeue().Id
            : recycled is { Adopted.Count: > 0 } ? recycled.Adopted.Pop()
            : TryAdoptStranded(epoch, out var adopted) ? adopted
            : Interlocked.Increment(ref s_last);
        ref var slot = ref Segmented.Slot(s_segments, (ulong)id);
        if (Volatile.Read(ref slot) is { } entry)
        {
            // A recycled id: its entry is retargeted (allocated once per id), so that the descriptor that had
            // it before, if the collector has not taken it yet, can no longer be found through it.
            entry.Weak.SetTarget(descriptor);
            Volatile.Write(ref entry.Strong, descriptor);
        }
        else
        {
            Volatile.Write(ref slot, new Entry(descriptor));
        }

        return id;
    }

    /// <summary>Holds the descriptor that has <paramref name="id"/> strongly again (it is reused, keeping its id).</summary>
    public static void Hold(long id, CommitDescriptor descriptor) =>
        Volatile.Write(ref Segmented.Peek(s_segments, (ulong)id)!.Strong, descriptor);

    /// <summary>Holds the descriptor that has <paramref name="id"/> only weakly: its owner released it.</summary>
    public static void Release(long id) =>
        Volatile.Write(ref Segmented.Peek(s_segments, (ulong)id)!.Strong, null);

    /// <summary>
    /// The descriptor that has <paramref name="id"/>, or <see langword="null"/> if the collector took it
    /// (then no cell holds its marker any more: read the cell again).
    /// </summary>
    /// <exception cref="InvalidOperationException">No descriptor was ever given <paramref name="id"/>.</exception>
    public static CommitDescriptor? Get(long id)
    {
        var entry = Segmented.Peek(s_segments, (ulong)id) ?? throw new InvalidOperationException($"A word cell names descriptor id {id}, which no descriptor has.");
        return Volatile.Read(ref entry.Strong) ?? (entry.Weak.TryGetTarget(out var descriptor) ? descriptor : null);
    }

    /// <summary>
    /// Takes <paramref name="id"/> from its released descriptor, which is never reused, for this thread to
    /// give out again once the epoch has moved two past <paramref name="epoch"/>, the last epoch in which a
    /// cell can still hold its marker (so a thread that read it there entered its section by then). Until
    /// then the descriptor, if the collector has not taken it, is still found through its id, as a thread
    /// that read its marker may ask.
    /// </summary>
    public static void Recycle(long id, long epoch) => (t_recycled ??= new()).Queue.Enqueue((id, epoch));

    /// <summary>
    /// Hands back the <paramref name="ids"/> a thread that ended held, given out again once the epoch has moved
    /// two past <paramref name="epoch"/>: called by the finalizers of a thread's pool and queue of ids, with the
    /// epoch after the current one, which is at or after every one those ids wait for. Groups are taken newest
    /// first, and a group not ready yet keeps the older ones below it waiting until it is (two epochs at most).
    /// </summary>
    internal static void Strand(long[] ids, long epoch)
    {
        if (ids.Length == 0)
        {
            return;
        }

        var node = new Stranded(ids, epoch);
        do
        {
            node.Next = Volatile.Read(ref s_stranded);
        }
        while (Interlocked.CompareExchange(ref s_stranded, node, node.Next) != node.Next);
    }

    /// <summary>Takes the ids of the newest group handed back, if they may be given out at <paramref name="epoch"/>: one now, the rest for this thread's next ones.</summary>
    private static bool TryAdoptStranded(long epoch, out long id)
    {
        while (Volatile.Read(ref s_stranded) is { } top && top.Epoch <= epoch - 2)
        {
            if (Interlocked.CompareExchange(ref s_stranded, top.Next, top) == top)
            {
                var adopted = (t_recycled ??= new()).Adopted;
                for (var i = top.Ids.Length - 1; i > 0; i--)
                {
                    adopted.Push(top.Ids[i]);
                }

                id = top.Ids[0];
                return true;
            }
        }

        id = 0;
        return false;
    }

    /// <summary>
    /// A thread's ids not given out yet: those it recycled, each with the epoch it waits for, and those it took
    /// from threads that ended (free already). Handed back (<see cref="Strand"/>) once the thread ended and this
    /// was collected.
    /// </summary>
    private sealed class RecycledIds
    {
        public Queue<(long Id, long Epoch)> Queue { get; } = new();

        public Stack<long> Adopted { get; } = new();

        ~RecycledIds()
        {
            // Each waits for an epoch at or before now; all wait for one past now, as the pool's do (see DescriptorPool).
            Strand([.. Queue.Select(recycled => recycled.Id), .. Adopted], Epochs.Current + 1);
        }
    }

    /// <summary>A group of ids handed back together, the epoch they wait for, and the group pushed before.</summary>
    private sealed class Stranded(long[] ids, long epoch)
    {
        public long[] Ids { get; } = ids;

        public long Epoch { get; } = epoch;

        public Stranded? Next;
    }

    /// <summary>Where an id leads: strongly to its descriptor until the owner releases it, weakly always.</summary>
    private sealed class Entry(CommitDescriptor descriptor)
    {
        public readonly WeakReference<CommitDescriptor> Weak = new(descriptor);

        public CommitDescriptor? Strong = descriptor;
    }
}
