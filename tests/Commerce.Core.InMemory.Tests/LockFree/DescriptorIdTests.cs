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

    [Fact]
    public void A_descriptor_with_an_id_beyond_the_pool_bound_is_left_to_the_collector_and_its_id_waits_for_the_epochs()
    {
        // On a thread of its own, whose pool holds nothing yet.
        RunOnNewThread(() =>
        {
            // A thread stays in a section: the epoch stalls, and released descriptors pile up in the pool.
            using var reader = new ThreadInSection();
            var (dropped, droppedId) = RentedAndReleased();
            var kept = RentedAndReleasedKeeping(out var keptId);

            // More releases than the pool keeps waiting: it leaves the oldest to the collector, ids and all.
            var cell = new Cell(new object());
            for (var i = 0; i < 300; i++)
            {
                var descriptor = CommitDescriptor.Rent([new CellUpdate(cell, MultiWordCas.Read(cell), new object())]);
                Assert.True(MultiWordCas.Commit(descriptor));
                CommitDescriptor.Release(descriptor);
            }

            Collect();
            Assert.False(dropped.TryGetTarget(out _), "A released descriptor with an id beyond the pool's bound was kept.");
            Assert.Null(CommitDescriptor.OfMarker(long.MinValue | droppedId));
            Assert.Same(kept, CommitDescriptor.OfMarker(long.MinValue | keptId)); // not collected: found through its id

            // Neither id is given out again while the reader, which could have read their markers, is in its section...
            for (var i = 0; i < 100; i++)
            {
                Epochs.TryAdvance();
                var other = CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1)]);
                Assert.NotEqual(droppedId, other.Id);
                Assert.NotEqual(keptId, other.Id);
            }

            // ...and both are, in the order they were given up, once it left; the second one's entry then leads
            // to its new descriptor, never to the one that had it before.
            // (The epoch moves on as soon as no other thread is in a section; the guard only stops a hang.)
            reader.Leave();
            Assert.NotNull(GivenOut(droppedId));
            var next = GivenOut(keptId);
            Assert.NotNull(next);
            DescriptorIds.Release(next!.Id);
            Assert.Same(next, CommitDescriptor.OfMarker(kept.Marker));
            GC.KeepAlive(kept);
        });
    }

    [Fact]
    public void The_id_of_a_descriptor_left_to_the_collector_waits_for_a_reader_that_met_a_helper_s_late_install()
    {
        RunOnNewThread(() =>
        {
            // A helper that saw the commit undecided, in its section, installs the marker after the decision
            // and is preempted before its second look...
            using var helper = new ThreadInSection();
            var cell = new WordCell(7);
            var dropped = RentedAndReleasedKeeping(out var droppedId);
            Volatile.Write(ref cell.Word, dropped.Marker);

            // ...while the pool, the epoch stalled, leaves the released descriptor to the collector.
            var other = new Cell(new object());
            for (var i = 0; i < 300; i++)
            {
                var descriptor = CommitDescriptor.Rent([new CellUpdate(other, MultiWordCas.Read(other), new object())]);
                Assert.True(MultiWordCas.Commit(descriptor));
                CommitDescriptor.Release(descriptor);
            }

            // The epoch moves once (as far as the helper lets it), and a reader enters a section and reads the
            // marker; then the helper takes it out and leaves.
            Epochs.TryAdvance();
            using var reader = new ThreadInSection(() => Volatile.Read(ref cell.Word));
            Assert.Equal(dropped.Marker, reader.Seen);
            Volatile.Write(ref cell.Word, 7);
            helper.Leave();

            // The id is not given out again while the reader, which may still look it up, is in its section...
            for (var i = 0; i < 100; i++)
            {
                Epochs.TryAdvance();
                Assert.NotEqual(droppedId, CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1)]).Id);
                Assert.Same(dropped, CommitDescriptor.OfMarker(dropped.Marker));
            }

            // ...and is once it left.
            reader.Leave();
            Assert.NotNull(GivenOut(droppedId));
        });
    }

    [Fact]
    public void The_ids_a_thread_held_when_it_ended_are_given_out_again_once_no_section_can_still_read_their_markers()
    {
        // A thread commits with ids until its pool keeps some (free and waiting) and it has recycled others, then ends.
        var held = new HashSet<long>();
        RunOnNewThread(() =>
        {
            for (var i = 0; i < 400; i++)
            {
                var cell = new WordCell(3);
                var descriptor = CommitDescriptor.Rent([], [new WordUpdate(cell, 3, 4)]);
                Assert.True(MultiWordCas.Commit(descriptor));
                held.Add(descriptor.Id);
                CommitDescriptor.Release(descriptor);
                Epochs.TryAdvance();
            }
        });

        // Its pool and its queue of ids are collected, and hand the ids back.
        Collect();
        var made = DescriptorIds.Made;

        RunOnNewThread(() =>
        {
            // A new thread needs ids: while a thread that entered its section before is still in it, none of those
            // handed back is given out (a cell may still hold one's marker for that thread to read)...
            using (var reader = new ThreadInSection())
            {
                for (var i = 0; i < 50; i++)
                {
                    Epochs.TryAdvance();
                    Assert.True(CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1)]).Id > made, "An id handed back was given out while a section that could read its marker was open.");
                }
            }

            // ...and once it left, the next ids are ones made before, not new ones.
            long reused = 0;
            for (var guard = System.Diagnostics.Stopwatch.StartNew(); reused == 0 && guard.Elapsed < PausedCommit.Guard / 2; Thread.Yield())
            {
                Epochs.TryAdvance();
                var id = CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1)]).Id;
                reused = id <= made ? id : 0;
            }

            Assert.NotEqual(0, reused);
        });
        Assert.NotEmpty(held);
    }

    /// <summary>Descriptors with ids, made as the epoch moves on, until one is given <paramref name="id"/>; <see langword="null"/> if none is.</summary>
    private static CommitDescriptor? GivenOut(long id)
    {
        for (var guard = System.Diagnostics.Stopwatch.StartNew(); guard.Elapsed < PausedCommit.Guard; Thread.Yield())
        {
            Epochs.TryAdvance();
            var descriptor = CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1)]);
            if (descriptor.Id == id)
            {
                return descriptor;
            }
        }

        return null;
    }

    /// <summary>A descriptor with an id rented, committed and released on this thread; see <see cref="Committed"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference<CommitDescriptor> Descriptor, long Id) RentedAndReleased()
    {
        var descriptor = RentedAndReleasedKeeping(out var id);
        return (new WeakReference<CommitDescriptor>(descriptor), id);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CommitDescriptor RentedAndReleasedKeeping(out long id)
    {
        var cell = new WordCell(3);
        var descriptor = CommitDescriptor.Rent([], [new WordUpdate(cell, 3, 4)]);
        Assert.True(MultiWordCas.Commit(descriptor));
        Assert.True(descriptor.Reusable);
        CommitDescriptor.Release(descriptor);
        id = descriptor.Id;
        return descriptor;
    }

    private static void RunOnNewThread(Action action)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(PausedCommit.Guard));
        if (error is not null)
        {
            throw new InvalidOperationException("The test's thread failed.", error);
        }
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
