using System.Globalization;
using System.Text.RegularExpressions;
using Commerce.Postgres;
using Commerce.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Commerce;

/// <summary>Selects the PostgreSQL store.</summary>
public static partial class PostgresCommerceBuilderExtensions
{
    /// <summary>The longest command timeout, in seconds: its milliseconds fit in an <see cref="int"/>.</summary>
    private const int MaxCommandTimeout = int.MaxValue / 1000;

    // A disposal that may wait longer is a hang to any host.
    private static readonly TimeSpan MaxShutdownTimeout = TimeSpan.FromHours(1);

    /// <summary>
    /// Keeps all state in PostgreSQL, so several host instances can share it. Every use case reads the
    /// keys it needs at once in one statement and commits its writes in one round trip, atomically,
    /// checking row versions; a conflict is retried by the services. Call <see cref="EnsureCommerceSchemaAsync"/> (or
    /// <see cref="ICommerceSchemaMigrator"/>) once at start-up: run as a role that may create the schema (its owner), it
    /// creates or upgrades it; run as an application role that owns nothing (the owner having migrated, see
    /// <i>Permissions</i> in the package's README), it only checks that the schema is current, and is refused a schema
    /// that is missing or behind.
    /// </summary>
    /// <param name="builder">The builder <c>AddCommerce</c> returned.</param>
    /// <param name="connectionString">The Npgsql connection string.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is empty or white space, or not one Npgsql can read or build a data source from (no host, say).</exception>
    /// <exception cref="InvalidOperationException">A store method was called on these services already (<c>UseInMemoryStore</c>, or this one).</exception>
    public static ICommerceBuilder UsePostgresStore(this ICommerceBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        CheckConnectionString(connectionString, nameof(connectionString), "The connection string");
        return builder.UsePostgresStore(options => options.ConnectionString = connectionString);
    }

    /// <summary>
    /// Keeps all state in PostgreSQL, configured by <paramref name="configure"/>. Without a connection
    /// string the store uses the <see cref="NpgsqlDataSource"/> registered in the service provider: the one registered
    /// under <see cref="PostgresStoreOptions.DataSourceServiceKey"/> when that is set, the one registered without a key
    /// otherwise.
    /// An <see cref="ICommerceStore"/> the host registered before is kept, and the event feed then reads that store
    /// (it must be an <see cref="IEventStore"/> too, or the host registers one). One registered after replaces this
    /// one; the feed reads it if it is an <see cref="IEventStore"/>, and this store otherwise (as when it decorates
    /// this one).
    /// </summary>
    /// <param name="builder">The builder <c>AddCommerce</c> returned.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid (a connection string of white space only, or one Npgsql cannot read or build a data source from, a connection string and a data source service key both set, or <see cref="KeyedService.AnyKey"/> as the key, included).</exception>
    /// <exception cref="InvalidOperationException">A store method was called on these services already (<c>UseInMemoryStore</c>, or this one).</exception>
    public static ICommerceBuilder UsePostgresStore(this ICommerceBuilder builder, Action<PostgresStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        if (builder.Services.Any(d => d.ServiceType == typeof(PostgresCommerceStore) || d.ServiceType.FullName == "Commerce.InMemory.InMemoryCommerceStore"))
        {
            throw new InvalidOperationException(
                "A Commerce store method (UseInMemoryStore or UsePostgresStore) was called on these services already: one store serves them, so call one store method, once.");
        }

        var options = new PostgresStoreOptions();
        configure(options);
        // PostgreSQL reserves the pg_ prefix for its own schemas: CREATE SCHEMA refuses such a name.
        if (options.Schema is null || !SchemaName().IsMatch(options.Schema) || options.Schema.StartsWith("pg_", StringComparison.Ordinal))
        {
            throw new ArgumentException(Invariant($"The schema name ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.Schema)}) must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit or with pg_ (which PostgreSQL reserves), but was {(options.Schema is null ? "null" : "\"" + options.Schema + "\"")}."), nameof(configure));
        }

        if (!string.IsNullOrEmpty(options.ConnectionString))
        {
            // White space is no connection string, as UsePostgresStore(string) says, nor the absence of one: taken for
            // none, it would silently put the store on whatever data source is registered.
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                throw new ArgumentException($"The connection string ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.ConnectionString)}) is white space only: set a connection string, or leave it null or empty for the NpgsqlDataSource registered in the service provider.", nameof(configure));
            }

            CheckConnectionString(options.ConnectionString, nameof(configure), $"The connection string ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.ConnectionString)})");
        }

