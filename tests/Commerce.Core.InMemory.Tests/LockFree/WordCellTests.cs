using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>
/// Word cells in the multi-word CAS: numbers held in place, committed with object cells in one CAS,
/// never decreasing, helped to a decision by whoever meets their descriptor's marker.
/// </summary>
public sealed class WordCellTests
{
    private static long Value(Cell cell) => ((Counter)MultiWordCas.Read(cell)).Value;

    /// <summary>A commit that adds <paramref name="delta"/> to each word cell, expecting what each holds now.</summary>
    private static CommitDescriptor Add(long delta, params WordCell[] words) =>
        CommitDescriptor.Create([], [.. words.Select(w => MultiWordCas.ReadWord(w)).Select((n, i) => new WordUpdate(words[i], n, n + delta))]);

    [Fact]
    public void A_commit_of_word_and_object_cells_writes_all_of_them_when_each_holds_what_it_expects()
    {
        var state = new Cell(new Counter(0));
        var (first, second) = (new WordCell(5), new WordCell());
        var descriptor = CommitDescriptor.Create(
            [new CellUpdate(state, MultiWordCas.Read(state), new Counter(1))],
            [new WordUpdate(first, 5, 8), new WordUpdate(second, 0, 0)]);

        Assert.True(MultiWordCas.Commit(descriptor));

        Assert.Equal(1, Value(state));
        Assert.Equal(8, MultiWordCas.ReadWord(first));
        Assert.Equal(0, MultiWordCas.ReadWord(second));
        Assert.Equal(8, Volatile.Read(ref first.Word)); // cleaned up: the number itself, not the marker
    }

    [Fact]
    public void A_commit_whose_word_cell_moved_on_changes_nothing_in_any_cell()
    {
        var state = new Cell(new Counter(0));
        var kept = MultiWordCas.Read(state);
        var (first, second) = (new WordCell(5), new WordCell(7));
        var descriptor = CommitDescriptor.Create(
            [new CellUpdate(state, kept, new Counter(1))],
            [new WordUpdate(first, 5, 6), new WordUpdate(second, 6, 9)]); // second holds 7, not 6

        Assert.False(MultiWordCas.Commit(descriptor));

        Assert.Equal(CommitStatus.Failed, descriptor.Status);
        Assert.Same(kept, MultiWordCas.Read(state));
        Assert.Equal(5, MultiWordCas.ReadWord(first));
        Assert.Equal(7, MultiWordCas.ReadWord(second));
        Assert.Equal(5, Volatile.Read(ref first.Word));
    }

    [Theory]
    [InlineData(5, 4)] // smaller than it expects
    [InlineData(-1, 0)] // a negative number
    public void A_word_update_that_would_decrease_or_expects_a_negative_number_is_refused(long expected, long desired)
    {
        var cell = new WordCell(5);

        var error = Assert.Throws<ArgumentException>(() => CommitDescriptor.Create([], [new WordUpdate(cell, expected, desired)]));

        Assert.Equal("words", error.ParamName);
        Assert.Equal(5, MultiWordCas.ReadWord(cell));
    }

