using System.Diagnostics;
using System.Globalization;

namespace Commerce.Benchmarks;

/// <summary>
/// A steady-state run outside BenchmarkDotNet, for profiling (attach <c>dotnet-trace</c> or
/// <c>dotnet-counters</c> to it): N workers place orders (or charge one wallet) on one store for a
/// fixed time, then it prints operations per second, bytes allocated per operation, collections per
/// generation and conflicts. Not a benchmark result: use the BenchmarkDotNet classes for those.
/// </summary>
internal static class Soak
{
    private static int s_reported;

    // Where an operation's extra garbage goes (see the garbage= option), so that the allocation is not elided.
    private static object? s_sink;

    /// <summary>True for success; prints the first few errors.</summary>
    private static bool Report(CommerceError? error)
    {
        if (error is null)
        {
            return true;
        }

        if (Interlocked.Increment(ref s_reported) <= 5)
        {
            Console.Error.WriteLine($"operation failed: {error.Code}: {error.Message}");
        }

        return false;
    }

    public static int Run(string[] args)
    {
        var bufferedIds = args.Length > 0 && args[0].Equals("HandWrittenBufferedIds", StringComparison.OrdinalIgnoreCase);
        var hand = bufferedIds || (args.Length > 0 && args[0].Equals("HandWritten", StringComparison.OrdinalIgnoreCase));
        var kind = StoreKind.LockFree;
        var publishEvents = true;
        var keyed = false;
        var types = false;
        var garbage = -1;
        var midlife = -1;
        var states = -1;
        var keys = Shop.Products;
        while (args.Length > 4)
        {
            // Options after the four positional arguments: no-events, keyed, types, garbage=<bytes>, midlife=<bytes>, states=<bytes>, keys=<n>.
            var option = args[^1];
            if (option.Equals("no-events", StringComparison.OrdinalIgnoreCase))
            {
                publishEvents = false;
            }
            else if (option.Equals("keyed", StringComparison.OrdinalIgnoreCase))
            {
                keyed = true;
            }
            else if (option.Equals("types", StringComparison.OrdinalIgnoreCase))
            {
                // Which types the run's bytes went to (sampled by the runtime's allocation ticks), on every thread.
                types = true;
            }
            else if (option.StartsWith("garbage=", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(option.AsSpan("garbage=".Length), CultureInfo.InvariantCulture, out var size) && size >= 24)
            {
                // Each operation also allocates one object of this many bytes (a byte array, its 24-byte header
                // included) that dies at once: what a little transient garbage per order costs the collector.
                garbage = size - 24;
            }
            else if (option.StartsWith("midlife=", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(option.AsSpan("midlife=".Length), CultureInfo.InvariantCulture, out var kept) && kept >= 24)
            {
                // Each operation also replaces one of 10,000 objects of this many bytes (picked by the operation's
                // number): each lives until its slot is picked again, as a cell's latest state lives until the
                // next write to the cell, so at every collection 10,000 of them are alive and die soon after.
                midlife = kept - 24;
            }
            else if (option.StartsWith("states=", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(option.AsSpan("states=".Length), CultureInfo.InvariantCulture, out var spacing) && spacing >= 0)
            {
                // Each operation also writes a fresh 24-byte object into each of 7 of 30,000 old objects, as an order
                // writes new wallet, stock, sales and stripe states into old cells; the old objects are made apart,
                // with this many bytes kept between each and the next.
                states = spacing;
            }
            else if (option.StartsWith("keys=", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(option.AsSpan("keys=".Length), CultureInfo.InvariantCulture, out var first) && first is >= 3 and <= Shop.Products)
            {
                // Users and products drawn from the first <n> of each rather than all 10,000: how much of an order's
                // time is its keys' data missing the processor's caches.
                keys = first;
            }
            else
            {
                break;
            }

            args = args[..^1];
        }

        if (args.Length != 4
            || (!hand && !Enum.TryParse(args[0], ignoreCase: true, out kind))
            || !Enum.TryParse<Contention>(args[1], ignoreCase: true, out var workload)
            || !int.TryParse(args[2], out var workers) || workers < 1
            || !double.TryParse(args[3], System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
        {
            Console.Error.WriteLine("usage: soak <GlobalLock|PerKeyLock|LockFree|HandWritten|HandWrittenBufferedIds> <Low|HotProduct|HotWallet> <workers> <seconds> [no-events] [keyed] [types] [garbage=<bytes, at least 24>] [midlife=<bytes, at least 24>] [states=<bytes between cells>] [keys=<users and products drawn from, 3-10000>]");
            return 2;
        }

        const int ring = 4096;
        var orders = new OrderLineRequest[workers][][];
        var users = new UserId[workers][];
        for (var w = 0; w < workers; w++)
        {
            orders[w] = Requests.Orders(100 + w, ring, workload == Contention.HotProduct, keys);
            users[w] = Requests.Users(200 + w, ring, keys);
        }

        using var shop = hand ? null : new Shop(kind, configure: o => o.PublishEvents = publishEvents);
        var handShop = hand ? HandWrittenShop.Seeded(TimeProvider.System, bufferedIds) : null;

        var hotUser = new UserId(1);
        var one = new Money(1);
        Func<int, int, bool> operation = (hand, workload) switch
        {
            (true, Contention.HotWallet) => (_, _) => handShop!.Charge(1, 1),
            (true, _) => (w, i) => handShop!.PlaceOrder(users[w][i % ring].Value, orders[w][i % ring]),
            (false, Contention.HotWallet) => (_, _) => Report(Sync.Wait(shop!.Wallets.ChargeAsync(hotUser, one)).Error),
            _ when keyed => (w, i) => Report(Sync.Wait(shop!.Orders.PlaceOrderAsync(
                users[w][i % ring], orders[w][i % ring], new IdempotencyKey(string.Create(CultureInfo.InvariantCulture, $"order-{w}-{i}")))).Error),
            _ => (w, i) => Report(Sync.Wait(shop!.Orders.PlaceOrderAsync(users[w][i % ring], orders[w][i % ring])).Error),
        };

        if (garbage >= 0)
        {
            var measured = operation;
            operation = (w, i) =>
            {
                s_sink = new byte[garbage];
                return measured(w, i);
            };
        }

        if (midlife >= 0)
        {
            var latest = new object?[10_000];
            var measured = operation;
            operation = (w, i) =>
            {
                latest[(int)((uint)(i * 7919 + w) % 10_000)] = new byte[midlife];
                return measured(w, i);
            };
        }

        if (states >= 0)
        {
            var cells = new Holder[30_000];
            var spacers = new byte[cells.Length][];
            for (var c = 0; c < cells.Length; c++)
            {
                cells[c] = new Holder();
                spacers[c] = new byte[states];
            }

            GC.Collect(); // the cells are old before the run starts, as a store's are
            var measured = operation;
            operation = (w, i) =>
            {
                var x = (uint)((i * 7919) + w);
                for (var k = 0; k < 7; k++)
                {
                    x = (x * 1103515245) + 12345;
                    cells[x % (uint)cells.Length].Content = new Holder();
                }

                GC.KeepAlive(spacers);
                return measured(w, i);
            };
        }

        using var sampler = types ? new AllocationSampler() : null;
        var stop = 0;
        var counts = new long[workers];
        var failures = 0L;
        var threads = new Thread[workers];
        using var go = new Barrier(workers + 1);
        for (var w = 0; w < workers; w++)
        {
            var worker = w;
            threads[w] = new Thread(() =>
            {
                go.SignalAndWait();
                var i = 0;
                while (Volatile.Read(ref stop) == 0)
                {
                    if (!operation(worker, i++))
                    {
                        Interlocked.Increment(ref failures);
                    }
                }

                counts[worker] = i;
            }) { IsBackground = true };
            threads[w].Start();
        }

        var gen0 = GC.CollectionCount(0);
        var gen1 = GC.CollectionCount(1);
        var gen2 = GC.CollectionCount(2);
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var pause = GC.GetTotalPauseDuration();
        sampler?.Recording = true;
        go.SignalAndWait();
        var clock = Stopwatch.StartNew();
        // The collections seen while the workers run (polled, so one that ends within 5 ms of the next may be missed),
        // and how many of them compacted the ephemeral generations rather than sweeping them in place.
        var (seen, compacting, lastIndex) = (0, 0, GC.GetGCMemoryInfo(GCKind.Any).Index);
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            Thread.Sleep(5);
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            if (info.Index != lastIndex)
            {
                lastIndex = info.Index;
                seen++;
                compacting += info.Compacted ? 1 : 0;
            }
        }

        Volatile.Write(ref stop, 1);
        foreach (var thread in threads)
        {
            thread.Join();
        }

        clock.Stop();
        sampler?.Recording = false;
        var operations = counts.Sum();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - bytes;
        Console.WriteLine(
            $"{args[0]} {workload} workers={workers}{(publishEvents ? "" : " no-events")}{(keyed ? " keyed" : "")}{(garbage >= 0 ? $" garbage={garbage + 24}" : "")}{(midlife >= 0 ? $" midlife={midlife + 24}" : "")}{(states >= 0 ? $" states={states}" : "")}: {operations / clock.Elapsed.TotalSeconds:N0} ops/s, " +
            $"{clock.Elapsed.TotalNanoseconds / operations * workers:N0} ns per op per worker, {(double)allocated / operations:N0} B/op, " +
            $"GCs gen0/1/2 {GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}, " +
            $"GC pause {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:N0} ms ({(GC.GetTotalPauseDuration() - pause) / clock.Elapsed:P1}), " +
            $"compacting {compacting} of {seen} seen, failures={failures}, conflicts/op={(double)(shop?.Conflicts.Conflicts ?? 0) / operations:P3}, heap {GC.GetTotalMemory(false) / 1_048_576:N0} MB");
        var last = GC.GetGCMemoryInfo(GCKind.Ephemeral);
        Console.WriteLine(
            $"  last ephemeral GC: gen{last.Generation}, pause {last.PauseDurations[0].TotalMilliseconds:N1} ms, " +
            $"promoted {last.PromotedBytes / 1024:N0} KB, compacted={last.Compacted}, heap {last.HeapSizeBytes / 1_048_576:N0} MB, " +
            $"gen0/1 before {last.GenerationInfo[0].SizeBeforeBytes / 1024:N0}/{last.GenerationInfo[1].SizeBeforeBytes / 1024:N0} KB, " +
            $"after {last.GenerationInfo[0].SizeAfterBytes / 1024:N0}/{last.GenerationInfo[1].SizeAfterBytes / 1024:N0} KB");
        if (sampler is not null)
        {
            AllocationSampler.Print(sampler.Take(), operations);
        }

        return failures == 0 ? 0 : 1;
    }

    /// <summary>An old object that is given a new state now and then, as a store's cell is (see the states= option).</summary>
    private sealed class Holder
    {
        public object? Content;
    }
}
