using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests;

/// <summary>What <c>EnsureCommerceSchemaAsync</c> says to a host that did not select the PostgreSQL store. No server is needed: nothing connects.</summary>
public sealed class PostgresCommerceBuilderExtensionsTests
{
    [Fact]
    public async Task Ensuring_the_schema_without_the_postgres_store_says_to_call_UsePostgresStore()
    {
        var services = new ServiceCollection();
        services.AddCommerce();
        await using var provider = services.BuildServiceProvider();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => provider.EnsureCommerceSchemaAsync());

        Assert.Contains("UsePostgresStore", refused.Message, StringComparison.Ordinal);
    }
}
