using Commerce.Conformance;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests.Conformance;

// The conformance suite on the PostgreSQL store: the same behaviour and concurrency tests the
// in-memory store passes. Each shop gets a fresh schema, created by the store's own migrator and
// dropped when the shop is disposed.

internal static class PostgresConformance
{
    /// <summary>
    /// Selects the PostgreSQL store on a fresh schema, created when the shop first needs its store and
    /// dropped when the shop's service provider is disposed (after the store, so its pool is closed by then).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="server">The connection string of the server, or of a pooler in front of it; <see langword="null"/>: the test server's.</param>
    /// <param name="groupCommit">Whether the store batches concurrent commits (<see cref="PostgresStoreOptions.GroupCommit"/>).</param>
    public static void UseFreshSchema(ICommerceBuilder builder, string? server = null, bool groupCommit = false)
    {
        var schema = "c_" + Guid.NewGuid().ToString("N")[..16];
        var connectionString = (server ?? PgShop.RequiredConnectionString) + ";Maximum Pool Size=24;Application Name=commerce-conformance";

        // Registered before UsePostgresStore, whose own ICommerceStore registration then stands aside:
        // the store is resolved after the schema, so the container disposes the store first.
        builder.Services.AddSingleton(_ => FreshSchema.Create(schema, connectionString));
        builder.Services.AddSingleton<ICommerceStore>(sp =>
        {
            sp.GetRequiredService<FreshSchema>();
            return sp.GetRequiredService<PostgresCommerceStore>();
        });
        builder.Services.AddSingleton<IEventStore>(sp =>
        {
            sp.GetRequiredService<ICommerceStore>(); // the schema first, as for the store
            return new PostgresEventStore(sp.GetRequiredService<PostgresCommerceStore>());
        });
        builder.UsePostgresStore(o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
            o.GroupCommit = groupCommit;
        });
    }

    /// <summary>A schema created by the store's own migrator (as a host would at start-up), dropped on disposal.</summary>
    private sealed class FreshSchema(string schema) : IDisposable
    {
        public static FreshSchema Create(string schema, string connectionString)
        {
            var setup = new ServiceCollection();
            setup.AddCommerce().UsePostgresStore(o => { o.ConnectionString = connectionString; o.Schema = schema; });
            using (var provider = setup.BuildServiceProvider())
            {
                provider.EnsureCommerceSchemaAsync().GetAwaiter().GetResult();
            }

            return new FreshSchema(schema);
        }

        public void Dispose() => PgShop.DropSchema(schema);
    }
}

[RequiresPostgres]
public sealed class PostgresWalletTests : WalletConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresCatalogTests : CatalogConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresOrderTests : OrderConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresRankingTests : RankingConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresCartTests : CartConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresConcurrencyTests : ConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

/// <summary>The concurrency suite with the store connected through PgBouncer in transaction-pooling mode.</summary>
[RequiresPgBouncer]
public sealed class PgBouncerConformanceConcurrencyTests : ConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder, TestDatabase.PgBouncerConnectionString);
}

[RequiresPostgres]
public sealed class PostgresScenarioTests : ScenarioConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresModelTests : ModelConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresPostgres]
public sealed class PostgresLimitsTests : LimitsConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}
