using Microsoft.Extensions.DependencyInjection;
using Commerce.Postgres.Tests.Support;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>The data source the store builds from a connection string prepares the statements it repeats.</summary>
public sealed class PreparedStatementTests
{
    [Fact]
    public void The_stores_own_data_source_turns_automatic_preparation_on()
    {
        var settings = new NpgsqlConnectionStringBuilder(PostgresDataSources.WithDefaults("Host=db;Username=shop"));

        Assert.Equal(PostgresDataSources.MaxAutoPrepare, settings.MaxAutoPrepare);
        Assert.Equal(PostgresDataSources.AutoPrepareMinUsages, settings.AutoPrepareMinUsages);
        Assert.True(settings.IncludeFailedBatchedCommand);
        Assert.True(settings.NoResetOnClose);
        Assert.Equal("db", settings.Host);
    }

    [Theory]
    [InlineData("Host=db;No Reset On Close=false", false)]
    [InlineData("Host=db;NoResetOnClose=true", true)]
    public void A_connection_strings_own_reset_setting_wins(string connectionString, bool noResetOnClose)
    {
        var settings = new NpgsqlConnectionStringBuilder(PostgresDataSources.WithDefaults(connectionString));

        Assert.Equal(noResetOnClose, settings.NoResetOnClose);
    }

    [PostgresFact]
    public async Task A_pooled_connection_comes_back_without_the_transaction_it_was_closed_in()
    {
        // One pooled connection, not reset on close: what the last user left open must still be gone.
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString += ";Maximum Pool Size=1");
        Assert.True(new NpgsqlConnectionStringBuilder(shop.Store.DataSource.ConnectionString).NoResetOnClose);
        long abandoned;
        await using (var first = await shop.Store.DataSource.OpenConnectionAsync())
        {
            await using var transaction = await first.BeginTransactionAsync();
            await using var assign = new NpgsqlCommand("SELECT txid_current()", first, transaction);
            abandoned = (long)(await assign.ExecuteScalarAsync())!;
        }

        await using (var second = await shop.Store.DataSource.OpenConnectionAsync())
        {
            await using var check = new NpgsqlCommand("SELECT txid_current_if_assigned(), txid_status($1)", second);
            check.Parameters.AddWithValue(abandoned);
            await using var reader = await check.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.True(reader.IsDBNull(0));
            Assert.Equal("aborted", reader.GetString(1));
        }

