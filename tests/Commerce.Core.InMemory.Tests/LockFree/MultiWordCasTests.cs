using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

public sealed class MultiWordCasTests
{
    private static CommitDescriptor Descriptor(params (Cell Cell, object Expected, object Desired)[] updates) =>
        CommitDescriptor.Create(updates.Select(u => new CellUpdate(u.Cell, u.Expected, u.Desired)).ToArray());

    [Fact]
    public void Commit_installs_every_desired_state_when_every_expected_state_matches()
    {
        var (a0, b0, c0) = (new Counter(0), new Counter(10), new Counter(20));
        var (a, b, c) = (new Cell(a0), new Cell(b0), new Cell(c0));
        var (a1, b1, c1) = (new Counter(1), new Counter(11), new Counter(21));

        var descriptor = Descriptor((c, c0, c1), (a, a0, a1), (b, b0, b1));

        Assert.True(MultiWordCas.Commit(descriptor));
        Assert.Equal(CommitStatus.Succeeded, descriptor.Status);
        Assert.Same(a1, MultiWordCas.Read(a));
        Assert.Same(b1, MultiWordCas.Read(b));
        Assert.Same(c1, MultiWordCas.Read(c));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Commit_fails_and_changes_nothing_when_any_expected_state_differs(int stale)
    {
        var initial = new object[] { new Counter(0), new Counter(10), new Counter(20) };
        var cells = initial.Select(s => new Cell(s)).ToArray();
        var updates = cells.Select((cell, i) =>
            (cell, i == stale ? new Counter(-1) : initial[i], (object)new Counter(100 + i))).ToArray();
        var descriptor = Descriptor(updates);

        Assert.False(MultiWordCas.Commit(descriptor));
        Assert.Equal(CommitStatus.Failed, descriptor.Status);
        for (var i = 0; i < cells.Length; i++)
        {
            Assert.Same(initial[i], MultiWordCas.Read(cells[i]));
        }
    }

    [Fact]
    public void Expected_state_is_compared_by_reference_not_by_value()
    {
        var state = new Counter(5);
        var cell = new Cell(state);
        var lookalike = new Counter(5);

        Assert.False(MultiWordCas.Commit(Descriptor((cell, lookalike, new Counter(6)))));
        Assert.Same(state, MultiWordCas.Read(cell));
    }

    [Fact]
    public void A_cell_holding_a_succeeded_descriptor_reads_as_its_desired_state_until_the_committer_cleans_up()
    {
        var (before, after) = (new Counter(0), new Counter(1));
        var cell = new Cell(before);
        using var paused = new PausedCommit((_, _) => true, hook => MultiWordCas.Commit(Descriptor((cell, before, after)), hook));
        paused.Start();

        // A reader helps the parked commit to its decision; helpers leave the descriptor in the cell.
        Assert.Same(after, PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.Read(cell)));
        var descriptor = paused.Descriptor!;
        Assert.Equal(CommitStatus.Succeeded, descriptor.Status);
        Assert.Same(descriptor, Volatile.Read(ref cell.Content));
        Assert.Same(after, MultiWordCas.Read(cell));
        Assert.Same(after, descriptor.LogicalValue(cell, CommitStatus.Succeeded));

        // The committer reports the helpers' decision and replaces the descriptor with the state.
        Assert.True(paused.Resume());
        Assert.Same(after, Volatile.Read(ref cell.Content));
    }

    [Fact]
    public void A_cell_holding_a_failed_descriptor_reads_as_its_expected_state_until_the_committer_cleans_up()
    {
        var (a0, b0) = (new Counter(0), new Counter(10));
        var (a, b) = (new Cell(a0), new Cell(b0));
        // a comes first in the global order, so the descriptor is installed in a, then fails on b.
        using var paused = new PausedCommit(
            (_, i) => i == 0,
            hook => MultiWordCas.Commit(Descriptor((a, a0, new Counter(1)), (b, new Counter(-1), new Counter(11))), hook));
        paused.Start();

        Assert.Same(a0, PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.Read(a)));
        var descriptor = paused.Descriptor!;
        Assert.Equal(CommitStatus.Failed, descriptor.Status);
        Assert.Same(descriptor, Volatile.Read(ref a.Content));
        Assert.Same(a0, MultiWordCas.Read(a));
        Assert.Same(b0, MultiWordCas.Read(b));

