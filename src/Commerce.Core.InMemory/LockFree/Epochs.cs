// Epoch-based reclamation, so that commit descriptors can be reused instead of allocated per commit.
//
// A thread that may hold a reference to a descriptor read from a cell (a reader of the cell, a helper, a
// committer that met another commit's descriptor) does so only inside a critical section, which announces the
// global epoch it saw on entry. (A committing thread needs none for its own descriptor, which it releases only
// after its commit returned.) The epoch moves on
// from e to e + 1 only once no thread is inside a section entered in an epoch before e. So a descriptor
// that left every cell while the epoch was r is held by no one once the epoch reaches r + 2: every thread
// that could have read it has left the section it read it in.
//
// Entering announces the epoch with a full fence (an exchange), so that the announcement is visible before
// any read of a cell that follows it; the thread that moves the epoch on fences too before it reads the
// announcements. A thread whose announcement it does not see had not made it, so that thread's reads of
// cells come after, when the descriptor was out of every cell already.
//
// A helper can install a descriptor in a cell just after its commit was decided (it saw it undecided a
// moment before). Such a late install is harmless while the descriptor stands for its commit (the cell's
// logical value is still right), but the descriptor must be out of every cell before it is reused. Hence
// two waits: once the epoch has moved twice past the descriptor's release, no thread that saw it
// undecided is left, so no late install can come; the owner then takes it out of any cell still holding
// it, and waits two epochs more for the threads that read it from such a cell. Only a helper makes a late
// install (the committing thread's own installs are all behind its clean-up), and a helper marks the
// descriptor before its first install (CommitDescriptor.MarkHelped); a descriptor no one helped, nearly
// every one, is not looked for in its cells at all. The first helper to read a descriptor read it while its
// commit had it installed, so before its release: that helper has left its section, and its mark is seen,
// by the time the epoch has moved twice past the release. (In a word cell, a late
// install is taken out by its installer at once, see MultiWordCas; that is what lets the pool leave a
// descriptor with an id to the collector beyond its bounds, keeping only the id until the epochs let it go,
// see DescriptorIds.)
//
// Reclamation is never needed for progress: a thread paused in a section only stops reuse, and commits
// then allocate new descriptors, as they did before. The store stays lock-free.
using System.Runtime.CompilerServices;

namespace Commerce.InMemory.LockFree;

/// <summary>The global epoch and each thread's announcement of it; see the top of this file.</summary>
internal static class Epochs
{
    private static long s_epoch = 1;
    private static Participant[] s_participants = [];

    [ThreadStatic]
    private static Participant? t_self;

    /// <summary>The global epoch.</summary>
    public static long Current => Volatile.Read(ref s_epoch);

    /// <summary>How many threads have a participant (for tests: ended threads leave theirs to new ones).</summary>
    internal static int ParticipantCount => Volatile.Read(ref s_participants).Length;

    /// <summary>Enters a critical section (sections nest); pass the result to <see cref="Exit"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Participant Enter()
    {
        var self = t_self ?? Register();
        if (self.Depth++ == 0)
        {
            // A full fence between the announcement and the reads of cells that follow it.
            Interlocked.Exchange(ref self.Announced, Volatile.Read(ref s_epoch));
        }

        return self;
    }

    /// <summary>Leaves a critical section entered with <see cref="Enter"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exit(Participant self)
    {
        if (--self.Depth == 0)
        {
            Volatile.Write(ref self.Announced, 0);
        }
    }

    /// <summary>Moves the epoch on if no thread is in a section entered before the current epoch; returns the epoch now.</summary>
    public static long TryAdvance()
    {
        var epoch = Volatile.Read(ref s_epoch);
        Interlocked.MemoryBarrier();
        foreach (var participant in Volatile.Read(ref s_participants))
        {
            var announced = Volatile.Read(ref participant.Announced);
            if (announced != 0 && announced != epoch)
            {
                return epoch;
            }
        }

        Interlocked.CompareExchange(ref s_epoch, epoch + 1, epoch);
        return Volatile.Read(ref s_epoch);
    }

    /// <summary>The thread's participant: one a thread that ended left behind (so that threads coming and going do not grow the list), or a new one.</summary>
    private static Participant Register()
    {
        var owner = new WeakReference<Thread>(Thread.CurrentThread);
        while (true)
        {
            var current = Volatile.Read(ref s_participants);
            foreach (var participant in current)
            {
                var previous = Volatile.Read(ref participant.Owner);
                if ((!previous.TryGetTarget(out var thread) || !thread.IsAlive)
                    && ReferenceEquals(Interlocked.CompareExchange(ref participant.Owner, owner, previous), previous))
                {
                    return t_self = participant; // An ended thread left its sections: it announces nothing.
                }
            }

            var self = new Participant(owner);
            if (ReferenceEquals(Interlocked.CompareExchange(ref s_participants, [.. current, self], current), current))
            {
                return t_self = self;
            }
        }
    }
}

/// <summary>A thread's announcement: the epoch its outermost open section was entered in, or 0 outside any.</summary>
internal sealed class Participant(WeakReference<Thread> owner)
{
    internal long Announced;

    /// <summary>How deeply the thread's sections nest (only the thread itself reads or writes it).</summary>
    internal int Depth;

    /// <summary>The thread it belongs to; taken over, with a CAS, once that thread has ended.</summary>
    internal WeakReference<Thread> Owner = owner;
}

