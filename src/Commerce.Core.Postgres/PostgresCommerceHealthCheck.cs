using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Checks that the store's database answers and that its schema is current: every embedded migration is
/// recorded in <c>schema_version</c>. One query on one pooled connection. A schema with migrations this
/// version of the package does not know (a newer instance migrated it during a rolling upgrade) is
/// <see cref="HealthStatus.Degraded"/>; an unreachable database, no connection within the connection string's <c>Timeout</c>, a query cancelled at the command timeout or by the
/// server (its <c>statement_timeout</c> or <c>lock_timeout</c>), a schema behind, or a store disposed while its
/// service provider lives on (it serves no request, whatever the database's state) is the registration's failure
/// status, never an exception. The caller's token cancelled (the registration's timeout, or the request's end)
/// throws <see cref="OperationCanceledException"/>, which the health check service reports as a timeout.
/// </summary>
/// <remarks>
/// The check resolves the store from <paramref name="services"/> when it runs, not when it is created: the
/// health check service creates a check outside the handling that turns a check's exception into its entry,
/// so a store that cannot be built (no connection string and no <see cref="NpgsqlDataSource"/> registered,
/// for instance) would otherwise fail the whole report. Such a store is the failure status, with the
/// exception; without the store (<c>UsePostgresStore</c> was not called) it reports the failure status and
/// says so.
/// </remarks>
/// <param name="services">The provider (the health check service's scope) the store is resolved from.</param>
internal sealed class PostgresCommerceHealthCheck(IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var failure = context.Registration?.FailureStatus ?? HealthStatus.Unhealthy;
        PostgresCommerceStore? store;
        try
        {
            store = services.GetService<PostgresCommerceStore>();
        }
        catch (Exception e)
        {
            return new HealthCheckResult(failure, "The Commerce PostgreSQL store cannot be built: " + e.Message, e);
        }

        if (store is null)
        {
            return new HealthCheckResult(failure, "The Commerce PostgreSQL store is not registered: call services.AddCommerce().UsePostgresStore(...).");
        }

        var expected = PostgresSchemaMigrator.Migrations.Select(m => m.Version).ToArray();
        var latest = expected[^1];
        if (store.Disposing.IsCancellationRequested)
        {
            // Disposed on its own: every use case throws ObjectDisposedException. Its own data source, disposed with it,
            // would be reported unreachable; a host's, which lives on, would answer and pass for a store that serves.
            return Disposed(failure, store.Schema, latest, new ObjectDisposedException(nameof(PostgresCommerceStore), "The PostgreSQL store was disposed."));
        }

        int[] applied;
        var opened = false;
        try
        {
            var connection = await store.OpenOwnConnectionAsync(cancellationToken).ConfigureAwait(false);
            opened = true;
            await using (connection.ConfigureAwait(false))
            {
                var command = new NpgsqlCommand($"SELECT coalesce(array_agg(version ORDER BY version), '{{}}') FROM {store.QuotedSchema}.schema_version", connection);
                await using (command.ConfigureAwait(false))
                {
                    applied = (int[])(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                }
            }
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
        {
            return new HealthCheckResult(
                failure,
                $"The database answers, but the schema \"{store.Schema}\" has no Commerce tables: call EnsureCommerceSchemaAsync (or ICommerceSchemaMigrator) at start-up.",
                data: Data(store.Schema, null, latest));
        }
        catch (PostgresException e) when (PostgresOutcome.IsCancelledByServer(e))
        {
            return new HealthCheckResult(
                failure,
                $"The PostgreSQL database of the Commerce store did not answer the check's query in time: the server cancelled it ({e.SqlState}: {e.MessageText}), at its statement_timeout or lock_timeout (a lock held on \"{store.Schema}\".schema_version, say).",
                e,
                Data(store.Schema, null, latest));
        }
        catch (NpgsqlException e) when (e.InnerException is TimeoutException && e is not PostgresException && !opened)
        {
            // Npgsql reports a pool with no connection free, or a server slow to accept one, within the connection string's
            // Timeout the way it reports a command timeout: no query was sent, and the command timeout is not the one to raise.
            return new HealthCheckResult(
                failure,
                "The PostgreSQL database of the Commerce store gave the check no connection in time: none came within the connection's Timeout (in the connection string), from a pool whose connections were all in use or from a server slow to accept one. " + e.Message,
                e,
                Data(store.Schema, null, latest));
        }
        catch (NpgsqlException e) when (e.InnerException is TimeoutException && e is not PostgresException)
        {
            return new HealthCheckResult(
                failure,
                "The PostgreSQL database of the Commerce store did not answer the check's query in time: it ran into the connection's command timeout (Command Timeout in the connection string) and was cancelled.",
                e,
                Data(store.Schema, null, latest));
        }
        catch (ObjectDisposedException e) when (store.Disposing.IsCancellationRequested)
        {
            // Disposed during the check: its data source with it.
            return Disposed(failure, store.Schema, latest, e);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(failure, "The PostgreSQL database of the Commerce store cannot be reached: " + e.Message, e, Data(store.Schema, null, latest));
        }

        var version = applied.Length == 0 ? 0 : applied[^1];
        var missing = expected.Except(applied).ToArray();
        if (missing.Length > 0)
        {
            return new HealthCheckResult(
                failure,
                $"The schema \"{store.Schema}\" lacks migration(s) {string.Join(", ", missing)} (it is at version {version}; this package needs {latest}): call EnsureCommerceSchemaAsync.",
                data: Data(store.Schema, version, latest));
        }

        return version > latest
            ? HealthCheckResult.Degraded(
                $"The schema \"{store.Schema}\" is at version {version}, newer than this package knows ({latest}): an instance of a newer version migrated it.",
                data: Data(store.Schema, version, latest))
            : HealthCheckResult.Healthy($"The database answers and the schema \"{store.Schema}\" is at version {version}.", Data(store.Schema, version, latest));
    }

    private static HealthCheckResult Disposed(HealthStatus failure, string schema, int expected, ObjectDisposedException exception) =>
        new(failure, "The Commerce PostgreSQL store was disposed: it serves no more requests (its service provider lives on).", exception, Data(schema, null, expected));

    private static Dictionary<string, object> Data(string schema, int? version, int expected)
    {
        var data = new Dictionary<string, object>
        {
            ["schema"] = schema,
            ["expected_version"] = expected,
        };
        if (version is { } v)
        {
            data["version"] = v;
        }

        return data;
    }
}
