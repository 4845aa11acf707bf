using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// A host published with native AOT may build its data source with Npgsql's <see cref="NpgsqlSlimDataSourceBuilder"/>,
/// which maps only the basic types unless told more. The store sends arrays as parameters (batch reads, set-based
/// group commits, event appends), so it needs <see cref="NpgsqlSlimDataSourceBuilder.EnableArrays"/>, and nothing else.
/// </summary>
public sealed class SlimDataSourceTests
{
    /// <summary>
    /// Without arrays the store says so, with what to do, on its first connection, whatever opens it first (the
    /// migration, a use case, the health check), and applies nothing. Before, the migration ran and the first use case
    /// failed with Npgsql's "Writing values of 'System.Int64[]' is not supported" (an <see cref="InvalidCastException"/>).
    /// </summary>
    [PostgresFact]
    public async Task A_slim_data_source_without_arrays_is_refused_on_its_first_connection_saying_what_to_do_and_nothing_is_applied()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            await using var slim = new NpgsqlSlimDataSourceBuilder(TestDatabase.ConnectionString).Build();
            await using (var provider = Build(slim, schema, groupCommit: false))
            {
                AssertRefused(await Assert.ThrowsAsync<InvalidOperationException>(() => provider.EnsureCommerceSchemaAsync()));
            }

            await using (var migrated = await PgShop.OnSchemaAsync(schema))
            {
                foreach (var groupCommit in new[] { false, true })
                {
                    await using var provider = Build(slim, schema, groupCommit);
                    var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["commerce-postgres"];
                    Assert.Equal(HealthStatus.Unhealthy, entry.Status);
                    AssertRefused(Assert.IsType<InvalidOperationException>(entry.Exception));

                    var wallets = provider.GetRequiredService<IWalletService>();
                    AssertRefused(await Assert.ThrowsAsync<InvalidOperationException>(async () => await wallets.ChargeAsync(new UserId(1), new Money(100))));
                    AssertRefused(await Assert.ThrowsAsync<InvalidOperationException>(async () => await provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)));
                }

                Assert.Equal(Money.Zero, await migrated.Wallets.GetBalanceAsync(new UserId(1)));
                Assert.Empty((await migrated.Services.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start)).Events);
            }
        }
        finally
        {
            await PgShop.DropSchemaAsync(schema);
        }
    }

    /// <summary>With arrays enabled, a slim data source serves the migration, every use case, the feed and its wait, checkpoints, the purge and the health check.</summary>
    [PostgresFact]
    public async Task A_slim_data_source_with_arrays_serves_every_use_case_the_feed_and_the_health_check()
    {
        await ServesAllAsync(groupCommit: false);
        await ServesAllAsync(groupCommit: true);
    }

    private static async Task ServesAllAsync(bool groupCommit)
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            await using var slim = new NpgsqlSlimDataSourceBuilder(TestDatabase.ConnectionString).EnableArrays().Build();
            await using var provider = Build(slim, schema, groupCommit);
            await provider.EnsureCommerceSchemaAsync();
            var user = new UserId(1);
            var (apple, pear) = (new ProductId(1), new ProductId(2));
            var wallets = provider.GetRequiredService<IWalletService>();
            var catalog = provider.GetRequiredService<ICatalogService>();
            var orders = provider.GetRequiredService<IOrderService>();
            var carts = provider.GetRequiredService<ICartService>();

            Assert.True((await wallets.ChargeAsync(user, new Money(100), new IdempotencyKey("top-up"))).IsSuccess);
            Assert.True((await catalog.AddProductAsync(apple, "Apple", new Money(10), 5)).IsSuccess);
            Assert.True((await catalog.AddProductAsync(pear, "Pear", new Money(7), 1)).IsSuccess);
            Assert.True((await catalog.RestockAsync(apple, 5)).IsSuccess);
            var placed = await orders.PlaceOrderAsync(user, [new(apple, 2)], new IdempotencyKey("o"));
            Assert.True(placed.IsSuccess, placed.ToString());
            Assert.True((await carts.AddItemAsync(user, pear, 1)).IsSuccess);
            Assert.True((await carts.CheckoutAsync(user)).IsSuccess); // the pear's last unit: StockDepleted
            Assert.True((await orders.CancelOrderAsync(placed.Value.Id)).IsSuccess);

            Assert.Equal(new Money(93), await wallets.GetBalanceAsync(user));
            Assert.Equal(4, (await wallets.GetLedgerAsync(user)).Count);
            Assert.Equal(2, (await orders.ListOrdersAsync(user)).Count);
            Assert.Equal("Pear", Assert.Single(await provider.GetRequiredService<ISalesRankingService>().GetPopularProductsAsync()).Name);

            var feed = provider.GetRequiredService<ICommerceEventFeed>();
            var page = await feed.ReadAsync(EventCursor.Start);
            Assert.Equal(
                new Dictionary<string, int> { ["WalletCharged"] = 1, ["ProductAdded"] = 2, ["ProductRestocked"] = 1, ["OrderPlaced"] = 2, ["StockDepleted"] = 1, ["OrderCancelled"] = 1 },
                page.Events.GroupBy(e => e.GetType().Name).ToDictionary(g => g.Key, g => g.Count()));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var waiting = feed.WaitAsync(page.Next, timeout.Token).AsTask();
            Assert.True((await wallets.ChargeAsync(user, new Money(5))).IsSuccess);
            await waiting;

            var log = provider.GetRequiredService<IEventStore>();
            await log.SaveCheckpointAsync("mailer", page.Next);
            Assert.Equal(page.Next, await log.LoadCheckpointAsync("mailer"));
            Assert.Equal(8, await log.PurgeEventsAsync(DateTimeOffset.MaxValue, page.Next));

            var entry = (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["commerce-postgres"];
            Assert.Equal(HealthStatus.Healthy, entry.Status);
        }
        finally
        {
            await PgShop.DropSchemaAsync(schema);
        }
    }

    private static ServiceProvider Build(NpgsqlDataSource dataSource, string schema, bool groupCommit)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(dataSource);
        services.AddCommerce().UsePostgresStore(o =>
        {
            o.Schema = schema;
            o.GroupCommit = groupCommit;
        });
        services.AddHealthChecks().AddCommercePostgres();
        return services.BuildServiceProvider();
    }

    private static void AssertRefused(InvalidOperationException refused)
    {
        Assert.Contains("EnableArrays()", refused.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidCastException>(refused.InnerException);
    }
}