        var serviceKey = options.DataSourceServiceKey;
        if (serviceKey is not null)
        {
            // Either the store builds its own data source or it uses one the host registered: never a guess between them.
            if (!string.IsNullOrEmpty(options.ConnectionString))
            {
                throw new ArgumentException($"The PostgreSQL store was given both a connection string ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.ConnectionString)}) and the service key of a registered NpgsqlDataSource ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.DataSourceServiceKey)}): set one of them.", nameof(configure));
            }

            // The container resolves no single service by AnyKey: it would throw at the store's first resolution.
            if (ReferenceEquals(serviceKey, KeyedService.AnyKey))
            {
                throw new ArgumentException($"The data source service key ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.DataSourceServiceKey)}) is KeyedService.AnyKey, which names no one NpgsqlDataSource: set the key the data source is registered under.", nameof(configure));
            }
        }

        if (options.CommandTimeout is < 0 or > MaxCommandTimeout)
        {
            // Npgsql keeps the timeout in milliseconds: a longer one makes every command throw.
            throw new ArgumentException(Invariant($"The command timeout ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.CommandTimeout)}) must be 0 to {MaxCommandTimeout} seconds, but was {options.CommandTimeout}."), nameof(configure));
        }

        if (options.MaxGroupSize is < 1 or > 1_000)
        {
            throw new ArgumentException(Invariant($"The largest group of commits ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.MaxGroupSize)}) must be 1 to 1000, but was {options.MaxGroupSize}."), nameof(configure));
        }

        if (options.EventNotificationInterval < TimeSpan.Zero || options.EventNotificationInterval > TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException(Invariant($"The interval between event notifications ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.EventNotificationInterval)}) must be from zero to one second, but was {options.EventNotificationInterval}."), nameof(configure));
        }

        if (options.ShutdownTimeout < TimeSpan.Zero || options.ShutdownTimeout > MaxShutdownTimeout)
        {
            throw new ArgumentException(Invariant($"The time disposal lets work under way end ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.ShutdownTimeout)}) must be from zero to one hour, but was {options.ShutdownTimeout}."), nameof(configure));
        }

