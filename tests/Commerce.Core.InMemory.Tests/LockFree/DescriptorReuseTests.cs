using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using Commerce.InMemory.Tests.Support;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>The epochs are global: these tests run alone, so that no other test's thread holds the epoch.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EpochCollection
{
    public const string Name = "Epochs";
}

/// <summary>
/// Commit descriptors are reused once no thread can still read them (epoch-based reclamation, see
/// <see cref="Epochs"/>): never while a thread that could have read one is inside a critical section,
/// never while a late install leaves one in a cell, nor while a thread that read it from there is inside
/// one, and, once all are over, really reused.
/// </summary>
[Collection(EpochCollection.Name)]
public sealed class DescriptorReuseTests
{
    /// <summary>Far more rounds than reuse needs (four epochs, a few releases each): a bound, not a timing.</summary>
    private const int Rounds = 1_000;

    [Fact]
    public void A_thread_inside_a_section_holds_the_epoch_back_until_it_leaves()
    {
        using var inside = new ThreadInSection();
        var entered = Epochs.Current;

        for (var i = 0; i < 5; i++)
        {
            Epochs.TryAdvance();
        }

        // One step is allowed (the thread announced the epoch then current); the next waits for it.
        Assert.Equal(entered + 1, Epochs.Current);

        inside.Leave();
        Assert.Equal(entered + 2, Epochs.TryAdvance());
    }

    [Fact]
    public void A_committing_thread_paused_inside_its_commit_holds_no_epoch_back_unless_it_met_another_commit()
    {
        // Paused after its first install, meeting no other commit: it holds only its own descriptor, so the
        // epoch moves on (and descriptors released meanwhile can be reused) while it is paused.
        var cells = Enumerable.Range(0, 3).Select(_ => new Cell(new object())).ToArray();
        using (var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(NewStates(cells), hook)))
        {
            paused.Start();
            var entered = Epochs.Current;
            for (var i = 0; i < 5; i++)
            {
                Epochs.TryAdvance();
            }

            Assert.Equal(entered + 5, Epochs.Current);
            Assert.True(paused.Resume());
        }

