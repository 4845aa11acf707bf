// A lock-free multi-word compare-and-swap (MCAS) over cells that hold references to immutable states.
//
// The protocol is the k+1-CAS scheme of Guerraoui, Kogan, Marathe and Zablotchi, "Efficient
// Multi-word Compare and Swap" (DISC 2020), after Harris, Fraser and Pratt (2002):
//
//  1. A commit builds a descriptor: a status (Active, then Succeeded or Failed exactly once) and one
//     update per cell (cell, expected state, desired state), sorted by the cells' global order.
//  2. It installs the descriptor in each cell in that order, each with one CAS that succeeds only if
//     the cell's logical value is the expected state (k CASes).
//  3. It decides with one more CAS on the status: Succeeded if every install worked, Failed as soon as
//     one cell held something else.
//
//  4. The committing thread then cleans up: in each cell that still holds its descriptor, it
//     replaces the descriptor with the cell's logical value (one CAS each, which fails harmlessly if
//     the next commit already replaced it). This changes no logical value; it only spares later
//     readers the indirection through the descriptor, and lets the descriptor (and the states it
//     names) die young instead of living as long as the cell.
//
// Until it is cleaned up (or if the committer stops before step 4), a cell that holds a decided
// descriptor has that descriptor's desired state as its logical value if it succeeded, or its
// expected state if it failed; the next commit on the cell replaces the descriptor with its own.
//
// Anyone who meets an Active descriptor (a reader or another commit) helps it: it runs steps 2 and 3
// for that descriptor, then retries. So a descheduled committer never blocks anyone (lock-freedom);
// installing in one global order means helping never cycles. Commits over disjoint cells never touch
// the same memory (disjoint-access parallelism). Each commit takes effect at its status CAS
// (linearizability).
//
// There is no ABA problem: states are immutable objects compared by reference, every write installs
// a freshly allocated state, and the garbage collector never reuses an address that is still
// referenced. The one reference that can come back is a failed commit's expected state, which its
// clean-up puts back (u → descriptor → u); but the cell's logical value was u all along, so a CAS
// that still expects u there is right to succeed. A succeeded commit's expected state never comes
// back: its cell moved on to a new state, and every later commit expects a newer one.
//
// Word cells (see WordCell) hold a number instead of a reference, and a descriptor's marker (its id with the
// sign bit set) instead of the descriptor. Everything above holds for them with numbers for states, and
// so does the absence of ABA, though numbers do come back: a word cell's number never decreases, and a
// succeeded commit writes each word cell either a larger number (so its expected one never comes back and
// a late install fails) or the same one (a read, where a late install changes no logical value). Word and
// object updates are installed together in the one global order of cells. A word cell may hold a state as
// well (an event stripe: its count and its latest entries), and a commit may name it once in each list: it
// installs the object's update first, then the word's.
//
// Descriptors, unlike states, are reused (see Epochs.cs): the store gives a descriptor back once its
// commit returned, and it is rented again only when no thread can still hold it. Every use of a
// descriptor read from a cell (helping, reading a logical value, comparing it in a CAS) happens inside a
// critical section, entered before the cell is read (again), so a descriptor a thread holds is always the
// commit it read it for. A reader that finds a state in the cell needs no section: it touches no
// descriptor. Nor does a committing thread need one for its own descriptor, which it releases only once
// its commit returned: it enters one only when it meets another commit's descriptor in a cell. So a
// committing thread the scheduler pauses, which is inside its commit most of the time, holds the epoch
// back only if it was helping another commit then.
using System.Runtime.CompilerServices;

namespace Commerce.InMemory.LockFree;

/// <summary>The multi-word compare-and-swap over <see cref="Cell"/>s; see the protocol at the top of this file.</summary>
internal static class MultiWordCas
{
    /// <summary>A test seam: called on this thread when a word cell named a descriptor that was collected, before the cell is read again.</summary>
    [ThreadStatic]
    internal static Action<WordCell>? OnGoneDescriptorForTests;

