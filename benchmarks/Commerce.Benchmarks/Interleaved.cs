using System.Diagnostics;
using System.Globalization;

namespace Commerce.Benchmarks;

/// <summary>
/// Two variants of order placement on the lock-free store, measured in one process by the same worker
/// threads in alternating short slices (A, B, A, B…), so that whatever the machine does meanwhile (other
/// load, frequency, a collection) falls on both alike. It prints each variant's orders per second over
/// all its slices, their ratio, and the median of the ratios of consecutive pairs of slices. Made for
/// ratios such as what events or an idempotency key cost an order, which separate runs on a shared
/// machine blur: the same build measured minutes apart varies by a quarter and more.
/// </summary>
internal static class Interleaved
{
    private const int Ring = 4096;

    public static int Run(string[] args)
    {
        if (args.Length is < 4 or > 5
            || !TryParse(args[0], out var a)
            || !TryParse(args[1], out var b)
            || !int.TryParse(args[2], out var workers) || workers < 1
            || !double.TryParse(args[3], CultureInfo.InvariantCulture, out var seconds) || seconds <= 0
            || !int.TryParse(args.Length == 5 ? args[4] : "1000", out var sliceMs) || sliceMs < 10)
        {
            Console.Error.WriteLine("usage: interleaved <events|no-events|keyed> <events|no-events|keyed> <workers> <seconds> [slice-ms]");
            return 2;
        }

        using var shopA = Create(a, workers, out var placeA);
        using var shopB = Create(b, workers, out var placeB);
        return Alternate(placeA, placeB, Name(a), Name(b), workers, seconds, sliceMs);
    }

    /// <summary>
    /// A shop of <paramref name="variant"/> (<c>events</c>, <c>no-events</c> or <c>keyed</c>) and how a worker
    /// places its next order there: <paramref name="place"/>(worker, i) places worker's i-th request and says
    /// whether it succeeded. Every shop made for the same workers is given the same requests. Its types are
    /// the framework's only, so that a build loaded beside another (<see cref="InterleavedBuilds"/>) can be
    /// called through it.
    /// </summary>
    internal static IDisposable Create(string variant, int workers, out Func<int, int, bool> place) =>
        TryParse(variant, out var parsed)
            ? Create(parsed, workers, out place)
            : throw new ArgumentException($"Unknown variant '{variant}'.", nameof(variant));

