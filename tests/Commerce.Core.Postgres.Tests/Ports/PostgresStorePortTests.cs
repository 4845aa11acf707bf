using Commerce.Conformance;
using Commerce.Conformance.Ports;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres.Tests.Ports;

/// <summary>The storage port's rules on the PostgreSQL store, each test on a fresh schema dropped after it.</summary>
[RequiresPostgres]
public sealed class PostgresStorePortTests : StorePortConformanceTests, IAsyncLifetime
{
    private readonly List<(PostgresCommerceStore Store, string Schema)> _stores = [];

    protected override ICommerceStore CreateStore()
    {
        var schema = "p_" + Guid.NewGuid().ToString("N")[..16];
        var store = new PostgresCommerceStore(
            NpgsqlDataSource.Create(PgShop.RequiredConnectionString + ";Maximum Pool Size=8;Application Name=commerce-port-tests"),
            ownsDataSource: true,
            schema,
            commandTimeout: null,
            new CommerceOptions().RankingResolution);
        _stores.Add((store, schema));
        new PostgresSchemaMigrator(store).EnsureSchemaAsync().GetAwaiter().GetResult();
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var (store, schema) in _stores)
        {
            await store.DisposeAsync();
            await PgShop.DropSchemaAsync(schema);
        }
    }
}
