using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests.LockFree;

/// <summary>Sequences of multi-word commits against a plain array model of the cells.</summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class MultiWordCasProperties
{
    private const int CellCount = 6;

    /// <summary>One commit: for each named cell, whether it expects the current state (else a stale one) and whether it writes.</summary>
    internal sealed record Attempt((int Cell, bool Current, bool Writes)[] Entries)
    {
        public override string ToString() =>
            "{" + string.Join(", ", Entries.Select(e => $"c{e.Cell}:{(e.Current ? "current" : "stale")}{(e.Writes ? "+write" : "")}")) + "}";
    }

    private static readonly Arbitrary<Attempt[]> Attempts = Arb.From(
        (from cells in Gen.SubListOf(Enumerable.Range(0, CellCount)).Where(c => c.Count > 0)
         from current in Gen.Frequency((5, Gen.Constant(true)), (1, Gen.Constant(false))).ArrayOf(cells.Count)
         from writes in Gen.Elements(true, true, false).ArrayOf(cells.Count)
         select new Attempt(cells.Select((c, i) => (c, current[i], writes[i])).ToArray())).ArrayOf(),
        attempts => Shrink.List(attempts));

    /// <summary>One commit over word cells: for each named cell, whether it expects the current number (else a smaller one) and what it adds (0: a read).</summary>
    internal sealed record WordAttempt((int Cell, bool Current, int Adds)[] Entries)
    {
        public override string ToString() =>
            "{" + string.Join(", ", Entries.Select(e => $"w{e.Cell}:{(e.Current ? "current" : "stale")}+{e.Adds}")) + "}";
    }

    private static readonly Arbitrary<WordAttempt[]> WordAttempts = Arb.From(
        (from cells in Gen.SubListOf(Enumerable.Range(0, CellCount)).Where(c => c.Count > 0)
         from current in Gen.Frequency((5, Gen.Constant(true)), (1, Gen.Constant(false))).ArrayOf(cells.Count)
         from adds in Gen.Choose(0, 3).ArrayOf(cells.Count)
         select new WordAttempt(cells.Select((c, i) => (c, current[i], adds[i])).ToArray())).ArrayOf(),
        attempts => Shrink.List(attempts));

    [Property(MaxTest = 300)]
    public Property A_commit_over_word_and_object_cells_applies_all_its_writes_iff_every_cell_still_holds_what_it_expected() =>
        Prop.ForAll(WordAttempts, attempts =>
        {
            // Each word cell is committed with an object cell of its own, which the commit writes too.
            var numbers = new long[CellCount];
            var states = Enumerable.Range(0, CellCount).Select(i => (object)new Counter(i)).ToArray();
            var words = numbers.Select(n => new WordCell(n)).ToArray();
            var cells = states.Select(s => new Cell(s)).ToArray();
            foreach (var attempt in attempts)
            {
                var wordUpdates = attempt.Entries.Select(e =>
                {
                    var read = MultiWordCas.ReadWord(words[e.Cell]);
                    var expected = e.Current ? read : read + 1; // a number the cell has not reached: it never goes back
                    return new WordUpdate(words[e.Cell], expected, expected + e.Adds);
                }).ToArray();
                var updates = attempt.Entries.Select(e => new CellUpdate(cells[e.Cell], MultiWordCas.Read(cells[e.Cell]), new Counter(-e.Cell))).ToArray();
                var descriptor = CommitDescriptor.Create(updates, wordUpdates);
                var shouldSucceed = attempt.Entries.All(e => e.Current);

                Assert.Equal(shouldSucceed, MultiWordCas.Commit(descriptor));
                if (shouldSucceed)
                {
                    foreach (var (update, word) in updates.Zip(wordUpdates))
                    {
                        states[Array.IndexOf(cells, update.Cell)] = update.Desired;
                        numbers[Array.IndexOf(words, word.Cell)] = word.Desired;
                    }
                }

                for (var c = 0; c < CellCount; c++)
                {
                    Assert.Same(states[c], MultiWordCas.Read(cells[c]));
                    Assert.Equal(numbers[c], MultiWordCas.ReadWord(words[c]));
                    Assert.Equal(numbers[c], Volatile.Read(ref words[c].Word)); // cleaned up
                }
            }
        });

    [Property(MaxTest = 300)]
    public Property A_commit_applies_all_its_writes_iff_every_cell_still_holds_what_it_expected_and_otherwise_nothing() =>
        Prop.ForAll(Attempts, attempts =>
        {
            var model = Enumerable.Range(0, CellCount).Select(i => (object)new Counter(i)).ToArray();
            var cells = model.Select(s => new Cell(s)).ToArray();
            var version = 100;
            foreach (var attempt in attempts)
            {
                var updates = attempt.Entries.Select(e =>
                {
                    var expected = e.Current ? MultiWordCas.Read(cells[e.Cell]) : new Counter(-1);
                    return new CellUpdate(cells[e.Cell], expected, e.Writes ? new Counter(version++) : expected);
                }).ToArray();
                var descriptor = CommitDescriptor.Create(updates);
                var shouldSucceed = attempt.Entries.All(e => e.Current);

                Assert.Equal(shouldSucceed, MultiWordCas.Commit(descriptor));
                Assert.Equal(shouldSucceed ? CommitStatus.Succeeded : CommitStatus.Failed, descriptor.Status);
                if (shouldSucceed)
                {
                    foreach (var update in descriptor.Updates.ToArray())
                    {
                        model[Array.IndexOf(cells, update.Cell)] = update.Desired;
                    }
                }

                for (var c = 0; c < CellCount; c++)
                {
                    Assert.Same(model[c], MultiWordCas.Read(cells[c]));
                }
            }
        });
}
