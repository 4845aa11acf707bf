using Commerce.InMemory.LockFree;

namespace Commerce.InMemory.Tests;

/// <summary>The tables of ids (wallets, products, stock, carts): a lock-free probing index with an array of recent cells in front.</summary>
public sealed class CellTableTests
{
    [Fact]
    public void Every_lookup_finds_the_one_cell_of_its_key_as_the_array_of_recent_cells_grows()
    {
        var table = new CellTable();
        var model = new Dictionary<CellKey, Cell>();
        var random = new Random(3);
        var capacities = new HashSet<int> { table.RecentCapacity };
        for (var i = 0; i < 40_000; i++)
        {
            var key = new CellKey(random.Next(8), random.Next(2_500)); // eight keys to every low word
            var cell = (i % 3) switch
            {
                0 => table.GetOrCreate(key),
                1 => table.CreateOrGet(key),
                _ => table.Find(key),
            };
            if (model.TryGetValue(key, out var known))
            {
                Assert.Same(known, cell);
            }
            else if (cell is not null)
            {
                Assert.True(CellTableChecks.Unwritten(cell));
                model.Add(key, cell);
            }

            capacities.Add(table.RecentCapacity);
        }

        Assert.Equal(model.Count, table.Count);
        Assert.All(model, pair => Assert.Same(pair.Value, table.Find(pair.Key)));
        Assert.Null(table.Find(new CellKey(8, 1)));

        // It grew in steps with the table, to at least four slots per cell (up to its bound).
        Assert.True(capacities.Count > 4, string.Join(", ", capacities));
        Assert.True(table.RecentCapacity >= Math.Min(4 * model.Count, 1 << 17), $"{table.RecentCapacity} slots for {model.Count} cells");
    }

    [Theory]
    [InlineData(1, 1_000)]
    [InlineData(1, 30_000)]
    [InlineData(500_000, 20_000)]
    public void Ids_numbered_one_after_another_each_keep_their_own_recent_slot(long first, int count)
    {
        // Ids as hosts number them take a slot each (no two in one pair of slots, where a hash would put some),
        // so every one is found with one load, by the prefetch's peek too.
        var table = new CellTable();
        var cells = new Cell[count];
        for (var i = 0; i < count; i++)
        {
            cells[i] = table.GetOrCreate(new CellKey(0, first + i));
        }

        for (var i = 0; i < count; i++)
        {
            Assert.Same(cells[i], table.Recent(new CellKey(0, first + i)));
        }
    }

    [Fact]
    public void Recent_gives_the_cell_in_the_keys_slot_whichever_key_it_is_for()
    {
        var table = new CellTable();
        var key = new CellKey(0, 42);
        Assert.Null(table.Recent(key)); // nothing used yet

        var cell = table.GetOrCreate(key);
        Assert.Same(cell, table.Recent(key));

        // Fill the table until some other key's cell takes the slot: Recent gives that cell, unchecked, and
        // a lookup of the key still finds its own.
        for (var low = 43L; low < 1_000_000 && (table.Recent(key) is null || ReferenceEquals(table.Recent(key), cell)); low++)
        {
            table.GetOrCreate(new CellKey(0, low));
        }

        var other = Assert.IsType<KeyedCell>(table.Recent(key));
        Assert.NotEqual(key, other.Key);
        Assert.Same(cell, table.Find(key));
    }

    [Fact]
    public void Threads_racing_for_the_same_slots_all_get_one_cell_per_key()
    {
        // Many keys per slot (the array is small at first and grows meanwhile), and every thread both
        // fills and reads slots: a slot may hold any key's cell, but a lookup takes it only for its own key.
        const int Threads = 4;
        const int Keys = 5_000;
        var table = new CellTable();
        var seen = new Dictionary<CellKey, Cell>[Threads];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            var mine = new Dictionary<CellKey, Cell>();
            start.SignalAndWait();
            for (var i = 0; i < 40_000; i++)
            {
                var key = new CellKey(random.Next(2), random.Next(Keys));
                var cell = random.Next(3) switch
                {
                    0 => table.GetOrCreate(key),
                    1 => table.CreateOrGet(key),
                    _ => table.Find(key),
                };
                if (cell is null)
                {
                    continue;
                }

                if (mine.TryGetValue(key, out var known) && !ReferenceEquals(known, cell))
                {
                    throw new InvalidOperationException($"Two cells for {key}.");
                }

                mine[key] = cell;
            }

            seen[t] = mine;
        }) { IsBackground = true }).ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());

        var model = new Dictionary<CellKey, Cell>();
        foreach (var (key, cell) in seen.SelectMany(mine => mine))
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
        Assert.All(model, pair => Assert.Same(pair.Value, table.Find(pair.Key)));
    }

    [Fact]
    public void Sales_buckets_list_every_cell_their_index_holds_when_threads_create_them_at_once()
    {
        // Four threads create the cells of the same (bucket, product) keys in their own orders: each key gets
        // one cell in the index, found by every thread, and each bucket, created once, lists it. A thread
        // whose new cell lost to another's may leave it listed too, absent, which a ranking reads as nothing.
        const int Threads = 4;
        var table = new SalesCellTable();
        var keys = (from bucket in Enumerable.Range(0, 6) from product in Enumerable.Range(0, 800) select new CellKey(bucket, product)).ToArray();
        var model = CellTableChecks.InsertFromThreads(table, Threads, (_, random) => keys.OrderBy(_ => random.Next()).ToArray());

        Assert.Equal(keys.Length, model.Count);
        Assert.Equal(6, table.BucketCount);
        for (var bucket = 0; bucket < 6; bucket++)
        {
            var listed = table.Bucket(bucket)!.Cells.ToList();
            Assert.Equal(table.Bucket(bucket)!.Count, listed.Count);
            var indexed = model.Where(pair => pair.Key.High == bucket).ToList();
            Assert.All(indexed, pair => Assert.Contains(listed, item => item.Key == pair.Key.Low && ReferenceEquals(item.Value, pair.Value)));
            Assert.All(listed.Where(item => !model.Values.Contains(item.Value)), item => Assert.True(CellTableChecks.Unwritten(item.Value)));
        }
    }
}
