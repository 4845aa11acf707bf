using Commerce.Conformance;
using Commerce.Conformance.Ports;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;

namespace Commerce.Postgres.Tests.Ports;

/// <summary>The storage port's rules on the PostgreSQL store, each test on a fresh schema dropped after it.</summary>
[RequiresPostgres]
public sealed class PostgresStorePortTests : StorePortConformanceTests, IAsyncLifetime
{
    private readonly PortStores _stores = new(maxGroupSize: 0);

    protected override ICommerceStore CreateStore() => _stores.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _stores.DisposeAsync();
}

/// <summary>The storage port's rules on the PostgreSQL store with group commit on.</summary>
[RequiresPostgres]
public sealed class PostgresGroupCommitStorePortTests : StorePortConformanceTests, IAsyncLifetime
{
    private readonly PortStores _stores = new(maxGroupSize: 64);

    protected override ICommerceStore CreateStore() => _stores.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _stores.DisposeAsync();
}

/// <summary>Stores on fresh schemas, each created by the store's migrator; disposed and dropped together.</summary>
internal sealed class PortStores(int maxGroupSize)
{
    private readonly List<(PostgresCommerceStore Store, string Schema)> _stores = [];

    public ICommerceStore Create()
    {
        var schema = "p_" + Guid.NewGuid().ToString("N")[..16];
        var store = new PostgresCommerceStore(
            PostgresDataSources.Create(PgShop.RequiredConnectionString + ";Maximum Pool Size=8;Application Name=commerce-port-tests"),
            ownsDataSource: true,
            schema,
            commandTimeout: null,
            new CommerceOptions().RankingResolution,
            maxGroupSize);
        _stores.Add((store, schema));
        new PostgresSchemaMigrator(store).EnsureSchemaAsync().GetAwaiter().GetResult();
        return store;
    }

    public async Task DisposeAsync()
    {
        foreach (var (store, schema) in _stores)
        {
            await store.DisposeAsync();
            await PgShop.DropSchemaAsync(schema);
        }
    }
}
