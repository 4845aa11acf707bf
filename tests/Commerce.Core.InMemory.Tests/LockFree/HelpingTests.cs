using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>
/// Lock-freedom: a commit parked after installing its descriptor in some cells never blocks anyone.
/// Threads that meet it help it to its decision; threads elsewhere never touch it; and when it resumes,
/// its outcome is applied exactly once and it reports the helpers' decision.
/// </summary>
public sealed class HelpingTests
{
    private static long Value(Cell cell) => ((Counter)MultiWordCas.Read(cell)).Value;

    private static CommitDescriptor Increment(params Cell[] cells) =>
        CommitDescriptor.Create(cells.Select(c => MultiWordCas.Read(c)).Select((s, i) => new CellUpdate(cells[i], s, new Counter(((Counter)s).Value + 1))).ToArray());

    /// <summary>Read-increment-commit until it succeeds; returns the number of attempts.</summary>
    private static int IncrementUntilCommitted(params Cell[] cells)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (MultiWordCas.Commit(Increment(cells)))
            {
                return attempt;
            }
        }
    }

    private static Cell[] NewCells(int count) => Enumerable.Range(0, count).Select(_ => new Cell(new Counter(0))).ToArray();

    [Fact]
    public void A_reader_of_a_cell_holding_a_parked_commit_helps_it_to_success_and_sees_its_write()
    {
        var cells = NewCells(3);
        using var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(Increment(cells), hook));
        paused.Start();
        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);
        Assert.Same(paused.Descriptor, Volatile.Read(ref cells[0].Content));

        var seen = PausedCommit.CompletesOnAnotherThread(() => Value(cells[0]));

        Assert.Equal(1, seen);
        Assert.Equal(CommitStatus.Succeeded, paused.Descriptor.Status);
        Assert.True(paused.Resume());
        Assert.Equal([1L, 1L, 1L], cells.Select(Value));
    }

    [Fact]
    public void A_commit_a_reader_or_a_committer_helped_is_marked_helped_and_one_nobody_met_is_not()
    {
        // Only a helper can leave a descriptor in a cell after the commit's clean-up (a late install), so the
        // pool looks for a released descriptor in its cells only if it was helped: every helper must mark it.
        var alone = Increment(NewCells(2));
        Assert.True(MultiWordCas.Commit(alone));
        Assert.False(alone.WasHelped);

        var cells = NewCells(3);
        using (var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(Increment(cells), hook)))
        {
            paused.Start();
            Assert.False(paused.Descriptor!.WasHelped);
            PausedCommit.CompletesOnAnotherThread(() => Value(cells[0])); // a reader
            Assert.True(paused.Descriptor.WasHelped);
            Assert.True(paused.Resume());
        }

        using (var paused = new PausedCommit((_, i) => i == 1, hook => MultiWordCas.Commit(Increment(cells), hook)))
        {
            paused.Start();
            PausedCommit.CompletesOnAnotherThread(() => IncrementUntilCommitted(cells[1], cells[2])); // a committer
            Assert.True(paused.Descriptor!.WasHelped);
            Assert.True(paused.Resume());
        }

        var words = Enumerable.Range(0, 2).Select(_ => new WordCell()).ToArray();
        using (var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(CommitDescriptor.Create([], [.. words.Select(w => new WordUpdate(w, 0, 1))]), hook)))
        {
            paused.Start();
            Assert.Equal(1, PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.ReadWord(words[0]))); // a reader of a word cell
            Assert.True(paused.Descriptor!.WasHelped);
            Assert.True(paused.Resume());
        }
    }

    [Fact]
    public void A_committer_on_a_cell_holding_a_parked_commit_helps_it_then_commits_on_top_of_it()
    {
        var cells = NewCells(3);
        using var paused = new PausedCommit((_, i) => i == 1, hook => MultiWordCas.Commit(Increment(cells), hook));
        paused.Start();

        // Cell 1 holds the parked descriptor; a two-cell increment over cells 1 and 2 must help it first.
        var attempts = PausedCommit.CompletesOnAnotherThread(() => IncrementUntilCommitted(cells[1], cells[2]));

        Assert.InRange(attempts, 1, 2);
        Assert.Equal(CommitStatus.Succeeded, paused.Descriptor!.Status);
        Assert.True(paused.Resume());
        Assert.Equal([1L, 2L, 2L], cells.Select(Value));
    }

    [Fact]
    public void A_parked_commit_helped_to_failure_reports_failure_when_it_resumes_and_changes_nothing()
    {
        var cells = NewCells(3);
        var descriptor = Increment(cells);
        using var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(descriptor, hook));
        paused.Start();

        // Change the last cell behind the parked commit's back; it is not installed there yet.
        PausedCommit.CompletesOnAnotherThread(() => IncrementUntilCommitted(cells[2]));
        // A reader of the first cell now helps the parked commit, which fails on the last cell.
        var seen = PausedCommit.CompletesOnAnotherThread(() => Value(cells[0]));

        Assert.Equal(0, seen);
        Assert.Equal(CommitStatus.Failed, descriptor.Status);
        Assert.False(paused.Resume());
        Assert.Equal([0L, 0L, 1L], cells.Select(Value));
    }

    [Fact]
    public void Threads_on_other_cells_complete_without_touching_a_parked_commit()
    {
        var cells = NewCells(5);
        using var paused = new PausedCommit((_, i) => i == 1, hook => MultiWordCas.Commit(Increment(cells[0], cells[1], cells[2]), hook));
        paused.Start();

        var attempts = PausedCommit.CompletesOnAnotherThread(() =>
            Enumerable.Range(0, 100).Sum(_ => IncrementUntilCommitted(cells[3], cells[4])));
        var untouched = PausedCommit.CompletesOnAnotherThread(() => Value(cells[2]));

        // Disjoint access: no conflict, and the parked commit is still undecided and not installed further.
        Assert.Equal(100, attempts);
        Assert.Equal(0, untouched);
        Assert.Equal(CommitStatus.Active, paused.Descriptor!.Status);
        Assert.IsType<Counter>(Volatile.Read(ref cells[2].Content));

        Assert.True(paused.Resume());
        Assert.Equal([1L, 1L, 1L, 100L, 100L], cells.Select(Value));
    }

    [Fact]
    public void Many_threads_meeting_a_parked_commit_all_finish_and_its_write_counts_once()
    {
        const int Helpers = 4;
        const int IncrementsEach = 200;
        var cells = NewCells(4);
        using var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(Increment(cells), hook));
        paused.Start();

        using var start = new Barrier(Helpers);
        var helpers = Enumerable.Range(0, Helpers).Select(h => new Thread(() =>
        {
            start.SignalAndWait();
            for (var n = 0; n < IncrementsEach; n++)
            {
                IncrementUntilCommitted(cells[h % 4], cells[(h + 1) % 4]);
            }
        }) { IsBackground = true }).ToList();
        helpers.ForEach(t => t.Start());
        Assert.All(helpers, t => Assert.True(t.Join(PausedCommit.Guard), "A helper blocked behind the parked commit."));

        // Helpers on cells the commit had not reached may beat it (then it fails), or help it (then it succeeds):
        // either way it was decided without its own thread, and it reports that decision.
        var decided = paused.Descriptor!.Status;
        Assert.NotEqual(CommitStatus.Active, decided);
        Assert.Equal(decided == CommitStatus.Succeeded, paused.Resume());
        // Each cell: + IncrementsEach from each of the two helpers touching it, +1 if the parked commit succeeded.
        var own = decided == CommitStatus.Succeeded ? 1 : 0;
        Assert.All(cells, c => Assert.Equal(own + (2 * IncrementsEach), Value(c)));
    }

    [Fact]
    public void The_committing_thread_and_its_helpers_report_one_decision_for_every_interleaving_point()
    {
        for (var pauseAt = 0; pauseAt < 4; pauseAt++)
        {
            var cells = NewCells(4);
            var at = pauseAt;
            using var paused = new PausedCommit((_, i) => i == at, hook => MultiWordCas.Commit(Increment(cells), hook));
            paused.Start();
            var helperSaw = PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.Commit(paused.Descriptor!));
            Assert.True(helperSaw);
            Assert.Equal(helperSaw, paused.Resume());
            Assert.All(cells, c => Assert.Equal(1, Value(c)));
        }
    }
}
