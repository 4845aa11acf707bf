using System.Net.Sockets;
using Commerce.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Commerce.Postgres;

/// <summary>
/// What a failed statement means: a conflict (nothing applied; the use case is retried), a refusal for
/// now (nothing applied; retried after a back-off), a broken connection, or, for a commit in flight, an outcome the client cannot see, which this class finds out
/// for a commit that placed an order, wrote an idempotency record or cancelled an order.
/// </summary>
internal static class PostgresOutcome
{
    /// <summary>The SQLSTATE <c>expect_rows</c> raises when a read no longer holds.</summary>
    public const string ConflictState = "CM409";

    private const string UnknownMessage = "The connection failed while a commit was in flight; it was applied entirely or not at all.";

    /// <summary>A stale read (<c>CM409</c>), a serialization failure or a deadlock: the batch rolled back.</summary>
    public static bool IsConflict(PostgresException e) =>
        e.SqlState is ConflictState or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected;

    /// <summary>
    /// The server refused for now: class 53, insufficient resources (<c>53300</c> too many connections, for
    /// the server or the role; <c>53200</c> out of memory or of lock slots; <c>53100</c> disk full;
    /// <c>53400</c> a configured limit), or a server going down or not yet up (<c>57P01</c> admin shutdown,
    /// <c>57P02</c> crash shutdown, <c>57P03</c> cannot connect now). A connection refused so, or a statement
    /// rejected so (an <c>ERROR</c>, which rolls its transaction back), applied nothing.
    /// </summary>
    public static bool IsRefusedForNow(Exception e) =>
        e is PostgresException { SqlState: var state } && (state.StartsWith("53", StringComparison.Ordinal)
            || state is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow);

