using Commerce.Postgres.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace Commerce.Postgres.Tests;

/// <summary>
/// A server with no connection left (53300, as when several host instances' pools add up to more than
/// <c>max_connections</c>): the services retry within their budget and then fail with a typed error.
/// Connections are exhausted by connections the test holds open, and freed through the store's seam
/// when it reports a refusal, so nothing depends on timing.
/// </summary>
public sealed class ConnectionLimitTests(ITestOutputHelper output)
{
    private static readonly UserId User = new(1);

    [Theory]
    [InlineData("53300", true)] // too many connections
    [InlineData("53000", true)] // insufficient resources
    [InlineData("53100", true)] // disk full
    [InlineData("53200", true)] // out of memory (or of lock slots)
    [InlineData("53400", true)] // configuration limit exceeded
    [InlineData("57P01", true)] // admin shutdown
    [InlineData("57P02", true)] // crash shutdown
    [InlineData("57P03", true)] // cannot connect now (starting up)
    [InlineData("57P04", false)] // database dropped
    [InlineData("40001", false)] // serialization failure: a conflict, not a refusal
    [InlineData("CM409", false)]
    [InlineData("28P01", false)] // wrong password: retrying cannot help
    [InlineData("08006", false)]
    public void Class_53_and_shutdown_or_start_up_refusals_are_refusals_for_now(string sqlState, bool refused)
    {
        Assert.Equal(refused, PostgresOutcome.IsRefusedForNow(new PostgresException("refused", "FATAL", "FATAL", sqlState)));
        Assert.False(PostgresOutcome.IsRefusedForNow(new IOException("broken")));
    }

    [Fact]
    public void A_connection_the_clients_pool_or_the_network_cannot_give_now_is_a_refusal_for_now_and_a_bad_login_is_not()
    {
        // What Npgsql throws when its pool has no connection free within Timeout, or a connection attempt times out or is refused.
        Assert.True(PostgresOutcome.IsOpenRefusedForNow(new NpgsqlException("The connection pool has been exhausted", new TimeoutException())));
        Assert.True(PostgresOutcome.IsOpenRefusedForNow(new NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException(111))));
        Assert.True(PostgresOutcome.IsOpenRefusedForNow(new PostgresException("refused", "FATAL", "FATAL", "53300")));
        Assert.False(PostgresOutcome.IsOpenRefusedForNow(new PostgresException("bad password", "FATAL", "FATAL", "28P01")));
        Assert.False(PostgresOutcome.IsOpenRefusedForNow(new NpgsqlException("The connection pool has been shut down.")));
        Assert.False(PostgresOutcome.IsOpenRefusedForNow(new TimeoutException()));

