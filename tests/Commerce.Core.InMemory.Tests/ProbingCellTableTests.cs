using Commerce.InMemory.LockFree;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Commerce.InMemory.Tests;

/// <summary>The idempotency keys' index (a lock-free probing hash table that grows by copying in chunks) against a dictionary as the model.</summary>
[Properties(Replay = "20261206,1442695040888963407")]
public sealed class ProbingCellTableTests
{
    /// <summary>
    /// Hash functions to test with: the table's own; two that collide on purpose (long runs of filled slots,
    /// every slot's hash bits the same); and one whose keys differ only below the hash bits a slot keeps (every
    /// probe then decides by the entries themselves).
    /// </summary>
    public static TheoryData<string> Hashes => ["default", "seven values", "one value", "low bits"];

    /// <summary>How long a test waits for a thread it stopped to reach its stop before it fails instead of hanging.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    private static ProbingCellTable Create(string hash, int initialBits = 1) => hash switch
    {
        "default" => new ProbingCellTable(static key => CellTable.Hash(key), initialBits),
        "seven values" => new ProbingCellTable(key => (ulong)(key.Low % 7) * 0x9E3779B97F4A7C15UL, initialBits),
        "one value" => new ProbingCellTable(_ => 42, initialBits),
        "low bits" => new ProbingCellTable(key => (CellTable.Hash(key) >> 40) | 0xABCD_0000_0000_0000UL, initialBits),
        _ => throw new ArgumentOutOfRangeException(nameof(hash)),
    };

    [Theory]
    [MemberData(nameof(Hashes))]
    public void Finds_what_it_holds_and_nothing_else_across_many_growths(string hash)
    {
        var table = Create(hash);
        var random = new Random(7);
        var inserts = hash == "default" ? 60_000 : 3_000; // colliding hashes make one long run
        var model = CellTableChecks.InsertSequentially(table, Enumerable.Range(0, inserts).Select(_ => new CellKey(random.Next(4), random.Next(inserts / 2))).ToList());

        for (var i = 0; i < 1_000; i++)
        {
            var absent = new CellKey(random.Next(4, 8), random.Next());
            Assert.Null(table.Find(absent));
        }

        AssertEnumeratesOnce(model.Values, table);
        Assert.InRange(table.TableCount, 1, 2); // at most the last growth's copy under way
        if (hash == "default")
        {
            Assert.InRange(table.NewestSlotCount, model.Count * 3 / 2, model.Count * 8); // grew to keep about half its slots filled
        }
    }

    [Fact]
    public void A_table_filled_before_it_could_grow_goes_on_in_its_successor()
    {
        // The one-value hash piles every key into one run: the table grows on the run's length and, when it is
        // full before the count says so, on that.
        var table = Create("one value", initialBits: 2);
        var cells = Enumerable.Range(0, 40).Select(i => table.GetOrCreate(new CellKey(0, i))).ToList();

        for (var i = 0; i < cells.Count; i++)
        {
            Assert.Same(cells[i], table.Find(new CellKey(0, i)));
        }

        Assert.Equal(40, table.Count);
        Assert.True(table.NewestSlotCount >= 64, $"{table.NewestSlotCount} slots");
    }

    [Property(MaxTest = 200)]
    public Property Any_sequence_of_steps_behaves_as_a_dictionary() =>
        Prop.ForAll(CellTableChecks.Steps, steps =>
            new[] { "default", "seven values", "one value", "low bits" }.All(hash => CellTableChecks.BehavesAsDictionary(Create(hash), steps)));

    [Theory]
    [MemberData(nameof(Hashes))]
    public void Threads_inserting_the_same_keys_all_get_one_cell_per_key(string hash)
    {
        // Every thread inserts the shared keys in its own order, mixed with keys only it inserts, from a table
        // of two slots: it grows a dozen times while they do.
        const int Threads = 4;
        var shared = hash == "default" ? 20_000 : 1_500;
        var own = shared / 4;
        var table = Create(hash);
        var model = CellTableChecks.InsertFromThreads(table, Threads, (t, random) =>
            Enumerable.Range(0, shared).Select(i => new CellKey(0, i))
                .Concat(Enumerable.Range(0, own).Select(i => new CellKey(t + 1, i)))
                .OrderBy(_ => random.Next()).ToArray());

        Assert.Equal(shared + (Threads * own), model.Count);
        AssertEnumeratesOnce(model.Values, table);
    }

