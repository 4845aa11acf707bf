// Sales count states, reused instead of allocated per commit.
//
// A sales cell changes with nearly every order (one per order line), and each change installed a new
// state object: two objects per order of two lines, which die young but still cost the collector. A
// state that a commit replaced is instead given back to the thread's pool and, once no thread can still
// hold it, handed out again as the new state of some sales cell.
//
// The multi-word CAS compares states by reference, so reuse must never let a state come back to a cell
// while anyone still holds the reference as what that cell held: a committer that read it as the cell's
// state, a reader in a double collect, or a helper about to install a commit that expects it there. The
// rules that make this safe:
//
// - Every read of a sales state, and every use of what was read, happens inside an epoch section (see
//   Epochs): a commit's whole run from its first read of a sales cell to its decision; a ranking read.
// - A state is given back only by the committer that replaced it (its commit succeeded, so the state left
//   its cell when the commit returned), or made and never installed (the desired state of a commit that
//   failed: a failed commit installs its expected states back, never its desired ones).
// - It is handed out again only once the epoch has moved on four times since. A committer or reader that
//   held it is in a section begun no later than the epoch of the give-back (it read the state while it
//   was the cell's), so the epoch cannot move on twice before it leaves. A commit that expected the state
//   is undecided only while its committer is in its section, so it is decided before the epoch moves on
//   twice; a helper that saw it undecided, and may install it late, was in a section begun before that,
//   and is gone before the epoch moves on twice more. A late install after that finds the cell holding
//   another state, since this one is not handed out yet, and fails; any later helper finds the commit
//   decided and installs nothing.
// - A commit that dies on the way (an exception inside it, such as a fault a test injects) leaves its
//   section with its descriptor perhaps undecided, for helpers to complete at any later time: before it
//   leaves, it marks every sales state its descriptor names as never to be reused.
//
// A thread paused in a section stops the epoch, and reuse with it: commits then allocate new states, as
// before. Nothing waits; the store stays lock-free.
using Commerce.InMemory.LockFree;

namespace Commerce.InMemory;

/// <summary>A sales count: the state of a sales cell. Its quantity is set before it is installed, never after.</summary>
internal sealed class SalesCount
{
    /// <summary>How many epochs a given-back state waits before it is handed out again (see the top of this file).</summary>
    internal const int EpochsBeforeReuse = 4;

    /// <summary>How many give-backs a thread makes between two attempts to move the epoch on.</summary>
    private const int ReturnsPerReclaim = 16;

    /// <summary>The most states a thread keeps waiting (more go to the collector).</summary>
    private const int MaxWaiting = 1024;

    /// <summary>The most free states a thread keeps (more go to the collector).</summary>
    private const int MaxFree = 256;

    [ThreadStatic]
    private static Pool? t_pool;

    // Set on the states a commit that died on the way (an exception inside it) expected or made: its
    // descriptor may be completed by helpers long after its thread left its section, so those are never reused.
    private volatile bool _neverReused;

    private SalesCount(long quantity) => Quantity = quantity;

    /// <summary>The units sold.</summary>
    public long Quantity { get; private set; }

    /// <summary>How many states this thread has handed out again so far (for tests).</summary>
    internal static long ReusedOnThisThread => t_pool?.Reused ?? 0;

    /// <summary>A state holding <paramref name="quantity"/>: a free one of this thread's, or a new one.</summary>
    public static SalesCount Of(long quantity)
    {
        if (t_pool is { } pool)
        {
            while (pool.Free.TryPop(out var free))
            {
                if (!free._neverReused)
                {
                    pool.Reused++;
                    free.Quantity = quantity;
                    return free;
                }
            }
        }

        return new SalesCount(quantity);
    }

    /// <summary>
    /// Marks a state (if it is one) as never to be handed out again: called, while still in its section, by
    /// a commit that dies on the way, for every state its descriptor names (see the top of this file).
    /// </summary>
    public static void NeverReuse(object? state)
    {
        if (state is SalesCount count)
        {
            count._neverReused = true;
        }
    }

    /// <summary>
    /// Gives back a state that left its cell (its replacing commit succeeded and returned) or was never
    /// installed; ignores anything else. The caller holds no reference to it afterwards.
    /// </summary>
    public static void GiveBack(object? state)
    {
        if (state is not SalesCount count || count._neverReused)
        {
            return;
        }

        var pool = t_pool ??= new Pool();
        if (pool.Waiting.Count < MaxWaiting)
        {
            pool.Waiting.Enqueue((count, Epochs.Current));
        }

        if (++pool.SinceReclaim >= ReturnsPerReclaim)
        {
            pool.SinceReclaim = 0;
            var epoch = Epochs.TryAdvance();
            while (pool.Waiting.TryPeek(out var waiting) && waiting.Epoch <= epoch - EpochsBeforeReuse)
            {
                pool.Waiting.Dequeue();
                if (pool.Free.Count < MaxFree)
                {
                    pool.Free.Push(waiting.State);
                }
            }
        }
    }

    private sealed class Pool
    {
        public Queue<(SalesCount State, long Epoch)> Waiting { get; } = new();

        public Stack<SalesCount> Free { get; } = new();

        public int SinceReclaim { get; set; }

        public long Reused { get; set; }
    }
}
