using System.Diagnostics;
using Commerce.InMemory;

namespace Commerce.Benchmarks;

/// <summary>
/// The in-memory store's index of idempotency keys alone, one thread: it fills the index with
/// <c>fill</c> random keys, then times <c>measure</c> fresh keys each looked up (absent) and then inserted,
/// as a keyed request's read and commit do, and prints the time per key. In a large index both are cache
/// misses, so this isolates what the index's layout costs, without the order path around it.
/// </summary>
internal static class KeyIndexProbe
{
    public static int Run(string[] args)
    {
        if (args.Length != 2 || !int.TryParse(args[0], out var fill) || fill < 0 || !int.TryParse(args[1], out var measure) || measure < 1)
        {
            Console.Error.WriteLine("usage: key-index <fill> <measure>");
            return 2;
        }

        var table = new GenerationalCellTable();
        var random = new Random(1);
        for (var i = 0; i < fill; i++)
        {
            table.GetOrCreate(new CellKey(random.Next(100_000), random.NextInt64()));
        }

        var keys = new CellKey[measure];
        for (var i = 0; i < measure; i++)
        {
            keys[i] = new CellKey(random.Next(100_000), random.NextInt64());
        }

        GC.Collect();
        var found = 0;
        var clock = Stopwatch.StartNew();
        foreach (var key in keys)
        {
            found += table.Find(key) is null ? 0 : 1;
            table.GetOrCreate(key);
        }

        Console.WriteLine($"{clock.Elapsed.TotalNanoseconds / measure:F0} ns per fresh key looked up and inserted, into {fill:N0} keys ({found} found)");
        return 0;
    }
}
