using System.Data;
using System.Globalization;
using System.Reflection;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Applies the embedded migrations (<c>Migrations/NNNN_name.sql</c>) in order, in one transaction at READ
/// COMMITTED (whatever the session's default isolation) that first takes an advisory lock on the schema's name, so instances starting together apply each once; then
/// records the store's ranking resolution, or checks it against the one recorded. A database not encoded in
/// UTF-8 is refused first.
/// </summary>
internal sealed class PostgresSchemaMigrator(PostgresCommerceStore store) : ICommerceSchemaMigrator
{
    private const string ResourcePrefix = "Commerce.Postgres.Migrations.";

    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = Load();

    /// <inheritdoc />
    /// <remarks>
    /// Refused once the store is disposed, whether or not it owns its data source, as the store's sessions and event
    /// store are (see <see cref="PostgresCommerceStore.OpenSessionAsync"/>).
    /// </remarks>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        store.ThrowIfDisposed();
        var schema = store.QuotedSchema;
        var connection = await store.OpenOwnConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await CheckEncodingAsync(connection, cancellationToken).ConfigureAwait(false);
            if (await IsCurrentAsync(connection, schema, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            // READ COMMITTED whatever the session's default: under REPEATABLE READ or SERIALIZABLE the snapshot would be
            // taken by the lock's statement, before it waits, so an instance that waited for another's migration would
            // not see it, and would apply it again. (Npgsql's default level is READ COMMITTED too; this says so.)
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                await ExecuteAsync(
                    connection,
                    "SELECT pg_advisory_xact_lock(hashtext('commerce.migrations:' || $1)::bigint)",
                    cancellationToken,
                    store.Schema).ConfigureAwait(false);
                await ExecuteAsync(
                    connection,
                    $"""
                    CREATE SCHEMA IF NOT EXISTS {schema};
                    CREATE TABLE IF NOT EXISTS {schema}.schema_version (
                        version    integer     PRIMARY KEY,
                        name       text        NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """,
                    cancellationToken).ConfigureAwait(false);

                var applied = new HashSet<int>();
                var select = new NpgsqlCommand($"SELECT version FROM {schema}.schema_version", connection);
                await using (select.ConfigureAwait(false))
                {
                    var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            applied.Add(reader.GetInt32(0));
                        }
                    }
                }

