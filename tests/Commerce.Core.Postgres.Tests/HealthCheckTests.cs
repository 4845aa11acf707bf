using System.Net;
using System.Net.Sockets;
using Commerce.Postgres.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>The store's health check, run by the host's health check service: reachable, schema current, behind, ahead, missing, unreachable.</summary>
public sealed class HealthCheckTests
{
    private static readonly int Latest = PostgresSchemaMigrator.Migrations[^1].Version;

    private static ServiceProvider Build(string? connectionString, string schema, HealthStatus? failureStatus = null, bool withStore = true, TimeSpan? timeout = null)
    {
        var services = new ServiceCollection().AddLogging();
        var commerce = services.AddCommerce();
        if (withStore)
        {
            commerce.UsePostgresStore(o =>
            {
                o.ConnectionString = connectionString;
                o.Schema = schema;
            });
        }

        services.AddHealthChecks().AddCommercePostgres(failureStatus: failureStatus, tags: ["ready"], timeout: timeout);
        return services.BuildServiceProvider();
    }

    private static async Task<HealthReportEntry> CheckAsync(ServiceProvider provider)
    {
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var (name, entry) = Assert.Single(report.Entries);
        Assert.Equal("commerce-postgres", name);
        Assert.Equal(["ready"], entry.Tags);
        return entry;
    }

