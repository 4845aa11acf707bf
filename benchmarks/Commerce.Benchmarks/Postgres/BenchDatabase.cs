using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Benchmarks.Postgres;

/// <summary>
/// The database both implementations use: the store's own schema (created by its migrator), dropped
/// and re-seeded at every setup so each benchmark case starts from the same tables.
/// </summary>
internal static class BenchDatabase
{
    public const string Schema = "bench_orders";

    /// <summary>Large enough that no order is ever refused for money or stock during a run.</summary>
    public const long Balance = 1_000_000_000_000_000;

    public const int OnHand = 2_000_000_000;

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("COMMERCE_POSTGRES") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                "COMMERCE_POSTGRES is not set. Start a throw-away PostgreSQL server first: eval \"$(.ci/postgres.sh start)\" " +
                "(and `.ci/postgres.sh stop` afterwards), or point COMMERCE_POSTGRES at a server you own.");

    /// <summary>
    /// The connection string with the automatic preparation the store's own data source turns on
    /// (<c>Max Auto Prepare=64</c>, <c>Auto Prepare Min Usages=2</c>) where it sets none, for the baseline's
    /// data source: both sides prepare alike.
    /// </summary>
    public static string WithAutoPrepare(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var set = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = builder.ConnectionString };
        if (!set.ContainsKey("Max Auto Prepare"))
        {
            builder.MaxAutoPrepare = 64;
        }

        if (!set.ContainsKey("Auto Prepare Min Usages"))
        {
            builder.AutoPrepareMinUsages = 2;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// Services with the PostgreSQL store on <see cref="Schema"/>, the store wrapped in a
    /// <see cref="CountingStore"/> (returned too).
    /// </summary>
    /// <param name="connectionString">The server.</param>
    /// <param name="groupCommit">Whether the store groups concurrent commits (<see cref="PostgresStoreOptions.GroupCommit"/>).</param>
    /// <param name="configure">Changes the library's options (for example turns events off).</param>
    public static (ServiceProvider Services, CountingStore Counter) CreateServices(string connectionString, bool groupCommit = false, Action<CommerceOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddCommerce(configure).UsePostgresStore(o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = Schema;
            o.GroupCommit = groupCommit;
        });

        // Replace the store registration by a counting decorator around the same instance.
        var registered = services.Last(d => d.ServiceType == typeof(ICommerceStore));
        var factory = registered.ImplementationFactory
            ?? throw new InvalidOperationException("The PostgreSQL store is expected to be registered with a factory.");
        services.Remove(registered);
        CountingStore? counter = null;
        services.AddSingleton<ICommerceStore>(sp => counter = new CountingStore((ICommerceStore)factory(sp)));
        var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<ICommerceStore>();
        return (provider, counter!);
    }

    /// <summary>Drops the schema, lets the store's migrator create it, and seeds users, products and stock.</summary>
    public static async Task ResetAsync(IServiceProvider services, string connectionString)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await using (var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {Schema} CASCADE"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await services.EnsureCommerceSchemaAsync();

        var seed = $"""
            INSERT INTO {Schema}.wallets (user_id, balance, version)
                SELECT u, {Balance}, 1 FROM generate_series(1, {OrderGenerator.Users}) AS u;
            INSERT INTO {Schema}.products (id, name, price, version)
                SELECT p, 'Product ' || p, 100 + p % 900, 1 FROM generate_series(1, {OrderGenerator.Products}) AS p;
            INSERT INTO {Schema}.stock (product_id, on_hand, version)
                SELECT p, {OnHand}, 1 FROM generate_series(1, {OrderGenerator.Products}) AS p;
            ANALYZE {Schema}.wallets, {Schema}.products, {Schema}.stock;
            """;
        await using var command = dataSource.CreateCommand(seed);
        await command.ExecuteNonQueryAsync();
    }
}
