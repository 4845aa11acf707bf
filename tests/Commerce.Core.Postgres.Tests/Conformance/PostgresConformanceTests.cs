using Commerce.Conformance;
using Commerce.Postgres.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests.Conformance;

// The conformance suite on the PostgreSQL store: the same behaviour and concurrency tests the
// in-memory store passes. Each shop gets a fresh schema, created by the store's own migrator.

internal static class PostgresConformance
{
    public static void UseFreshSchema(ICommerceBuilder builder)
    {
        var schema = "c_" + Guid.NewGuid().ToString("N")[..16];
        var connectionString = PgShop.RequiredConnectionString + ";Maximum Pool Size=24;Application Name=commerce-conformance";

        // Create the schema before the shop is built, with the migrator a host would run at start-up.
        var setup = new ServiceCollection();
        setup.AddCommerce().UsePostgresStore(o => { o.ConnectionString = connectionString; o.Schema = schema; });
        using (var provider = setup.BuildServiceProvider())
        {
            provider.EnsureCommerceSchemaAsync().GetAwaiter().GetResult();
        }

        builder.UsePostgresStore(o => { o.ConnectionString = connectionString; o.Schema = schema; });
    }
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresWalletTests : WalletConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresCatalogTests : CatalogConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresOrderTests : OrderConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresRankingTests : RankingConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresCartTests : CartConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresConcurrencyTests : ConcurrencyConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresScenarioTests : ScenarioConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}

[RequiresEnvironment("COMMERCE_POSTGRES")]
public sealed class PostgresModelTests : ModelConformanceTests
{
    protected override void UseStore(ICommerceBuilder builder) => PostgresConformance.UseFreshSchema(builder);
}
