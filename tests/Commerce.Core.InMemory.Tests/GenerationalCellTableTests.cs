using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests;

/// <summary>The idempotency records' index: generations of probing hash tables, purged by generation.</summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class GenerationalCellTableTests
{
    private static readonly CellKey Key = new(1, 2);

    [Fact]
    public void A_live_state_keeps_its_cell_and_purges_that_find_nothing_expired_start_no_generation()
    {
        var table = new GenerationalCellTable();
        var cell = table.GetOrCreate(Key);
        Assert.True(Write(cell, Absent.Value, "live"));

        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(0, table.Purge(_ => false, default));
        }

        Assert.Same(cell, table.Find(Key));
        Assert.Same(cell, table.GetOrCreate(Key));
        Assert.Equal(1, table.GenerationCount);
    }

    [Fact]
    public void A_newest_generation_of_absent_cells_only_is_sealed_retired_and_dropped_by_a_purge_and_a_commit_that_holds_one_fails()
    {
        var table = new GenerationalCellTable();
        var held = table.GetOrCreate(Key); // a use case read the key absent, and will insert at this cell
        for (var i = 0; i < 100; i++)
        {
            table.GetOrCreate(new CellKey(9, i)); // requests that never committed
        }

        Assert.Equal(0, table.Purge(_ => false, default)); // absent cells are not counted

        Assert.Equal(0, table.Count);
        Assert.Equal(1, table.GenerationCount);
        Assert.False(Write(held, Absent.Value, "late"));
        var fresh = table.GetOrCreate(Key);
        Assert.True(Write(fresh, Absent.Value, "again"));
        Assert.Same(fresh, table.Find(Key));

        // Next to a live state, absent cells wait for the generation's first expiry.
        table.GetOrCreate(new CellKey(9, 9));
        Assert.Equal(0, table.Purge(_ => false, default));
        Assert.Equal(2, table.Count);
        Assert.Equal(1, table.GenerationCount);
    }

    [Fact]
    public void A_live_state_in_a_sealed_generation_keeps_its_cell_and_its_generation()
    {
        var table = new GenerationalCellTable();
        var cell = table.GetOrCreate(Key);
        Assert.True(Write(cell, Absent.Value, "live"));
        Assert.True(Write(table.GetOrCreate(new CellKey(9, 9)), Absent.Value, "old"));

        Assert.Equal(1, table.Purge(state => (string)state == "old", default)); // seals the generation of both

        Assert.Same(cell, table.Find(Key));
        Assert.Same(cell, table.GetOrCreate(Key));
        Assert.Equal(2, table.GenerationCount); // the live state's, and the newest
    }

    [Fact]
    public void An_expired_state_is_retired_its_generation_dropped_and_the_key_given_a_fresh_cell()
    {
        var table = new GenerationalCellTable();
        var cell = table.GetOrCreate(Key);
        Assert.True(Write(cell, Absent.Value, "old"));

        Assert.Equal(1, table.Purge(state => (string)state == "old", default));

        Assert.Same(Retired.Value, MultiWordCas.Read(cell));
        Assert.False(Write(cell, "old", "new")); // a commit that read the expired state fails
        Assert.Null(table.Find(Key));
        Assert.Equal(1, table.GenerationCount);
        var fresh = table.GetOrCreate(Key);
        Assert.NotSame(cell, fresh);
        Assert.Same(fresh, table.Find(Key));
    }

    [Fact]
    public void An_absent_cell_in_a_sealed_generation_is_retired_so_a_commit_that_holds_it_fails()
    {
        var table = new GenerationalCellTable();
        var held = table.GetOrCreate(Key); // a use case read the key absent, and will insert at this cell
        Assert.True(Write(table.GetOrCreate(new CellKey(9, 9)), Absent.Value, "old"));

        Assert.Equal(1, table.Purge(state => (string)state == "old", default)); // absent cells are not counted

        Assert.False(Write(held, Absent.Value, "late"));
        Assert.Null(table.Find(Key));
        var fresh = table.GetOrCreate(Key);
        Assert.True(Write(fresh, Absent.Value, "again"));
        Assert.Same(fresh, table.Find(Key));
    }

    [Fact]
    public void A_lookup_that_finds_the_newest_generation_sealed_with_none_after_it_starts_the_next_itself()
    {
        // As a purge leaves the table if it stops (or is cancelled) between sealing the newest generation and
        // appending the next: a fresh key must not wait for it. Run on its own thread so that a lookup that
        // spun would fail the test rather than hang it.
        var table = new GenerationalCellTable();
        var live = table.GetOrCreate(Key);
        Assert.True(Write(live, Absent.Value, "live"));
        var held = table.GetOrCreate(new CellKey(7, 7)); // read absent by a use case before the seal
        table.SealNewest();

        Cell? fresh = null;
        var lookup = new Thread(() => fresh = table.GetOrCreate(new CellKey(9, 9))) { IsBackground = true };
        lookup.Start();
        Assert.True(lookup.Join(TimeSpan.FromMinutes(1)), "A lookup waited for the purge to append a generation.");

        Assert.Equal(2, table.GenerationCount);
        Assert.True(Write(fresh!, Absent.Value, "new"));
        Assert.Same(fresh, table.Find(new CellKey(9, 9)));
        Assert.Same(live, table.GetOrCreate(Key)); // the live state keeps its cell in the sealed generation
        Assert.Null(table.Find(new CellKey(7, 7))); // an absent cell of a sealed generation is retired when met
        Assert.False(Write(held, Absent.Value, "late"));

        // The purge that comes next finds the table as if it had appended the generation itself.
        Assert.Equal(1, table.Purge(state => (string)state == "live", default));
        Assert.Null(table.Find(Key));
        Assert.Same(fresh, table.Find(new CellKey(9, 9)));
        Assert.Equal(1, table.GenerationCount);
    }

    /// <summary>One step: write a value at a key (inserted if absent, replacing the live one), or purge the values below a bound.</summary>
    public sealed record Step(bool Purge, int User, int Key, int Below)
    {
        public override string ToString() => Purge ? $"purge(< {Below})" : $"write({User},{Key})";
    }

    private static readonly Arbitrary<Step[]> Steps = Arb.From(
        (from purge in Gen.Frequency((1, Gen.Constant(true)), (6, Gen.Constant(false)))
         from user in Gen.Choose(0, 2)
         from key in Gen.Choose(0, 15)
         from below in Gen.Choose(0, 60)
         select new Step(purge, user, key, below)).ArrayOf(),
        steps => Shrink.List(steps));

    [Property(MaxTest = 300)]
    public Property Any_sequence_of_writes_and_purges_behaves_as_a_dictionary() =>
        Prop.ForAll(Steps, steps =>
        {
            // The sequential model: each key's live value (the step that wrote it); a purge removes the
            // values below its bound and says how many.
            var table = new GenerationalCellTable();
            var model = new Dictionary<CellKey, int>();
            for (var i = 0; i < steps.Length; i++)
            {
                var step = steps[i];
                if (step.Purge)
                {
                    var expired = model.Where(entry => entry.Value < step.Below).Select(entry => entry.Key).ToList();
                    if (table.Purge(state => ((Box)state).Value < step.Below, default) != expired.Count)
                    {
                        return false;
                    }

                    expired.ForEach(gone => model.Remove(gone));
                }
                else
                {
                    var key = new CellKey(step.User, step.Key);
                    var cell = table.GetOrCreate(key);
                    if (!Write(cell, MultiWordCas.Read(cell), new Box(i)))
                    {
                        return false;
                    }

                    model[key] = i;
                }

                for (var user = 0; user < 3; user++)
                {
                    for (var k = 0; k < 16; k++)
                    {
                        var probe = new CellKey(user, k);
                        var found = table.Find(probe);
                        int? held = found is null ? null : (MultiWordCas.Read(found) as Box)?.Value;
                        if (held != (model.TryGetValue(probe, out var value) ? value : null))
                        {
                            return false;
                        }
                    }
                }
            }

            // A generation with nothing in use is dropped by the purge that finds it so: at most the
            // newest, and one per generation still holding a live value.
            return table.GenerationCount <= 1 + model.Count;
        });

    [Theory]
    [MemberData(nameof(Rounds))]
    public void Threads_claiming_keys_while_purges_run_claim_each_key_exactly_once(int round)
    {
        _ = round;
        // Each thread tries to claim every key (insert at the key's cell, if absent), while another thread
        // keeps sealing generations: exactly one claim per key may succeed, and the key's cell holds it.
        const int Threads = 3;
        const int Keys = 4_000;
        var table = new GenerationalCellTable();
        var claims = new int[Keys];
        var winners = new string?[Keys];
        var claimersLeft = Threads;
        using var start = new Barrier(Threads + 1);
        var claimers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var order = Enumerable.Range(0, Keys).OrderBy(_ => Random.Shared.Next()).ToArray();
            start.SignalAndWait();
            foreach (var k in order)
            {
                var claim = $"{t}:{k}";
                while (true)
                {
                    var cell = table.GetOrCreate(new CellKey(0, k));
                    var state = MultiWordCas.Read(cell);
                    if (ReferenceEquals(state, Retired.Value))
                    {
                        continue; // retired meanwhile: the key is looked up again
                    }

                    if (!ReferenceEquals(state, Absent.Value))
                    {
                        break; // claimed already
                    }

                    if (Write(cell, Absent.Value, claim))
                    {
                        Interlocked.Increment(ref claims[k]);
                        winners[k] = claim;
                        break;
                    }
                }
            }

            Interlocked.Decrement(ref claimersLeft);
        }) { IsBackground = true }).ToList();
        var purger = new Thread(() =>
        {
            // Each purge finds an expired state in the newest generation (written just before), so it seals it.
            start.SignalAndWait();
            for (var i = 0; Volatile.Read(ref claimersLeft) > 0; i++)
            {
                var expired = new object();
                var cell = table.GetOrCreate(new CellKey(1, i));
                if (Write(cell, MultiWordCas.Read(cell), expired))
                {
                    table.Purge(state => ReferenceEquals(state, expired), default);
                }
            }
        }) { IsBackground = true };
        claimers.ForEach(thread => thread.Start());
        purger.Start();
        claimers.ForEach(thread => thread.Join());
        purger.Join();

        for (var k = 0; k < Keys; k++)
        {
            Assert.Equal(1, claims[k]);
            Assert.Equal(winners[k], MultiWordCas.Read(table.Find(new CellKey(0, k))!));
        }
    }

    public static TheoryData<int> Rounds => new(Enumerable.Range(0, 10)); // a race the checks catch shows up in about half the rounds

    private static bool Write(Cell cell, object expected, object desired) =>
        MultiWordCas.Commit(CommitDescriptor.Create([new CellUpdate(cell, expected, desired)]));

    private sealed record Box(int Value);
}
