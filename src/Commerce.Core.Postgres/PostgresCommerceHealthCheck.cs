using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// Checks that the store's database answers and that its schema is current: every embedded migration is
/// recorded in <c>schema_version</c>. One query on one pooled connection. A schema with migrations this
/// version of the package does not know (a newer instance migrated it during a rolling upgrade) is
/// <see cref="HealthStatus.Degraded"/>; an unreachable database, a server that answers with an error (a failed
/// authentication, a missing database, a permission denied, or another), a registered data source the store refuses, no
/// connection within the connection string's <c>Timeout</c>, a query cancelled at the command timeout or by the
/// server (its <c>statement_timeout</c> or <c>lock_timeout</c>), a schema behind, or a store disposed while its
/// service provider lives on (it serves no request, whatever the database's state) is the registration's failure
/// status, never an exception, with a description that names the cause. The caller's token cancelled (the registration's timeout, or the request's end)
/// throws <see cref="OperationCanceledException"/>, which the health check service reports as a timeout.
/// </summary>
/// <remarks>
/// The check resolves the store from <paramref name="services"/> when it runs, not when it is created: the
/// health check service creates a check outside the handling that turns a check's exception into its entry,
/// so a store that cannot be built (no connection string and no <see cref="NpgsqlDataSource"/> registered, or none
/// under <see cref="PostgresStoreOptions.DataSourceServiceKey"/>, for instance) would otherwise fail the whole report. Such a store is the failure status, with the
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
            return Disposed(failure, store.Schema, latest, PostgresCommerceStore.DisposedException());
        }

        int[] applied;
        var stage = Stage.Connecting;
        try
        {
            // In two steps, as the store's own opening does in one, so that a failure names the step that failed.
            var connection = await store.OpenUncheckedConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                stage = Stage.CheckingDataSource;
                await store.CheckDataSourceAsync(connection, cancellationToken).ConfigureAwait(false);
                stage = Stage.Querying;
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
                $"The database answers, but the schema \"{store.Schema}\" has no Commerce tables: migrate it with EnsureCommerceSchemaAsync (or ICommerceSchemaMigrator) as a role that may create it (the schema's owner), at start-up where the application runs as that role, otherwise in a deployment step before the application starts, then grant the application role its privileges; an application role that owns nothing is refused (42501).",
                data: Data(store.Schema, null, latest));
        }
        catch (PostgresException e) when (PostgresOutcome.IsCancelledByServer(e))
        {
            return new HealthCheckResult(
                failure,
                // 57014 is the server's answer both at its statement_timeout and at an administrator's pg_cancel_backend; only
                // its message (which lc_messages may translate) tells them apart: the description names both.
                $"The PostgreSQL database of the Commerce store cancelled the check's query ({e.SqlState}: {e.MessageText}): at its statement_timeout or lock_timeout, the query not done in time (waiting for a lock held on \"{store.Schema}\".schema_version, say), or at an administrator's pg_cancel_backend.",
                e,
                Data(store.Schema, null, latest));
        }
        catch (NpgsqlException e) when (e.InnerException is TimeoutException && e is not PostgresException && stage == Stage.Connecting)
        {
            // Npgsql reports a pool with no connection free, or a server slow to accept one, within the connection string's
            // Timeout the way it reports a command timeout: no query was sent, and the command timeout is not the one to raise.
            return new HealthCheckResult(
                failure,
                "The PostgreSQL database of the Commerce store gave the check no connection in time: none came within the connection's Timeout (in the connection string), from a pool whose connections were all in use or from a server slow to accept one. " + e.Message,
                e,
                Data(store.Schema, null, latest));
        }
        catch (NpgsqlException e) when (e.InnerException is TimeoutException && e is not PostgresException && stage == Stage.CheckingDataSource)
        {
            // The connection came: its first query, the store's check of a registered data source, is what timed out.
            return new HealthCheckResult(
                failure,
                "The PostgreSQL database of the Commerce store did not answer the store's check of its registered NpgsqlDataSource in time (whether it writes arrays: one query, on the data source's first connection): it ran into the connection's command timeout (Command Timeout in the data source's connection string) and was cancelled.",
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
        catch (InvalidOperationException e) when (stage == Stage.CheckingDataSource && PostgresDataSources.IsRefusal(e))
        {
            return new HealthCheckResult(failure, "The Commerce PostgreSQL store refuses its registered NpgsqlDataSource: " + e.Message, e, Data(store.Schema, null, latest));
        }
        catch (PostgresException e)
        {
            // The server answered: the network is not at fault, and the description says what is.
            return new HealthCheckResult(failure, Answered(e, store.Schema), e, Data(store.Schema, null, latest));
        }
        catch (NpgsqlException e) when (stage == Stage.Connecting && e.InnerException is null && e.Message.StartsWith("No password has been provided", StringComparison.Ordinal))
        {
            // The server asked for a password the connection string does not give: Npgsql refuses before the server can,
            // with no SQLSTATE, so only its (unlocalised) message tells this authentication failure from a lost connection.
            return new HealthCheckResult(failure, AuthenticationFailed + e.Message, e, Data(store.Schema, null, latest));
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
                $"The schema \"{store.Schema}\" lacks migration(s) {string.Join(", ", missing)} (it is at version {version}; this package needs {latest}): migrate it with EnsureCommerceSchemaAsync as a role that may change it (the schema's owner), at start-up where the application runs as that role, otherwise in a deployment step before instances of this version start; an application role that owns nothing is refused (42501).",
                data: Data(store.Schema, version, latest));
        }

        return version > latest
            ? HealthCheckResult.Degraded(
                $"The schema \"{store.Schema}\" is at version {version}, newer than this package knows ({latest}): an instance of a newer version migrated it.",
                data: Data(store.Schema, version, latest))
            : HealthCheckResult.Healthy($"The database answers and the schema \"{store.Schema}\" is at version {version}.", Data(store.Schema, version, latest));
    }

    /// <summary>The description of a failed authentication, before the reason.</summary>
    private const string AuthenticationFailed =
        "The PostgreSQL server of the Commerce store answers, but authentication failed: check the role and its password (Username and Password in the connection string) and the server's pg_hba.conf. ";

    /// <summary>
    /// The description of an error the server answered the check with (other than a missing schema or a cancellation):
    /// its class (a failed authentication, a missing database, no connection taken for now, a permission denied) and what to look at, then the server's
    /// SQLSTATE and message (never the statement's position, nor anything of the connection string).
    /// </summary>
    private static string Answered(PostgresException e, string schema)
    {
        var answer = e.SqlState + ": " + e.MessageText;
        return e.SqlState switch
        {
            PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification => AuthenticationFailed + answer,
            PostgresErrorCodes.InvalidCatalogName =>
                "The PostgreSQL server of the Commerce store answers, but the database is missing: create it, or correct its name (Database in the connection string). " + answer,
            PostgresErrorCodes.TooManyConnections or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow =>
                "The PostgreSQL server of the Commerce store answers, but takes no connection for now (at its connection limit, or shutting down or starting up): this may pass without a change; if it lasts, look at the server's max_connections, the role's CONNECTION LIMIT and the pools of its clients. " + answer,
            PostgresErrorCodes.InsufficientPrivilege =>
                $"The PostgreSQL server of the Commerce store answers, but permission was denied to the store's role: grant it CONNECT on the database, USAGE on the schema \"{schema}\" and the use of its tables. " + answer,
            _ => "The PostgreSQL server of the Commerce store answers, but refused the check: " + answer,
        };
    }

    private static HealthCheckResult Disposed(HealthStatus failure, string schema, int expected, ObjectDisposedException exception) =>
        new(failure, "The Commerce PostgreSQL store was disposed: it serves no more requests (its service provider lives on).", exception, Data(schema, null, expected));

    /// <summary>How far the check got: a failure is described by the step it ended.</summary>
    private enum Stage
    {
        /// <summary>Opening a connection from the store's data source.</summary>
        Connecting,

        /// <summary>The store's one-time check of a registered data source's types (see <see cref="PostgresCommerceStore.CheckDataSourceAsync"/>).</summary>
        CheckingDataSource,

        /// <summary>The query of <c>schema_version</c>.</summary>
        Querying,
    }

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