    /// <summary>
    /// A connection could not be had for now, though nothing is wrong with the request: the server refused
    /// it for now (<see cref="IsRefusedForNow"/>); the client's own pool had none free within its
    /// <c>Timeout</c> (every connection of <c>Maximum Pool Size</c> in use); or the server did not answer the
    /// connection attempt in time or refused it at the socket (down, restarting). Only for a failure to
    /// open a connection: nothing was sent on it, so nothing applied. A wrong password, an unknown database,
    /// a host name the resolver says does not exist (<see cref="SocketError.HostNotFound"/>, <see cref="SocketError.NoData"/>)
    /// or a bad certificate are not refusals for now: retrying cannot help. A resolver that could not answer for
    /// now (<see cref="SocketError.TryAgain"/>) is one.
    /// </summary>
    public static bool IsOpenRefusedForNow(Exception e) =>
        IsRefusedForNow(e) || (e is NpgsqlException and not PostgresException && e.InnerException switch
        {
            TimeoutException => true,
            SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData } => false,
            SocketException => true,
            _ => false,
        });

    /// <summary>The exception that tells the services to retry later: nothing of <paramref name="operation"/> applied.</summary>
    /// <remarks>
    /// A refusal that waited already (the client's pool had no connection free within <c>Timeout</c>, or the
    /// server did not answer the connection attempt in time) is not <see cref="StoreUnavailableException.Retryable"/>:
    /// each attempt would wait as long again.
    /// </remarks>
    public static StoreUnavailableException Unavailable(string operation, Exception refusal) =>
        refusal is PostgresException { SqlState: var state }
            ? new($"PostgreSQL refused {operation} for now ({state}: {refusal.Message}); nothing was applied.", refusal)
            : new($"No connection to PostgreSQL for {operation} for now ({refusal.Message}); nothing was applied.", refusal, retryable: refusal.InnerException is not TimeoutException);

    /// <summary>The connection broke (an I/O error, a terminated backend), as opposed to a statement the server rejected.</summary>
    public static bool IsConnectionFailure(Exception e) =>
        e is IOException || (e is NpgsqlException && e is not PostgresException { InvariantSeverity: "ERROR" });

    /// <summary>
    /// A commit, a read or another statement that ran into its command timeout and was cancelled by the server:
    /// Npgsql asks the server to cancel the statement when the timeout passes, and reports the server's answer
    /// (<c>57014</c>, which rolled the statement back) as a <see cref="TimeoutException"/> on a connection it
    /// keeps open, which is not broken. A timeout whose cancellation went unanswered closes the connection
    /// instead: a lost connection, which leaves a commit's outcome unknown.
    /// </summary>
    public static bool IsCancelledAtTimeout(Exception e, NpgsqlConnection connection) =>
        e is NpgsqlException { InnerException: TimeoutException } and not PostgresException
        && connection.FullState == System.Data.ConnectionState.Open;

    /// <summary>
    /// The exception for a commit, a read or another statement cancelled at its command timeout (see <see cref="IsCancelledAtTimeout"/>):
    /// nothing applied. Not <see cref="StoreUnavailableException.Retryable"/>: each attempt could wait as long again.
    /// </summary>
    public static StoreUnavailableException TimedOut(string operation, Exception timeout) =>
        new($"PostgreSQL did not complete {operation} within the command timeout and cancelled it; nothing was applied.", timeout, retryable: false);

    /// <summary>
    /// A statement the server cancelled on its own (an <c>ERROR</c>, which rolled its transaction back): at its
    /// <c>statement_timeout</c> or at an administrator's <c>pg_cancel_backend</c> (<c>57014</c>), or at its
    /// <c>lock_timeout</c> (<c>55P03</c>), settings a role, a database or the connection string may make. A
    /// cancellation Npgsql asked for (at the command timeout or the caller's token) is not one: Npgsql reports
    /// those as a timeout or as <see cref="OperationCanceledException"/>.
    /// </summary>
    public static bool IsCancelledByServer(PostgresException e) =>
        e.InvariantSeverity == "ERROR" && e.SqlState is PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.LockNotAvailable;

    /// <summary>
    /// The exception for a commit, a read or another statement the server cancelled on its own (see
    /// <see cref="IsCancelledByServer"/>): nothing applied. Not <see cref="StoreUnavailableException.Retryable"/>, as
    /// at the command timeout: each attempt could wait as long again.
    /// </summary>
    public static StoreUnavailableException CancelledByServer(string operation, PostgresException cancellation) =>
        new($"PostgreSQL cancelled {operation} ({cancellation.SqlState}: {cancellation.MessageText}); nothing was applied.", cancellation, retryable: false);

    /// <summary>
    /// The exception for <paramref name="operation"/> if <paramref name="e"/> is its statement cancelled, with nothing
    /// applied: by the server on its own (<see cref="IsCancelledByServer"/>) or at the command timeout on a connection
    /// kept open (<see cref="IsCancelledAtTimeout"/>); otherwise <see langword="null"/>. Neither is a broken connection
    /// nor a conflict, and neither is retried: each attempt could wait as long again.
    /// </summary>
    public static StoreUnavailableException? Cancelled(string operation, Exception e, NpgsqlConnection connection) =>
        e is PostgresException server ? (IsCancelledByServer(server) ? CancelledByServer(operation, server) : null)
        : IsCancelledAtTimeout(e, connection) ? TimedOut(operation, e)
        : null;

    /// <summary>
    /// A commit whose backend went away (a refusal for now sent as <c>FATAL</c>: terminated, the server shutting
    /// down or crashed; or the connection closed by the server's <c>idle_session_timeout</c>, <c>57P05</c>) before
    /// the batch's last statement completed, so before its implicit transaction could commit: nothing applied. The
    /// server sends its messages in order, so its <c>FATAL</c> comes after the completion of every statement it ran;
    /// a backend terminated while idle (a connection kept through a server restart, or longer than the server lets
    /// one idle: a group committer's between groups) answers the batch with nothing else. A connection that breaks
    /// without the server's word, or a <c>FATAL</c> after the last statement completed, leaves the outcome unknown.
    /// </summary>
    public static bool IsRefusedBeforeCommit(Exception e, NpgsqlBatch batch) =>
        e is PostgresException { InvariantSeverity: "FATAL", SqlState: var state }
        && (IsRefusedForNow(e) || state == PostgresErrorCodes.IdleSessionTimeout)
        && batch.BatchCommands is [.., { StatementType: StatementType.Unknown }];

    /// <summary>A failure that leaves a commit sent (or being sent) with an outcome the client cannot see.</summary>
    public static bool IsInFlightFailure(Exception e) =>
        e is not PostgresException { InvariantSeverity: "ERROR" } && (e is NpgsqlException or IOException or InvalidOperationException);

    /// <summary>The exception for a commit in flight whose outcome cannot be found out.</summary>
    public static CommitOutcomeUnknownException Unknown(Exception failure) => new(UnknownMessage, failure);

    /// <summary>
    /// Finds out whether a commit whose connection failed was applied, from a write that tells (see
    /// <see cref="CommitEvidence"/>), looked up on a fresh connection once the commit's transaction has
    /// ended. The lost backend (<paramref name="backend"/>) is terminated first, and waited for: the server
    /// has not necessarily noticed its client gone, and a transaction still waiting there (for a lock, say)
    /// would otherwise go on after the lookup. The lookup then takes the key's advisory lock (which the
    /// transaction held from its insert of the key until it ended), and reads the row <c>FOR SHARE</c> (waiting
    /// for a transaction that updated it). A write found absent is fenced in the same transaction (an order's id
    /// voided, a row's version moved on, a key taken by a fence), so the answer is final even where the lost
    /// transaction could not be ended first (behind a pooler, whose process ids are its own, a backend that
    /// did not exit in time, or one the connection's role may not signal, see <see cref="EndBackend"/>): if it goes on, or its batch reaches the server only now, it rolls back. A commit
    /// without such a write is reported as unknown.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="evidence">The write that tells, if the commit made one.</param>
    /// <param name="failure">What failed the commit.</param>
    /// <param name="backend">The server process of the commit's connection.</param>
    /// <param name="cancellationToken">Ends the lookup (the store's disposal, for a group commit's): the outcome is then unknown.</param>
    /// <returns>Whether the commit applied.</returns>
    /// <exception cref="CommitOutcomeUnknownException">No write to decide by, or the lookup failed too, or was cancelled.</exception>
    public static async ValueTask<bool> ResolveAsync(PostgresCommerceStore store, CommitEvidence? evidence, Exception failure, int backend, CancellationToken cancellationToken = default)
    {
        var ending = store.EndsLostBackends;
        if (evidence is not { } written)
        {
            throw Unknown(failure);
        }

        try
        {
            var key = written.Key;
            var connection = await store.OpenOwnConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                var batch = store.WriteBatch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    if (ending)
                    {
                        batch.Add(EndBackend).With(backend).With(connection.ProcessID).With(BackendExitMilliseconds);
                    }

                    batch.Add(PostgresSql.KeyLock(exclusive: false)).With((int)key.Table).With(PostgresRows.LockHash(key));
                    written.AddLookup(store.Sql, batch);
                    store.CountRoundTrip();
                    var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        if (ending)
                        {
                            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the lost backend's end
                        }

                        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the key's lock, to the lookup's answer
                        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                        return reader.GetBoolean(0);
                    }
                }
            }
        }
        catch (Exception e) when (e is NpgsqlException or IOException or ObjectDisposedException || (e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            // The store's own data source, disposed as the host shut down with the commit in flight, opens no
            // connection for the lookup, and the store's disposal cuts a group's lookup off: that hides the outcome
            // too, and must not pass for a refusal by disposal.
            throw new CommitOutcomeUnknownException(UnknownMessage, new AggregateException(failure, e));
        }
    }

    /// <summary>How long the lookup waits for a terminated backend to exit.</summary>
    private const long BackendExitMilliseconds = 10_000;

    /// <summary>
    /// Terminates the lost backend ($1) of this login and database, and waits up to $3 ms for it to exit (its
    /// transaction, if any, then committed or rolled back), so that the lookup need not wait for it to get the
    /// locks it waits for; true if it exited, or was gone already. Only if
    /// the process ids the client sees are the server's ($2, this connection's, is its <c>pg_backend_pid()</c>):
    /// behind a pooler $1 names no backend of the server, or another one; false then.
    /// </summary>
    /// <remarks>
    /// A backend belongs to the role that logged in (<c>pg_stat_activity.usename</c>, the <c>session_user</c>), which
    /// is not the <c>current_user</c> on a connection that switched role (<c>SET ROLE</c>, <c>Options=-c role=...</c>).
    /// The server lets the current role terminate it only if that role has the privileges of the login role or of
    /// <c>pg_signal_backend</c> (and, for a superuser's backend, is a superuser); an application role granted to its
    /// login (the usual grant) is neither, and the lost backend is then left alone (false), as behind a pooler, rather than
    /// failing the lookup with <c>42501</c>.
    /// </remarks>
    private const string EndBackend =
        """
        SELECT CASE WHEN $2 <> pg_backend_pid() THEN false ELSE coalesce((
            SELECT bool_and(CASE WHEN a.may_end THEN pg_terminate_backend(a.pid, $3) ELSE false END)
            FROM (
                SELECT s.pid,
                    (pg_has_role(s.usesysid, 'USAGE') OR pg_has_role('pg_signal_backend', 'USAGE'))
                    AND (NOT r.rolsuper OR (SELECT c.rolsuper FROM pg_roles c WHERE c.rolname = current_user)) AS may_end
                FROM pg_stat_activity s JOIN pg_roles r ON r.oid = s.usesysid
                WHERE s.pid = $1 AND s.usename = session_user AND s.datname = current_database() OFFSET 0) a), true) END
        """;
}

