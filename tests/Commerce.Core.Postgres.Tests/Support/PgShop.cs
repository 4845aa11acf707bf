using Commerce.Conformance;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Commerce.Postgres.Tests.Support;

/// <summary>
/// One host instance on the PostgreSQL store with a fake clock. <see cref="CreateAsync"/> makes a fresh
/// schema with a random name (dropped by the instance that created it); <see cref="JoinAsync"/> makes a
/// second, independent instance on the same schema.
/// </summary>
internal sealed class PgShop : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = TestClock.Start;

    private readonly ServiceProvider _provider;
    private readonly bool _ownsSchema;

    private PgShop(string schema, bool ownsSchema, Action<CommerceOptions>? configure, DateTimeOffset start, Action<PostgresStoreOptions>? store = null)
    {
        Schema = schema;
        _ownsSchema = ownsSchema;
        Time = new FakeTimeProvider(start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Time);
        services.AddCommerce(configure).UsePostgresStore(options =>
        {
            options.ConnectionString = RequiredConnectionString + ";Maximum Pool Size=24;Application Name=commerce-tests-" + schema;
            options.Schema = schema;
            store?.Invoke(options);
        });
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    /// <summary>The test server's superuser connection string (see <see cref="TestDatabase"/>).</summary>
    public static string RequiredConnectionString => TestDatabase.ConnectionString;

    public string Schema { get; }

    public FakeTimeProvider Time { get; }

    public IServiceProvider Services => _provider;

    public IWalletService Wallets => _provider.GetRequiredService<IWalletService>();

    public ICatalogService Catalog => _provider.GetRequiredService<ICatalogService>();

    public IOrderService Orders => _provider.GetRequiredService<IOrderService>();

    public ISalesRankingService Ranking => _provider.GetRequiredService<ISalesRankingService>();

    public ICartService Carts => _provider.GetRequiredService<ICartService>();

    internal PostgresCommerceStore Store => _provider.GetRequiredService<PostgresCommerceStore>();

    /// <summary>A shop on a fresh schema; <paramref name="store"/> may change the store's options (after the defaults).</summary>
    public static Task<PgShop> CreateAsync(Action<CommerceOptions>? configure = null, Action<PostgresStoreOptions>? store = null) =>
        OnSchemaAsync("t_" + Guid.NewGuid().ToString("N")[..16], configure, store);

    /// <summary>A shop on a schema that may exist already (it is migrated to the current version), which it drops when disposed.</summary>
    public static async Task<PgShop> OnSchemaAsync(string schema, Action<CommerceOptions>? configure = null, Action<PostgresStoreOptions>? store = null)
    {
        var shop = new PgShop(schema, ownsSchema: true, configure, Start, store);
        try
        {
            await shop.Services.EnsureCommerceSchemaAsync();
        }
        catch
        {
            await shop.DisposeAsync();
            throw;
        }

        return shop;
    }

    public async Task<PgShop> JoinAsync(Action<CommerceOptions>? configure = null)
    {
        var shop = new PgShop(Schema, ownsSchema: false, configure, Time.GetUtcNow());
        try
        {
            await shop.Services.EnsureCommerceSchemaAsync();
        }
        catch
        {
            await shop.DisposeAsync();
            throw;
        }

        return shop;
    }

    /// <summary>Runs a scalar query against this shop's schema (use {s} for the schema).</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(RequiredConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql.Replace("{s}", "\"" + Schema + "\"", StringComparison.Ordinal), connection);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull or null ? default! : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Makes every idempotency record of this shop look written two days ago by the server's clock, so that a
    /// purge may remove the expired ones (it keeps any record written less than a day ago); returns how many.
    /// </summary>
    public Task<long> AgeIdempotencyRecordsAsync() =>
        ScalarAsync<long>("WITH a AS (UPDATE {s}.idempotency SET written_at = written_at - interval '2 days' RETURNING 1) SELECT count(*) FROM a");

    public async ValueTask DisposeAsync()
    {
        await _provider.DisposeAsync();
        if (_ownsSchema)
        {
            await DropSchemaAsync(Schema);
        }
    }

    /// <summary>Drops a test schema and everything in it.</summary>
    public static async Task DropSchemaAsync(string schema)
    {
        if (!TestDatabase.IsAvailable)
        {
            return;
        }

        await using var connection = new NpgsqlConnection(RequiredConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>As <see cref="DropSchemaAsync"/>, for synchronous disposal.</summary>
    public static void DropSchema(string schema) => DropSchemaAsync(schema).GetAwaiter().GetResult();
}