    [Fact]
    public void A_commit_that_names_a_word_cell_twice_or_no_cell_at_all_is_refused()
    {
        var cell = new WordCell();

        Assert.Equal("words", Assert.Throws<ArgumentException>(() => CommitDescriptor.Create([], [new WordUpdate(cell, 0, 1), new WordUpdate(cell, 0, 2)])).ParamName);
        Assert.Throws<ArgumentException>(() => CommitDescriptor.Create([], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WordCell(-1));
    }

    [Fact]
    public void Word_and_object_cells_are_installed_together_in_the_one_global_order_of_cells()
    {
        // Made in this order, so their places in the global order are in this order too.
        var cells = new Cell[] { new WordCell(), new Cell(new Counter(0)), new WordCell(), new Cell(new Counter(0)), new WordCell() };
        var installedAfterEach = new List<int>();
        var descriptor = CommitDescriptor.Create(
            [.. cells.Where(c => c is not WordCell).Select(c => new CellUpdate(c, MultiWordCas.Read(c), new Counter(1)))],
            [.. cells.OfType<WordCell>().Reverse().Select(w => new WordUpdate(w, 0, 1))]);

        // After each install, the cells that hold the descriptor are the first ones of the order, one more each time.
        Assert.True(MultiWordCas.Commit(descriptor, (d, _) => installedAfterEach.Add(HoldingPrefix(cells, d))));

        Assert.Equal([1, 2, 3, 4, 5], installedAfterEach);
    }

    [Fact]
    public void A_cell_named_in_both_lists_gets_its_state_and_its_number_together_installed_state_first()
    {
        var other = new Cell(new Counter(0));
        var both = new StripeCell(long.MaxValue - 1); // after every counted cell in the order
        var installs = new List<(bool Content, bool Word)>();
        var descriptor = CommitDescriptor.Create(
            [new CellUpdate(both, StripeCell.None, "first"), new CellUpdate(other, MultiWordCas.Read(other), new Counter(1))],
            [new WordUpdate(both, 0, 1)]);

        Assert.True(MultiWordCas.Commit(descriptor, (d, _) => installs.Add((ReferenceEquals(Volatile.Read(ref both.Content), d), Volatile.Read(ref both.Word) == d.Marker))));

        // The other cell first (its place in the order is lower), then the state, then the number.
        Assert.Equal([(false, false), (true, false), (true, true)], installs);
        Assert.Equal([other, both, both], Enumerable.Range(0, 3).Select(descriptor.InstalledAt));
        Assert.Equal(("first", 1L, 1L), (MultiWordCas.Read(both), MultiWordCas.ReadWord(both), Value(other)));
        Assert.Equal(("first", 1L), (Volatile.Read(ref both.Content), Volatile.Read(ref both.Word))); // cleaned up, both
    }

    [Theory]
    [InlineData(0, "first")] // the number moved on
    [InlineData(1, "stale")] // the state moved on
    public void A_commit_on_a_cell_named_in_both_lists_whose_state_or_number_moved_on_changes_neither(long expectedNumber, string expectedState)
    {
        var both = new StripeCell(long.MaxValue - 1);
        Assert.True(MultiWordCas.Commit(CommitDescriptor.Create([new CellUpdate(both, StripeCell.None, "first")], [new WordUpdate(both, 0, 1)])));
        var other = new Cell(new Counter(0));
        var kept = MultiWordCas.Read(other);
        var expected = expectedState == "first" ? MultiWordCas.Read(both) : expectedState;

        var descriptor = CommitDescriptor.Create(
            [new CellUpdate(both, expected, "second"), new CellUpdate(other, kept, new Counter(1))],
            [new WordUpdate(both, expectedNumber, expectedNumber + 1)]);

        Assert.False(MultiWordCas.Commit(descriptor));
        Assert.Equal(("first", 1L), (MultiWordCas.Read(both), MultiWordCas.ReadWord(both)));
        Assert.Equal(("first", 1L), (Volatile.Read(ref both.Content), Volatile.Read(ref both.Word)));
        Assert.Same(kept, MultiWordCas.Read(other));
    }

    /// <summary>How many of <paramref name="cells"/> from the first hold <paramref name="descriptor"/>, or -1 if a later one does while an earlier one does not.</summary>
    private static int HoldingPrefix(Cell[] cells, CommitDescriptor descriptor)
    {
        var holding = cells.Select(c => c is WordCell w ? Volatile.Read(ref w.Word) == descriptor.Marker : ReferenceEquals(Volatile.Read(ref c.Content), descriptor)).ToArray();
        var prefix = Array.IndexOf(holding, false) is var gap and >= 0 ? gap : holding.Length;
        return holding.Skip(prefix).Any(h => h) ? -1 : prefix;
    }

    [Fact]
    public void A_reader_of_a_word_cell_holding_a_parked_commit_helps_it_to_success_and_sees_its_number()
    {
        var words = new[] { new WordCell(), new WordCell(), new WordCell() };
        using var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(Add(2, words), hook));
        paused.Start();
        Assert.Equal(paused.Descriptor!.Marker, Volatile.Read(ref words[0].Word));

        var seen = PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.ReadWord(words[0]));

