using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// Orders per second on PostgreSQL with 1, 4, 16 and 64 concurrent workers, for the library's store
/// (optimistic, one-round-trip commit, retried by the services on conflict), alone and with group
/// commit, against a hand-written interactive transaction with <c>SELECT … FOR UPDATE</c> row locks, on
/// the same tables.
/// One operation is one order placed. Needs a server: <c>eval "$(.ci/postgres.sh start)"</c>.
/// </summary>
/// <remarks>
/// Each worker places its orders one after the other (sync over async on its own thread), so the
/// number of workers is the number of orders in flight. Both sides get the same order stream per
/// worker. The retry counts are printed at cleanup (lines starting with <c>// Postgres retries</c>
/// in the log).
/// </remarks>
public class PostgresOrderBenchmarks
{
    /// <summary>Orders per invocation, split evenly over the workers (divisible by 1, 4, 16 and 64).</summary>
    private const int OrdersPerInvoke = 320;

    private ServiceProvider? _services;
    private CountingStore? _counter;
    private RowLockOrders? _rowLock;
    private WorkerPool? _pool;
    private long _orders;
    private long _refused;
    private bool _groupCommit;

    [Params(1, 4, 16, 64)]
    public int Workers { get; set; }

    [Params(OrderMix.LowContention, OrderMix.HotProduct)]
    public OrderMix Mix { get; set; }

    [GlobalSetup(Target = nameof(Store))]
    public void SetupStore() => SetupStore(groupCommit: false);

    [GlobalSetup(Target = nameof(StoreGroupCommit))]
    public void SetupStoreGroupCommit() => SetupStore(groupCommit: true);

    private void SetupStore(bool groupCommit)
    {
        var connectionString = BenchDatabase.ConnectionString;
        _groupCommit = groupCommit;
        (_services, _counter) = BenchDatabase.CreateServices(connectionString, groupCommit);
        BenchDatabase.ResetAsync(_services, connectionString).GetAwaiter().GetResult();
        var orders = _services.GetRequiredService<IOrderService>();
        _pool = new WorkerPool(Workers, OrdersPerInvoke / Workers, worker =>
        {
            var generator = new OrderGenerator(Mix, seed: worker + 1);
            return async () =>
            {
                var (user, lines) = generator.Next();
                var placed = await orders.PlaceOrderAsync(user, lines).ConfigureAwait(false);
                if (placed.IsSuccess)
                {
                    Interlocked.Increment(ref _orders);
                    return;
                }

                Interlocked.Increment(ref _refused);
                if (placed.Error!.Code != CommerceErrorCode.ConcurrencyConflict)
                {
                    throw new InvalidOperationException($"An order was refused: {placed.Error.Message}");
                }
            };
        });
    }

    [GlobalSetup(Target = nameof(RowLockTransaction))]
    public void SetupRowLock()
    {
        var connectionString = BenchDatabase.ConnectionString;
        (_services, _) = BenchDatabase.CreateServices(connectionString);
        BenchDatabase.ResetAsync(_services, connectionString).GetAwaiter().GetResult();
        _rowLock = new RowLockOrders(connectionString, BenchDatabase.Schema);
        var rowLock = _rowLock;
        _pool = new WorkerPool(Workers, OrdersPerInvoke / Workers, worker =>
        {
            var generator = new OrderGenerator(Mix, seed: worker + 1);
            return async () =>
            {
                var (user, lines) = generator.Next();
                if (await rowLock.PlaceOrderAsync(user, lines).ConfigureAwait(false))
                {
                    Interlocked.Increment(ref _orders);
                    return;
                }

                Interlocked.Increment(ref _refused);
                throw new InvalidOperationException("An order was refused by the row-lock baseline (wallet, product or stock missing or short).");
            };
        });
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = OrdersPerInvoke)]
    public void RowLockTransaction() => _pool!.RunOnce();

    [Benchmark(OperationsPerInvoke = OrdersPerInvoke)]
    public void Store() => _pool!.RunOnce();

    /// <summary>The store with <see cref="PostgresStoreOptions.GroupCommit"/> on: concurrent orders commit together.</summary>
    [Benchmark(OperationsPerInvoke = OrdersPerInvoke)]
    public void StoreGroupCommit() => _pool!.RunOnce();

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        var orders = Interlocked.Read(ref _orders);
        var refused = Interlocked.Read(ref _refused);
        if (_counter is { } counter)
        {
            var attempts = counter.Attempts;
            var conflicts = counter.Conflicts;
            Console.WriteLine(
                $"// Postgres retries: {(_groupCommit ? nameof(StoreGroupCommit) : nameof(Store))} Workers={Workers} Mix={Mix} orders={orders} gave-up={refused} attempts={attempts} " +
                $"conflicts={conflicts} retries/order={(double)conflicts / Math.Max(1, orders + refused):F3} " +
                $"conflict rate={(double)conflicts / Math.Max(1, attempts):P1} of commits");
        }

        if (_rowLock is { } rowLock)
        {
            Console.WriteLine(
                $"// Postgres retries: RowLockTransaction Workers={Workers} Mix={Mix} orders={orders} refused={refused} " +
                $"attempts={rowLock.Attempts} deadlock/serialization retries={rowLock.Retries}");
            rowLock.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _services?.Dispose();
    }
}
