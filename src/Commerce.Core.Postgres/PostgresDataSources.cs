using System.Data.Common;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// The data source the store builds for itself from <see cref="PostgresStoreOptions.ConnectionString"/>:
/// the connection string as given, with Npgsql's automatic preparation turned on (the store sends the
/// same few dozen statement texts over and over, so each connection parses and plans each of them once)
/// and the failed statement of a batch named on its exception (which tells a group commit which member
/// failed), and no reset of a connection returned to the pool (Npgsql's reset is seven statements the
/// server parses at the connection's next use; the store leaves no session state behind: no settings,
/// only transaction-scoped locks, and the event feed's wait unlistens before it closes). A setting the connection string makes itself is kept: <c>Max Auto Prepare=0</c> turns
/// preparation off, as a pooler that cannot keep prepared statements (PgBouncer in transaction mode
/// before 1.21) requires. Except <c>Multiplexing</c>, always off: a session of the store needs a connection
/// of its own (a commit names its backend, takes transaction-scoped locks, and the feed's wait listens on it); and
/// <c>Enlist</c>, always off: no connection of the store joins a caller's ambient transaction.
/// </summary>
internal static class PostgresDataSources
{
    /// <summary>Statements prepared per connection, at most (least recently used ones are replaced).</summary>
    public const int MaxAutoPrepare = 64;

    /// <summary>Executions of a statement text on one connection before it is prepared.</summary>
    public const int AutoPrepareMinUsages = 2;

    /// <summary>A data source for <paramref name="connectionString"/> with the store's defaults where the string sets nothing.</summary>
    public static NpgsqlDataSource Create(string connectionString) => NpgsqlDataSource.Create(WithDefaults(connectionString));

    /// <summary>The connection string with the store's defaults added where it sets nothing.</summary>
    public static string WithDefaults(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);

        // Npgsql's builder reports every known keyword as present; the keys it writes out are the ones set.
        var set = new DbConnectionStringBuilder { ConnectionString = builder.ConnectionString };
        if (!set.ContainsKey("Max Auto Prepare"))
        {
            builder.MaxAutoPrepare = MaxAutoPrepare;
        }

        if (!set.ContainsKey("Auto Prepare Min Usages"))
        {
            builder.AutoPrepareMinUsages = AutoPrepareMinUsages;
        }

        if (!set.ContainsKey("No Reset On Close"))
        {
            builder.NoResetOnClose = true;
        }

        if (!set.ContainsKey("Include Failed Batched Command"))
        {
            builder.IncludeFailedBatchedCommand = true;
        }

        // A multiplexed connection has no backend of its own to lock on, listen on, or look a lost commit up by.
        builder.Multiplexing = false;

        // The store's transactions are its own, never a caller's ambient one (see PostgresCommerceStore.OpenOwnConnectionAsync).
        builder.Enlist = false;
        return builder.ConnectionString;
    }

    /// <summary>
    /// Throws unless a data source the host registered gives the store connections of their own (see
    /// <see cref="WithDefaults"/>): one that multiplexes commands cannot.
    /// </summary>
    /// <exception cref="InvalidOperationException">The data source multiplexes.</exception>
    public static NpgsqlDataSource ThrowIfMultiplexing(NpgsqlDataSource dataSource)
    {
        if (new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).Multiplexing)
        {
            throw new InvalidOperationException(
                "The registered NpgsqlDataSource multiplexes commands (Multiplexing=true), but the PostgreSQL store needs connections of its own (for its transaction-scoped locks, its event notifications and the lookup of a lost commit): register one without multiplexing, or give the store a connection string (it then builds its own data source, without multiplexing).");
        }

        return dataSource;
    }

    /// <summary>
    /// Throws unless <paramref name="connection"/> writes an array parameter, as the store's statements send (its batch
    /// reads, its set-based group commits and its event appends): a data source built with
    /// <see cref="NpgsqlSlimDataSourceBuilder"/> writes none unless <see cref="NpgsqlSlimDataSourceBuilder.EnableArrays"/>
    /// was called, and would otherwise fail the first use case with Npgsql's <see cref="InvalidCastException"/>. One round
    /// trip, which changes nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection's type mapping has no arrays.</exception>
    public static async Task ThrowUnlessWritesArraysAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand("SELECT cardinality($1)", connection) { Parameters = { new NpgsqlParameter { Value = Array.Empty<long>() } } };
        try
        {
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is InvalidCastException or NotSupportedException)
        {
            throw new InvalidOperationException(NoArrays, e);
        }
    }

    /// <summary>Whether <paramref name="e"/> is the refusal of <see cref="ThrowUnlessWritesArraysAsync"/>: the data source's configuration, not the database, is at fault.</summary>
    public static bool IsRefusal(Exception e) => e is InvalidOperationException { Message: NoArrays };

    /// <summary>The message of <see cref="ThrowUnlessWritesArraysAsync"/>'s refusal.</summary>
    private const string NoArrays =
        "The registered NpgsqlDataSource does not write arrays, which the PostgreSQL store sends as parameters (a data source built with NpgsqlSlimDataSourceBuilder maps none by default): build it with EnableArrays(), or give the store a connection string (it then builds its own data source).";
}
