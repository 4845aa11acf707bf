using Commerce.Postgres.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Commerce.Postgres.Tests;

public sealed class SchemaTests
{
    [PostgresFact]
    public async Task Migrating_again_and_from_many_instances_at_once_applies_each_migration_once()
    {
        await using var shop = await PgShop.CreateAsync();
        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => shop.JoinAsync()));
        var migrators = others.Select(o => o.Services.GetRequiredService<ICommerceSchemaMigrator>()).ToArray();
        using var start = new Barrier(migrators.Length);
        await Task.WhenAll(migrators.Select(m => Task.Run(() =>
        {
            start.SignalAndWait();
            return m.EnsureSchemaAsync();
        })));
        await shop.Services.EnsureCommerceSchemaAsync();

        Assert.Equal((long)PostgresSchemaMigrator.Migrations.Count, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.schema_version"));
        Assert.Equal(1, PostgresSchemaMigrator.Migrations[0].Version);
        foreach (var other in others)
        {
            await other.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task An_instance_with_another_ranking_resolution_than_the_store_was_created_with_is_refused_when_it_migrates()
    {
        await using var shop = await PgShop.CreateAsync(o => o.RankingResolution = TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromMinutes(5).Ticks, await shop.ScalarAsync<long>("SELECT value FROM {s}.store_settings WHERE name = 'ranking_resolution_ticks'"));

        await using (await shop.JoinAsync(o => o.RankingResolution = TimeSpan.FromMinutes(5)))
        {
            // The same resolution joins.
        }

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => shop.JoinAsync());
        Assert.Contains("00:05:00", refused.Message, StringComparison.Ordinal);
        Assert.Contains("RankingResolution 00:01:00", refused.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromMinutes(5).Ticks, await shop.ScalarAsync<long>("SELECT value FROM {s}.store_settings WHERE name = 'ranking_resolution_ticks'"));
        Assert.Equal(1L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.store_settings"));
    }

    [PostgresFact]
    public async Task A_ranking_resolution_made_invalid_after_AddCommerce_is_refused_before_the_schema_records_it()
    {
        // The registered options are a mutable instance; the services check it again when they are created, but
        // a migration run first would record the resolution for good, and refuse the corrected one afterwards.
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        var services = new ServiceCollection();
        services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = PgShop.RequiredConnectionString;
            o.Schema = schema;
        });
        var options = (CommerceOptions)services.Single(d => d.ServiceType == typeof(CommerceOptions)).ImplementationInstance!;
        options.RankingResolution = TimeSpan.FromDays(2);
        await using var provider = services.BuildServiceProvider();

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => provider.EnsureCommerceSchemaAsync());

        Assert.Contains("RankingResolution must be between 1 second and 1 day", refused.Message, StringComparison.Ordinal);
        await using var connection = new Npgsql.NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        await using var exists = new Npgsql.NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", connection);
        exists.Parameters.Add(new Npgsql.NpgsqlParameter<string> { TypedValue = schema });
        Assert.False((bool)(await exists.ExecuteScalarAsync())!);
    }

    [PostgresFact]
    public async Task A_database_not_encoded_in_UTF8_is_refused_when_the_store_migrates_and_nothing_is_created()
    {
        // Such a database cannot hold every product name the library accepts: LATIN1 has no '\u2615', and
        // SQL_ASCII converts nothing from UTF-8, so an AddProductAsync of a valid name would throw PostgresException.
        foreach (var encoding in new[] { "SQL_ASCII", "LATIN1" })
        {
            var database = "e_" + Guid.NewGuid().ToString("N")[..16];
            await ExecuteAsync(PgShop.RequiredConnectionString, $"CREATE DATABASE {database} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
            try
            {
                var connectionString = new Npgsql.NpgsqlConnectionStringBuilder(PgShop.RequiredConnectionString) { Database = database, Pooling = false }.ConnectionString;
                var services = new ServiceCollection();
                services.AddCommerce().UsePostgresStore(o => { o.ConnectionString = connectionString; o.Schema = "shop"; });
                await using (var provider = services.BuildServiceProvider())
                {
                    var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => provider.EnsureCommerceSchemaAsync());
                    Assert.Contains(encoding, refused.Message, StringComparison.Ordinal);
                    Assert.Contains("UTF8", refused.Message, StringComparison.Ordinal);
                }

                Assert.Equal(0L, await ScalarAsync<long>(connectionString, "SELECT count(*) FROM pg_namespace WHERE nspname = 'shop'"));
            }
            finally
            {
                await ExecuteAsync(PgShop.RequiredConnectionString, $"DROP DATABASE {database} WITH (FORCE)");
            }
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql) => await ScalarAsync<object>(connectionString, sql);

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    [PostgresFact]
    public async Task The_schema_refuses_negative_balances_and_stock()
    {
        await using var shop = await PgShop.CreateAsync();
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>("INSERT INTO {s}.wallets VALUES (1, -1, 1)"));
        await shop.ScalarAsync<int>("INSERT INTO {s}.products VALUES (1, 'p', 1, 1)");
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>("INSERT INTO {s}.stock VALUES (1, -1, 1)"));
    }

    [PostgresFact]
    public async Task The_schema_refuses_negative_ledger_amounts_half_stored_errors_and_cancellations_without_ticks()
    {
        await using var shop = await PgShop.CreateAsync();
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>("INSERT INTO {s}.ledger VALUES (1, 1, 0, -1, 0, NULL, now(), 0)"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>("INSERT INTO {s}.ledger VALUES (1, 0, 0, 1, 1, NULL, now(), 0)"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>("INSERT INTO {s}.ledger VALUES (1, 1, 3, 1, 1, NULL, now(), 0)"));
        await shop.ScalarAsync<int>("INSERT INTO {s}.ledger VALUES (1, 1, 1, 0, 0, gen_random_uuid(), now(), 0)"); // a free order's payment
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>(
            "INSERT INTO {s}.idempotency VALUES (1, 1, 1, 'k', 0, now(), 0, 4, NULL, NULL, 0, NULL, 1)"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>(
            "INSERT INTO {s}.idempotency VALUES (1, 1, 4, 'k', 0, now(), 0, NULL, NULL, NULL, 0, NULL, 1)"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>(
            "INSERT INTO {s}.orders (id, user_id, total, placed_at, cancelled_at) VALUES (gen_random_uuid(), 1, 0, now(), now())"));
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => shop.ScalarAsync<int>("INSERT INTO {s}.wallets VALUES (1, 0, 1, -1)"));
    }

    [Fact]
    public void A_connection_string_Npgsql_cannot_read_is_refused_at_registration()
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore("Hostt=x;;=="));
        Assert.Contains("connection string", error.Message, StringComparison.Ordinal);
        Assert.Equal("connectionString", error.ParamName); // the parameter the host passed, not one of an overload it did not call
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(Commerce.Storage.ICommerceStore));
    }

    /// <summary>
    /// A connection string that Npgsql parses but refuses to build a data source from (no host; a minimum pool larger
    /// than the maximum) was registered, and the store's first resolution threw instead (an
    /// <see cref="ArgumentNullException"/> for <c>Host</c> from inside the container, at the host's first request or its
    /// migration), where the README promises an <see cref="ArgumentException"/> from <c>UsePostgresStore</c>, before
    /// anything is registered.
    /// </summary>
    [Theory]
    [InlineData("Username=shop;Password=s3cret-pw")]
    [InlineData("Host=x;Password=s3cret-pw;Minimum Pool Size=200")]
    public void A_connection_string_Npgsql_cannot_build_a_data_source_from_is_refused_at_registration(string connectionString)
    {
        var services = new ServiceCollection();

        var direct = Assert.ThrowsAny<ArgumentException>(() => services.AddCommerce().UsePostgresStore(connectionString));
        var configured = Assert.ThrowsAny<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o => o.ConnectionString = connectionString));

        Assert.Equal("connectionString", direct.ParamName);
        Assert.Equal("configure", configured.ParamName);
        Assert.Contains("connection string", direct.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", direct.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(Commerce.Storage.ICommerceStore));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("\t\n")]
    public void An_empty_or_white_space_connection_string_is_refused_naming_it(string connectionString)
    {
        var services = new ServiceCollection();
        Assert.Equal("connectionString", Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(connectionString)).ParamName);
        Assert.Equal("connectionString", Assert.Throws<ArgumentNullException>(() => services.AddCommerce().UsePostgresStore((string)null!)).ParamName);
        Assert.Equal("configure", Assert.Throws<ArgumentNullException>(() => services.AddCommerce().UsePostgresStore((Action<PostgresStoreOptions>)null!)).ParamName);
        Assert.Equal("configure", Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o => o.MaxGroupSize = 0)).ParamName);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(Commerce.Storage.ICommerceStore));
    }

    [Fact]
    public void Two_store_methods_on_one_set_of_services_are_refused()
    {
        const string server = "Host=127.0.0.1;Username=postgres";
        Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddCommerce().UseInMemoryStore().UsePostgresStore(server));
        Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddCommerce().UsePostgresStore(server).UseInMemoryStore());
        Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddCommerce().UsePostgresStore(server).UsePostgresStore(server));
    }

    [Theory]
    [InlineData("x\"; DROP TABLE y; --")]
    [InlineData("commerce\n")] // a regular expression's $ would let a final line break through
    [InlineData("Commerce")]
    [InlineData("1commerce")]
    [InlineData("")]
    [InlineData("a123456789012345678901234567890123456789012345678901234567890123")] // 64 characters
    [InlineData("pg_commerce")] // PostgreSQL reserves the prefix for system schemas: CREATE SCHEMA refuses it
    [InlineData("pg_")]
    public void An_invalid_schema_name_is_refused(string schema)
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = "Host=localhost";
            o.Schema = schema;
        }));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(4_294_968)] // past what Npgsql can wait for: every command would throw ArgumentOutOfRangeException
    [InlineData(int.MaxValue)]
    public void A_command_timeout_outside_what_npgsql_can_wait_for_is_refused(int seconds)
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = "Host=localhost";
            o.CommandTimeout = seconds;
        }));
        Assert.Contains("command timeout", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(Commerce.Storage.ICommerceStore));
    }

    [Fact]
    public void A_command_timeout_takes_zero_and_up_to_the_milliseconds_an_int_holds()
    {
        foreach (var seconds in new[] { 0, 1, int.MaxValue / 1000 })
        {
            var services = new ServiceCollection();
            services.AddCommerce().UsePostgresStore(o =>
            {
                o.ConnectionString = "Host=localhost";
                o.CommandTimeout = seconds;
            });
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1_001)]
    public void An_event_notification_interval_outside_zero_to_one_second_is_refused(int milliseconds)
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<ArgumentException>(() => services.AddCommerce().UsePostgresStore(o =>
        {
            o.ConnectionString = "Host=localhost";
            o.EventNotificationInterval = TimeSpan.FromMilliseconds(milliseconds);
        }));
        Assert.Contains("event notifications", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(Commerce.Storage.ICommerceStore));
    }

    [Fact]
    public void The_event_notification_interval_defaults_to_five_milliseconds_and_takes_zero_and_one_second()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(5), new PostgresStoreOptions().EventNotificationInterval);
        foreach (var interval in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(1) })
        {
            var services = new ServiceCollection();
            services.AddCommerce().UsePostgresStore(o =>
            {
                o.ConnectionString = "Host=localhost";
                o.EventNotificationInterval = interval;
            });
        }
    }
}