        Assert.False(paused.Resume());
        Assert.Same(a0, Volatile.Read(ref a.Content));
        Assert.Same(b0, Volatile.Read(ref b.Content));
    }

    [Fact]
    public void A_decided_commit_leaves_states_not_descriptors_in_its_cells()
    {
        var (a0, b0, c0) = (new Counter(0), new Counter(10), new Counter(20));
        var (a, b, c) = (new Cell(a0), new Cell(b0), new Cell(c0));
        var (a1, b1) = (new Counter(1), new Counter(11));
        Assert.True(MultiWordCas.Commit(Descriptor((a, a0, a1), (b, b0, b1), (c, c0, c0))));
        Assert.Same(a1, Volatile.Read(ref a.Content));
        Assert.Same(b1, Volatile.Read(ref b.Content));
        Assert.Same(c0, Volatile.Read(ref c.Content));

        // Installed in a and b, then failed on c: both are restored.
        Assert.False(MultiWordCas.Commit(Descriptor((a, a1, new Counter(2)), (b, b1, new Counter(12)), (c, new Counter(-1), new Counter(21)))));
        Assert.Same(a1, Volatile.Read(ref a.Content));
        Assert.Same(b1, Volatile.Read(ref b.Content));
        Assert.Same(c0, Volatile.Read(ref c.Content));
    }

    [Fact]
    public void Clean_up_does_not_undo_a_later_commit_on_the_same_cell()
    {
        // The parked commit is decided by a helper; a second commit then replaces its descriptor. When
        // the first committer resumes and cleans up, the cell must keep the second commit's state.
        var (s0, s1, s2) = (new Counter(0), new Counter(1), new Counter(2));
        var cell = new Cell(s0);
        using var paused = new PausedCommit((_, _) => true, hook => MultiWordCas.Commit(Descriptor((cell, s0, s1)), hook));
        paused.Start();
        Assert.True(PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.Commit(Descriptor((cell, s1, s2)))));

        Assert.True(paused.Resume());
        Assert.Same(s2, Volatile.Read(ref cell.Content));
        Assert.Same(s2, MultiWordCas.Read(cell));
    }

    [Fact]
    public void A_commit_over_a_cell_holding_a_decided_descriptor_compares_with_its_logical_value()
    {
        var (s0, s1, s2) = (new Counter(0), new Counter(1), new Counter(2));
        var cell = new Cell(s0);
        Assert.True(MultiWordCas.Commit(Descriptor((cell, s0, s1))));

        Assert.False(MultiWordCas.Commit(Descriptor((cell, s0, s2))));
        Assert.Same(s1, MultiWordCas.Read(cell));

        Assert.True(MultiWordCas.Commit(Descriptor((cell, s1, s2))));
        Assert.Same(s2, MultiWordCas.Read(cell));
    }

    [Fact]
    public void A_read_only_entry_lets_the_commit_succeed_while_its_cell_is_unchanged()
    {
        var (watched0, written0, written1) = (new Counter(0), new Counter(10), new Counter(11));
        var (watched, written) = (new Cell(watched0), new Cell(written0));

        Assert.True(MultiWordCas.Commit(Descriptor((watched, watched0, watched0), (written, written0, written1))));
        Assert.Same(watched0, MultiWordCas.Read(watched));
        Assert.Same(written1, MultiWordCas.Read(written));
    }

    [Fact]
    public void A_read_only_entry_makes_the_commit_fail_once_its_cell_changed()
    {
        var (watched0, watched1, written0) = (new Counter(0), new Counter(1), new Counter(10));
        var (watched, written) = (new Cell(watched0), new Cell(written0));
        Assert.True(MultiWordCas.Commit(Descriptor((watched, watched0, watched1))));

        Assert.False(MultiWordCas.Commit(Descriptor((watched, watched0, watched0), (written, written0, new Counter(11)))));
        Assert.Same(watched1, MultiWordCas.Read(watched));
        Assert.Same(written0, MultiWordCas.Read(written));
    }

    [Fact]
    public void A_commit_can_create_a_cell_state_from_absent()
    {
        var cell = new Cell(Absent.Value);
        var created = new Counter(1);
        Assert.True(MultiWordCas.Commit(Descriptor((cell, Absent.Value, created))));
        Assert.Same(created, MultiWordCas.Read(cell));
        Assert.False(MultiWordCas.Commit(Descriptor((cell, Absent.Value, new Counter(2)))));
    }

    [Fact]
    public void A_descriptor_rejects_a_cell_named_twice()
    {
        var state = new Counter(0);
        var cell = new Cell(state);
        var other = new Cell(new Counter(1));
        Assert.Throws<ArgumentException>(() => Descriptor((cell, state, new Counter(1)), (other, other.Content, other.Content), (cell, state, new Counter(2))));
    }

    [Fact]
    public void A_descriptor_sorts_its_updates_by_cell_order()
    {
        var cells = Enumerable.Range(0, 8).Select(i => new Cell(new Counter(i))).ToArray();
        var shuffled = cells.Reverse().Where((_, i) => i % 2 == 0).Concat(cells.Reverse().Where((_, i) => i % 2 == 1)).ToArray();
        var descriptor = Descriptor(shuffled.Select(c => (c, c.Content, c.Content)).ToArray());

        Assert.Equal(cells.Select(c => c.Order), descriptor.Updates.ToArray().Select(u => u.Cell.Order));
    }

    [Fact]
    public void Logical_value_of_a_cell_the_descriptor_does_not_name_is_an_error()
    {
        var cell = new Cell(new Counter(0));
        var descriptor = Descriptor((cell, cell.Content, cell.Content));
        Assert.Throws<InvalidOperationException>(() => descriptor.LogicalValue(new Cell(new Counter(0)), CommitStatus.Succeeded));
    }

    [Fact]
    public void Concurrent_two_cell_increments_lose_no_commit_and_apply_none_twice()
    {
        const int Threads = 4;
        const int CommitsPerThread = 3000;
        const int CellCount = 5;
        var cells = Enumerable.Range(0, CellCount).Select(_ => new Cell(new Counter(0))).ToArray();
        var touches = new long[Threads, CellCount];
        var failures = new long[Threads];
        using var start = new Barrier(Threads);

        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var random = new Random(1000 + t);
            start.SignalAndWait();
            for (var n = 0; n < CommitsPerThread; n++)
            {
                // Overlapping pairs: every pair of distinct cells shares a cell with some other pair.
                var i = random.Next(CellCount);
                var j = (i + 1 + random.Next(CellCount - 1)) % CellCount;
                while (true)
                {
                    var a = (Counter)MultiWordCas.Read(cells[i]);
                    var b = (Counter)MultiWordCas.Read(cells[j]);
                    var descriptor = CommitDescriptor.Create(
                    [
                        new CellUpdate(cells[i], a, new Counter(a.Value + 1)),
                        new CellUpdate(cells[j], b, new Counter(b.Value + 1)),
                    ]);
                    if (MultiWordCas.Commit(descriptor))
                    {
                        break;
                    }

                    failures[t]++;
                }

                touches[t, i]++;
                touches[t, j]++;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        var counts = cells.Select(c => ((Counter)MultiWordCas.Read(c)).Value).ToArray();
        Assert.Equal(2L * Threads * CommitsPerThread, counts.Sum());
        for (var c = 0; c < CellCount; c++)
        {
            var expected = Enumerable.Range(0, Threads).Sum(t => touches[t, c]);
            Assert.Equal(expected, counts[c]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(20)]
    public void A_descriptor_of_any_size_keeps_a_sorted_copy_of_its_updates_and_commits_them_all(int size)
    {
        var cells = Enumerable.Range(0, size).Select(i => new Cell(new Counter(i))).ToArray();
        var updates = cells.Reverse().Select(c => new CellUpdate(c, MultiWordCas.Read(c), new Counter(((Counter)MultiWordCas.Read(c)).Value + 100))).ToArray();
        var descriptor = CommitDescriptor.Create(updates);
        updates.AsSpan().Clear();

        Assert.Equal(cells.Select(c => c.Order), descriptor.Updates.ToArray().Select(u => u.Cell.Order));
        Assert.True(MultiWordCas.Commit(descriptor));
        Assert.Equal(Enumerable.Range(100, size).Select(v => (long)v), cells.Select(c => ((Counter)MultiWordCas.Read(c)).Value));
    }

    [Fact]
    public void A_descriptor_needs_at_least_one_update()
    {
        Assert.Throws<ArgumentException>(() => CommitDescriptor.Create([]));
    }
}