        // Only at open: a statement that times out may have been applied, so it is never a refusal for now.
        Assert.False(PostgresOutcome.IsRefusedForNow(new NpgsqlException("Exception while reading from stream", new TimeoutException())));
        Assert.Contains("connection pool has been exhausted", PostgresOutcome.Unavailable("a connection", new NpgsqlException("The connection pool has been exhausted", new TimeoutException())).Message);
    }

    [Fact]
    public void A_host_name_that_does_not_resolve_is_a_configuration_error_and_a_failed_lookup_for_now_is_a_refusal_for_now()
    {
        // A host the resolver says does not exist (NXDOMAIN) stays so on every attempt; a resolver that could not
        // answer for now (EAI_AGAIN) may answer the next one.
        Assert.False(PostgresOutcome.IsOpenRefusedForNow(new NpgsqlException("Name or service not known", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound))));
        Assert.False(PostgresOutcome.IsOpenRefusedForNow(new NpgsqlException("No data", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.NoData))));
        Assert.True(PostgresOutcome.IsOpenRefusedForNow(new NpgsqlException("Temporary failure in name resolution", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.TryAgain))));
        Assert.True(PostgresOutcome.IsOpenRefusedForNow(new NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused))));
    }

    [Fact]
    public async Task A_connection_string_naming_an_unknown_host_throws_Npgsqls_exception_at_once_and_is_not_retried()
    {
        const string host = "no-such-host.invalid"; // RFC 2606: never resolves
        var resolverSays = await ResolveErrorAsync(host);
        var notFound = resolverSays == System.Net.Sockets.SocketError.HostNotFound;

        // Where the resolver cannot answer (a machine without network), each attempt may wait for it: two are enough.
        await using var provider = HostOn($"Host={host};Username=shop;Database=shop", "commerce", attempts: notFound ? 64 : 2);
        var refusals = 0;
        provider.GetRequiredService<PostgresCommerceStore>().OnConnectionRefused = _ =>
        {
            refusals++;
            return Task.CompletedTask;
        };
        var wallets = provider.GetRequiredService<IWalletService>();

        if (notFound)
        {
            // As a wrong password or an unknown database: a configuration error, thrown as it is, with no attempt spent on it.
            var charge = await Assert.ThrowsAsync<NpgsqlException>(async () => await wallets.ChargeAsync(User, new Money(10)));
            var read = await Assert.ThrowsAsync<NpgsqlException>(async () => await wallets.GetBalanceAsync(User));
            Assert.Equal(System.Net.Sockets.SocketError.HostNotFound, Assert.IsType<System.Net.Sockets.SocketException>(charge.InnerException).SocketErrorCode);
            Assert.IsType<System.Net.Sockets.SocketException>(read.InnerException);
            Assert.Equal(0, refusals);
        }
        else
        {
            // A resolver that cannot answer here (no network), or one that answers for every name: a refusal for now.
            output.WriteLine($"The resolver answered {resolverSays} for {host}; the lookup failed for now.");
            Assert.Equal(CommerceErrorCode.StoreUnavailable, (await wallets.ChargeAsync(User, new Money(10))).Error?.Code);
            Assert.True(refusals > 0);
        }
    }

    /// <summary>What the system's resolver answers for <paramref name="host"/>: the error a connection attempt meets.</summary>
    private static async Task<System.Net.Sockets.SocketError> ResolveErrorAsync(string host)
    {
        try
        {
            await System.Net.Dns.GetHostAddressesAsync(host);
            return System.Net.Sockets.SocketError.Success;
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return e.SocketErrorCode;
        }
    }

    [PostgresFact]
    public async Task A_client_pool_with_no_connection_free_gets_StoreUnavailable_not_a_raw_exception_and_nothing_changes()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var host = HostOn(PgShop.RequiredConnectionString + ";Timeout=1", shop.Schema, attempts: 2, poolSize: 1);
        var store = host.GetRequiredService<PostgresCommerceStore>();
        await using var held = await ShortTimeoutPool.HoldAsync(store.DataSource); // the pool's one connection
        var refusals = new List<Exception>();
        store.OnConnectionRefused = e =>
        {
            refusals.Add(e);
            return Task.CompletedTask;
        };
        var wallets = host.GetRequiredService<IWalletService>();

        var charged = await wallets.ChargeAsync(User, new Money(10));
        var read = await Assert.ThrowsAsync<StoreUnavailableException>(async () => await wallets.GetBalanceAsync(User));

        // The pool waited its Timeout already: each call is refused once, not once per attempt.
        Assert.Equal(CommerceErrorCode.StoreUnavailable, charged.Error?.Code);
        Assert.Equal(2, refusals.Count);
        Assert.All(refusals, e => Assert.IsType<TimeoutException>(Assert.IsType<NpgsqlException>(e).InnerException));
        Assert.IsType<TimeoutException>(read.GetBaseException());
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task An_event_feed_read_with_no_connection_free_in_the_pool_is_StoreUnavailable()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var host = HostOn(PgShop.RequiredConnectionString + ";Timeout=1", shop.Schema, attempts: 2, poolSize: 1);
        await using var held = await ShortTimeoutPool.HoldAsync(host.GetRequiredService<PostgresCommerceStore>().DataSource);

        var read = await Assert.ThrowsAsync<StoreUnavailableException>(
            async () => await host.GetRequiredService<Commerce.Events.ICommerceEventFeed>().ReadAsync(Commerce.Events.EventCursor.Start));

        Assert.IsType<TimeoutException>(read.GetBaseException());
    }

    [PostgresFact]
    public async Task A_client_pool_connection_freed_after_a_refusal_serves_the_next_call_and_the_refused_one_applied_nothing()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var host = HostOn(PgShop.RequiredConnectionString + ";Timeout=1", shop.Schema, attempts: 8, poolSize: 1);
        var store = host.GetRequiredService<PostgresCommerceStore>();
        var held = await ShortTimeoutPool.HoldAsync(store.DataSource);
        var refusals = 0;
        store.OnConnectionRefused = async _ =>
        {
            refusals++;
            await held.DisposeAsync(); // back to the pool, for the next call
        };
        var wallets = host.GetRequiredService<IWalletService>();

        var refused = await wallets.ChargeAsync(User, new Money(10));
        var charged = await wallets.ChargeAsync(User, new Money(10));

        Assert.Equal(CommerceErrorCode.StoreUnavailable, refused.Error?.Code);
        Assert.Equal(new Money(10), charged.Value);
        Assert.Equal(1, refusals);
        Assert.Equal(10L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task A_role_out_of_connections_gets_StoreUnavailable_when_the_budget_runs_out_and_nothing_changes()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var role = await LimitedRole.CreateAsync(shop.Schema, limit: 1);
        await using var held = await role.OpenAsync(); // the role's one connection
        await using var host = HostOn(role.ConnectionString, shop.Schema, attempts: 3);
        var refusals = new List<string>();
        host.GetRequiredService<PostgresCommerceStore>().OnConnectionRefused = e =>
        {
            refusals.Add(((PostgresException)e).SqlState);
            return Task.CompletedTask;
        };
        var wallets = host.GetRequiredService<IWalletService>();

        var charged = await wallets.ChargeAsync(User, new Money(10));
        var read = await Assert.ThrowsAsync<StoreUnavailableException>(async () => await wallets.GetBalanceAsync(User));

        Assert.Equal(CommerceErrorCode.StoreUnavailable, charged.Error?.Code);
        Assert.Equal(Enumerable.Repeat("53300", 6), refusals);
        Assert.Equal("53300", Assert.IsType<PostgresException>(read.GetBaseException()).SqlState);
        Assert.Equal(0L, await shop.ScalarAsync<long>("SELECT count(*) FROM {s}.wallets"));
    }

    [PostgresFact]
    public async Task A_connection_freed_after_a_refusal_lets_the_retry_through_and_the_charge_applies_once()
    {
        await using var shop = await PgShop.CreateAsync();
        await using var role = await LimitedRole.CreateAsync(shop.Schema, limit: 1);
        var held = await role.OpenAsync();
        await using var host = HostOn(role.ConnectionString, shop.Schema, attempts: 64);
        var refusals = 0;
        host.GetRequiredService<PostgresCommerceStore>().OnConnectionRefused = async _ =>
        {
            refusals++;
            await TerminateAsync(PgShop.RequiredConnectionString, held.ProcessID);
        };

        var charged = await host.GetRequiredService<IWalletService>().ChargeAsync(User, new Money(10));

        Assert.Equal(new Money(10), charged.Value);
        Assert.Equal(1, refusals);
        Assert.Equal(10L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets"));
        await held.DisposeAsync();
    }

    [PostgresFact(NeedsServerBinaries = true)]
    public async Task A_server_with_every_connection_taken_is_retried_until_one_is_freed()
    {
        // The reported failure: "53300: sorry, too many clients already", on a server whose max_connections are all in use.
        using var server = ThrowAwayPostgres.Start(ServerBinaries.PostgresOnThisMachine()!, maxConnections: 6);
        await using var host = HostOn(server.ConnectionString, "commerce", attempts: 64);
        await host.EnsureCommerceSchemaAsync();
        host.GetRequiredService<PostgresCommerceStore>().DataSource.Clear(); // else the charge would reuse the migration's idle connection

        var held = new List<NpgsqlConnection>();
        PostgresException? full = null;
        while (full is null)
        {
            var connection = new NpgsqlConnection(server.ConnectionString + ";Pooling=false");
            try
            {
                await connection.OpenAsync();
                held.Add(connection);
            }
            catch (PostgresException e)
            {
                full = e;
                await connection.DisposeAsync();
            }
        }

        Assert.Equal("53300", full.SqlState);
        var refusals = 0;
        host.GetRequiredService<PostgresCommerceStore>().OnConnectionRefused = async _ =>
        {
            refusals++;
            await TerminateAsync(null, held[0].ProcessID, held[1]);
        };

        var charged = await host.GetRequiredService<IWalletService>().ChargeAsync(User, new Money(10));

        Assert.Equal(new Money(10), charged.Value);
        Assert.Equal(1, refusals);
        foreach (var connection in held)
        {
            await connection.DisposeAsync();
        }
    }

    [PostgresFact(NeedsServerBinaries = true)]
    public async Task Four_instances_whose_pools_add_up_past_max_connections_give_every_buyer_a_result_and_sell_exactly_the_stock()
    {
        // The reported set-up: four instances with Npgsql's default pool of 100 on one server, racing 300
        // buyers for less stock than buyers; here the server allows 12 connections, so refusals are certain.
        const int Buyers = 300;
        const int Stock = 100;
        var product = new ProductId(1);
        var price = new Money(5);
        using var server = ThrowAwayPostgres.Start(ServerBinaries.PostgresOnThisMachine()!, maxConnections: 12);
        var hosts = Enumerable.Range(0, 4).Select(_ => HostOn(server.ConnectionString, "commerce", attempts: 64, poolSize: 100, backOff: true)).ToArray();
        try
        {
            await hosts[0].EnsureCommerceSchemaAsync();
            var catalog = hosts[0].GetRequiredService<ICatalogService>();
            Assert.True((await catalog.AddProductAsync(product, "Hot", price, Stock)).IsSuccess);
            for (var b = 0; b < Buyers; b++)
            {
                Assert.True((await hosts[0].GetRequiredService<IWalletService>().ChargeAsync(new UserId(b), price)).IsSuccess);
            }

            var refusals = 0;
            foreach (var host in hosts)
            {
                host.GetRequiredService<PostgresCommerceStore>().OnConnectionRefused = _ =>
                {
                    Interlocked.Increment(ref refusals);
                    return Task.CompletedTask;
                };
            }

            // Every buyer at once, each on one of the four instances: no exception may reach a caller.
            var results = await Task.WhenAll(Enumerable.Range(0, Buyers).Select(b => Task.Run(async () =>
                await hosts[b % 4].GetRequiredService<IOrderService>().PlaceOrderAsync(new UserId(b), [new(product, 1)]))));

            var sold = results.Count(r => r.IsSuccess);
            var short_ = results.Count(r => r.Error?.Code == CommerceErrorCode.InsufficientStock);
            var unavailable = results.Count(r => r.Error?.Code == CommerceErrorCode.StoreUnavailable);
            output.WriteLine($"{sold} sold, {short_} refused for stock, {unavailable} store unavailable; {refusals} connections refused on the way");
            Assert.Equal(Buyers, sold + short_ + unavailable);
            Assert.InRange(sold, 0, Stock);
            Assert.True(short_ == 0 || sold == Stock, "a buyer was told the stock was short while some was left");
            Assert.Equal(Stock - sold, (await catalog.GetProductAsync(product)).Value.Stock);
            await using var connection = new NpgsqlConnection(server.ConnectionString + ";Pooling=false");
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT (SELECT count(*) FROM commerce.orders), (SELECT sum(balance) FROM commerce.wallets)", connection);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(sold, reader.GetInt64(0));
            Assert.Equal((long)(Buyers - sold) * price.Amount, reader.GetInt64(1));
        }
        finally
        {
            foreach (var host in hosts)
            {
                await host.DisposeAsync();
            }
        }
    }

    private static ServiceProvider HostOn(string connectionString, string schema, int attempts, int poolSize = 4, bool backOff = false)
    {
        var services = new ServiceCollection();
        services.AddCommerce(o =>
        {
            o.MaxCommitAttempts = attempts;
            if (!backOff)
            {
                o.RetryBaseDelay = TimeSpan.Zero; // the test frees connections itself; waiting would only slow it
                o.MaxRetryDelay = TimeSpan.Zero;
            }
        }).UsePostgresStore(o =>
        {
            o.ConnectionString = connectionString + ";Maximum Pool Size=" + poolSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            o.Schema = schema;
        });
        return services.BuildServiceProvider();
    }

    /// <summary>Ends a backend and returns once its process is gone, so its connection slot is free (on <paramref name="through"/>, or a new superuser connection).</summary>
    private static async Task TerminateAsync(string? connectionString, int pid, NpgsqlConnection? through = null)
    {
        var connection = through ?? new NpgsqlConnection(connectionString);
        try
        {
            if (through is null)
            {
                await connection.OpenAsync();
            }

            // With a timeout, pg_terminate_backend waits for the process to exit (the timeout only bounds a hang).
            await using var command = new NpgsqlCommand("SELECT pg_terminate_backend($1, 60000) OR NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", connection)
            {
                Parameters = { new() { Value = pid } },
            };
            Assert.Equal(true, await command.ExecuteScalarAsync());
        }
        finally
        {
            if (through is null)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>A login role with a connection limit and the rights the store needs on one schema; dropped on disposal.</summary>
    private sealed class LimitedRole : IAsyncDisposable
    {
        private LimitedRole(string name) => Name = name;

        public string Name { get; }

        public string ConnectionString => new NpgsqlConnectionStringBuilder(PgShop.RequiredConnectionString) { Username = Name }.ConnectionString;

        public static async Task<LimitedRole> CreateAsync(string schema, int limit)
        {
            var role = new LimitedRole("limited_" + Guid.NewGuid().ToString("N")[..16]);
            await role.ExecuteAsync($"""
                CREATE ROLE {role.Name} LOGIN CONNECTION LIMIT {limit};
                GRANT USAGE ON SCHEMA "{schema}" TO {role.Name};
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role.Name};
                """);
            return role;
        }

        /// <summary>A connection as the role, outside any pool.</summary>
        public async Task<NpgsqlConnection> OpenAsync()
        {
            var connection = new NpgsqlConnection(ConnectionString + ";Pooling=false");
            await connection.OpenAsync();
            return connection;
        }

        public async ValueTask DisposeAsync()
        {
            await ExecuteAsync($"""
                SELECT pg_terminate_backend(pid, 60000) FROM pg_stat_activity WHERE usename = '{Name}';
                DROP OWNED BY {Name};
                DROP ROLE {Name};
                """);
        }

        private async Task ExecuteAsync(string sql)
        {
            await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
