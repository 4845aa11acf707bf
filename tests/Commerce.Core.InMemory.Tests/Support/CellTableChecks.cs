using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using FsCheck;
using FsCheck.Fluent;

namespace Commerce.InMemory.Tests;

/// <summary>Checks shared by the tests of the orders' and the idempotency records' indexes, against a dictionary as the model.</summary>
internal static class CellTableChecks
{
    /// <summary>Sequences of lookups and insertions over a few dozen keys.</summary>
    public static Arbitrary<Step[]> Steps { get; } = Arb.From(
        (from kind in Gen.Choose(0, 2)
         from high in Gen.Choose(-2, 2)
         from low in Gen.Choose(-40, 40)
         select new Step(kind, high, low)).ArrayOf(),
        steps => Shrink.List(steps));

    /// <summary>Whether <paramref name="table"/> answers <paramref name="steps"/> as a dictionary would, and counts what it holds.</summary>
    public static bool BehavesAsDictionary(CellTable table, Step[] steps)
    {
        var model = new Dictionary<CellKey, Cell>();
        foreach (var step in steps)
        {
            var key = new CellKey(step.High, step.Low);
            if (step.Kind == 0)
            {
                if (table.Find(key) is var found && (model.TryGetValue(key, out var expected) ? !ReferenceEquals(found, expected) : found is not null))
                {
                    return false;
                }

                continue;
            }

            var cell = step.Kind == 1 ? table.GetOrCreate(key) : table.CreateOrGet(key);
            if (!model.TryAdd(key, cell) && !ReferenceEquals(model[key], cell))
            {
                return false;
            }
        }

        return table.Count == model.Count;
    }

    /// <summary>
    /// Gets-or-creates and creates-or-gets the keys in turn, on one thread, checking each against the model
    /// (a new key's cell is absent; a known key's is the same cell), then that the table holds exactly those.
    /// </summary>
    /// <returns>The model.</returns>
    public static Dictionary<CellKey, Cell> InsertSequentially(CellTable table, IEnumerable<CellKey> keys)
    {
        var model = new Dictionary<CellKey, Cell>();
        var i = 0;
        foreach (var key in keys)
        {
            var cell = i++ % 2 == 0 ? table.GetOrCreate(key) : table.CreateOrGet(key);
            if (model.TryGetValue(key, out var existing))
            {
                Assert.Same(existing, cell);
            }
            else
            {
                Assert.True(Unwritten(cell));
                model.Add(key, cell);
            }
        }

        Assert.Equal(model.Count, table.Count);
        foreach (var (key, cell) in model)
        {
            Assert.Same(cell, table.Find(key));
        }

        return model;
    }

    /// <summary>Whether a cell holds what a new one does: nothing (a number, for a cell of numbers: 0).</summary>
    public static bool Unwritten(Cell cell) =>
        cell is WordCell word ? MultiWordCas.ReadWord(word) == 0 : ReferenceEquals(MultiWordCas.Read(cell), Absent.Value);

    /// <summary>
    /// Has <paramref name="threads"/> threads, started together, get-or-create (either way) the keys
    /// <paramref name="keysOf"/> gives each, each also looking a random one of its keys up after every
    /// insertion; then checks against the sequential model (one cell per distinct key, whoever inserted it
    /// first) that every thread got the same cell for a key, and that the table holds exactly those.
    /// </summary>
    /// <returns>The model.</returns>
    public static Dictionary<CellKey, Cell> InsertFromThreads(CellTable table, int threads, Func<int, Random, CellKey[]> keysOf)
    {
        var cells = new Dictionary<CellKey, Cell>[threads];
        using var start = new Barrier(threads);
        var started = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            var keys = keysOf(t, random);
            var mine = new Dictionary<CellKey, Cell>();
            start.SignalAndWait();
            foreach (var key in keys)
            {
                mine[key] = random.Next(2) == 0 ? table.GetOrCreate(key) : table.CreateOrGet(key);
                if (table.Find(keys[random.Next(keys.Length)]) is { } found && !Unwritten(found))
                {
                    throw new InvalidOperationException("A cell that nobody wrote holds a state.");
                }
            }

            cells[t] = mine;
        }) { IsBackground = true }).ToList();
        started.ForEach(thread => thread.Start());
        started.ForEach(thread => thread.Join());

        var model = new Dictionary<CellKey, Cell>();
        foreach (var (key, cell) in cells.SelectMany(mine => mine))
        {
            if (model.TryGetValue(key, out var other))
            {
                Assert.Same(other, cell);
            }
            else
            {
                model.Add(key, cell);
            }
        }

        Assert.Equal(model.Count, table.Count);
        foreach (var (key, cell) in model)
        {
            Assert.Same(cell, table.Find(key));
        }

        return model;
    }

    /// <summary>One step of a sequence: look a key up (0), or get-or-create it (1) or create-or-get it (2).</summary>
    public sealed record Step(int Kind, long High, long Low)
    {
        public override string ToString() => $"{(Kind == 0 ? "find" : Kind == 1 ? "get-or-create" : "create-or-get")}({High},{Low})";
    }
}