    /// <summary>The logical value of a cell, helping any undecided commit it meets.</summary>
    public static object Read(Cell cell)
    {
        // The common case, a cell holding a state, needs no critical section: no descriptor is touched.
        var current = Volatile.Read(ref cell.Content);
        return current is CommitDescriptor ? ReadThroughDescriptor(cell) : current;
    }

    private static object ReadThroughDescriptor(Cell cell)
    {
        var section = Epochs.Enter();
        try
        {
            while (true)
            {
                var current = Volatile.Read(ref cell.Content);
                if (current is not CommitDescriptor descriptor)
                {
                    return current;
                }

                var status = descriptor.Status;
                if (status == CommitStatus.Active)
                {
                    HelpOther(descriptor);
                    continue;
                }

                return descriptor.LogicalValue(cell, status);
            }
        }
        finally
        {
            Epochs.Exit(section);
        }
    }

    /// <summary>The number a word cell holds logically, helping any undecided commit it meets.</summary>
    public static long ReadWord(WordCell cell)
    {
        // The common case, a number, needs no critical section: no descriptor is touched.
        var current = Volatile.Read(ref cell.Word);
        return current >= 0 ? current : ReadWordThroughDescriptor(cell);
    }

    private static long ReadWordThroughDescriptor(WordCell cell)
    {
        var section = Epochs.Enter();
        try
        {
            while (true)
            {
                var current = Volatile.Read(ref cell.Word);
                if (current >= 0)
                {
                    return current;
                }

                if (CommitDescriptor.OfMarker(current) is not { } descriptor)
                {
                    // Released and collected: its marker is out of the cell by now (see DescriptorIds).
                    OnGoneDescriptorForTests?.Invoke(cell);
                    continue;
                }

                var status = descriptor.Status;
                if (status == CommitStatus.Active)
                {
                    HelpOther(descriptor);
                    continue;
                }

                return descriptor.LogicalWord(cell, status);
            }
        }
        finally
        {
            Epochs.Exit(section);
        }
    }

    /// <summary>
    /// Runs a commit to its decision. Returns <see langword="true"/> if every cell held its expected state
    /// and now holds its desired state; <see langword="false"/> if nothing changed.
    /// </summary>
    /// <param name="descriptor">The commit; its updates are sorted by cell order.</param>
    /// <param name="afterInstall">A test seam: called by the committing thread after it installs the descriptor in the i-th cell (counting word cells, in the order of installs).</param>
    public static bool Commit(CommitDescriptor descriptor, Action<CommitDescriptor, int>? afterInstall = null)
    {
        // No critical section for its own descriptor (see the top of this file): an install that meets another
        // commit's descriptor enters one for as long as it uses it.
        var succeeded = Help(descriptor, afterInstall, helping: false);
        CleanUp(descriptor, succeeded);
        return succeeded;
    }

    /// <summary>Step 4: replaces the decided descriptor with its logical value in every cell that still holds it.</summary>
    private static void CleanUp(CommitDescriptor descriptor, bool succeeded)
    {
        foreach (ref readonly var update in descriptor.Updates)
        {
            // A plain read first: a cell the commit never reached (it failed before) is not written.
            if (ReferenceEquals(Volatile.Read(ref update.Cell.Content), descriptor))
            {
                Interlocked.CompareExchange(ref update.Cell.Content, succeeded ? update.Desired : update.Expected, descriptor);
            }
        }

        var words = descriptor.WordUpdates;
        if (words.IsEmpty)
        {
            return;
        }

        var marker = descriptor.Marker;
        foreach (ref readonly var word in words)
        {
            if (Volatile.Read(ref word.Cell.Word) == marker)
            {
                Interlocked.CompareExchange(ref word.Cell.Word, succeeded ? word.Desired : word.Expected, marker);
            }
        }
    }

    /// <summary>
    /// Helps another thread's commit (<paramref name="descriptor"/>, read from a cell inside a critical section) to
    /// its decision, marking it helped first (see <see cref="CommitDescriptor.MarkHelped"/>).
    /// </summary>
    private static void HelpOther(CommitDescriptor descriptor)
    {
        descriptor.MarkHelped();
        Help(descriptor, null, helping: true);
    }