/// <summary>
/// A write of a commit whose presence afterwards shows that the commit applied (it applied entirely or
/// not at all): an order inserted (its id is new), an idempotency record written (its version, creation
/// instant, request and outcome), or an order cancelled (its version and cancellation instant). A commit
/// that lost to a concurrent one cannot have left a row that matches, unless that one wrote the very same
/// outcome at the very same instant, which is then the outcome to report.
/// </summary>
/// <param name="Key">The key written.</param>
/// <param name="State">The state written.</param>
/// <param name="Version">The row's version once written.</param>
/// <param name="Inserted">Whether the commit inserts the row (else it updates it).</param>
internal readonly record struct CommitEvidence(StoreKey Key, object State, long Version, bool Inserted)
{
    /// <summary>Keeps the write that best tells, among those seen so far: an order inserted, then an idempotency record, then an order updated.</summary>
    public static void Consider(ref CommitEvidence? best, StoreKey key, object? state, long version, bool inserted)
    {
        var rank = RankOf(key, state, inserted);
        if (rank > 0 && (best is not { } current || rank > RankOf(current.Key, current.State, current.Inserted)))
        {
            best = new CommitEvidence(key, state!, version, inserted);
        }
    }

    /// <summary>Adds the statement that returns whether the write is there.</summary>
    public void AddLookup(PostgresSql sql, NpgsqlBatch batch)
    {
        switch (State)
        {
            case Order order when Inserted:
                batch.Add(sql.OrderPlacedElseVoid).With(order.Id.Value);
                break;
            case Order order:
                var (at, tick) = order.CancelledAt is { } cancelledAt ? PostgresRows.SplitTicks(cancelledAt) : default;
                batch.Add(sql.FenceOrderUpdate).With(order.Id.Value).With(Version);
                batch.Add(sql.OrderUpdatedTo)
                    .With(order.Id.Value).With(Version)
                    .WithNullable(order.CancelledAt is null ? null : at, NpgsqlDbType.TimestampTz)
                    .WithNullable(order.CancelledAt is null ? null : tick, NpgsqlDbType.Smallint);
                break;
            case IdempotencyRecord record:
                var (createdAt, createdTick) = PostgresRows.SplitTicks(record.CreatedAt);
                if (!Inserted)
                {
                    batch.Add(sql.FenceIdempotencyUpdate).With(Key.High).With(Key.Low).With(Version);
                }

                var lookup = batch.Add(Inserted ? sql.IdempotencyRecordedElseFence : sql.IdempotencyRecordedAs)
                    .With(Key.High).With(Key.Low).With(Version).With(createdAt).With(createdTick).With(record.RequestHash)
                    .With(record.Balance.Amount).WithNullable(record.OrderId?.Value, NpgsqlDbType.Uuid);
                if (Inserted)
                {
                    lookup.With((short)record.Operation).With(record.Key);
                }

                break;
            default:
                throw new InvalidOperationException($"No lookup tells whether {Key} was written.");
        }
    }

    private static int RankOf(StoreKey key, object? state, bool inserted) => (key.Table, state) switch
    {
        (StoreTable.Orders, Order) when inserted => 3,
        (StoreTable.Idempotency, IdempotencyRecord) => 2,
        (StoreTable.Orders, Order) => 1,
        _ => 0,
    };
}