        Assert.Equal(2, seen);
        Assert.Equal(CommitStatus.Succeeded, paused.Descriptor.Status);
        Assert.True(paused.Resume());
        Assert.Equal([2L, 2L, 2L], words.Select(MultiWordCas.ReadWord));
        Assert.All(words, w => Assert.Equal(2, Volatile.Read(ref w.Word)));
    }

    [Fact]
    public void A_committer_on_a_word_cell_holding_a_parked_commit_helps_it_then_commits_on_top_of_it()
    {
        var words = new[] { new WordCell(), new WordCell(), new WordCell() };
        using var paused = new PausedCommit((_, i) => i == 1, hook => MultiWordCas.Commit(Add(1, words), hook));
        paused.Start();

        // Reading the cells first helps the parked commit, so one attempt is enough.
        var committed = PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.Commit(Add(10, words[1], words[2])));

        Assert.True(committed);
        Assert.True(paused.Resume());
        Assert.Equal([1L, 11L, 11L], words.Select(MultiWordCas.ReadWord));
    }

    [Fact]
    public void A_parked_commit_helped_to_failure_on_a_word_cell_reports_failure_and_changes_nothing()
    {
        var words = new[] { new WordCell(), new WordCell(), new WordCell() };
        var descriptor = Add(1, words);
        using var paused = new PausedCommit((_, i) => i == 0, hook => MultiWordCas.Commit(descriptor, hook));
        paused.Start();

        // The last cell moves on behind the parked commit's back; a reader of the first then helps it, and it fails there.
        PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.Commit(Add(5, words[2])));
        var seen = PausedCommit.CompletesOnAnotherThread(() => MultiWordCas.ReadWord(words[0]));

        Assert.Equal(0, seen);
        Assert.Equal(CommitStatus.Failed, descriptor.Status);
        Assert.False(paused.Resume());
        Assert.Equal([0L, 0L, 5L], words.Select(MultiWordCas.ReadWord));
    }

    [Fact]
    public void A_late_install_of_a_decided_commit_in_a_word_cell_changes_no_number()
    {
        // A helper that saw each commit undecided installs its marker after the decision, where the cell
        // still holds the number it expected: a failed commit's, and a succeeded commit's cell it only read.
        var (failedOn, read) = (new WordCell(3), new WordCell(4));
        var failed = CommitDescriptor.Create([], [new WordUpdate(new WordCell(1), 0, 1), new WordUpdate(failedOn, 3, 9)]);
        var succeeded = CommitDescriptor.Create([], [new WordUpdate(new WordCell(), 0, 1), new WordUpdate(read, 4, 4)]);
        Assert.False(MultiWordCas.Commit(failed));
        Assert.True(MultiWordCas.Commit(succeeded));

        Volatile.Write(ref failedOn.Word, failed.Marker);
        Volatile.Write(ref read.Word, succeeded.Marker);

        Assert.Equal(3, MultiWordCas.ReadWord(failedOn));
        Assert.Equal(4, MultiWordCas.ReadWord(read));
        Assert.True(MultiWordCas.Commit(Add(1, failedOn, read))); // and the next commit takes their place
        Assert.Equal([4L, 5L], new[] { failedOn, read }.Select(MultiWordCas.ReadWord));
    }

    [Fact]
    public void Threads_adding_to_shared_word_cells_lose_no_addition_and_every_commit_sees_one_instant()
    {
        // Every commit adds the same amount to the pair (0, 1) and something to one other cell; readers commit
        // the pair only read, which succeeds only if both held what was read at one instant: then they are equal.
        const int Threads = 4;
        const int CommitsPerThread = 2_000;
        var words = Enumerable.Range(0, 6).Select(_ => new WordCell()).ToArray();
        var state = new Cell(new Counter(0));
        var added = new long[Threads, words.Length];
        var objectWrites = new long[Threads];
        var unequal = 0;
        var pairsRead = 0L;
        using var start = new Barrier(Threads + 2);

        var writers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            start.SignalAndWait();
            for (var i = 0; i < CommitsPerThread; i++)
            {
                var delta = random.Next(1, 4);
                var other = words[random.Next(2, words.Length)];
                var writesState = random.Next(4) == 0;
                while (true)
                {
                    var (a, b, o) = (MultiWordCas.ReadWord(words[0]), MultiWordCas.ReadWord(words[1]), MultiWordCas.ReadWord(other));
                    var current = MultiWordCas.Read(state);
                    CellUpdate[] updates = writesState ? [new CellUpdate(state, current, new Counter(((Counter)current).Value + 1))] : [];
                    var descriptor = CommitDescriptor.Rent(updates, [new WordUpdate(words[0], a, a + delta), new WordUpdate(words[1], b, b + delta), new WordUpdate(other, o, o + delta)]);
                    var committed = MultiWordCas.Commit(descriptor);
                    CommitDescriptor.Release(descriptor);
                    if (committed)
                    {
                        added[t, 0] += delta;
                        added[t, 1] += delta;
                        added[t, Array.IndexOf(words, other)] += delta;
                        objectWrites[t] += writesState ? 1 : 0;
                        break;
                    }
                }
            }
        }) { IsBackground = true }).ToArray();

        var done = 0;
        var reader = new Thread(() =>
        {
            start.SignalAndWait();

            // Until the writers are done, and at least once with success (then nothing else commits).
            while (Volatile.Read(ref done) == 0 || pairsRead == 0)
            {
                var (a, b) = (MultiWordCas.ReadWord(words[0]), MultiWordCas.ReadWord(words[1]));
                var descriptor = CommitDescriptor.Rent([], [new WordUpdate(words[0], a, a), new WordUpdate(words[1], b, b)]);
                if (MultiWordCas.Commit(descriptor))
                {
                    pairsRead++;
                    if (a != b)
                    {
                        unequal++;
                    }
                }

                CommitDescriptor.Release(descriptor);
            }
        }) { IsBackground = true };

        foreach (var writer in writers)
        {
            writer.Start();
        }

        reader.Start();
        start.SignalAndWait();
        Assert.All(writers, writer => Assert.True(writer.Join(PausedCommit.Guard * 4), "A writer did not finish."));
        Volatile.Write(ref done, 1);
        Assert.True(reader.Join(PausedCommit.Guard));

        for (var c = 0; c < words.Length; c++)
        {
            var sum = 0L;
            for (var t = 0; t < Threads; t++)
            {
                sum += added[t, c];
            }

            Assert.Equal(sum, MultiWordCas.ReadWord(words[c]));
            Assert.True(Volatile.Read(ref words[c].Word) >= 0, "A cell still holds a marker after every commit returned.");
        }

        Assert.Equal(objectWrites.Sum(), Value(state));
        Assert.Equal(0, unequal);
        Assert.True(pairsRead > 0, "The reader never read the pair.");
    }
}