    [PostgresFact]
    public async Task A_reachable_database_with_every_migration_applied_is_healthy()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var provider = Build(PgShop.RequiredConnectionString, shop.Schema);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(Latest, entry.Data["version"]);
        Assert.Equal(Latest, entry.Data["expected_version"]);
        Assert.Equal(shop.Schema, entry.Data["schema"]);
    }

    [PostgresFact]
    public async Task A_schema_missing_its_latest_migration_is_unhealthy_and_names_it()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.ScalarAsync<int>($"DELETE FROM {{s}}.schema_version WHERE version = {Latest}");
        await using var provider = Build(PgShop.RequiredConnectionString, shop.Schema);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal(Latest - 1, entry.Data["version"]);
        Assert.Contains($"lacks migration(s) {Latest}", entry.Description, StringComparison.Ordinal);
        AssertSaysWhoMigrates(entry.Description, "as a role that may change it (the schema's owner)");
        Assert.Null(entry.Exception);

        await shop.ScalarAsync<int>($"INSERT INTO {{s}}.schema_version (version, name) VALUES ({Latest}, 'back')");
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
    }

    [PostgresFact]
    public async Task A_schema_that_was_never_created_is_unhealthy_and_says_how_to_create_it()
    {
        var schema = "h_" + Guid.NewGuid().ToString("N")[..16];
        await using var provider = Build(PgShop.RequiredConnectionString, schema, failureStatus: HealthStatus.Degraded);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Degraded, entry.Status); // the registration's failure status
        AssertSaysWhoMigrates(entry.Description, "as a role that may create it (the schema's owner)");
        Assert.False(entry.Data.ContainsKey("version"));
    }

    /// <summary>
    /// A schema missing or behind is migrated by a role that may create it: an instance that runs as the schema's owner
    /// at start-up, or the owner's deployment step where the application runs as a role that owns nothing (see
    /// <i>Permissions</i> in the README). The description said only "call EnsureCommerceSchemaAsync", which such an
    /// application role is refused (<c>42501</c>).
    /// </summary>
    private static void AssertSaysWhoMigrates(string? description, string role)
    {
        Assert.Contains("EnsureCommerceSchemaAsync", description, StringComparison.Ordinal);
        Assert.Contains(role, description, StringComparison.Ordinal);
        Assert.Contains("an application role that owns nothing is refused (42501)", description, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task A_schema_migrated_by_a_newer_version_is_degraded()
    {
        await using var shop = await PgShop.CreateAsync();
        await shop.ScalarAsync<int>($"INSERT INTO {{s}}.schema_version (version, name) VALUES ({Latest + 1}, 'from_the_future')");
        await using var provider = Build(PgShop.RequiredConnectionString, shop.Schema);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal(Latest + 1, entry.Data["version"]);
    }

    [PostgresFact]
    public async Task A_server_that_stops_answering_turns_the_check_unhealthy_with_the_connection_failure_and_healthy_again_when_it_is_back()
    {
        // The check reaches the server through a proxy, which then drops every connection and refuses new ones.
        await using var shop = await PgShop.CreateAsync();
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        var connectionString = new NpgsqlConnectionStringBuilder(proxy.ConnectionString) { Timeout = 5 }.ConnectionString;
        await using var provider = Build(connectionString, shop.Schema);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);

        proxy.Cut(refuseNew: true);
        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.IsAssignableFrom<NpgsqlException>(entry.Exception);
        Assert.StartsWith("The PostgreSQL database of the Commerce store cannot be reached", entry.Description, StringComparison.Ordinal);

        proxy.Restore();
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
    }

    /// <summary>
    /// A check whose query the server cancels at its <c>statement_timeout</c> (here the query waits for a lock another
    /// transaction holds on <c>schema_version</c>) reported that the database "cannot be reached", which sends an
    /// operator looking at the network for a database that answers but is slow or locked.
    /// The timeout (here and below) is long enough, 2 s, that the check before the lock, and the store's migration
    /// under it, pass on a loaded machine: only the blocked query reaches it.
    /// </summary>
    [PostgresFact]
    public Task A_check_the_server_cancels_at_its_statement_timeout_is_unhealthy_and_says_the_query_was_cancelled() =>
        CheckBlockedAsync(
            "Options=-c statement_timeout=2000",
            static e => Assert.Equal(PostgresErrorCodes.QueryCanceled, Assert.IsType<PostgresException>(e).SqlState),
            "The PostgreSQL database of the Commerce store cancelled the check's query (57014: ");

    /// <summary>As at a <c>statement_timeout</c>, at the connection string's <c>Command Timeout</c>, at which Npgsql has the server cancel the query.</summary>
    [PostgresFact]
    public Task A_check_cancelled_at_the_command_timeout_is_unhealthy_and_says_the_query_was_cancelled() =>
        CheckBlockedAsync(
            "Command Timeout=2",
            static e => Assert.IsType<TimeoutException>(Assert.IsAssignableFrom<NpgsqlException>(e).InnerException),
            "The PostgreSQL database of the Commerce store did not answer the check's query in time");

    /// <summary>
    /// A check whose query an administrator cancels (<c>pg_cancel_backend</c>, the server's <c>57014</c> as at a
    /// <c>statement_timeout</c>) while it waits for a lock on <c>schema_version</c> was described as a query that "did not
    /// answer the check's query in time", which sends an operator raising timeouts that did not pass. The server's
    /// <c>57014</c> does not say which cancelled it (but in its message, which <c>lc_messages</c> may translate): the
    /// description names both.
    /// </summary>
    [PostgresFact]
    public async Task A_check_an_administrator_cancels_is_unhealthy_and_is_not_said_to_have_timed_out()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var provider = Build(PgShop.RequiredConnectionString, shop.Schema);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
        await using var holder = await LockSchemaVersionAsync(shop);
        var check = CheckAsync(provider);
        await UntilBlockedAsync(shop, holder, check);

        Assert.True(await shop.ScalarAsync<bool>($"SELECT bool_and(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE {holder.ProcessID} = ANY(pg_blocking_pids(pid))"));
        var entry = await check.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Equal(PostgresErrorCodes.QueryCanceled, Assert.IsType<PostgresException>(entry.Exception).SqlState);
        Assert.True(entry.Description?.StartsWith("The PostgreSQL database of the Commerce store cancelled the check's query", StringComparison.Ordinal), entry.Description);
        Assert.Contains("pg_cancel_backend", entry.Description, StringComparison.Ordinal);
        Assert.Equal(shop.Schema, entry.Data["schema"]);
    }

    /// <summary>
    /// A check that gets no connection from the store's pool within the connection string's <c>Timeout</c> (every
    /// connection in use) said its query "ran into the connection's command timeout (Command Timeout in the connection
    /// string)": Npgsql reports both with a <see cref="TimeoutException"/> inside, but no query was sent, and raising
    /// <c>Command Timeout</c> does not help. The check says that it got no connection in time.
    /// </summary>
    [PostgresFact]
    public async Task A_check_that_gets_no_connection_from_an_exhausted_pool_says_so_not_that_its_query_timed_out()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var provider = Build(PgShop.RequiredConnectionString + ";Maximum Pool Size=1;Timeout=1", shop.Schema);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
        await using var held = await provider.GetRequiredService<PostgresCommerceStore>().OpenOwnConnectionAsync(CancellationToken.None);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.IsType<TimeoutException>(Assert.IsAssignableFrom<NpgsqlException>(entry.Exception).InnerException);
        Assert.True(entry.Description?.StartsWith("The PostgreSQL database of the Commerce store gave the check no connection in time", StringComparison.Ordinal), entry.Description);
        Assert.DoesNotContain("Command Timeout", entry.Description, StringComparison.Ordinal);
        Assert.Equal(shop.Schema, entry.Data["schema"]);
        Assert.Equal(Latest, entry.Data["expected_version"]);
    }

    /// <summary>
    /// The store's one-time check of a registered data source (that it writes arrays), which runs on the health check's
    /// connection when that is the data source's first, ran into the command timeout and was described as "gave the
    /// check no connection in time ... within the connection's Timeout": the connection had come, and raising
    /// <c>Timeout</c> does not help. The check says that the store's check of its data source did not answer in time.
    /// The server here never hears that query: the proxy swallows it.
    /// </summary>
    [PostgresFact]
    public async Task A_data_source_check_that_runs_into_the_command_timeout_says_so_not_that_no_connection_came()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var proxy = new TcpProxy(PgShop.RequiredConnectionString);
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(proxy.ConnectionString) { CommandTimeout = 1, CancellationTimeout = -1 }.ConnectionString);
        var services = new ServiceCollection().AddLogging().AddSingleton(dataSource);
        services.AddCommerce().UsePostgresStore(o => o.Schema = shop.Schema);
        services.AddHealthChecks().AddCommercePostgres(tags: ["ready"]);
        await using var provider = services.BuildServiceProvider();
        proxy.StallOn("cardinality(");

        var entry = await CheckAsync(provider);

        Assert.True(proxy.Stalled.IsCompleted);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.IsType<TimeoutException>(Assert.IsAssignableFrom<NpgsqlException>(entry.Exception).InnerException);
        Assert.True(entry.Description?.StartsWith("The PostgreSQL database of the Commerce store did not answer the store's check of its registered NpgsqlDataSource in time", StringComparison.Ordinal), entry.Description);
        Assert.Contains("Command Timeout", entry.Description, StringComparison.Ordinal);
        Assert.Equal(shop.Schema, entry.Data["schema"]);
        Assert.Equal(Latest, entry.Data["expected_version"]);
    }

    /// <summary>The caller's token cancelled while the check's query waits: the cancellation propagates, as ASP.NET Core's health checks expect.</summary>
    [PostgresFact]
    public async Task A_check_whose_token_is_cancelled_while_its_query_waits_throws_OperationCanceledException()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var provider = Build(PgShop.RequiredConnectionString + ";Application Name=health-" + shop.Schema, shop.Schema);
        await using var holder = await LockSchemaVersionAsync(shop);
        using var cancellation = new CancellationTokenSource();

        var check = provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(cancellation.Token);
        await UntilBlockedAsync(shop, holder, check);
        await cancellation.CancelAsync();

        var ended = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => check.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(cancellation.Token, ended.CancellationToken);
    }

    /// <summary>
    /// The caller's token cancelled while the server has not answered the check's connection (a hung server): the
    /// cancellation propagates then, not when the connection string's <c>Timeout</c> passes, which Npgsql alone heeds
    /// once the socket is connected.
    /// </summary>
    [Fact]
    public async Task A_check_whose_token_is_cancelled_while_the_server_has_not_answered_its_connection_throws_OperationCanceledException()
    {
        using var server = new SilentServer();
        await using var provider = Build(server.ConnectionString(timeoutSeconds: 15), "commerce");
        using var cancellation = new CancellationTokenSource();

        var check = provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(cancellation.Token);
        await server.Accepted.WaitAsync(TimeSpan.FromSeconds(60));
        await cancellation.CancelAsync();

        var ended = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => check.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(cancellation.Token, ended.CancellationToken);
    }

    /// <summary>The registration's <c>timeout</c> passing while the query waits: the check is cancelled, and the service reports the failure status.</summary>
    [PostgresFact]
    public async Task A_check_that_runs_past_its_registrations_timeout_is_reported_unhealthy_by_the_service()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var provider = Build(PgShop.RequiredConnectionString, shop.Schema, timeout: TimeSpan.FromMilliseconds(200));
        await using var holder = await LockSchemaVersionAsync(shop);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.IsAssignableFrom<OperationCanceledException>(entry.Exception);
    }

    private static async Task CheckBlockedAsync(string settings, Action<Exception?> exception, string description)
    {
        await using var shop = await PgShop.CreateAsync();
        await using var provider = Build(PgShop.RequiredConnectionString + ";" + settings, shop.Schema);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
        await using var holder = await LockSchemaVersionAsync(shop);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        exception(entry.Exception);
        Assert.True(entry.Description?.StartsWith(description, StringComparison.Ordinal), entry.Description);
        Assert.Equal(shop.Schema, entry.Data["schema"]);
    }

    /// <summary>A connection whose open transaction holds an exclusive lock on the schema's <c>schema_version</c>, until disposed.</summary>
    private static async Task<NpgsqlConnection> LockSchemaVersionAsync(PgShop shop)
    {
        var holder = new NpgsqlConnection(PgShop.RequiredConnectionString + ";Pooling=false");
        await holder.OpenAsync();
        await using var command = new NpgsqlCommand($"BEGIN; LOCK TABLE \"{shop.Schema}\".schema_version IN ACCESS EXCLUSIVE MODE", holder);
        await command.ExecuteNonQueryAsync();
        return holder;
    }

    /// <summary>Returns once a backend waits for <paramref name="holder"/>'s lock; each look is a round trip to the server.</summary>
    private static async Task UntilBlockedAsync(PgShop shop, NpgsqlConnection holder, Task check)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (await shop.ScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE {holder.ProcessID} = ANY(pg_blocking_pids(pid))") == 0)
        {
            Assert.False(check.IsCompleted, "The check ended without waiting for the lock.");
            Assert.True(DateTime.UtcNow < deadline, "The check's query never waited for the lock.");
        }
    }

    /// <summary>
    /// A store disposed on its own, while its container lives on, serves no request: every use case throws
    /// <see cref="ObjectDisposedException"/>. Its check said the database "cannot be reached: Cannot access a disposed
    /// object" where the store owns its data source, and Healthy on a data source of the host's, which lives on.
    /// </summary>
    [PostgresFact]
    public async Task A_store_disposed_on_its_own_fails_the_check_and_says_it_was_disposed_whoever_owns_its_data_source()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var owning = Build(PgShop.RequiredConnectionString, shop.Schema);
        await using var dataSource = NpgsqlDataSource.Create(PgShop.RequiredConnectionString);
        var services = new ServiceCollection().AddLogging().AddSingleton(dataSource); // the host's: it outlives the store
        services.AddCommerce().UsePostgresStore(o => o.Schema = shop.Schema);
        services.AddHealthChecks().AddCommercePostgres(tags: ["ready"]);
        await using var onTheHosts = services.BuildServiceProvider();

        foreach (var provider in new[] { owning, onTheHosts })
        {
            Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
            await provider.GetRequiredService<PostgresCommerceStore>().DisposeAsync();

            var entry = await CheckAsync(provider);

            Assert.Equal(HealthStatus.Unhealthy, entry.Status);
            Assert.Equal("The Commerce PostgreSQL store was disposed: it serves no more requests (its service provider lives on).", entry.Description);
            Assert.IsType<ObjectDisposedException>(entry.Exception);
            Assert.Equal(shop.Schema, entry.Data["schema"]);
        }
    }

    [Fact]
    public async Task A_database_nobody_listens_for_is_unhealthy_without_a_server_at_all()
    {
        await using var provider = Build($"Host=127.0.0.1;Port={ClosedPort()};Username=postgres;Timeout=5", "commerce");

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.IsAssignableFrom<NpgsqlException>(entry.Exception);
        Assert.Equal(Latest, entry.Data["expected_version"]);
    }

    /// <summary>
    /// A server that answers but refuses the store's login said the database "cannot be reached", which sends an operator
    /// looking at the network. A wrong password (<c>28P01</c>) says that the authentication failed; the right one, on the
    /// same server, gets past it (to a database without the schema).
    /// </summary>
    [PostgresFact(NeedsServerBinaries = true)]
    public async Task A_wrong_password_fails_the_check_and_says_the_authentication_failed()
    {
        using var server = ThrowAwayPostgres.Start(ServerBinaries.PostgresOnThisMachine()!, maxConnections: 10, password: "right-pw");
        var wrong = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Password = "wrong-pw" }.ConnectionString;
        await using var provider = Build(wrong, "commerce");

        var entry = await CheckAsync(provider);

        AssertFailedAnswering(entry, "28P01", "The PostgreSQL server of the Commerce store answers, but authentication failed");
        Assert.Contains("Password", entry.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-pw", entry.Description, StringComparison.Ordinal);
        Assert.Equal("commerce", entry.Data["schema"]);

        await using var right = Build(server.ConnectionString, "commerce");
        Assert.Contains("has no Commerce tables", (await CheckAsync(right)).Description, StringComparison.Ordinal);
    }

    /// <summary>
    /// No password where the server asks for one is refused by Npgsql before the server can say so (an
    /// <see cref="NpgsqlException"/> without a SQLSTATE), and was described as a database that "cannot be reached";
    /// it is an authentication failure too.
    /// </summary>
    [PostgresFact(NeedsServerBinaries = true)]
    public async Task A_missing_password_fails_the_check_and_says_the_authentication_failed()
    {
        using var server = ThrowAwayPostgres.Start(ServerBinaries.PostgresOnThisMachine()!, maxConnections: 10, password: "right-pw");
        var none = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Password = null }.ConnectionString;
        await using var provider = Build(none, "commerce");

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        var refused = Assert.IsAssignableFrom<NpgsqlException>(entry.Exception);
        Assert.IsNotType<PostgresException>(refused);
        Assert.True(entry.Description?.StartsWith("The PostgreSQL server of the Commerce store answers, but authentication failed", StringComparison.Ordinal), entry.Description);
        Assert.Contains(refused.Message, entry.Description, StringComparison.Ordinal);
        Assert.Equal(Latest, entry.Data["expected_version"]);
    }

    /// <summary>A role the server does not know (<c>28000</c>, with any authentication method) is an authentication failure too.</summary>
    [PostgresFact]
    public async Task A_role_the_server_does_not_know_fails_the_check_and_says_the_authentication_failed()
    {
        var connectionString = new NpgsqlConnectionStringBuilder(PgShop.RequiredConnectionString) { Username = "nobody_" + Guid.NewGuid().ToString("N")[..12] }.ConnectionString;
        await using var provider = Build(connectionString, "commerce");

        var entry = await CheckAsync(provider);

        AssertFailedAnswering(entry, PostgresErrorCodes.InvalidAuthorizationSpecification, "The PostgreSQL server of the Commerce store answers, but authentication failed");
    }

    /// <summary>A database name the server does not have (<c>3D000</c>) says that the database is missing, not that it cannot be reached.</summary>
    [PostgresFact]
    public async Task A_database_the_server_does_not_have_fails_the_check_and_says_the_database_is_missing()
    {
        var missing = "missing_" + Guid.NewGuid().ToString("N")[..12];
        var connectionString = new NpgsqlConnectionStringBuilder(PgShop.RequiredConnectionString) { Database = missing }.ConnectionString;
        await using var provider = Build(connectionString, "commerce");

        var entry = await CheckAsync(provider);

        AssertFailedAnswering(entry, PostgresErrorCodes.InvalidCatalogName, "The PostgreSQL server of the Commerce store answers, but the database is missing");
        Assert.Contains(missing, entry.Description, StringComparison.Ordinal);
    }

    /// <summary>A role without permission on the store's schema (<c>42501</c>) says that permission was denied, not that the database cannot be reached.</summary>
    [PostgresFact]
    public async Task A_role_without_permission_on_the_schema_fails_the_check_and_says_permission_was_denied()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var role = await TemporaryRoleAsync(string.Empty);
        await using var provider = Build(role.ConnectionString, shop.Schema);

        var entry = await CheckAsync(provider);

        AssertFailedAnswering(entry, PostgresErrorCodes.InsufficientPrivilege, "The PostgreSQL server of the Commerce store answers, but permission was denied");
        Assert.Contains(shop.Schema, entry.Description, StringComparison.Ordinal);
        Assert.Equal(shop.Schema, entry.Data["schema"]);
    }

    /// <summary>
    /// A server at a connection limit (here <c>53300</c>, a role allowed no connection) says it takes no connection for
    /// now, which may pass without a change, not that it refused the check or cannot be reached.
    /// </summary>
    [PostgresFact]
    public async Task A_server_at_its_connection_limit_fails_the_check_and_says_it_takes_no_connection_for_now()
    {
        await using var role = await TemporaryRoleAsync("CONNECTION LIMIT 0");
        await using var provider = Build(role.ConnectionString, "commerce");

        var entry = await CheckAsync(provider);

        AssertFailedAnswering(entry, PostgresErrorCodes.TooManyConnections, "The PostgreSQL server of the Commerce store answers, but takes no connection for now");
        Assert.Contains("CONNECTION LIMIT", entry.Description, StringComparison.Ordinal);
    }

    /// <summary>Any other error the server answers with (here <c>42703</c>, a <c>schema_version</c> not the store's) is named with its SQLSTATE, not as a database that cannot be reached.</summary>
    [PostgresFact]
    public async Task Another_error_the_server_answers_with_fails_the_check_and_says_the_server_answered_it()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var provider = Build(PgShop.RequiredConnectionString, shop.Schema);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(provider)).Status);
        await using (var admin = new NpgsqlConnection(PgShop.RequiredConnectionString + ";Pooling=false"))
        {
            await admin.OpenAsync();
            await using var command = new NpgsqlCommand($"ALTER TABLE \"{shop.Schema}\".schema_version RENAME COLUMN version TO renamed", admin);
            await command.ExecuteNonQueryAsync();
        }

        var entry = await CheckAsync(provider);

        AssertFailedAnswering(entry, PostgresErrorCodes.UndefinedColumn, "The PostgreSQL server of the Commerce store answers, but refused the check");
    }

    /// <summary>
    /// A registered data source the store refuses (here one without arrays: see <see cref="SlimDataSourceTests"/>) said the
    /// database "cannot be reached", though the database answered the store's check; the check says the store refuses it.
    /// </summary>
    [PostgresFact]
    public async Task A_data_source_the_store_refuses_fails_the_check_and_says_the_store_refuses_it()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var slim = new NpgsqlSlimDataSourceBuilder(PgShop.RequiredConnectionString).Build();
        var services = new ServiceCollection().AddLogging().AddSingleton(slim);
        services.AddCommerce().UsePostgresStore(o => o.Schema = shop.Schema);
        services.AddHealthChecks().AddCommercePostgres(tags: ["ready"]);
        await using var provider = services.BuildServiceProvider();

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        var refused = Assert.IsType<InvalidOperationException>(entry.Exception);
        Assert.Equal("The Commerce PostgreSQL store refuses its registered NpgsqlDataSource: " + refused.Message, entry.Description);
        Assert.Equal(shop.Schema, entry.Data["schema"]);
        Assert.Equal(Latest, entry.Data["expected_version"]);
    }

    /// <summary>A failure of the check the server answered with <paramref name="sqlState"/>: the description starts with <paramref name="description"/> and quotes the server.</summary>
    private static void AssertFailedAnswering(HealthReportEntry entry, string sqlState, string description)
    {
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        var answer = Assert.IsType<PostgresException>(entry.Exception);
        Assert.Equal(sqlState, answer.SqlState);
        Assert.True(entry.Description?.StartsWith(description, StringComparison.Ordinal), entry.Description);
        Assert.Contains(answer.MessageText, entry.Description, StringComparison.Ordinal);
        Assert.Equal(Latest, entry.Data["expected_version"]);
        Assert.False(entry.Data.ContainsKey("version"));
    }

    /// <summary>A new login role of the test server, with <paramref name="options"/> and no privileges granted; dropped on disposal.</summary>
    private static Task<TemporaryRole> TemporaryRoleAsync(string options) => TemporaryRole.CreateAsync("r_", options);

    [Fact]
    public void A_timeout_of_zero_or_less_is_refused_at_registration_and_an_infinite_one_is_taken()
    {
        foreach (var timeout in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(-1) })
        {
            var services = new ServiceCollection();
            var refused = Assert.Throws<ArgumentOutOfRangeException>(() => services.AddHealthChecks().AddCommercePostgres(timeout: timeout));
            Assert.Equal("timeout", refused.ParamName);
        }

        new ServiceCollection().AddHealthChecks().AddCommercePostgres(timeout: Timeout.InfiniteTimeSpan);
    }

    [Fact]
    public async Task Without_the_PostgreSQL_store_the_check_fails_and_says_why()
    {
        await using var provider = Build("unused", "commerce", withStore: false);

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("UsePostgresStore", entry.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_that_cannot_be_built_fails_the_check_and_says_why_instead_of_failing_the_report()
    {
        // No connection string and no NpgsqlDataSource registered: the store's factory throws when the check resolves it.
        await using var provider = Build(connectionString: null, "commerce");

        var entry = await CheckAsync(provider);

        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.IsType<InvalidOperationException>(entry.Exception);
        Assert.StartsWith("The Commerce PostgreSQL store cannot be built: ", entry.Description, StringComparison.Ordinal);
        Assert.Contains("no NpgsqlDataSource is registered", entry.Description, StringComparison.Ordinal);

        await using var degraded = Build(connectionString: null, "commerce", failureStatus: HealthStatus.Degraded);
        Assert.Equal(HealthStatus.Degraded, (await CheckAsync(degraded)).Status); // the registration's failure status

        // The report keeps the host's other checks.
        var services = new ServiceCollection().AddLogging();
        services.AddCommerce().UsePostgresStore(o => o.Schema = "commerce");
        services.AddHealthChecks().AddCommercePostgres().AddCheck("other", () => HealthCheckResult.Healthy());
        await using var withOther = services.BuildServiceProvider();
        var report = await withOther.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["commerce-postgres"].Status);
        Assert.Equal(HealthStatus.Healthy, report.Entries["other"].Status);
    }

    [Fact]
    public void The_registration_guards_its_arguments()
    {
        var builder = new ServiceCollection().AddHealthChecks();

        Assert.Throws<ArgumentNullException>(() => PostgresCommerceHealthChecksBuilderExtensions.AddCommercePostgres(null!));
        Assert.Throws<ArgumentNullException>(() => builder.AddCommercePostgres(name: null!));
    }

    /// <summary>A local port with no listener: bound, then released.</summary>
    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