    [Fact]
    public void A_key_once_inserted_is_found_by_every_lookup_while_the_table_grows()
    {
        // Two threads insert fresh keys (growing the table from two slots to over 2^16) and publish how far
        // they got; two others look up published keys all the while: never absent, always the inserted cell.
        const int PerWriter = 40_000;
        var table = Create("default");
        var cells = new Cell?[2, PerWriter];
        var published = new int[2];
        var failures = new List<string>();
        using var start = new Barrier(4);
        var writers = Enumerable.Range(0, 2).Select(w => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < PerWriter; i++)
            {
                cells[w, i] = table.CreateOrGet(new CellKey(w, i));
                Volatile.Write(ref published[w], i + 1);
            }
        }));
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var random = new Random(r);
            start.SignalAndWait();
            while (Volatile.Read(ref published[0]) < PerWriter || Volatile.Read(ref published[1]) < PerWriter)
            {
                var w = random.Next(2);
                var upTo = Volatile.Read(ref published[w]);
                if (upTo == 0)
                {
                    continue;
                }

                var i = random.Next(upTo);
                if (!ReferenceEquals(table.Find(new CellKey(w, i)), Volatile.Read(ref cells[w, i])))
                {
                    lock (failures)
                    {
                        failures.Add($"({w},{i})");
                    }
                }
            }
        }));
        var threads = writers.Concat(readers).Select(thread =>
        {
            thread.IsBackground = true;
            thread.Start();
            return thread;
        }).ToList();
        threads.ForEach(thread => thread.Join());

        Assert.Empty(failures);
        Assert.Equal(2 * PerWriter, table.Count);
        Assert.True(table.NewestSlotCount >= 4 * PerWriter, $"{table.NewestSlotCount} slots");
    }

    [Fact]
    public void A_thread_stopped_in_the_middle_of_a_copy_stops_no_one_and_loses_nothing()
    {
        // A thread claims the first chunk of the first growth and stops there (the seam holds it). Other
        // threads go on inserting through the table it was copying, which grows on many times meanwhile;
        // every key is found throughout, the stopped thread's keys included. Once it goes on, its chunk lands
        // in the newest table and the chain of tables collapses to one.
        var table = Create("default", initialBits: 4);
        using var claimed = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        Thread? stopped = null;
        table.ChunkClaimed = () =>
        {
            if (Thread.CurrentThread == stopped && !claimed.IsSet)
            {
                claimed.Set();
                resume.Wait();
            }
        };

        var early = new Dictionary<CellKey, Cell>();
        stopped = new Thread(() =>
        {
            for (var i = 0; !claimed.IsSet; i++)
            {
                var key = new CellKey(9, i);
                var cell = table.CreateOrGet(key); // stops inside the insertion that claims the chunk
                lock (early)
                {
                    early[key] = cell;
                }
            }
        }) { IsBackground = true };
        stopped.Start();
        Assert.True(claimed.Wait(HangGuard), "the thread never claimed a chunk to copy");

        var model = new Dictionary<CellKey, Cell>[2];
        var others = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            var mine = new Dictionary<CellKey, Cell>();
            for (var i = 0; i < 30_000; i++)
            {
                var key = new CellKey(t, i);
                mine[key] = table.GetOrCreate(key);
                Assert.Same(mine[key], table.Find(key));
            }

            model[t] = mine;
        }) { IsBackground = true }).ToList();
        others.ForEach(thread => thread.Start());
        others.ForEach(thread => thread.Join());
        Assert.True(table.TableCount > 2, $"{table.TableCount} tables while the copy is stopped");
        lock (early)
        {
            Assert.NotEmpty(early);
            foreach (var (key, cell) in early)
            {
                Assert.Same(cell, table.Find(key));
                Assert.Same(cell, table.GetOrCreate(key)); // not inserted twice while its slot waits to be copied
            }
        }

        resume.Set();
        stopped.Join();
        var all = model[0].Concat(model[1]).Concat(early).ToList();
        foreach (var (key, cell) in all)
        {
            Assert.Same(cell, table.Find(key));
        }

        Assert.Equal(all.Count, table.Count);
        AssertEnumeratesOnce(all.Select(pair => pair.Value), table);
        Assert.InRange(table.TableCount, 1, 2); // the chain collapsed, up to the last growth's copy under way
    }

    [Fact]
    public void A_thread_stopped_while_making_a_keys_cell_stops_no_one_inserting_that_key()
    {
        // The cell a thread makes for a new key is published by its one CAS, so a thread stopped before it holds
        // nothing: another thread inserts the same key meanwhile, and the stopped one, going on, gets that cell.
        var table = Create("default");
        var key = new CellKey(3, 4);
        using var making = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        Cell? stoppedGot = null;
        var stopped = new Thread(() => stoppedGot = table.CreateOrGet(key, CellTable.Hash(key), (_, _) =>
        {
            making.Set();
            resume.Wait();
            return new Cell(Absent.Value);
        }, 0, out _)) { IsBackground = true };
        stopped.Start();
        Assert.True(making.Wait(HangGuard), "the thread never made its cell");

        var inserted = table.CreateOrGet(key, CellTable.Hash(key), static (_, _) => new Cell(Absent.Value), 0, out var created);
        Assert.True(created);
        Assert.Same(inserted, table.Find(key));

        resume.Set();
        stopped.Join();
        Assert.Same(inserted, stoppedGot);
        Assert.Equal(1, table.Count);
        AssertEnumeratesOnce([inserted], table);
    }

    /// <summary>Checks that the table's enumeration yields exactly <paramref name="expected"/>, each cell once.</summary>
    private static void AssertEnumeratesOnce(IEnumerable<Cell> expected, ProbingCellTable table)
    {
        var cells = table.Cells().ToList();
        var distinct = new HashSet<Cell>(cells, ReferenceEqualityComparer.Instance);
        Assert.Equal(cells.Count, distinct.Count);
        Assert.True(distinct.SetEquals(expected), "the cells enumerated are not the ones inserted");
    }
}
