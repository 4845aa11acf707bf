using Commerce.Postgres;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Commerce;

/// <summary>Adds the PostgreSQL store's health check to a host's health checks.</summary>
public static class PostgresCommerceHealthChecksBuilderExtensions
{
    /// <summary>
    /// Checks the PostgreSQL store registered with <c>UsePostgresStore</c>: the database answers a query on one
    /// pooled connection, and every migration of this package is applied to the store's schema.
    /// </summary>
    /// <param name="builder">The builder <c>services.AddHealthChecks()</c> returned.</param>
    /// <param name="name">The check's name in reports.</param>
    /// <param name="failureStatus">
    /// The status reported when the store cannot be built, the database cannot be reached or answers with an error (a failed
    /// authentication, a missing database, a permission denied), the store refuses its data source, or the schema is behind; <see langword="null"/>
    /// is <see cref="HealthStatus.Unhealthy"/>. A schema ahead of this package (migrated by a newer instance)
    /// is <see cref="HealthStatus.Degraded"/>.
    /// </param>
    /// <param name="tags">Tags for filtering checks, for example <c>"ready"</c>.</param>
    /// <param name="timeout">How long the check may take; <see langword="null"/> leaves it to the connection's timeouts.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative (other than <see cref="Timeout.InfiniteTimeSpan"/>), which the health checks' registration refuses.</exception>
    /// <remarks>
    /// The store is resolved when the check runs, never when it is registered: without <c>UsePostgresStore</c> the
    /// check reports the failure status and says so, and a store that cannot be built (no connection string and no
    /// <c>NpgsqlDataSource</c> registered, or none under <see cref="PostgresStoreOptions.DataSourceServiceKey"/>, for
    /// instance) reports the failure status with the reason and the
    /// exception, rather than failing the whole health report. The check is thread-safe; it holds a pooled
    /// connection only while it runs.
    /// </remarks>
    public static IHealthChecksBuilder AddCommercePostgres(
        this IHealthChecksBuilder builder,
        string name = "commerce-postgres",
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null,
        TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new PostgresCommerceHealthCheck(sp),
            failureStatus,
            tags,
            timeout));
    }
}
