using Commerce.Conformance;
using Commerce.Postgres.Tests.Support;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>Real threads against one database, directly and through PgBouncer: the invariants hold exactly.</summary>
public abstract class ConcurrencyTests
{
    private const int Threads = 8;

    /// <summary>Points the store at the server, or at a pooler in front of it; nothing: the server.</summary>
    protected virtual void UseConnection(PostgresStoreOptions options)
    {
    }

    /// <summary>The isolation level the server gives a transaction of the store's connections by default.</summary>
    protected virtual string DefaultIsolation => "read committed";

    private Task<PgShop> CreateShopAsync(Action<CommerceOptions> configure) => PgShop.CreateAsync(configure, UseConnection);

    [StoreFact]
    public async Task The_stores_connections_run_at_the_isolation_this_class_is_about()
    {
        var options = new PostgresStoreOptions();
        UseConnection(options);
        await using var connection = new NpgsqlConnection(options.ConnectionString ?? TestDatabase.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SHOW transaction_isolation", connection);
        Assert.Equal(DefaultIsolation, await command.ExecuteScalarAsync());
    }

    [StoreFact]
    public async Task Concurrent_charges_on_one_wallet_all_count_exactly_once()
    {
        await using var shop = await CreateShopAsync(o => o.MaxCommitAttempts = 10_000);
        var user = new UserId(1);
        const int PerThread = 25;

        await RunOnThreads(Threads, async _ =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                Assert.True((await shop.Wallets.ChargeAsync(user, new Money(3))).IsSuccess);
            }
        });

        Assert.Equal(new Money(3 * Threads * PerThread), await shop.Wallets.GetBalanceAsync(user));
        Assert.Equal(1L + (Threads * PerThread) - 1, await shop.ScalarAsync<long>("SELECT version FROM {s}.wallets"));
    }

    [StoreFact]
    public async Task More_buyers_than_stock_sell_exactly_the_stock()
    {
        await using var shop = await CreateShopAsync(o => o.MaxCommitAttempts = 10_000);
        var product = new ProductId(1);
        const int Stock = 40;
        const int Buyers = 64;
        await shop.Catalog.AddProductAsync(product, "Hot", new Money(5), Stock);
        for (var b = 0; b < Buyers; b++)
        {
            await shop.Wallets.ChargeAsync(new UserId(b), new Money(5));
        }

        var sold = 0;
        var refused = 0;
        await RunOnThreads(Threads, async t =>
        {
            for (var b = t; b < Buyers; b += Threads)
            {
                var result = await shop.Orders.PlaceOrderAsync(new UserId(b), [new(product, 1)]);
                if (result.IsSuccess)
                {
                    Interlocked.Increment(ref sold);
                }
                else
                {
                    Assert.Equal(CommerceErrorCode.InsufficientStock, result.Error!.Code);
                    Interlocked.Increment(ref refused);
                }
            }
        });

        Assert.Equal(Stock, sold);
        Assert.Equal(Buyers - Stock, refused);
        Assert.Equal(0, (await shop.Catalog.GetProductAsync(product)).Value.Stock);
        Assert.Equal((long)Stock, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.orders"));
        Assert.Equal((long)(Buyers - Stock) * 5, await shop.ScalarAsync<long>("SELECT sum(balance) FROM {s}.wallets"));
        var ranking = await shop.Ranking.GetPopularProductsAsync();
        Assert.Equal(Stock, Assert.Single(ranking).QuantitySold);
    }

    /// <summary>Starts <paramref name="count"/> threads released together by a barrier and waits for all.</summary>
    internal static Task RunOnThreads(int count, Func<int, Task> body)
    {
        var barrier = new Barrier(count);
        var tasks = Enumerable.Range(0, count).Select(t => Task.Factory.StartNew(
            () =>
            {
                barrier.SignalAndWait();
                body(t).GetAwaiter().GetResult();
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();
        return Task.WhenAll(tasks).ContinueWith(
            t =>
            {
                barrier.Dispose();
                return t;
            },
            TaskScheduler.Default).Unwrap();
    }
}

/// <summary>The concurrency tests with the store connected to the server.</summary>
[RequiresPostgres]
public sealed class DirectConcurrencyTests : ConcurrencyTests;

/// <summary>
/// The concurrency tests with the store connected through PgBouncer in transaction-pooling mode (its
/// schema migrated through it too), where consecutive statements of one client connection may run on
/// different server connections.
/// </summary>
[RequiresPgBouncer]
public sealed class PgBouncerConcurrencyTests : ConcurrencyTests
{
    protected override void UseConnection(PostgresStoreOptions options) =>
        options.ConnectionString = TestDatabase.PgBouncerConnectionString + ";Maximum Pool Size=24;Application Name=commerce-tests-pgbouncer";
}

/// <summary>
/// The concurrency tests on a server whose default isolation (as a role or database may set it) is REPEATABLE READ:
/// the store's reads run in it; its write batches set READ COMMITTED for their own transaction (see
/// <see cref="PostgresSql.ReadCommitted"/>).
/// </summary>
[RequiresPostgres]
public sealed class RepeatableReadConcurrencyTests : ConcurrencyTests
{
    protected override string DefaultIsolation => "repeatable read";

    protected override void UseConnection(PostgresStoreOptions options) =>
        options.ConnectionString = TestDatabase.ConnectionString + ";Options=-c default_transaction_isolation=repeatable\\ read";
}

/// <summary>The concurrency tests on a server whose default isolation is SERIALIZABLE (see <see cref="RepeatableReadConcurrencyTests"/>).</summary>
[RequiresPostgres]
public sealed class SerializableConcurrencyTests : ConcurrencyTests
{
    protected override string DefaultIsolation => "serializable";

    protected override void UseConnection(PostgresStoreOptions options) =>
        options.ConnectionString = TestDatabase.ConnectionString + ";Options=-c default_transaction_isolation=serializable";
}
