namespace Commerce;

/// <summary>Settings of the PostgreSQL store.</summary>
public sealed class PostgresStoreOptions
{
    /// <summary>
    /// The Npgsql connection string. When <see langword="null"/> or empty, the store uses the
    /// <c>NpgsqlDataSource</c> registered in the service provider (the one registered with <see cref="DataSourceServiceKey"/>
    /// as its service key, when that is set); white space only is refused by <c>UsePostgresStore</c>
    /// (<see cref="ArgumentException"/>), as the overload taking the string refuses it. The store's own data source turns on
    /// automatic statement preparation (<c>Max Auto Prepare=64</c>, <c>Auto Prepare Min Usages=2</c>) and
    /// skips the reset of pooled connections (<c>No Reset On Close=true</c>) unless the string sets these itself; behind PgBouncer in transaction pooling mode (before 1.21), add
    /// <c>Max Auto Prepare=0</c>. It never multiplexes (<c>Multiplexing</c> is turned off): each session of the
    /// store needs a connection of its own. A registered data source that multiplexes is refused when the store is
    /// created.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// The service key of a keyed <c>NpgsqlDataSource</c> the store uses, as .NET Aspire registers one
    /// (<c>builder.AddKeyedNpgsqlDataSource("commerce")</c>) or Npgsql.DependencyInjection does
    /// (<c>services.AddNpgsqlDataSource(connectionString, serviceKey: "commerce")</c>). <see langword="null"/> (the default)
    /// uses the data source registered without a key. The store, its event feed and store, its health check and its
    /// schema migrator all use this one data source, which the store does not dispose (the host's container does). Setting
    /// it together with a <see cref="ConnectionString"/>, or setting <c>KeyedService.AnyKey</c>, is refused by
    /// <c>UsePostgresStore</c> (<see cref="ArgumentException"/>, nothing registered); a key under which no
    /// <c>NpgsqlDataSource</c> is registered is refused when the store is first resolved
    /// (<see cref="InvalidOperationException"/> naming the key).
    /// </summary>
    public object? DataSourceServiceKey { get; set; }

    /// <summary>
    /// The timeout of each command, in seconds, 0 (none) to 2,147,483; <see langword="null"/> keeps the
    /// connection's default (30 s). The migrations (<see cref="ICommerceSchemaMigrator"/>) keep the connection's
    /// timeout whatever this is (<c>Command Timeout</c> in the connection string): each of their commands, the
    /// wait for another instance's migration of the schema included, must end within it. With 0, a commit once sent,
    /// and the lookup of its outcome if its connection is lost, wait as long as the server makes them (for a lock
    /// another transaction holds, say): the caller's token does not end them, and only the store's disposal
    /// (after <see cref="ShutdownTimeout"/>) ends a group commit's.
    /// </summary>
    public int? CommandTimeout { get; set; }

    /// <summary>
    /// The schema holding the tables: lower-case letters, digits and underscores, not starting with a
    /// digit or with <c>pg_</c> (which PostgreSQL reserves for system schemas), at most 63 characters.
    /// Defaults to <c>commerce</c>.
    /// </summary>
    public string Schema { get; set; } = "commerce";

    /// <summary>
    /// Whether commits of concurrent use cases are sent together: every commit waiting while the previous
    /// group is in flight joins one batch, run as one transaction in one round trip. Each use case keeps its
    /// own outcome: one whose reads no longer hold is reported as a conflict (and re-run, as without group
    /// commit) and the others are sent again without it, so that it applies nothing and does not fail them.
    /// Raises throughput when many use cases commit at once; adds a little latency to a lone one (it may
    /// wait for the group in flight). Off by default.
    /// </summary>
    public bool GroupCommit { get; set; }

    /// <summary>With <see cref="GroupCommit"/>, the most commits in one group, 1 to 1,000. Defaults to 64.</summary>
    public int MaxGroupSize { get; set; } = 64;

    /// <summary>
    /// The least time between two notifications that wake the waiters for events (<c>LISTEN</c>, in any
    /// process), from zero to one second. After commits that appended events the store sends one
    /// <c>NOTIFY</c> in the background, one at a time however many commits; under steady commits this
    /// spaces them, so that waiters are woken at most this much later and the server runs far fewer
    /// notifying transactions. Zero sends the next one as soon as the one before is done. Defaults to 5 ms.
    /// </summary>
    public TimeSpan EventNotificationInterval { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How long disposing the store lets the work under way end on its own (the group commits and group reads queued
    /// or in flight, the waits for events ending and their <c>UNLISTEN</c>s), from zero to one hour, before it
    /// cancels what is left; each takes a round trip or a few, so only a slow server, or one that stopped
    /// responding, reaches it. Zero cancels at once. Defaults to 5 seconds. A host's own shutdown timeout
    /// (<c>HostOptions.ShutdownTimeout</c>, 30 seconds by default) bounds its stop, not the disposal of its services that
    /// follows: a host's shutdown may take both, which the time its process is given to exit (an orchestrator's grace
    /// period) must cover.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = Postgres.PostgresCommerceStore.DefaultShutdownTimeout;
}
