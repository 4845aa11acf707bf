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