        // And the store works on it as before.
        Assert.True((await shop.Wallets.ChargeAsync(new UserId(1), new Money(5))).IsSuccess);
        Assert.Equal(new Money(5), await shop.Wallets.GetBalanceAsync(new UserId(1)));
    }

    [PostgresFact]
    public async Task The_key_read_is_planned_once_not_at_every_execution()
    {
        // One pooled connection, so the statements the store prepared on it can be looked at afterwards.
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString += ";Maximum Pool Size=1");
        Assert.True((await shop.Catalog.AddProductAsync(new ProductId(1), "Pen", new Money(2), 1_000)).IsSuccess);
        Assert.True((await shop.Wallets.ChargeAsync(new UserId(1), new Money(1_000))).IsSuccess);
        for (var i = 0; i < 10; i++)
        {
            Assert.True((await shop.Orders.PlaceOrderAsync(new UserId(1), [new(new ProductId(1), 1)])).IsSuccess);
        }

        // The order's read (wallet, product and stock by key arrays) ran ten times on the connection.
        var (generic, custom) = await PlansOfTheReadAsync(shop.Store.DataSource, "%stock WHERE product_id = ANY%");
        Assert.Equal(0, custom);
        Assert.InRange(generic, 1, 10);
    }

    [PostgresFact]
    public async Task The_event_feeds_read_settles_on_a_generic_plan_by_itself()
    {
        // Its arrays always hold every stripe, more than the ten elements a generic plan is priced for, so
        // after the plan cache's first five custom plans it keeps the generic one: no setting needed.
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString += ";Maximum Pool Size=1");
        Assert.True((await shop.Wallets.ChargeAsync(new UserId(1), new Money(5))).IsSuccess);
        var feed = shop.Services.GetRequiredService<Commerce.Events.ICommerceEventFeed>();
        var cursor = Commerce.Events.EventCursor.Start;
        for (var i = 0; i < 12; i++)
        {
            Assert.Single((await feed.ReadAsync(cursor, 10)).Events);
        }

        // Prepared at its second use: ten executions as a prepared statement.
        var (generic, custom) = await PlansOfTheReadAsync(shop.Store.DataSource, "%CROSS JOIN LATERAL%");
        Assert.InRange(custom, 0, 5);
        Assert.InRange(generic, 1, 10);
    }

    [PostgresFact]
    public async Task Without_its_setting_the_key_read_would_be_planned_again_at_every_execution()
    {
        // The control for the test above: the same statement text, sent alone, is never given a generic plan.
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString += ";Maximum Pool Size=1");
        var read = shop.Store.Sql.ReadKeys((1 << (int)Commerce.Storage.StoreTable.Wallets) | (1 << (int)Commerce.Storage.StoreTable.Stock));
        await using (var connection = await shop.Store.DataSource.OpenConnectionAsync())
        {
            for (var i = 0; i < 10; i++)
            {
                await using var command = new NpgsqlCommand(read, connection);
                command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [1] });
                command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [1] });
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                }
            }
        }

        var (generic, custom) = await PlansOfTheReadAsync(shop.Store.DataSource, "%stock WHERE product_id = ANY%");
        Assert.Equal(0, generic);
        Assert.InRange(custom, 5, 10);
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0", 0, PostgresDataSources.AutoPrepareMinUsages)]
    [InlineData("Host=db;MaxAutoPrepare=7;Auto Prepare Min Usages=5", 7, 5)]
    [InlineData("Host=db;max auto prepare=0", 0, PostgresDataSources.AutoPrepareMinUsages)]
    public void A_connection_strings_own_preparation_settings_win(string connectionString, int maxAutoPrepare, int minUsages)
    {
        var settings = new NpgsqlConnectionStringBuilder(PostgresDataSources.WithDefaults(connectionString));

        Assert.Equal(maxAutoPrepare, settings.MaxAutoPrepare);
        Assert.Equal(minUsages, settings.AutoPrepareMinUsages);
    }

    [PostgresFact]
    public async Task The_store_registered_with_a_connection_string_uses_the_defaults()
    {
        await using var shop = await PgShop.CreateAsync();

        var settings = new NpgsqlConnectionStringBuilder(shop.Store.DataSource.ConnectionString);

        Assert.Equal(PostgresDataSources.MaxAutoPrepare, settings.MaxAutoPrepare);
    }

    [PostgresFact]
    public async Task Orders_placed_one_after_another_run_prepared_statements()
    {
        // One pooled connection, so the statements the orders ran were prepared on the connection looked at.
        await using var shop = await PgShop.CreateAsync(store: o => o.ConnectionString += ";Maximum Pool Size=1");
        await shop.Catalog.AddProductAsync(new ProductId(1), "Tea", new Money(10), 100);
        await shop.Wallets.ChargeAsync(new UserId(1), new Money(1_000));
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await shop.Orders.PlaceOrderAsync(new UserId(1), [new(new ProductId(1), 1)])).IsSuccess);
        }

        await using var connection = await shop.Store.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%expect_rows%' OR statement LIKE '%= ANY($1)%'",
            connection);
        var prepared = (long)(await command.ExecuteScalarAsync())!;

        // At least the order's read, and its stock adjustment, wallet adjustment or order insert.
        Assert.True(prepared >= 2, $"{prepared} of the store's statements are prepared on its connection.");
    }

    /// <summary>How often the statements prepared on the data source's (one) connection that match <paramref name="like"/> were given generic and custom plans.</summary>
    private static async Task<(long Generic, long Custom)> PlansOfTheReadAsync(NpgsqlDataSource dataSource, string like)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            "SELECT coalesce(sum(generic_plans), 0)::bigint, coalesce(sum(custom_plans), 0)::bigint FROM pg_prepared_statements WHERE statement LIKE $1",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = like });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
