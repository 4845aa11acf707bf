namespace Commerce;

/// <summary>
/// Creates or upgrades the PostgreSQL store's schema when run as a role that may (the schema's owner); run as an
/// application role that owns nothing, only checks that the owner migrated it. Hosts call it once at start-up.
/// </summary>
public interface ICommerceSchemaMigrator
{
    /// <summary>
    /// Applies the migrations the database does not have yet, each recorded in the schema's
    /// <c>schema_version</c> table. Idempotent, and safe when several instances call it at once: they
    /// serialize on a transaction-scoped advisory lock, and all migrations run in one transaction. Each command
    /// runs under the connection's timeout (<c>Command Timeout</c> in the connection string, 30 s by default),
    /// not <see cref="PostgresStoreOptions.CommandTimeout"/>: raise it there for a long migration, or for instances
    /// that may wait for another's. On a schema already current it only reads the recorded versions (no DDL, no
    /// lock), so a role granted the use of the schema but not <c>CREATE</c> may call it at start-up.
    /// </summary>
    /// <param name="cancellationToken">Cancels the migration; nothing is applied then.</param>
    /// <returns>A task that completes when the schema is current.</returns>
    /// <exception cref="InvalidOperationException">
    /// The database is not encoded in UTF-8, or the schema's sales are counted at another ranking resolution
    /// than this instance's; nothing is migrated.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The store (with the container that registered it) was disposed.</exception>
    Task EnsureSchemaAsync(CancellationToken cancellationToken = default);
}
