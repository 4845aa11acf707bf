using System.Diagnostics;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// <c>pgsoak &lt;Store|StoreGroupCommit|RowLockTransaction&gt; &lt;LowContention|HotProduct&gt; &lt;workers&gt; &lt;seconds&gt;</c>:
/// one case of <see cref="PostgresOrderBenchmarks"/> run steadily for a while (same set-up, same order
/// streams) and its orders per second printed, to attach <c>perf</c> to both the client and the server.
/// A figure for profiling, not a timing: the benchmark is the measurement.
/// </summary>
internal static class PostgresSoak
{
    public static int Run(string[] args)
    {
        if (args.Length != 4
            || args[0] is not (nameof(PostgresOrderBenchmarks.Store) or nameof(PostgresOrderBenchmarks.StoreGroupCommit) or nameof(PostgresOrderBenchmarks.RowLockTransaction))
            || !Enum.TryParse<OrderMix>(args[1], ignoreCase: true, out var mix)
            || !int.TryParse(args[2], out var workers) || workers < 1 || 320 % workers != 0
            || !double.TryParse(args[3], System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
        {
            Console.Error.WriteLine("usage: pgsoak <Store|StoreGroupCommit|RowLockTransaction> <LowContention|HotProduct> <workers dividing 320> <seconds>");
            return 2;
        }

        var benchmarks = new PostgresOrderBenchmarks { Workers = workers, Mix = mix };
        Action invoke;
        switch (args[0])
        {
            case nameof(PostgresOrderBenchmarks.Store):
                benchmarks.SetupStore();
                invoke = benchmarks.Store;
                break;
            case nameof(PostgresOrderBenchmarks.StoreGroupCommit):
                benchmarks.SetupStoreGroupCommit();
                invoke = benchmarks.StoreGroupCommit;
                break;
            default:
                benchmarks.SetupRowLock();
                invoke = benchmarks.RowLockTransaction;
                break;
        }

        try
        {
            invoke(); // warm-up: the JIT, the pools, the prepared statements
            var clock = Stopwatch.StartNew();
            long invocations = 0;
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                invoke();
                invocations++;
            }

            Console.WriteLine($"{args[0]} {mix} workers={workers}: {invocations * 320 / clock.Elapsed.TotalSeconds:N0} orders/s over {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            benchmarks.Cleanup();
        }

        return 0;
    }
}
