using System.Runtime.CompilerServices;
using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>
/// The ids that name descriptors in word cells (see <see cref="DescriptorIds"/>): a word cell holds a marker
/// only while some thread holds its descriptor (late installs clean up after themselves), so that the
/// registry holds a released descriptor only weakly, and an id is given out again only once no thread
/// that could have read its marker is inside a critical section.
/// </summary>
[Collection(EpochCollection.Name)]
public sealed class DescriptorIdTests
{
    [Fact]
    public void A_late_install_after_the_decision_is_taken_out_by_its_installer()
    {
        // A commit that fails at its first word cell, never reaching the second...
        var (first, second) = (new WordCell(1), new WordCell(4));
        var failed = CommitDescriptor.Create([], [new WordUpdate(first, 0, 1), new WordUpdate(second, 4, 6)]);
        Assert.False(MultiWordCas.Commit(failed));

        // ...whose install CAS a helper that saw it undecided (and the cell holding 4) makes after the decision.
        Assert.True(MultiWordCas.PlaceMarkerForTests(failed, 1, 4));

        // The helper's second look found the commit decided and put back the cell's logical value.
        Assert.Equal(4, Volatile.Read(ref second.Word));
    }

    [Fact]
    public void A_late_install_of_a_succeeded_commit_puts_back_what_it_wrote()
    {
        // A succeeded commit that only read its second cell (the one case a late install can succeed in).
        var (first, second) = (new WordCell(1), new WordCell(4));
        var succeeded = CommitDescriptor.Create([], [new WordUpdate(first, 1, 2), new WordUpdate(second, 4, 4)]);
        Assert.True(MultiWordCas.Commit(succeeded));

        Assert.True(MultiWordCas.PlaceMarkerForTests(succeeded, 1, 4));

        Assert.Equal(4, Volatile.Read(ref second.Word));
        Assert.Equal(2, Volatile.Read(ref first.Word));
    }

    [Fact]
    public void The_table_of_ids_keeps_a_descriptor_until_it_is_released_and_only_weakly_after()
    {
        var (kept, keptId) = Committed(release: false);
        var (released, releasedId) = Committed(release: true);

        Collect();

        // Not released (as a commit whose thread died inside it): its markers may still be in cells.
        Assert.True(kept.TryGetTarget(out var descriptor));
        Assert.Same(descriptor, CommitDescriptor.OfMarker(long.MinValue | keptId));

        // Released, and held by nothing else: the collector took it, and its id names nothing.
        Assert.False(released.TryGetTarget(out _));
        Assert.Null(CommitDescriptor.OfMarker(long.MinValue | releasedId));
    }

    [Fact]
    public void A_reader_that_meets_the_marker_of_a_collected_descriptor_reads_the_cell_again()
    {
        var (gone, id) = Committed(release: true);
        Collect();
        Assert.False(gone.TryGetTarget(out _));

        // A cell read just before the marker's descriptor cleaned it up and was collected: by the time the
        // reader looks the id up, the cell holds its number again.
        var cell = new WordCell();
        Volatile.Write(ref cell.Word, long.MinValue | id);
        var lookups = 0;
        MultiWordCas.OnGoneDescriptorForTests = seen =>
        {
            Assert.Same(cell, seen);
            lookups++;
            Volatile.Write(ref cell.Word, 9);
        };
        try
        {
            Assert.Equal(9, MultiWordCas.ReadWord(cell));
        }
        finally
        {
            MultiWordCas.OnGoneDescriptorForTests = null;
        }

        Assert.Equal(1, lookups);
    }

    /// <summary>
    /// A committed descriptor with an id, released through the table of ids only (not to a pool, which would
    /// keep it for reuse) if <paramref name="release"/>; built in a method of its own, so that no local of the
    /// test keeps it alive.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference<CommitDescriptor> Descriptor, long Id) Committed(bool release)
    {
        var cell = new WordCell(3);
        var descriptor = CommitDescriptor.Create([], [new WordUpdate(cell, 3, 4)]);
        Assert.True(MultiWordCas.Commit(descriptor));
        Assert.Equal(4, Volatile.Read(ref cell.Word));
        if (release)
        {
            DescriptorIds.Release(descriptor.Id);
        }

        return (new WeakReference<CommitDescriptor>(descriptor), descriptor.Id);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