                foreach (var (version, name, sql) in Migrations)
                {
                    if (applied.Contains(version))
                    {
                        continue;
                    }

                    await ExecuteAsync(connection, sql.Replace("{schema}", schema, StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
                    await ExecuteAsync(connection, $"INSERT INTO {schema}.schema_version (version, name) VALUES ($1, $2)", cancellationToken, version, name).ConfigureAwait(false);
                }

                await CheckRankingResolutionAsync(connection, schema, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Refuses a database not encoded in UTF-8 before anything is created: product names may hold any Unicode
    /// character but controls, which such a database cannot keep (LATIN1 has no '\u2615'; SQL_ASCII converts
    /// nothing from the client's UTF-8), so adding a valid product would fail there with a server error.
    /// </summary>
    /// <exception cref="InvalidOperationException">The database's encoding is not UTF8.</exception>
    private async Task CheckEncodingAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()", connection);
        await using (command.ConfigureAwait(false))
        {
            var encoding = (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (encoding != "UTF8")
            {
                throw new InvalidOperationException(
                    $"The database of the Commerce store (schema {store.Schema}) is encoded in {encoding}, but the store needs UTF8: "
                    + "product names may hold any Unicode character but controls, which this database cannot keep. "
                    + "Create the database with ENCODING 'UTF8'. Nothing was migrated.");
            }
        }
    }

    /// <summary>
    /// Whether the schema holds every migration of this package and records this store's ranking resolution, read
    /// without taking the lock or sending any DDL: an application role granted only the use of the schema (no
    /// <c>CREATE</c> on the database, which PostgreSQL checks before it looks at <c>CREATE SCHEMA IF NOT EXISTS</c>'s
    /// schema) then starts on a schema its owner migrated. Anything else (no schema or table yet, a migration missing,
    /// no resolution recorded) is left to the migration's transaction, which decides it under the lock; migrations
    /// and the resolution are recorded in one transaction, so what this reads committed stays true. On a read-only
    /// server (a hot standby, <c>default_transaction_read_only</c>) the schema is not taken as current either: the
    /// migration's transaction is refused there with the server's <c>25006</c>, so that an instance pointed at a
    /// standby fails at start rather than at its first write.
    /// </summary>
    /// <exception cref="InvalidOperationException">The schema's sales are counted at another resolution.</exception>
    private async Task<bool> IsCurrentAsync(NpgsqlConnection connection, string schema, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(
            $"""
            SELECT coalesce((SELECT array_agg(version) FROM {schema}.schema_version), ARRAY[]::integer[]),
                   (SELECT value FROM {schema}.store_settings WHERE name = 'ranking_resolution_ticks'),
                   current_setting('transaction_read_only')::boolean
            """,
            connection);
        await using (command.ConfigureAwait(false))
        {
            int[] versions;
            long? recorded;
            bool readOnly;
            try
            {
                var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    versions = reader.GetFieldValue<int[]>(0);
                    recorded = reader.IsDBNull(1) ? null : reader.GetInt64(1);
                    readOnly = reader.GetBoolean(2);
                }
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidSchemaName or PostgresErrorCodes.UndefinedTable)
            {
                return false; // A new database, or one from before 0006: the migration creates what is missing.
            }

            if (readOnly || recorded is not { } ticks || Migrations.Any(m => Array.IndexOf(versions, m.Version) < 0))
            {
                return false;
            }

            return ticks == store.RankingResolution.Ticks ? true : throw ResolutionMismatch(ticks);
        }
    }

    /// <summary>
    /// Records the store's ranking resolution if the schema has none yet, and refuses (before the migration's
    /// transaction commits, so that nothing of it applies) a store configured with another: the sales rows are
    /// keyed by the start of the bucket they were counted in.
    /// </summary>
    /// <exception cref="InvalidOperationException">The schema's sales are counted at another resolution.</exception>
    private async Task CheckRankingResolutionAsync(NpgsqlConnection connection, string schema, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(
            $"""
            WITH recorded AS (
                INSERT INTO {schema}.store_settings (name, value) VALUES ('ranking_resolution_ticks', $1)
                ON CONFLICT (name) DO NOTHING
                RETURNING value)
            SELECT value FROM recorded
            UNION ALL
            SELECT value FROM {schema}.store_settings WHERE name = 'ranking_resolution_ticks'
            """,
            connection);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = store.RankingResolution.Ticks });
            var recorded = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (recorded != store.RankingResolution.Ticks)
            {
                throw ResolutionMismatch(recorded);
            }
        }
    }

    /// <summary>The refusal of an instance whose ranking resolution is not the one the schema records.</summary>
    private InvalidOperationException ResolutionMismatch(long recordedTicks) => new(
        $"The Commerce store in schema {store.Schema} counts sales in ranking buckets of {TimeSpan.FromTicks(recordedTicks)}, "
        + $"but this instance has CommerceOptions.RankingResolution {store.RankingResolution}. A store's resolution cannot change "
        + "(its sales stay in the buckets they were counted in): configure the recorded one, or use a new schema. Nothing was migrated.");

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        await using (command.ConfigureAwait(false))
        {
            foreach (var parameter in parameters)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = parameter });
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static List<(int Version, string Name, string Sql)> Load()
    {
        var assembly = typeof(PostgresSchemaMigrator).Assembly;
        var migrations = new List<(int Version, string Name, string Sql)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[ResourcePrefix.Length..^".sql".Length];
            var version = int.Parse(name.AsSpan(0, name.IndexOf('_', StringComparison.Ordinal)), NumberStyles.None, CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add((version, name, reader.ReadToEnd()));
        }

        migrations.Sort(static (a, b) => a.Version.CompareTo(b.Version));
        return migrations;
    }
}