        builder.Services.TryAddSingleton(sp =>
        {
            // The registered options are a mutable instance, checked again when the services are created; the
            // migration may run first, and records the resolution for good, so it is checked here too.
            var rankingResolution = sp.GetRequiredService<CommerceOptions>().RankingResolution;
            if (rankingResolution < TimeSpan.FromSeconds(1) || rankingResolution > TimeSpan.FromDays(1))
            {
                throw new InvalidOperationException(Invariant($"Invalid Commerce options: {nameof(CommerceOptions.RankingResolution)} must be between 1 second and 1 day, but was {rankingResolution}."));
            }

            var owned = string.IsNullOrEmpty(options.ConnectionString) ? null : PostgresDataSources.Create(options.ConnectionString);
            var dataSource = owned ?? PostgresDataSources.ThrowIfMultiplexing(RegisteredDataSource(sp, serviceKey));
            return new PostgresCommerceStore(
                dataSource,
                owned is not null,
                options.Schema,
                options.CommandTimeout,
                rankingResolution,
                options.GroupCommit ? options.MaxGroupSize : 0,
                sp.GetService<ILoggerFactory>(),
                options.EventNotificationInterval,
                options.ShutdownTimeout);
        });
        var hostStore = builder.Services.Any(d => d.ServiceType == typeof(ICommerceStore) && !d.IsKeyedService);
        builder.Services.TryAddSingleton<ICommerceStore>(sp => sp.GetRequiredService<PostgresCommerceStore>());
        // The feed reads the store that serves the services: this one, or one the host registered before or after.
        // One registered after that keeps no events is taken for a decorator of this one (which keeps them).
        builder.Services.TryAddSingleton<IEventStore>(sp => sp.GetRequiredService<ICommerceStore>() switch
        {
            PostgresCommerceStore store => new PostgresEventStore(store),
            IEventStore events => events,
            _ when hostStore => throw new InvalidOperationException(
                "The ICommerceStore registered before UsePostgresStore serves the services but keeps no events (it is no IEventStore): register the IEventStore that reads its events."),
            _ => new PostgresEventStore(sp.GetRequiredService<PostgresCommerceStore>()),
        });
        builder.Services.TryAddSingleton<ICommerceSchemaMigrator>(sp => new PostgresSchemaMigrator(sp.GetRequiredService<PostgresCommerceStore>()));
        return builder;
    }

    /// <summary>
    /// Creates or upgrades the PostgreSQL store's schema, or only checks that it is current (see
    /// <see cref="ICommerceSchemaMigrator"/>): a role that may create the schema (its owner) migrates it; an
    /// application role that owns nothing finds a schema its owner migrated current, and is refused one that is missing
    /// or behind (<see cref="PostgresException"/> with <c>42501</c>, nothing migrated).
    /// </summary>
    /// <param name="services">The host's service provider, with the PostgreSQL store registered.</param>
    /// <param name="cancellationToken">Cancels the migration.</param>
    /// <returns>A task that completes when the schema is current.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">
    /// The PostgreSQL store is not registered (the message says to call <c>UsePostgresStore</c>); or, from the migrator,
    /// the database is not encoded in UTF-8 or the schema counts sales at another ranking resolution.
    /// </exception>
    public static Task EnsureCommerceSchemaAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);

        // The container's own message names only the missing ICommerceSchemaMigrator; say what registers it.
        var migrator = services.GetService<ICommerceSchemaMigrator>() ?? throw new InvalidOperationException(
            "The Commerce PostgreSQL store is not registered, so there is no schema to ensure: call services.AddCommerce().UsePostgresStore(...) first.");
        return migrator.EnsureSchemaAsync(cancellationToken);
    }

    /// <summary>
    /// The <see cref="NpgsqlDataSource"/> the host registered for a store without a connection string: the one registered
    /// under <paramref name="serviceKey"/>, or without a key when that is <see langword="null"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No such data source is registered.</exception>
    private static NpgsqlDataSource RegisteredDataSource(IServiceProvider services, object? serviceKey)
    {
        if (serviceKey is null)
        {
            return services.GetService<NpgsqlDataSource>() ?? throw new InvalidOperationException(
                $"The PostgreSQL store has no connection string and no NpgsqlDataSource is registered (one registered with a service key, as .NET Aspire's AddKeyedNpgsqlDataSource registers it, is used when {nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.DataSourceServiceKey)} names its key).");
        }

        return services.GetKeyedService<NpgsqlDataSource>(serviceKey) ?? throw new InvalidOperationException(
            $"No NpgsqlDataSource is registered under the service key {Describe(serviceKey)} that the PostgreSQL store's options name ({nameof(PostgresStoreOptions)}.{nameof(PostgresStoreOptions.DataSourceServiceKey)}): register one under that key (builder.AddKeyedNpgsqlDataSource(name) with .NET Aspire, services.AddNpgsqlDataSource(connectionString, serviceKey: key) with Npgsql.DependencyInjection), or correct the key.");
    }

    /// <summary>A service key as a message names it: a string in quotes, anything else with its type.</summary>
    private static string Describe(object serviceKey) =>
        serviceKey is string text ? "\"" + text + "\"" : Invariant($"{serviceKey} ({serviceKey.GetType()})");

    /// <summary>
    /// Refuses a connection string Npgsql cannot read, or cannot build a data source from, naming the caller's parameter
    /// and, in the message, the connection string as <paramref name="subject"/> calls it (the option, where it is one).
    /// </summary>
    /// <remarks>
    /// Npgsql checks some settings only as it builds a data source (a host given, a minimum pool size within the
    /// maximum): a data source is built and disposed here, opening no connection, so that such a string is refused at
    /// registration rather than by the store's first resolution.
    /// </remarks>
    private static void CheckConnectionString(string connectionString, string paramName, string subject)
    {
        try
        {
            using var probe = PostgresDataSources.Create(connectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or InvalidCastException)
        {
            throw new ArgumentException(subject + " is not one Npgsql can read: " + e.Message, paramName, e);
        }
    }

    /// <summary>Formats a message with the invariant culture, so that numbers and times read the same on every host.</summary>
    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"\A[a-z_][a-z0-9_]{0,62}\z")] // \z: $ would also match before a final line break
    private static partial Regex SchemaName();
}