    private static bool Help(CommitDescriptor descriptor, Action<CommitDescriptor, int>? afterInstall, bool helping)
    {
        var updates = descriptor.Updates;
        var words = descriptor.WordUpdates;
        var outcome = CommitStatus.Succeeded;
        for (int i = 0, w = 0; (i < updates.Length || w < words.Length) && outcome == CommitStatus.Succeeded;)
        {
            // The two lists merged into the one global order of cells.
            var installed = w < words.Length && (i == updates.Length || words[w].Cell.Order < updates[i].Cell.Order)
                ? InstallWord(descriptor, in words[w++])
                : Install(descriptor, in updates[i++]);
            if (!installed)
            {
                outcome = CommitStatus.Failed;
            }
            else
            {
                afterInstall?.Invoke(descriptor, i + w - 1);
            }
        }

        // Decide once; whoever gets here first wins, and everyone reports that decision. A helper that wins a
        // success runs the commit's hook (the committing thread may be paused); the committing thread, which
        // returns the decision to its caller, leaves what the hook does to the caller.
        if (Interlocked.CompareExchange(ref descriptor.StatusField, (int)outcome, (int)CommitStatus.Active) == (int)CommitStatus.Active
            && outcome == CommitStatus.Succeeded && helping)
        {
            descriptor.OnSucceeded?.Invoke();
        }

        return descriptor.Status == CommitStatus.Succeeded;
    }

    /// <summary>
    /// Installs the descriptor in one cell. Returns <see langword="false"/> if the cell's logical value is
    /// not the expected state. Returns <see langword="true"/> if it is installed, or if the descriptor was
    /// already decided (then the caller's decision CAS is a no-op).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Install(CommitDescriptor descriptor, in CellUpdate update)
    {
        var cell = update.Cell;
        while (true)
        {
            var current = Volatile.Read(ref cell.Content);
            if (ReferenceEquals(current, descriptor))
            {
                return true;
            }

            if (descriptor.Status != CommitStatus.Active)
            {
                // Decided by a helper: stop installing (a late install would be harmless, but is wasted).
                return true;
            }

            if (current is CommitDescriptor)
            {
                // Another commit's: read again and used inside a critical section.
                if (InstallOverDescriptor(descriptor, in update) is { } installed)
                {
                    return installed;
                }

                continue;
            }

            if (!ReferenceEquals(current, update.Expected))
            {
                return false;
            }

            if (ReferenceEquals(Interlocked.CompareExchange(ref cell.Content, descriptor, current), current))
            {
                return true;
            }
        }
    }

    /// <summary>
    /// One try of <see cref="Install"/> on a cell that held another commit's descriptor, inside a critical section
    /// entered before the cell is read again (the descriptor read before may have been released and reused since):
    /// the install's outcome, or <see langword="null"/> to read the cell again (it changed, or the other commit
    /// was helped to its decision).
    /// </summary>
    private static bool? InstallOverDescriptor(CommitDescriptor descriptor, in CellUpdate update)
    {
        var cell = update.Cell;
        var section = Epochs.Enter();
        try
        {
            var current = Volatile.Read(ref cell.Content);
            if (current is not CommitDescriptor other || ReferenceEquals(other, descriptor))
            {
                return null;
            }

            var otherStatus = other.Status;
            if (otherStatus == CommitStatus.Active)
            {
                // Cells are installed in one global order, so other holds no cell we hold after this
                // one: helping it cannot come back to us.
                HelpOther(other);
                return null;
            }

            if (!ReferenceEquals(other.LogicalValue(cell, otherStatus), update.Expected))
            {
                return false;
            }

            return ReferenceEquals(Interlocked.CompareExchange(ref cell.Content, descriptor, current), current) ? true : null;
        }
        finally
        {
            Epochs.Exit(section);
        }
    }