        // Paused while it helps a commit whose descriptor its install met in a cell: the epoch waits for it. Its
        // own descriptor is made first, so that it meets the other one installing, not reading.
        var mine = NewStates(cells[0], cells[1]);
        var (other, committed) = AssertTheEpochWaitsForAHelperPausedInside(
            whenDecided => CommitDescriptor.Create([new CellUpdate(cells[1], MultiWordCas.Read(cells[1]), new object()), new CellUpdate(cells[2], MultiWordCas.Read(cells[2]), new object())], whenDecided),
            () => MultiWordCas.Commit(mine));
        Assert.False(committed); // it expected the state the other commit replaced
        Assert.True(other.WasHelped);
    }

    [Fact]
    public void A_committing_thread_that_met_another_commits_marker_in_a_word_cell_holds_the_epoch_back_while_it_helps()
    {
        var words = Enumerable.Range(0, 3).Select(_ => new WordCell()).ToArray();

        // Its commit expects the number the other commit writes: it helps that commit, then installs over it.
        var (other, committed) = AssertTheEpochWaitsForAHelperPausedInside(
            whenDecided => CommitDescriptor.Create([], [new WordUpdate(words[1], 0, 1), new WordUpdate(words[2], 0, 1)], whenDecided),
            () => MultiWordCas.Commit(CommitDescriptor.Create([], [new WordUpdate(words[0], 0, 1), new WordUpdate(words[1], 1, 2)])));
        Assert.True(committed);
        Assert.True(other.WasHelped);
        Assert.Equal([1L, 2L, 1L], words.Select(MultiWordCas.ReadWord));
    }

    /// <summary>
    /// Parks a commit after its first install, then runs <paramref name="commit"/> on another thread, which meets it
    /// in a cell, helps it and decides it: the commit's success hook (<paramref name="other"/> is given it) holds that
    /// helper there, inside the critical section its install entered, while the epoch is moved on as far as it goes:
    /// one step. Returns the other commit's descriptor, and the outcome of <paramref name="commit"/>, once both have finished.
    /// </summary>
    private static (CommitDescriptor Other, bool Committed) AssertTheEpochWaitsForAHelperPausedInside(Func<Action, CommitDescriptor> other, Func<bool> commit)
    {
        var committed = false;
        using var parked = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Thread? helper = null;
        var descriptor = other(() =>
        {
            if (Thread.CurrentThread == helper)
            {
                parked.Set();
                release.Wait();
            }
        });
        using var owner = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(descriptor, hook));
        owner.Start();
        helper = new Thread(() => committed = commit()) { IsBackground = true };
        helper.Start();
        Assert.True(parked.Wait(PausedCommit.Guard), "The helper never decided the commit it met.");

        // One step at most: the helper announced the epoch then current, which may be this one or the one before.
        var before = Epochs.Current;
        for (var i = 0; i < 5; i++)
        {
            Epochs.TryAdvance();
        }

        Assert.InRange(Epochs.Current - before, 0, 1);
        release.Set();
        Assert.True(helper.Join(PausedCommit.Guard));
        Assert.True(owner.Resume());
        return (descriptor, committed);
    }

    /// <summary>A descriptor writing a new state in each of <paramref name="cells"/>.</summary>
    private static CommitDescriptor NewStates(params Cell[] cells) =>
        CommitDescriptor.Create([.. cells.Select(cell => new CellUpdate(cell, MultiWordCas.Read(cell), new object()))]);

    [Fact]
    public void Nested_sections_announce_until_the_outermost_one_ends()
    {
        var outer = Epochs.Enter();
        var inner = Epochs.Enter();
        var entered = outer.Announced;
        Epochs.Exit(inner);
        Assert.Equal(entered, Volatile.Read(ref outer.Announced));
        Epochs.Exit(outer);
        Assert.Equal(0, Volatile.Read(ref outer.Announced));
    }

    [Fact]
    public void A_released_descriptor_is_not_rented_again_while_a_thread_that_could_have_read_it_is_in_a_section_and_is_after()
    {
        var cell = new Cell(new object());
        var released = CommitOnce(cell);
        var reader = new ThreadInSection(); // as a helper that read it from the cell before it was released
        CommitDescriptor.Release(released);

        // Enough commits to reuse it several times over were nothing holding the epoch back (reuse takes
        // four epochs, a few releases each), and fewer than a pool keeps waiting (beyond that, it would
        // leave the oldest to the collector, and this one would never come back).
        for (var i = 0; i < 100; i++)
        {
            Assert.NotSame(released, CommitAndRelease(cell));
        }

        reader.Leave();
        reader.Dispose();
        Assert.True(Enumerable.Range(0, Rounds).Any(_ => ReferenceEquals(released, CommitAndRelease(cell))), "The descriptor was never reused.");
    }

    [Fact]
    public void A_descriptor_a_late_install_left_in_a_cell_is_taken_out_of_it_before_it_is_reused()
    {
        var first = new Cell(new object());
        var second = new Cell(new object());
        var other = new Cell(new object());
        var kept = MultiWordCas.Read(second);

        // A commit that fails at its first cell, never reaching the second one...
        var failed = CommitDescriptor.Rent([new CellUpdate(first, new object(), new object()), new CellUpdate(second, kept, new object())]);
        Assert.False(MultiWordCas.Commit(failed));

        // ...which a helper that saw it undecided (and marked it helped) installs there anyway, after the decision
        // (the cell's logical value is still what it held: a failed commit stands for its expected states).
        failed.MarkHelped();
        Volatile.Write(ref second.Content, failed);
        Assert.Same(kept, MultiWordCas.Read(second));
        CommitDescriptor.Release(failed);

        // Commits of the same size on other cells, until the descriptor comes back.
        var reused = false;
        for (var i = 0; i < Rounds && !reused; i++)
        {
            var next = CommitDescriptor.Rent([new CellUpdate(first, MultiWordCas.Read(first), new object()), new CellUpdate(other, MultiWordCas.Read(other), new object())]);
            reused = ReferenceEquals(next, failed);
            if (reused)
            {
                // It left the cell before it was reused, and the cell holds its value again; rented, it is no longer helped.
                Assert.Same(kept, Volatile.Read(ref second.Content));
                Assert.False(next.WasHelped);
            }
            else if (i == 0)
            {
                Assert.Same(failed, Volatile.Read(ref second.Content)); // nothing else takes it out
            }

            Assert.True(MultiWordCas.Commit(next));
            CommitDescriptor.Release(next);
        }

        Assert.True(reused, "The descriptor was never reused.");
        Assert.Same(kept, MultiWordCas.Read(second));
    }

    [Fact]
    public void A_descriptor_taken_out_of_a_cell_is_not_rented_again_while_a_thread_that_read_it_there_is_in_a_section_and_is_after()
    {
        var first = new Cell(new object());
        var second = new Cell(new object());
        var cell = new Cell(new object());
        var kept = MultiWordCas.Read(second);

        // Commits with nothing in a section, so that what this thread released before has moved through its
        // pool (each of its reclaims moves the epoch on): few enough wait ahead of the descriptor below that,
        // with the step under test removed, it would not be left to the collector for want of room.
        for (var i = 0; i < 64; i++)
        {
            CommitAndRelease(cell);
        }

        // The late install of the test above: a failed commit's descriptor left in a cell it never reached.
        var failed = CommitDescriptor.Rent([new CellUpdate(first, new object(), new object()), new CellUpdate(second, kept, new object())]);
        Assert.False(MultiWordCas.Commit(failed));
        failed.MarkHelped();
        Volatile.Write(ref second.Content, failed);
        CommitDescriptor.Release(failed);

        // The epoch moves past the release (no late install can come once it moved twice), and a thread
        // enters a section and reads the descriptor out of the cell, where it still is.
        Epochs.TryAdvance();
        using var reader = new ThreadInSection(() => Volatile.Read(ref second.Content));
        Assert.Same(failed, reader.Seen);

        // The epoch moves once more (as far as the reader lets it), and the descriptor is withdrawn.
        for (var i = 0; i < 100 && ReferenceEquals(Volatile.Read(ref second.Content), failed); i++)
        {
            Assert.NotSame(failed, CommitAndRelease(cell));
        }

        Assert.Same(kept, Volatile.Read(ref second.Content));

        // Descriptors rented and never released: more than a pool keeps free, so that none is left, and
        // whatever becomes free from here on is rented next (with the step under test removed: it).
        for (var i = 0; i < 100; i++)
        {
            CommitOnce(cell);
        }

        // Out of every cell, but the reader may still hold it: not rented again while it is in its section...
        for (var i = 0; i < 100; i++)
        {
            Assert.NotSame(failed, CommitAndRelease(cell));
        }

        // ...and rented again once it left.
        reader.Leave();
        Assert.True(Enumerable.Range(0, Rounds).Any(_ => ReferenceEquals(failed, CommitAndRelease(cell))), "The descriptor was never reused.");
        Assert.Same(kept, MultiWordCas.Read(second));
    }

    [Fact]
    public void A_descriptor_nobody_helped_is_reused_without_being_looked_for_in_its_cells()
    {
        var cell = new Cell(new object());
        var reused = DescriptorPool.ReusedOnThisThread;
        var withdrawals = DescriptorPool.WithdrawalsOnThisThread;

        // Its committing thread's clean-up took it out of every cell it installed it in, and no helper could
        // put it back: withdrawing it would read every cell again for nothing.
        for (var i = 0; i < Rounds; i++)
        {
            CommitAndRelease(cell);
        }

        Assert.True(DescriptorPool.ReusedOnThisThread > reused, "No descriptor was reused.");
        Assert.Equal(withdrawals, DescriptorPool.WithdrawalsOnThisThread);

        // One a helper marked is withdrawn before it is reused.
        var helped = CommitOnce(cell);
        helped.MarkHelped();
        CommitDescriptor.Release(helped);
        Assert.True(Enumerable.Range(0, Rounds).Any(_ => ReferenceEquals(helped, CommitAndRelease(cell))), "The descriptor was never reused.");
        Assert.Equal(withdrawals + 1, DescriptorPool.WithdrawalsOnThisThread);
    }

    [Fact]
    public void A_descriptor_of_more_updates_than_it_keeps_inline_is_never_reused()
    {
        var cells = Enumerable.Range(0, CommitDescriptor.InlineCapacity + 1).Select(_ => new Cell(new object())).ToArray();
        var large = CommitDescriptor.Rent([.. cells.Select(cell => new CellUpdate(cell, MultiWordCas.Read(cell), new object()))]);
        Assert.True(MultiWordCas.Commit(large));
        CommitDescriptor.Release(large);

        var small = new Cell(new object());
        for (var i = 0; i < 100; i++)
        {
            Assert.NotSame(large, CommitAndRelease(small));
        }
    }

    [Fact]
    public void A_descriptor_id_is_given_out_again_only_once_no_cell_holds_its_marker_and_no_thread_that_read_it_is_in_a_section()
    {
        var cell = new Cell(new object());
        for (var i = 0; i < 64; i++)
        {
            CommitAndRelease(cell); // as in the test above: what this thread released before moves through its pool
        }

        // A commit of more word cells than a descriptor keeps inline (never reused: its id is recycled at the end
        // of the pool's waits) fails at its first cell, never reaching the others...
        var first = new WordCell(1);
        var words = Enumerable.Range(0, CommitDescriptor.InlineWordCapacity).Select(_ => new WordCell()).ToArray();
        var large = CommitDescriptor.Rent([], [new WordUpdate(first, 0, 1), .. words.Select(w => new WordUpdate(w, 0, 1))]);
        Assert.False(MultiWordCas.Commit(large));
        Assert.False(large.Reusable);
        Assert.NotEqual(0, large.Id);

        // ...and a helper that saw it undecided (and marked it helped) installs its marker in one of them after
        // the decision.
        large.MarkHelped();
        Volatile.Write(ref words[0].Word, large.Marker);
        CommitDescriptor.Release(large);
        Epochs.TryAdvance();
        using var reader = new ThreadInSection(() => Volatile.Read(ref words[0].Word));
        Assert.Equal(large.Marker, reader.Seen);

        // It is withdrawn from the cell, but its id stays its own while the reader may still look it up...
        for (var i = 0; i < 100 && Volatile.Read(ref words[0].Word) == large.Marker; i++)
        {
            CommitAndRelease(cell);
        }

        Assert.Equal(0, Volatile.Read(ref words[0].Word));
        for (var i = 0; i < 100; i++)
        {
            CommitAndRelease(cell);
            Assert.NotEqual(large.Id, CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1)]).Id);
            Assert.Same(large, CommitDescriptor.OfMarker(large.Marker));
        }

        // ...and is given to another descriptor once the reader left.
        reader.Leave();
        var recycled = false;
        for (var i = 0; i < Rounds && !recycled; i++)
        {
            CommitAndRelease(cell);
            recycled = CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1)]).Id == large.Id;
        }

        Assert.True(recycled, "The id was never given out again.");
    }

    [Fact]
    public void A_thread_that_ended_leaves_its_place_in_the_epochs_to_the_next_thread()
    {
        RunOnNewThread(() => Epochs.Exit(Epochs.Enter()));
        var count = Epochs.ParticipantCount;

        RunOnNewThread(() => Epochs.Exit(Epochs.Enter()));

        Assert.Equal(count, Epochs.ParticipantCount);
    }

    [Fact]
    public void Commits_through_the_store_reuse_descriptors_and_keep_every_balance()
    {
        using var shop = InMemoryShop.Create();
        var users = Enumerable.Range(1, 8).Select(i => new UserId(i)).ToArray();
        var before = DescriptorPool.ReusedOnThisThread;
        for (var i = 0; i < 400; i++)
        {
            Assert.True(Sync.Run(shop.Wallets.ChargeAsync(users[i % users.Length], new Money(1))).IsSuccess);
        }

        Assert.All(users, user => Assert.Equal(new Money(50), Sync.Run(shop.Wallets.GetBalanceAsync(user))));
        Assert.True(DescriptorPool.ReusedOnThisThread > before, "No commit reused a descriptor.");
    }

    /// <summary>Commits one update of <paramref name="cell"/> with a rented descriptor, without releasing it.</summary>
    private static CommitDescriptor CommitOnce(Cell cell)
    {
        var descriptor = CommitDescriptor.Rent([new CellUpdate(cell, MultiWordCas.Read(cell), new object())]);
        Assert.True(MultiWordCas.Commit(descriptor));
        return descriptor;
    }

    private static CommitDescriptor CommitAndRelease(Cell cell)
    {
        var descriptor = CommitOnce(cell);
        CommitDescriptor.Release(descriptor);
        return descriptor;
    }

    private static void RunOnNewThread(Action action)
    {
        var thread = new Thread(() => action());
        thread.Start();
        Assert.True(thread.Join(PausedCommit.Guard));
    }
}
