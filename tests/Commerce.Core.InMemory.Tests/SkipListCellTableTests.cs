using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests;

/// <summary>The orders' index (a lock-free skip list sorted by time) against a dictionary as the model.</summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class SkipListCellTableTests
{
    [Fact]
    public void Finds_what_it_holds_and_nothing_else()
    {
        var table = new SkipListCellTable();
        var random = new Random(7);
        var model = CellTableChecks.InsertSequentially(table, Enumerable.Range(0, 60_000).Select(_ => new CellKey(random.Next(4) - 2, random.Next(30_000))).ToList());

        Assert.Equal(model.Count, table.Cells().Count());
        Assert.True(table.IsWellFormed());
        Assert.InRange(table.Levels, 5, 12); // a quarter of the nodes at each next level: about log4 of the count

        for (var i = 0; i < 1_000; i++)
        {
            Assert.Null(table.Find(new CellKey(random.Next(4, 8), random.Next())));
        }
    }

    [Fact]
    public void A_node_takes_48_bytes_its_height_told_by_its_links()
    {
        // One node per order, kept as long as the order: its height is not a field of its own.
        Assert.Equal(48, SkipListCellTable.NodeSize);

        // Heights 1 and 2 (no upper links) told apart: a node of height 1 found at level 1 is not well formed.
        var table = new SkipListCellTable();
        for (var i = 0; i < 2_000; i++)
        {
            table.CreateOrGet(new CellKey(0, i));
        }

        Assert.True(table.IsWellFormed());
        Assert.True(table.HeightCounts()[1] > 1_000, "About three quarters of the nodes have height 1.");
        Assert.True(table.HeightCounts()[2] > 200, "About three sixteenths have height 2.");
    }

    [Fact]
    public void Orders_ids_sort_by_their_time_and_new_ones_go_last()
    {
        var table = new SkipListCellTable();
        var start = new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        var keys = Enumerable.Range(0, 5_000)
            .Select(i => CellKey.From(Storage.StoreKey.ForOrder(new OrderId(Guid.CreateVersion7(start.AddMilliseconds(i / 3))))))
            .ToArray();
        var cells = keys.Select(table.CreateOrGet).ToArray();

        // The list's order is the ids' time order: the cells come back in insertion order, save ties within a millisecond.
        var sorted = keys.Select((key, i) => (Key: SkipListCellTable.SortKeyOf(key), Cell: cells[i])).OrderBy(x => x.Key.Primary).ThenBy(x => x.Key.Secondary).ToArray();
        Assert.Equal(sorted.Select(x => x.Cell), table.Cells());
        for (var i = 3; i < keys.Length; i++)
        {
            Assert.True(SkipListCellTable.SortKeyOf(keys[i - 3]).Primary < SkipListCellTable.SortKeyOf(keys[i]).Primary, "A later millisecond sorts later.");
        }

        Assert.True(table.IsWellFormed());
        Assert.All(keys.Zip(cells), pair => Assert.Same(pair.Second, table.Find(pair.First)));
    }

    [Fact]
    public void A_thread_inserting_into_two_tables_in_turn_and_backwards_in_time_keeps_both_right()
    {
        // The thread's finger belongs to one table at a time and helps only keys above its own: keys going
        // down, and a table switched at every insertion, take the search from the head.
        var first = new SkipListCellTable();
        var second = new SkipListCellTable();
        var model = new[] { new Dictionary<CellKey, Cell>(), new Dictionary<CellKey, Cell>() };
        for (var i = 3_000; i > 0; i--)
        {
            var key = new CellKey(i % 5, i);
            model[0][key] = first.CreateOrGet(key);
            if (i % 3 == 0)
            {
                model[1][key] = second.CreateOrGet(key);
            }
        }

        foreach (var (table, expected) in new[] { (first, model[0]), (second, model[1]) })
        {
            Assert.True(table.IsWellFormed());
            Assert.Equal(expected.Count, table.Count);
            Assert.All(expected, pair => Assert.Same(pair.Value, table.Find(pair.Key)));
        }
    }

    [Fact]
    public void A_lookup_finds_a_present_key_while_keys_just_below_it_are_inserted()
    {
        // Every insertion lands between the sought key and the node before it, changing the very link a
        // lookup stands on: a lookup that read that link twice (once to stop, once to answer) could find the
        // new node in the second read and miss the key. Real threads; the writer's count bounds the run.
        const int Inserted = 200_000;
        var table = new SkipListCellTable();
        var sought = new CellKey(1, 0);
        var cell = table.CreateOrGet(sought);
        var done = 0;
        var lookups = 0L;
        var misses = 0L;
        var reader = new Thread(() =>
        {
            while (Volatile.Read(ref done) == 0)
            {
                lookups++;
                if (!ReferenceEquals(table.Find(sought), cell))
                {
                    misses++;
                }
            }
        });
        reader.Start();
        for (var i = 0; i < Inserted; i++)
        {
            table.CreateOrGet(new CellKey(0, i)); // rising, all below the sought key: each goes right before it
        }

        Volatile.Write(ref done, 1);
        Assert.True(reader.Join(TimeSpan.FromMinutes(1)));
        Assert.True(lookups > 0);
        Assert.Equal(0, misses);
        Assert.True(table.IsWellFormed());
        Assert.Same(cell, table.Find(sought));
    }

    [Property(MaxTest = 200)]
    public Property Any_sequence_of_steps_behaves_as_a_dictionary() =>
        Prop.ForAll(CellTableChecks.Steps, steps =>
        {
            var table = new SkipListCellTable();
            return CellTableChecks.BehavesAsDictionary(table, steps) && table.IsWellFormed();
        });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Threads_inserting_the_same_keys_all_get_one_cell_per_key(bool timeOrdered)
    {
        // Every thread inserts the shared keys and keys only it inserts: shuffled, or rising (as order ids
        // rise with time, each thread's finger then helping), interleaved with the others'.
        const int Threads = 4;
        const int Shared = 20_000;
        const int Own = 5_000;
        var table = new SkipListCellTable();
        var model = CellTableChecks.InsertFromThreads(table, Threads, (t, random) =>
            Enumerable.Range(0, Shared).Select(i => new CellKey(i, 0))
                .Concat(Enumerable.Range(0, Own).Select(i => new CellKey(i * 4, t + 1)))
                .OrderBy(key => timeOrdered ? key.High : random.Next()).ToArray());

        Assert.Equal(Shared + (Threads * Own), model.Count);
        Assert.True(table.IsWellFormed());
    }
}
