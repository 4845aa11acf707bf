using Commerce.Events;
using Commerce.Postgres.Tests.Support;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Commerce.Postgres.Tests;

/// <summary>The store's lifetime: disposal more than once, use after disposal, and disposal while work is under way.</summary>
public sealed class PostgresCommerceStoreTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private static readonly UserId Alice = new(1);
    private static readonly ProductId Apple = new(1);

    [PostgresFact]
    public Task Disposed_twice_and_at_once_the_store_refuses_every_operation_with_ObjectDisposedException() =>
        DisposedTwiceAsync(groupCommit: false);

    [PostgresFact]
    public Task Disposed_twice_and_at_once_the_store_with_group_commit_refuses_every_operation_with_ObjectDisposedException() =>
        DisposedTwiceAsync(groupCommit: true);

    [PostgresFact]
    public Task Disposed_while_commits_reads_and_waits_run_each_ends_with_its_outcome_or_ObjectDisposedException() =>
        DisposedUnderWayAsync(groupCommit: false);

    [PostgresFact]
    public Task Disposed_while_group_commits_reads_and_waits_run_each_ends_with_its_outcome_or_ObjectDisposedException() =>
        DisposedUnderWayAsync(groupCommit: true);

    [PostgresFact]
    public Task Disposed_the_store_refuses_a_use_case_a_feed_read_and_wait_the_migrator_and_the_health_check_naming_one_object_with_one_message() =>
        RefusalsNameOneObjectAsync(groupCommit: false);

    [PostgresFact]
    public Task Disposed_the_store_with_group_commit_refuses_group_reads_and_commits_as_the_other_paths_naming_one_object_with_one_message() =>
        RefusalsNameOneObjectAsync(groupCommit: true);

    /// <summary>
    /// A caller's token cancelled while the server has not answered a new connection (a hung server): the use case, the
    /// event feed and the migration throw <see cref="OperationCanceledException"/> with that token then, not when the
    /// connection string's <c>Timeout</c> passes, which Npgsql alone heeds once the socket is connected.
    /// </summary>
    [Theory]
    [InlineData("charge")]
    [InlineData("balance")]
    [InlineData("events")]
    [InlineData("migration")]
    public async Task A_call_whose_token_is_cancelled_while_the_server_has_not_answered_its_connection_throws_OperationCanceledException(string call)
    {
        using var server = new SilentServer();
        var services = new ServiceCollection();
        services.AddCommerce().UsePostgresStore(server.ConnectionString(timeoutSeconds: 15));
        await using var provider = services.BuildServiceProvider();
        using var cancellation = new CancellationTokenSource();
        var token = cancellation.Token;

        Task running = call switch
        {
            "charge" => provider.GetRequiredService<IWalletService>().ChargeAsync(Alice, new Money(10), token).AsTask(),
            "balance" => provider.GetRequiredService<IWalletService>().GetBalanceAsync(Alice, token).AsTask(),
            "events" => provider.GetRequiredService<ICommerceEventFeed>().ReadAsync(EventCursor.Start, 10, token).AsTask(),
            _ => provider.EnsureCommerceSchemaAsync(token),
        };
        await server.Accepted.WaitAsync(Generous);
        await cancellation.CancelAsync();

        var ended = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running.WaitAsync(Generous));
        Assert.Equal(token, ended.CancellationToken);
    }

    /// <summary>
    /// A store on the host's data source, disposed with its container while the data source lives on, refuses use cases
    /// and event reads (see <c>SessionTests</c>); its migrator, resolved before, went on and migrated through the
    /// host's data source. It refuses as the rest of the store does.
    /// </summary>
    [PostgresFact]
    public async Task A_store_on_the_hosts_data_source_once_disposed_refuses_to_migrate_as_it_refuses_use_cases()
    {
        var schema = "l_" + Guid.NewGuid().ToString("N")[..16];
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(PgShop.RequiredConnectionString);
            var services = new ServiceCollection();
            services.AddSingleton(dataSource); // the host's: the container does not dispose it
            services.AddCommerce().UsePostgresStore(o => o.Schema = schema);
            ICommerceSchemaMigrator migrator;
            await using (var provider = services.BuildServiceProvider())
            {
                migrator = provider.GetRequiredService<ICommerceSchemaMigrator>();
            }

            await Assert.ThrowsAsync<ObjectDisposedException>(() => migrator.EnsureSchemaAsync());
            Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"));
        }
        finally
        {
            await PgShop.DropSchemaAsync(schema);
        }
    }

    /// <summary>
    /// The store disposed synchronously, on a thread whose <see cref="SynchronizationContext"/> runs nothing posted to
    /// it (a UI thread blocked in <c>Dispose</c>, say), while a wait for events listens: the disposal ends the wait, waits
    /// for it and its <c>UNLISTEN</c>, and returns; the wait throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    [PostgresFact]
    public async Task Disposed_synchronously_on_a_context_that_runs_nothing_while_a_wait_listens_it_returns()
    {
        await using var shop = await PgShop.CreateAsync();
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var wait = feed.WaitAsync(EventCursor.Start).AsTask();
        var deadline = DateTime.UtcNow + Generous;
        while (!wait.IsCompleted && await shop.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'commerce-tests-{shop.Schema}' AND state = 'idle' AND query LIKE '%SELECT EXISTS%'") == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The wait never listened.");
        }

        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(new RunsNothingContext());
            try
            {
                shop.Store.Dispose();
                disposed.SetResult();
            }
            catch (Exception e)
            {
                disposed.SetException(e);
            }
        })
        {
            IsBackground = true,
        };
        thread.Start();

        await disposed.Task.WaitAsync(Generous);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => wait.WaitAsync(Generous));
    }

    /// <summary>
    /// The store disposed synchronously and asynchronously, twice each, two of them at once (and once more by its
    /// container): every call returns, and every operation afterwards, through the services, the event store, the
    /// migrator or a session, throws <see cref="ObjectDisposedException"/>, as does a unit of work begun before that
    /// reads then, or commits with group commit (one that read before, without group commit, commits on the connection
    /// it holds); the health check reports the failure status rather than throwing.
    /// </summary>
    private static async Task DisposedTwiceAsync(bool groupCommit)
    {
        await using var shop = await PgShop.CreateAsync(store: o => o.GroupCommit = groupCommit);
        Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(5))).IsSuccess);
        var events = shop.Services.GetRequiredService<IEventStore>();
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var store = shop.Store;
        await using var reading = await store.BeginAsync();
        await using var committing = await store.BeginAsync();
        var wallet = await committing.Wallets.FindAsync(Alice);

        await Task.WhenAll(Task.Run(() => store.Dispose()), store.DisposeAsync().AsTask()).WaitAsync(Generous);
        store.Dispose();
        await store.DisposeAsync().AsTask().WaitAsync(Generous);

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.OpenSessionAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await reading.Wallets.FindAsync(Alice));
        committing.Wallets.Save(wallet!.Debit(new Money(1)).Value);
        if (groupCommit)
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await committing.CommitAsync());
        }
        else
        {
            Assert.True(await committing.CommitAsync()); // on the connection its read took before the disposal
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await shop.Wallets.ChargeAsync(Alice, new Money(1)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await shop.Wallets.GetBalanceAsync(Alice));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await shop.Catalog.AddProductAsync(Apple, "Apple", new Money(1), 1));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await shop.Ranking.GetPopularProductsAsync());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await feed.ReadAsync(EventCursor.Start));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => feed.WaitAsync(EventCursor.Start).AsTask().WaitAsync(Generous));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await events.LoadCheckpointAsync("c"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await events.SaveCheckpointAsync("c", EventCursor.Start));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await events.PurgeEventsAsync(shop.Time.GetUtcNow(), EventCursor.Start));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => shop.Services.EnsureCommerceSchemaAsync());

        var health = await new PostgresCommerceHealthCheck(shop.Services).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.IsType<ObjectDisposedException>(health.Exception);

        Assert.Equal(groupCommit ? 5L : 4L, await shop.ScalarAsync<long>("SELECT balance FROM {s}.wallets"));
    }

    /// <summary>
    /// Every refusal of a disposed store (a use case, a read of the event feed and a wait for events, the event store, the
    /// migrator, the health check's entry, a read of a unit of work begun before (from the store's own data source, or
    /// with group commit through the group reader) and with group commit its commit) is an
    /// <see cref="ObjectDisposedException"/> naming the store by its full type name, with a message that says the store was
    /// disposed. They named it "PostgresCommerceStore" (the health check, a wait, the group reader and committer) or
    /// "Commerce.Postgres.PostgresCommerceStore" (the rest), with "Cannot access a disposed object." for some, and the
    /// read from the store's own data source was Npgsql's refusal, naming "Npgsql.PoolingDataSource".
    /// </summary>
    private static async Task RefusalsNameOneObjectAsync(bool groupCommit)
    {
        await using var shop = await PgShop.CreateAsync(store: o => o.GroupCommit = groupCommit);
        Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(5))).IsSuccess);
        var events = shop.Services.GetRequiredService<IEventStore>();
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        var store = shop.Store;
        await using var reading = await store.BeginAsync();
        await using var committing = await store.BeginAsync();
        var wallet = await committing.Wallets.FindAsync(Alice);
        await store.DisposeAsync().AsTask().WaitAsync(Generous);

        var refusals = new List<ObjectDisposedException>
        {
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await shop.Wallets.ChargeAsync(Alice, new Money(1))),
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await shop.Wallets.GetBalanceAsync(Alice)),
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await feed.ReadAsync(EventCursor.Start)),
            await Assert.ThrowsAsync<ObjectDisposedException>(() => feed.WaitAsync(EventCursor.Start).AsTask().WaitAsync(Generous)),
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await events.LoadCheckpointAsync("c")),
            await Assert.ThrowsAsync<ObjectDisposedException>(() => shop.Services.EnsureCommerceSchemaAsync()),
            Assert.IsType<ObjectDisposedException>((await new PostgresCommerceHealthCheck(shop.Services).CheckHealthAsync(new HealthCheckContext())).Exception),
        };
        // With group commit through the group reader, which the disposal stopped; without, from the store's own data source,
        // which the disposal disposed.
        refusals.Add(await Assert.ThrowsAsync<ObjectDisposedException>(async () => await reading.Wallets.FindAsync(Alice)));
        if (groupCommit)
        {
            // Through the group committer, likewise stopped (without, the commit goes on the connection its read holds).
            committing.Wallets.Save(wallet!.Debit(new Money(1)).Value);
            refusals.Add(await Assert.ThrowsAsync<ObjectDisposedException>(async () => await committing.CommitAsync()));
        }

        Assert.All(refusals, refused =>
        {
            Assert.Equal("Commerce.Postgres.PostgresCommerceStore", refused.ObjectName);
            Assert.StartsWith("The PostgreSQL store was disposed", refused.Message, StringComparison.Ordinal);
        });
    }

    /// <summary>
    /// The store disposed while charges (each commit alone, or in groups), balance reads and a wait for events run on
    /// other threads: each ends, none hangs, each charge either succeeded, and is applied, or threw
    /// <see cref="ObjectDisposedException"/> (applied or not, by the balance), as does each read; the wait completes (a
    /// charge's event) or throws <see cref="ObjectDisposedException"/>. The balance is the charges that succeeded, at least, and at most those
    /// and the ones that threw.
    /// </summary>
    private static async Task DisposedUnderWayAsync(bool groupCommit)
    {
        const int Chargers = 4;
        const int Readers = 2;
        await using var shop = await PgShop.CreateAsync(store: o => o.GroupCommit = groupCommit);
        var feed = shop.Services.GetRequiredService<ICommerceEventFeed>();
        Assert.True((await shop.Wallets.ChargeAsync(Alice, new Money(1))).IsSuccess);
        var after = (await feed.ReadAsync(EventCursor.Start)).Next;
        var wait = feed.WaitAsync(after).AsTask();

        var succeeded = 0;
        var refused = 0;
        var started = new CountdownEvent(Chargers + Readers);
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, Chargers + Readers).Select(w => Task.Run(async () =>
        {
            var first = true;
            while (true)
            {
                try
                {
                    if (w < Chargers)
                    {
                        Assert.True((await shop.Wallets.ChargeAsync(new UserId(100 + w), new Money(1))).IsSuccess);
                        Interlocked.Increment(ref succeeded);
                    }
                    else
                    {
                        await shop.Wallets.GetBalanceAsync(new UserId(100));
                    }
                }
                catch (ObjectDisposedException)
                {
                    if (w < Chargers)
                    {
                        Interlocked.Increment(ref refused);
                    }

                    return;
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                    return;
                }
                finally
                {
                    if (first)
                    {
                        first = false;
                        started.Signal();
                    }
                }
            }
        })).ToArray();

        // Every worker has run once: the disposal meets them under way.
        Assert.True(started.Wait(Generous), "The workers never ran.");
        await shop.Store.DisposeAsync().AsTask().WaitAsync(Generous);

        await Task.WhenAll(workers).WaitAsync(Generous);
        Assert.Empty(failures);
        var waited = await Record.ExceptionAsync(() => wait.WaitAsync(Generous));
        Assert.True(waited is null or ObjectDisposedException, waited?.ToString()); // it may have seen a charge's event first
        var charged = await shop.ScalarAsync<long>("SELECT coalesce(sum(balance), 0) FROM {s}.wallets WHERE user_id >= 100");
        Assert.InRange(charged, succeeded, succeeded + refused);
    }

    /// <summary>A context whose posted work never runs, as that of a thread blocked in a synchronous <c>Dispose</c>.</summary>
    private sealed class RunsNothingContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state)
        {
        }

        public override void Send(SendOrPostCallback d, object? state)
        {
        }
    }

    private static async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(PgShop.RequiredConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
