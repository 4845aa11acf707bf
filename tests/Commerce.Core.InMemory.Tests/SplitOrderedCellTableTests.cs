using Commerce.Conformance;
using Commerce.InMemory.LockFree;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests;

/// <summary>The orders' index (a lock-free split-ordered list) against a dictionary as the model.</summary>
public sealed class SplitOrderedCellTableTests
{
    /// <summary>
    /// Hash functions to test with: the table's own; two that collide on purpose; and one whose keys differ only
    /// in the hash's top bits, so that their sort keys differ only below the top bits a link carries (every
    /// walk then decides by the entries themselves).
    /// </summary>
    public static TheoryData<string> Hashes => ["default", "seven values", "one value", "top bits"];

    private static SplitOrderedCellTable Create(string hash) => hash switch
    {
        "default" => new SplitOrderedCellTable(),
        "seven values" => new SplitOrderedCellTable(key => (ulong)(key.Low % 7) * 0x9E3779B97F4A7C15UL),
        "one value" => new SplitOrderedCellTable(_ => 42),
        "top bits" => new SplitOrderedCellTable(key => ((ulong)(key.Low * 31) + (ulong)key.High) << 44),
        _ => throw new ArgumentOutOfRangeException(nameof(hash)),
    };

    [Theory]
    [MemberData(nameof(Hashes))]
    public void Finds_what_it_holds_and_nothing_else_across_many_doublings(string hash)
    {
        var table = Create(hash);
        var random = new Random(7);
        var inserts = hash == "default" ? 60_000 : 3_000; // colliding hashes make one long bucket
        var model = CellTableChecks.InsertSequentially(table, Enumerable.Range(0, inserts).Select(_ => new CellKey(random.Next(4), random.Next(inserts / 2))).ToList());

        for (var i = 0; i < 1_000; i++)
        {
            var absent = new CellKey(random.Next(4, 8), random.Next());
            Assert.Null(table.Find(absent));
        }

        if (hash == "default")
        {
            Assert.True(table.BucketCount >= model.Count / 4, $"{table.BucketCount} buckets for {model.Count} entries");
        }
    }

    [Theory]
    [MemberData(nameof(Hashes))]
    public void Buckets_whose_markers_a_stopped_thread_claimed_are_walked_from_their_parents(string hash)
    {
        // A thread that claimed a bucket's marker and stopped before linking it leaves the bucket to its
        // parent's marker: every key is still found once, in whatever bucket it falls.
        var table = Create(hash);
        for (var bucket = 1UL; bucket < 16; bucket += 2)
        {
            table.ClaimMarker(bucket);
        }

        var model = new Dictionary<CellKey, Cell>();
        for (var i = 0; i < 2_000; i++)
        {
            var key = new CellKey(i % 3, i / 3);
            model[key] = i % 2 == 0 ? table.GetOrCreate(key) : table.CreateOrGet(key);
            Assert.Same(model[key], table.GetOrCreate(key));
        }

        Assert.Equal(model.Count, table.Count);
        Assert.Equal(model.Count, table.Cells().Count());
        foreach (var (key, cell) in model)
        {
            Assert.Same(cell, table.Find(key));
        }

        Assert.Null(table.Find(new CellKey(5, 5)));
    }

    [Property(MaxTest = 200)]
    public Property Any_sequence_of_steps_behaves_as_a_dictionary() =>
        Prop.ForAll(CellTableChecks.Steps, steps =>
            new[] { "default", "seven values", "one value", "top bits" }.All(hash => CellTableChecks.BehavesAsDictionary(Create(hash), steps)));

    [Theory]
    [MemberData(nameof(Hashes))]
    public void Threads_inserting_the_same_keys_all_get_one_cell_per_key(string hash)
    {
        // Every thread inserts the shared keys in its own order, mixed with keys only it inserts.
        const int Threads = 4;
        var shared = hash == "default" ? 20_000 : 1_500;
        var own = shared / 4;
        var model = CellTableChecks.InsertFromThreads(Create(hash), Threads, (t, random) =>
            Enumerable.Range(0, shared).Select(i => new CellKey(0, i))
                .Concat(Enumerable.Range(0, own).Select(i => new CellKey(t + 1, i)))
                .OrderBy(_ => random.Next()).ToArray());

        Assert.Equal(shared + (Threads * own), model.Count);
    }
}

/// <summary>The append log under the orders' index: positions taken once, items where they were put.</summary>
public sealed class AppendLogTests
{
    [Fact]
    public void A_free_position_is_offered_again_until_taken()
    {
        var log = new AppendLog<string?>();
        var first = log.Free();
        Assert.Equal(first, log.Free());
        log.Take();
        Assert.Equal(first + 1, log.Free());
        Assert.Equal(first + 1, log.Append("x"));
        Assert.Equal("x", log[first + 1]);
    }

    [Fact]
    public void A_thread_appending_to_two_logs_in_turn_fills_one_block_in_each()
    {
        // A store has a log per table, and an order appends to several: switching between logs must not
        // make a thread give up its block (and reserve a new one) at every append.
        var orders = new AppendLog<string?>();
        var keys = new AppendLog<string?>();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(i, orders.Append($"order {i}"));
            Assert.Equal(i, keys.Append($"key {i}"));
        }

        Assert.Equal(64, orders.Reserved);
        Assert.Equal(64, keys.Reserved);
        Assert.Equal("order 9", orders[9]);
        Assert.Equal("key 9", keys[9]);
    }

    [Fact]
    public void A_thread_that_appended_to_a_log_does_not_keep_it_alive()
    {
        var appended = AppendToANewLog();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(appended.TryGetTarget(out _));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<AppendLog<string?>> AppendToANewLog()
    {
        var log = new AppendLog<string?>();
        log.Append("kept only by the log");
        return new WeakReference<AppendLog<string?>>(log);
    }

    [Fact]
    public void Threads_appending_at_once_get_distinct_positions_holding_their_items()
    {
        const int Threads = 4;
        const int PerThread = 5_000; // many blocks and several chunks each
        var log = new AppendLog<string?>();
        var positions = new long[Threads][];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var mine = new long[PerThread];
            start.SignalAndWait();
            for (var i = 0; i < PerThread; i++)
            {
                mine[i] = log.Append($"{t}:{i}");
            }

            positions[t] = mine;
        }) { IsBackground = true }).ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());

        // The sequential model: each item where its append said, and no position given twice.
        Assert.Equal(Threads * PerThread, positions.SelectMany(p => p).Distinct().Count());
        for (var t = 0; t < Threads; t++)
        {
            for (var i = 0; i < PerThread; i++)
            {
                Assert.Equal($"{t}:{i}", log[positions[t][i]]);
            }
        }
    }
}
