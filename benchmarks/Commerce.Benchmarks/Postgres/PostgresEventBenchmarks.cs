using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// What the event outbox costs on PostgreSQL: the store placing orders (low contention) with events in
/// every commit (the default: a stripe counter upsert, the event rows and a <c>pg_notify</c> in the commit's
/// batch) against the same orders with <see cref="CommerceOptions.PublishEvents"/> off, by 4 and 16 workers.
/// Needs a server: <c>eval "$(.ci/postgres.sh start)"</c>.
/// </summary>
public class PostgresEventBenchmarks
{
    private const int OrdersPerInvoke = 320;

    private ServiceProvider? _services;
    private WorkerPool? _pool;

    [Params(4, 16)]
    public int Workers { get; set; }

    [GlobalSetup(Target = nameof(WithoutEvents))]
    public void SetupWithoutEvents() => Setup(publish: false);

    [GlobalSetup(Target = nameof(WithEvents))]
    public void SetupWithEvents() => Setup(publish: true);

    [Benchmark(Baseline = true, OperationsPerInvoke = OrdersPerInvoke)]
    public void WithoutEvents() => _pool!.RunOnce();

    [Benchmark(OperationsPerInvoke = OrdersPerInvoke)]
    public void WithEvents() => _pool!.RunOnce();

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool?.Dispose();
        _services?.Dispose();
    }

    private void Setup(bool publish)
    {
        var connectionString = BenchDatabase.ConnectionString;
        (_services, _) = BenchDatabase.CreateServices(connectionString, configure: o => o.PublishEvents = publish);
        BenchDatabase.ResetAsync(_services, connectionString).GetAwaiter().GetResult();
        var orders = _services.GetRequiredService<IOrderService>();
        _pool = new WorkerPool(Workers, OrdersPerInvoke / Workers, worker =>
        {
            var generator = new OrderGenerator(OrderMix.LowContention, seed: worker + 1);
            return async () =>
            {
                var (user, lines) = generator.Next();
                var placed = await orders.PlaceOrderAsync(user, lines).ConfigureAwait(false);
                if (!placed.IsSuccess && placed.Error!.Code != CommerceErrorCode.ConcurrencyConflict)
                {
                    throw new InvalidOperationException($"An order was refused: {placed.Error.Message}");
                }
            };
        });
    }
}
