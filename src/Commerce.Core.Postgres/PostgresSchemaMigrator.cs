using System.Globalization;
using System.Reflection;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Applies the embedded migrations (<c>Migrations/NNNN_name.sql</c>) in order, in one transaction that
/// first takes an advisory lock on the schema's name, so instances starting together apply each once.
/// </summary>
internal sealed class PostgresSchemaMigrator(PostgresCommerceStore store) : ICommerceSchemaMigrator
{
    private const string ResourcePrefix = "Commerce.Postgres.Migrations.";

    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = Load();

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken = default)
    {
        var schema = store.QuotedSchema;
        var connection = await store.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
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

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

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