/// <summary>
/// Each thread's released descriptors, on their way back to reuse (see the top of this file): released
/// ones wait two epochs, are withdrawn from any cell a late install left them in (if a helper helped them), wait two epochs more,
/// and are then free to rent. Only the owning thread touches its pool. Beyond its bounds a pool leaves
/// descriptors to the collector, those with an id (ones that updated word cells, see
/// <see cref="CommitDescriptor"/>) too: only the id is kept, and waits for the epochs (see
/// <see cref="DescriptorIds"/>) before it is given out again.
/// </summary>
internal static class DescriptorPool
{
    /// <summary>How many releases a thread makes between two attempts to move the epoch on.</summary>
    private const int ReleasesPerReclaim = 8;

    /// <summary>The most descriptors a thread keeps waiting in each stage (more go to the collector).</summary>
    private const int MaxWaiting = 256;

    /// <summary>The most free descriptors a thread keeps (more go to the collector).</summary>
    private const int MaxFree = 32;

    [ThreadStatic]
    private static Pool? t_pool;

    /// <summary>A free descriptor, or <see langword="null"/>.</summary>
    public static CommitDescriptor? Take()
    {
        if (t_pool is { } pool && pool.Free.TryPop(out var free))
        {
            pool.Reused++;
            return free;
        }

        return null;
    }

    /// <summary>How many descriptors this thread has rented from its pool so far (for tests).</summary>
    internal static long ReusedOnThisThread => t_pool?.Reused ?? 0;

    /// <summary>How many released descriptors this thread's pool has taken out of their cells so far (for tests).</summary>
    internal static long WithdrawalsOnThisThread => t_pool?.Withdrawals ?? 0;

    /// <summary>Queues a descriptor whose commit returned, and now and then moves released ones on towards reuse.</summary>
    public static void Release(CommitDescriptor descriptor)
    {
        if (descriptor.Status == CommitStatus.Active)
        {
            return; // A caller's mistake: never reused.
        }

        if (descriptor.Id != 0)
        {
            // Out of every cell but those a helper that holds it installs it in: the table of ids need not
            // keep it alive any more (see DescriptorIds).
            DescriptorIds.Release(descriptor.Id);
        }

        if (!descriptor.Reusable && descriptor.Id == 0)
        {
            return; // Never reused: one that keeps an array (unless its id must come back).
        }

        var pool = t_pool ??= new Pool();
        pool.Released.Enqueue((descriptor, Epochs.Current));
        if (++pool.SinceReclaim >= ReleasesPerReclaim)
        {
            pool.SinceReclaim = 0;
            Reclaim(pool);
        }
    }

    /// <summary>Moves the epoch on if it can, then every descriptor that has waited long enough one step on.</summary>
    private static void Reclaim(Pool pool)
    {
        var epoch = Epochs.TryAdvance();
        while (pool.Withdrawn.TryPeek(out var waiting) && waiting.Epoch <= epoch - 2)
        {
            pool.Withdrawn.Dequeue();
            if (waiting.Descriptor.Reusable && pool.Free.Count < MaxFree)
            {
                waiting.Descriptor.Clear();
                pool.Free.Push(waiting.Descriptor);
            }
            else if (waiting.Descriptor.Id != 0)
            {
                // Withdrawn two epochs ago: its id is free already.
                DescriptorIds.Recycle(waiting.Descriptor.Id, waiting.Epoch);
            }
        }

        while (pool.Released.TryPeek(out var waiting) && waiting.Epoch <= epoch - 2)
        {
            pool.Released.Dequeue();
            if (waiting.Descriptor.WasHelped)
            {
                // Only a helper's late install can have left it in a cell (see CommitDescriptor.WasHelped): an
                // unhelped one, most of them, is not looked for in its cells, whose lines are long cold by now.
                waiting.Descriptor.Withdraw();
                pool.Withdrawals++;
            }

            // The epoch read after the withdrawal: a thread that read the descriptor from a cell before it
            // announced this epoch or an earlier one.
            pool.Withdrawn.Enqueue((waiting.Descriptor, Epochs.Current));
        }

        // A thread that stays in a section stops the epoch: leave what waits beyond a bound to the collector,
        // oldest first, keeping only the ids.
        while (pool.Released.Count > MaxWaiting)
        {
            var (descriptor, released) = pool.Released.Dequeue();
            if (descriptor.Id != 0)
            {
                // Not withdrawn, but out of every word cell while the epoch is released + 1 at the latest:
                // only a thread that saw the commit undecided, so in a section entered by the release, can
                // install its marker, and it takes out what it installed before it leaves its section.
                DescriptorIds.Recycle(descriptor.Id, released + 1);
            }
        }

        while (pool.Withdrawn.Count > MaxWaiting)
        {
            var (descriptor, withdrawn) = pool.Withdrawn.Dequeue();
            if (descriptor.Id != 0)
            {
                DescriptorIds.Recycle(descriptor.Id, withdrawn);
            }
        }
    }

    /// <summary>A thread's descriptors on their way to reuse; the ids among them are handed back once the thread ended and this was collected.</summary>
    private sealed class Pool
    {
        public Queue<(CommitDescriptor Descriptor, long Epoch)> Released { get; } = new();

        public Queue<(CommitDescriptor Descriptor, long Epoch)> Withdrawn { get; } = new();

        public Stack<CommitDescriptor> Free { get; } = new();

        public int SinceReclaim { get; set; }

        public long Reused { get; set; }

        public long Withdrawals { get; set; }

        ~Pool()
        {
            // The thread ended: no descriptor here is reused, and the ids are handed back. A released one may have
            // a marker in a cell until the epoch after its release (see Reclaim), so they all wait for one past now.
            DescriptorIds.Strand(
                [.. Released.Select(r => r.Descriptor).Concat(Withdrawn.Select(w => w.Descriptor)).Concat(Free).Where(d => d.Id != 0).Select(d => d.Id)],
                Epochs.Current + 1);
        }
    }
}