    /// <summary>
    /// Runs <paramref name="placeA"/> and <paramref name="placeB"/> on the same <paramref name="workers"/> threads in
    /// alternating slices of <paramref name="sliceMs"/>, for about <paramref name="seconds"/>, and prints their rates.
    /// The pairs of slices alternate which runs first (A then B, then B then A), so that neither is always the one that
    /// follows the other's slice.
    /// </summary>
    internal static int Alternate(Func<int, int, bool> placeA, Func<int, int, bool> placeB, string nameA, string nameB, int workers, double seconds, int sliceMs)
    {
        var place = new[] { placeA, placeB };
        var slices = Math.Max(4, (int)Math.Round(seconds * 1000 / sliceMs / 2) * 2); // a warm-up pair and one measured at least
        var counts = new long[slices];
        var times = new double[slices];
        var current = 0;
        var stop = 0;
        var failures = 0L;
        using var start = new Barrier(workers + 1);
        using var end = new Barrier(workers + 1);
        var threads = new Thread[workers];
        for (var w = 0; w < workers; w++)
        {
            var worker = w;
            threads[w] = new Thread(() =>
            {
                var i = 0; // the worker's next request, across both variants (so no key repeats)
                for (var s = 0; s < slices; s++)
                {
                    start.SignalAndWait();
                    var operation = place[Volatile.Read(ref current)];
                    var done = 0L;
                    while (Volatile.Read(ref stop) == 0)
                    {
                        if (!operation(worker, i++))
                        {
                            Interlocked.Increment(ref failures);
                        }

                        done++;
                    }

                    Interlocked.Add(ref counts[s], done);
                    end.SignalAndWait();
                }
            }) { IsBackground = true };
            threads[w].Start();
        }

        for (var s = 0; s < slices; s++)
        {
            Volatile.Write(ref current, VariantOf(s));
            Volatile.Write(ref stop, 0);
            start.SignalAndWait();
            var clock = Stopwatch.StartNew();
            Thread.Sleep(sliceMs);
            Volatile.Write(ref stop, 1);
            end.SignalAndWait();
            times[s] = clock.Elapsed.TotalSeconds;
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        // The first pair of slices warms both variants up (jitted, their stores past their first growth): not counted.
        var rateA = Rate(counts, times, 0, from: 2);
        var rateB = Rate(counts, times, 1, from: 2);
        // A's rate over B's in each pair (slices 2p and 2p + 1, in either order).
        double SliceRate(int first, int variant)
        {
            var s = VariantOf(first) == variant ? first : first + 1;
            return counts[s] / times[s];
        }

        var pairs = Enumerable.Range(1, (slices / 2) - 1)
            .Select(p => SliceRate(2 * p, 0) / SliceRate(2 * p, 1))
            .Order()
            .ToArray();
        Console.WriteLine(
            $"interleaved workers={workers}, {pairs.Length} pairs of {sliceMs} ms slices: {nameA} {rateA:N0} orders/s, {nameB} {rateB:N0} orders/s, " +
            $"ratio {rateA / rateB:F3}, median pair ratio {pairs[pairs.Length / 2]:F3} (A ahead in {pairs.Count(r => r > 1)} of {pairs.Length}), failures={failures}");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>The variant slice <paramref name="slice"/> runs: in each pair, A first in even pairs and B first in odd ones.</summary>
    private static int VariantOf(int slice) => (slice % 2) ^ ((slice / 2) % 2);

    /// <summary>Orders per second of the slices of one variant (one slice of each pair, from slice <paramref name="from"/> on).</summary>
    private static double Rate(long[] counts, double[] times, int variant, int from)
    {
        long orders = 0;
        var seconds = 0.0;
        for (var s = from; s < counts.Length; s++)
        {
            if (VariantOf(s) == variant)
            {
                orders += counts[s];
                seconds += times[s];
            }
        }

        return orders / seconds;
    }

    private static Shop Create(Variant variant, int workers, out Func<int, int, bool> place)
    {
        var orders = new OrderLineRequest[workers][][];
        var users = new UserId[workers][];
        for (var w = 0; w < workers; w++)
        {
            orders[w] = Requests.Orders(100 + w, Ring, hot: false);
            users[w] = Requests.Users(200 + w, Ring);
        }

        var shop = new Shop(StoreKind.LockFree, configure: o => o.PublishEvents = variant != Variant.NoEvents);
        place = variant == Variant.Keyed
            ? (w, i) => Sync.Wait(shop.Orders.PlaceOrderAsync(
                users[w][i % Ring], orders[w][i % Ring], new IdempotencyKey(string.Create(CultureInfo.InvariantCulture, $"order-{w}-{i}")))).IsSuccess
            : (w, i) => Sync.Wait(shop.Orders.PlaceOrderAsync(users[w][i % Ring], orders[w][i % Ring])).IsSuccess;
        return shop;
    }

    private static bool TryParse(string text, out Variant variant)
    {
        variant = text.ToLowerInvariant() switch
        {
            "events" => Variant.Events,
            "no-events" => Variant.NoEvents,
            "keyed" => Variant.Keyed,
            _ => (Variant)(-1),
        };
        return Enum.IsDefined(variant);
    }

    private static string Name(Variant variant) => variant switch
    {
        Variant.NoEvents => "no-events",
        Variant.Keyed => "keyed",
        _ => "events",
    };

    /// <summary>What a variant's orders carry: events (the default), no events, or events and a fresh idempotency key each.</summary>
    private enum Variant
    {
        Events,
        NoEvents,
        Keyed,
    }
}