    /// <summary>
    /// Installs the descriptor's marker in one word cell, as <see cref="Install"/> does in a cell holding
    /// objects: <see langword="false"/> if the cell's logical number is not the expected one.
    /// </summary>
    private static bool InstallWord(CommitDescriptor descriptor, in WordUpdate update)
    {
        var cell = update.Cell;
        var marker = descriptor.Marker;
        while (true)
        {
            var current = Volatile.Read(ref cell.Word);
            if (current == marker)
            {
                return true;
            }

            if (descriptor.Status != CommitStatus.Active)
            {
                return true; // decided by a helper (see Install)
            }

            if (current < 0)
            {
                // Another commit's marker: read again and used inside a critical section (see Install).
                if (InstallWordOverMarker(descriptor, in update) is { } installed)
                {
                    return installed;
                }

                continue;
            }

            if (current != update.Expected)
            {
                return false;
            }

            if (TryPlaceMarker(descriptor, in update, current))
            {
                return true;
            }
        }
    }

    /// <summary>One try of <see cref="InstallWord"/> on a word cell that held another commit's marker, as <see cref="InstallOverDescriptor"/> is of <see cref="Install"/>.</summary>
    private static bool? InstallWordOverMarker(CommitDescriptor descriptor, in WordUpdate update)
    {
        var cell = update.Cell;
        var section = Epochs.Enter();
        try
        {
            var current = Volatile.Read(ref cell.Word);
            if (current >= 0 || current == descriptor.Marker)
            {
                return null;
            }

            if (CommitDescriptor.OfMarker(current) is not { } other)
            {
                OnGoneDescriptorForTests?.Invoke(cell); // collected: read the cell again (see ReadWord)
                return null;
            }

            var otherStatus = other.Status;
            if (otherStatus == CommitStatus.Active)
            {
                HelpOther(other); // cannot come back to us: see Install
                return null;
            }

            if (other.LogicalWord(cell, otherStatus) != update.Expected)
            {
                return false;
            }

            return TryPlaceMarker(descriptor, in update, current) ? true : null;
        }
        finally
        {
            Epochs.Exit(section);
        }
    }

    /// <summary>
    /// The install CAS of <see cref="InstallWord"/>: replaces <paramref name="current"/> with the descriptor's
    /// marker. Returns whether it did; a marker it placed after the decision is taken out again at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryPlaceMarker(CommitDescriptor descriptor, in WordUpdate update, long current)
    {
        var cell = update.Cell;
        var marker = descriptor.Marker;
        if (Interlocked.CompareExchange(ref cell.Word, marker, current) != current)
        {
            return false;
        }

        // A second look: if the commit was decided meanwhile, no clean-up may see this install, so the
        // installer takes it out itself, as the owner's clean-up would. Hence a word cell holds a marker only
        // while some thread holds its descriptor: an install made before the decision (this look finds the
        // commit Active) is followed by the decision, so the owner's clean-up, which reads the cells after
        // it, finds the marker there (or finds it gone); an install made after the decision is removed here,
        // by its installer, before it lets the descriptor go. (The install and the decision are full
        // fences, so this look comes after the install, and the owner's reads after its decision.)
        var decided = descriptor.Status;
        if (decided != CommitStatus.Active)
        {
            Interlocked.CompareExchange(ref cell.Word, decided == CommitStatus.Succeeded ? update.Desired : update.Expected, marker);
        }

        // The descriptor stays reachable until its marker is out (a reader resolving the marker relies on it,
        // see DescriptorIds).
        GC.KeepAlive(descriptor);
        return true;
    }

    /// <summary>
    /// For tests: the install CAS of <paramref name="descriptor"/>'s <paramref name="index"/>-th word update,
    /// made by a helper that saw the commit undecided and the cell holding <paramref name="current"/>.
    /// </summary>
    internal static bool PlaceMarkerForTests(CommitDescriptor descriptor, int index, long current) =>
        TryPlaceMarker(descriptor, in descriptor.WordUpdates[index], current);
}
