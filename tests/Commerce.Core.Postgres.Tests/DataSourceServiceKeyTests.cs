using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// <see cref="PostgresStoreOptions.DataSourceServiceKey"/>: the store on a keyed <see cref="NpgsqlDataSource"/>, as .NET
/// Aspire's <c>AddKeyedNpgsqlDataSource</c> and Npgsql.DependencyInjection's <c>serviceKey</c> register one.
/// </summary>
public sealed class DataSourceServiceKeyTests
{
    private static readonly UserId Alice = new(1);

    /// <summary>
    /// The keyed data source serves the migrator, the use cases, the event feed and the health check, not the one
    /// registered without a key (nothing listens on its port), and outlives the store: it is the host's.
    /// </summary>
    [PostgresFact]
    public async Task The_keyed_data_source_the_option_names_serves_the_migrator_the_store_the_feed_and_the_health_check()
    {
        var schema = "k_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            await using var keyed = NpgsqlDataSource.Create(PgShop.RequiredConnectionString);
            await using var unkeyed = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Timeout=5");
            var services = new ServiceCollection().AddLogging();
            services.AddSingleton(unkeyed);
            services.AddKeyedSingleton("commerce", keyed); // what AddKeyedNpgsqlDataSource("commerce") registers
            services.AddCommerce().UsePostgresStore(o =>
            {
                o.Schema = schema;
                o.DataSourceServiceKey = "commerce";
            });
            services.AddHealthChecks().AddCommercePostgres();
            await using (var provider = services.BuildServiceProvider())
            {
                Assert.Same(keyed, provider.GetRequiredService<PostgresCommerceStore>().DataSource);
                await provider.EnsureCommerceSchemaAsync();
                Assert.Equal(new Money(5), (await provider.GetRequiredService<IWalletService>().ChargeAsync(Alice, new Money(5))).Value);
                Assert.Single((await provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)).Events);
                var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["commerce-postgres"];
                Assert.Equal(HealthStatus.Healthy, entry.Status);
            }

            // The store, disposed with its container, left the host's data source open.
            await using var connection = await keyed.OpenConnectionAsync();
            await using var command = new NpgsqlCommand($"SELECT count(*) FROM \"{schema}\".schema_version", connection);
            Assert.True((long)(await command.ExecuteScalarAsync())! > 0);
        }
        finally
        {
            await PgShop.DropSchemaAsync(schema);
        }
    }

    /// <summary>
    /// A key under which no data source is registered (one without a key and one under another key are) is refused when
    /// the store is first resolved, with a message that names the option and the key; the migrator and the health check,
    /// which resolve the same store, give the same reason.
    /// </summary>
    [Theory]
    [InlineData("commerce", "\"commerce\"")]
    [InlineData(42, "42 (System.Int32)")]
    public async Task A_key_with_no_data_source_registered_under_it_is_refused_naming_the_key_by_the_store_the_migrator_and_the_health_check(object key, string named)
    {
        await using var unkeyed = NpgsqlDataSource.Create("Host=localhost");
        await using var other = NpgsqlDataSource.Create("Host=localhost");
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(unkeyed);
        services.AddKeyedSingleton("reporting", other);
        services.AddCommerce().UsePostgresStore(o => o.DataSourceServiceKey = key);
        services.AddHealthChecks().AddCommercePostgres();
        await using var provider = services.BuildServiceProvider();

        var refused = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<ICommerceStore>());
        Assert.Contains("PostgresStoreOptions.DataSourceServiceKey", refused.Message, StringComparison.Ordinal);
        Assert.Contains(named, refused.Message, StringComparison.Ordinal);

        var migrating = await Assert.ThrowsAsync<InvalidOperationException>(() => provider.EnsureCommerceSchemaAsync());
        Assert.Equal(refused.Message, migrating.Message);

        var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["commerce-postgres"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal("The Commerce PostgreSQL store cannot be built: " + refused.Message, entry.Description);
    }

    [Fact]
    public void A_connection_string_and_a_key_together_are_refused_naming_both_options_and_register_nothing()
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = "Host=localhost";
            o.DataSourceServiceKey = "commerce";
        }));

        Assert.Equal("configure", error.ParamName);
        Assert.Contains("PostgresStoreOptions.ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.Contains("PostgresStoreOptions.DataSourceServiceKey", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ICommerceStore));
    }

    /// <summary><see cref="KeyedService.AnyKey"/> names no one data source: the container resolves none by it.</summary>
    [Fact]
    public void Any_key_is_refused_naming_the_option_and_registers_nothing()
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o => o.DataSourceServiceKey = KeyedService.AnyKey));

        Assert.Equal("configure", error.ParamName);
        Assert.Contains("PostgresStoreOptions.DataSourceServiceKey", error.Message, StringComparison.Ordinal);
        Assert.Contains("KeyedService.AnyKey", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ICommerceStore));
    }
}
