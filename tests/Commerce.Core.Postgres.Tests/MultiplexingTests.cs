using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// Npgsql's multiplexing (<c>Multiplexing=true</c>) shares physical connections between commands, but each session of
/// the store needs one of its own: its commits name their backend, take transaction-scoped locks, and the feed's wait
/// listens on it.
/// </summary>
public sealed class MultiplexingTests
{
    /// <summary>
    /// A connection string that turns multiplexing on (as one shared with the rest of a host app may) serves the store
    /// all the same: its own data source turns it off. Before, the first commit failed with Npgsql's "No bound physical
    /// connection (using multiplexing)".
    /// </summary>
    [PostgresFact]
    public async Task A_connection_string_with_multiplexing_on_serves_every_use_case_and_the_feeds_wait()
    {
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString = TestDatabase.ConnectionString + ";Multiplexing=true");
        var user = new UserId(1);
        var product = new ProductId(1);

        Assert.True((await shop.Wallets.ChargeAsync(user, new Money(100))).IsSuccess);
        Assert.True((await shop.Catalog.AddProductAsync(product, "Apple", new Money(10), 5)).IsSuccess);
        var placed = await shop.Orders.PlaceOrderAsync(user, [new(product, 2)], new IdempotencyKey("o"));
        Assert.True(placed.IsSuccess, placed.ToString());
        Assert.True((await shop.Orders.CancelOrderAsync(placed.Value.Id)).IsSuccess);

        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var page = await feed.ReadAsync(EventCursor.Start);
        Assert.Equal(4, page.Events.Count);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var waiting = feed.WaitAsync(page.Next, timeout.Token).AsTask();
        Assert.True((await shop.Wallets.ChargeAsync(user, new Money(5))).IsSuccess);
        await waiting;
        Assert.Equal(new Money(105), await shop.Wallets.GetBalanceAsync(user));
    }

    /// <summary>
    /// A data source the host registered that multiplexes cannot be changed by the store: it is refused, with what to
    /// do, when the store is created (before, the first commit failed with Npgsql's own message). One that does not
    /// multiplex serves the store.
    /// </summary>
    [PostgresFact]
    public async Task A_registered_data_source_that_multiplexes_is_refused_when_the_store_is_created_and_one_that_does_not_serves_it()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            await using var multiplexed = NpgsqlDataSource.Create(TestDatabase.ConnectionString + ";Multiplexing=true");
            await using var plain = NpgsqlDataSource.Create(TestDatabase.ConnectionString);
            var services = new ServiceCollection();
            services.AddSingleton(multiplexed);
            services.AddCommerce().UsePostgresStore(o => o.Schema = schema);
            await using (var provider = services.BuildServiceProvider())
            {
                var refused = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<ICommerceStore>());
                Assert.Contains("Multiplexing=true", refused.Message, StringComparison.Ordinal);
            }

            services = new ServiceCollection();
            services.AddSingleton(plain);
            services.AddCommerce().UsePostgresStore(o => o.Schema = schema);
            await using (var provider = services.BuildServiceProvider())
            {
                await provider.EnsureCommerceSchemaAsync();
                Assert.True((await provider.GetRequiredService<IWalletService>().ChargeAsync(new UserId(1), new Money(7))).IsSuccess);
                Assert.Equal(new Money(7), await provider.GetRequiredService<IWalletService>().GetBalanceAsync(new UserId(1)));
            }
        }
        finally
        {
            await PgShop.DropSchemaAsync(schema);
        }
    }
}
