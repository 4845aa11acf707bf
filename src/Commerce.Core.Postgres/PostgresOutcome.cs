using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// What a failed statement means: a conflict (nothing applied; the use case is retried), a broken
/// connection, or, for a commit in flight, an outcome the client cannot see, which this class finds out
/// for a commit that placed an order.
/// </summary>
internal static class PostgresOutcome
{
    /// <summary>The SQLSTATE <c>expect_rows</c> raises when a read no longer holds.</summary>
    public const string ConflictState = "CM409";

    private const string UnknownMessage = "The connection failed while a commit was in flight; it was applied entirely or not at all.";

    /// <summary>A stale read (<c>CM409</c>), a serialization failure or a deadlock: the batch rolled back.</summary>
    public static bool IsConflict(PostgresException e) =>
        e.SqlState is ConflictState or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected;

    /// <summary>The connection broke (an I/O error, a terminated backend), as opposed to a statement the server rejected.</summary>
    public static bool IsConnectionFailure(Exception e) =>
        e is IOException || (e is NpgsqlException && e is not PostgresException { InvariantSeverity: "ERROR" });

    /// <summary>A failure that leaves a commit sent (or being sent) with an outcome the client cannot see.</summary>
    public static bool IsInFlightFailure(Exception e) =>
        e is not PostgresException { InvariantSeverity: "ERROR" } && (e is NpgsqlException or IOException or InvalidOperationException);

    /// <summary>
    /// Finds out whether a commit whose connection failed was applied. A commit that placed an order is
    /// decided by the order's presence, looked up on a fresh connection once the order key's advisory
    /// lock (held by the commit's transaction until it ended) can be taken; any other commit is reported
    /// as unknown.
    /// </summary>
    /// <returns>Whether the commit applied.</returns>
    /// <exception cref="CommitOutcomeUnknownException">No order to decide by, or the lookup failed too.</exception>
    public static async ValueTask<bool> ResolveAsync(PostgresCommerceStore store, OrderId? insertedOrder, Exception failure)
    {
        if (insertedOrder is not { } orderId)
        {
            throw new CommitOutcomeUnknownException(UnknownMessage, failure);
        }

        try
        {
            var key = StoreKey.ForOrder(orderId);
            var connection = await store.DataSource.OpenConnectionAsync().ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var batch = store.Batch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    batch.Add(PostgresSql.KeyLock(exclusive: false)).With((int)key.Table).With(PostgresRows.LockHash(key));
                    batch.Add(store.Sql.OrderExists).With(orderId.Value);
                    store.CountRoundTrip();
                    var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        await reader.NextResultAsync().ConfigureAwait(false);
                        await reader.ReadAsync().ConfigureAwait(false);
                        return reader.GetBoolean(0);
                    }
                }
            }
        }
        catch (Exception e) when (e is NpgsqlException or IOException)
        {
            throw new CommitOutcomeUnknownException(UnknownMessage, new AggregateException(failure, e));
        }
    }
}
