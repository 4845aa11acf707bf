using System.Transactions;
using Commerce.Postgres.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>
/// A host may call the services inside a <see cref="TransactionScope"/> of its own (for its own database work). Npgsql
/// enlists a connection opened in one in the ambient transaction (<c>Enlist=true</c> is its default), but a use case of
/// the library commits on its own: what it reported committed stays committed, whatever becomes of the host's scope.
/// </summary>
public sealed class AmbientTransactionTests
{
    [PostgresFact]
    public async Task A_use_case_run_inside_a_host_scope_that_rolls_back_stays_committed()
    {
        await using var shop = await PgShop.CreateAsync();
        var user = new UserId(1);

        using (new TransactionScope(TransactionScopeOption.Required, TransactionScopeAsyncFlowOption.Enabled))
        {
            Assert.True((await shop.Wallets.ChargeAsync(user, new Money(10))).IsSuccess);
            Assert.True((await shop.Wallets.ChargeAsync(user, new Money(5))).IsSuccess);
        } // Not completed: the host's own work rolls back.

        Assert.Equal(new Money(15), await shop.Wallets.GetBalanceAsync(user));
        Assert.Equal(2L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.ledger"));
    }

    /// <summary>The same on a data source the host registered, which enlists by default and which the store does not change.</summary>
    [PostgresFact]
    public async Task A_use_case_run_inside_a_host_scope_on_a_registered_data_source_stays_committed()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(TestDatabase.ConnectionString);
            Assert.True(new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).Enlist);
            var services = new ServiceCollection();
            services.AddSingleton(dataSource);
            services.AddCommerce().UsePostgresStore(o => o.Schema = schema);
            await using var provider = services.BuildServiceProvider();
            await provider.EnsureCommerceSchemaAsync();
            var wallets = provider.GetRequiredService<IWalletService>();
            var user = new UserId(1);

            using (new TransactionScope(TransactionScopeOption.Required, TransactionScopeAsyncFlowOption.Enabled))
            {
                Assert.True((await wallets.ChargeAsync(user, new Money(10))).IsSuccess);
                Assert.True((await provider.GetRequiredService<ICatalogService>().AddProductAsync(new ProductId(1), "Apple", new Money(4), 3)).IsSuccess);
                Assert.True((await provider.GetRequiredService<IOrderService>().PlaceOrderAsync(user, [new(new ProductId(1), 2)], new IdempotencyKey("o"))).IsSuccess);
            }

            Assert.Equal(new Money(2), await wallets.GetBalanceAsync(user));
            Assert.Equal(1, (await provider.GetRequiredService<ICatalogService>().GetProductAsync(new ProductId(1))).Value.Stock);
        }
        finally
        {
            await PgShop.DropSchemaAsync(schema);
        }
    }
}
