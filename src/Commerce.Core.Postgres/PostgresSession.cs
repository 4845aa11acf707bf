using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// The PostgreSQL store's side of one unit of work, on a connection it holds from its first statement
/// until it is disposed. Each read is one statement (one snapshot), whatever tables it covers.
/// <see cref="CommitAsync"/> sends every write, and a check of every key only read, as one
/// <see cref="NpgsqlBatch"/>: one round trip, one implicit transaction, in which each statement
/// verifies its own row count and raises <c>CM409</c> (rolling the whole batch back) when a read no
/// longer holds; with group commit on, the batch joins those of concurrent commits (see
/// <see cref="PostgresGroupCommitter"/>). A change set without writes is validated instead, by one statement, unless its reads
/// are a snapshot already (see <see cref="IsSnapshot"/>). <see cref="PurgeIdempotencyAsync"/> is one
/// <c>DELETE</c>, at READ COMMITTED as a commit is (see <see cref="PostgresSql.ReadCommitted"/>).
/// </summary>
/// <remarks>Serves one unit of work at a time; not thread-safe.</remarks>
internal sealed class PostgresSession(PostgresCommerceStore store) : IStoreSession
{
    private NpgsqlConnection? _connection;
    private int _readStatements;
    private bool _disposed;

    public async ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        if (batch.Count == 0)
        {
            return;
        }

        StoredState[] found;
        if (store.GroupReader is { } reader)
        {
            // With group commit on, the read joins those of concurrent units of work: one statement for all.
            ObjectDisposedException.ThrowIf(_disposed, this);
            found = await reader.ReadAsync(batch, PostgresReads.Statement(_readStatements + 1), cancellationToken).ConfigureAwait(false);
            _readStatements++;
        }
        else
        {
            found = await QueryAsync(batch, PostgresReads.Keys, PostgresReads.KeysFoundAsync, cancellationToken).ConfigureAwait(false);
        }

        for (var i = 0; i < found.Length; i++)
        {
            batch.SetResult(i, found[i]);
        }
    }

    public async ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentNullException.ThrowIfNull(rows);
        cancellationToken.ThrowIfCancellationRequested();
        if (after is { Value: long.MaxValue })
        {
            return new ProductRange(after, long.MaxValue, 0); // No id lies above; nothing to read.
        }

        var (listed, range) = await QueryAsync((after, limit), PostgresReads.Products, PostgresReads.ProductsFoundAsync, cancellationToken).ConfigureAwait(false);
        foreach (var (key, state) in listed)
        {
            rows.Add(key, state);
        }

        return range;
    }

    public async ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentNullException.ThrowIfNull(rows);
        cancellationToken.ThrowIfCancellationRequested();
        if (firstBucket >= endBucket)
        {
            return new SalesTop([]);
        }

        var (sales, products) = await QueryAsync((firstBucket, endBucket, count), PostgresReads.TopSales, PostgresReads.TopSalesFoundAsync, cancellationToken).ConfigureAwait(false);
        foreach (var (key, state) in products)
        {
            rows.Add(key, state);
        }

        // One statement read every bucket at one instant: the ranking is consistent.
        return new SalesTop(sales.AsReadOnly());
    }

    public async ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!changes.HasWrites)
        {
            return IsSnapshot(changes) || await ValidateAsync(changes, cancellationToken).ConfigureAwait(false);
        }

        if (store.GroupCommitter is { } committer)
        {
            // The committer sends the group on its own connection: this one goes back to the pool first, so
            // that sessions waiting for their group never hold every connection the committer could need.
            await DropConnectionAsync().ConfigureAwait(false);
            return Applied(changes, await committer.CommitAsync(changes, cancellationToken).ConfigureAwait(false));
        }

        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var batch = store.WriteBatch(connection);
        await using (batch.ConfigureAwait(false))
        {
            if (!PostgresCommitBatch.TryBuild(store, changes, batch, out var evidence))
            {
                return false;
            }

            if (store.BeforeCommit is { } hook)
            {
                await hook(connection, cancellationToken).ConfigureAwait(false);
            }

            var backend = connection.ProcessID; // Its transaction is to end before a lookup of the outcome.
            try
            {
                // Once sent, a commit runs to its end: it is not cancelled half-way.
                store.CountRoundTrip();
                await batch.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                return Applied(changes, true);
            }
            catch (PostgresException e) when (PostgresOutcome.IsConflict(e))
            {
                return false;
            }
            catch (PostgresException e) when (e.InvariantSeverity == "ERROR" && PostgresOutcome.IsRefusedForNow(e))
            {
                // The server rejected the batch (out of lock slots, say): its transaction rolled back.
                throw PostgresOutcome.Unavailable("a commit", e);
            }
            catch (Exception e) when (PostgresOutcome.Cancelled("a commit", e, connection) is { } cancelled)
            {
                throw cancelled;
            }
            catch (PostgresException e) when (PostgresOutcome.IsRefusedBeforeCommit(e, batch))
            {
                await DropConnectionAsync().ConfigureAwait(false);
                throw PostgresOutcome.Unavailable("a commit", e);
            }
            catch (Exception e) when (PostgresOutcome.IsInFlightFailure(e))
            {
                // The connection failed with the batch in flight: it committed entirely or not at all.
                await DropConnectionAsync().ConfigureAwait(false);
                var applied = await PostgresOutcome.ResolveAsync(store, evidence, e, backend).ConfigureAwait(false);
                return Applied(changes, applied);
            }
        }
    }

    /// <summary>Returns <paramref name="applied"/>, after asking for the waiters to be woken if the commit applied events.</summary>
    private bool Applied(ChangeSet changes, bool applied)
    {
        if (applied && changes.Events.Count > 0)
        {
            store.Notifier.Signal();
        }

        return applied;
    }

    public async ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        var (before, tick) = PostgresRows.SplitTicks(createdBefore);
        for (var attempt = 1; ; attempt++)
        {
            var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);

            // At READ COMMITTED whatever the session's default: under REPEATABLE READ or SERIALIZABLE, a record the
            // purge waited for (being replaced, so written anew) would fail it with a serialization failure.
            var batch = store.WriteBatch(connection);
            await using (batch.ConfigureAwait(false))
            {
                var purge = batch.Add(store.Sql.PurgeIdempotency).With(before).With(tick);
                try
                {
                    store.CountRoundTrip();
                    await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    return purge.RecordsAffected;
                }
                catch (Exception e) when (PostgresOutcome.Cancelled("a purge", e, connection) is { } cancelled)
                {
                    // At the command timeout (on a connection kept open: not a broken one) or the server's own timeouts.
                    throw cancelled;
                }
                catch (Exception e) when (attempt == 1 && PostgresOutcome.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
                {
                    // One statement, so it removed all it had to or nothing; removing again is harmless.
                    await DropConnectionAsync().ConfigureAwait(false);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        await DropConnectionAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the reads of a change set without writes held together at one instant without a check:
    /// every read that could have changed since (anything but a write-once state read present) and every
    /// listed range came from one statement, and no write-once state was first read after it (it might
    /// not have existed then; once read present, it exists unchanged ever after).
    /// </summary>
    private bool IsSnapshot(ChangeSet changes)
    {
        if (_readStatements <= 1)
        {
            return true;
        }

        var checkedAt = 0;
        var latestStable = 0;
        foreach (ref readonly var change in changes.Changes)
        {
            var statement = PostgresReads.StatementOf(change.Seen.Handle);
            if (change.Kind == ChangeKind.Stable)
            {
                latestStable = Math.Max(latestStable, statement == 0 ? int.MaxValue : statement);
            }
            else if (!SameStatement(ref checkedAt, statement))
            {
                return false;
            }
        }

        foreach (var range in changes.ProductRanges)
        {
            if (range.After is { Value: long.MaxValue })
            {
                continue; // Nothing lies above the highest id: the range is empty for ever.
            }

            if (!SameStatement(ref checkedAt, PostgresReads.StatementOf(range.Token)))
            {
                return false;
            }
        }

        return checkedAt == 0 || latestStable <= checkedAt;

        static bool SameStatement(ref int checkedAt, int statement)
        {
            if (statement == 0 || (checkedAt != 0 && checkedAt != statement))
            {
                return false;
            }

            checkedAt = statement;
            return true;
        }
    }

    /// <summary>One statement, one snapshot: true iff every read of the change set still holds.</summary>
    private async ValueTask<bool> ValidateAsync(ChangeSet changes, CancellationToken cancellationToken)
    {
        var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
        var command = PostgresValidation.Build(store, connection, changes);
        if (command is null)
        {
            return true;
        }

        await using (command.ConfigureAwait(false))
        {
            try
            {
                store.CountRoundTrip();
                return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
            }
            catch (PostgresException e) when (PostgresOutcome.IsConflict(e))
            {
                return false;
            }
            catch (PostgresException e) when (PostgresOutcome.IsRefusedForNow(e))
            {
                await DropConnectionAsync().ConfigureAwait(false);
                throw PostgresOutcome.Unavailable("a read check", e);
            }
            catch (Exception e) when (PostgresOutcome.Cancelled("a read check", e, connection) is { } cancelled)
            {
                // Not a conflict: the use case run again would wait as long again.
                throw cancelled;
            }
            catch (Exception e) when (PostgresOutcome.IsConnectionFailure(e))
            {
                // Nothing was written: report a conflict, so the reads are retried on a fresh connection.
                await DropConnectionAsync().ConfigureAwait(false);
                return false;
            }
        }
    }

    /// <summary>
    /// Runs one read statement and returns what it found. A connection found broken (a pooled connection
    /// whose server went away, a terminated backend) is replaced once: a read applies nothing, and the
    /// commit checks what it returned anyway. A read the server refused for now, cancelled on its own
    /// (<see cref="PostgresOutcome.IsCancelledByServer"/>) or cancelled at the command timeout
    /// (<see cref="PostgresOutcome.IsCancelledAtTimeout"/>), is <see cref="StoreUnavailableException"/>.
    /// </summary>
    private async ValueTask<TResult> QueryAsync<TArgument, TResult>(
        TArgument argument,
        Func<PostgresCommerceStore, NpgsqlConnection, TArgument, NpgsqlBatch> build,
        Func<NpgsqlDataReader, TArgument, object, CancellationToken, ValueTask<TResult>> consume,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (var attempt = 1; ; attempt++)
        {
            var connection = await ConnectionAsync(cancellationToken).ConfigureAwait(false);
            var command = build(store, connection, argument);
            await using (command.ConfigureAwait(false))
            {
                try
                {
                    store.CountRoundTrip();
                    var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        var result = await consume(reader, argument, PostgresReads.Statement(_readStatements + 1), cancellationToken).ConfigureAwait(false);
                        _readStatements++;
                        return result;
                    }
                }
                catch (Exception e) when (PostgresOutcome.Cancelled("a read", e, connection) is { } cancelled)
                {
                    // At the command timeout (on a connection kept open: not a broken one) or the server's own
                    // timeouts: the services report it without retrying, since a read run again would wait as long.
                    throw cancelled;
                }
                catch (Exception e) when (attempt == 1 && PostgresOutcome.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
                {
                    await DropConnectionAsync().ConfigureAwait(false);
                }
                catch (PostgresException e) when (PostgresOutcome.IsRefusedForNow(e))
                {
                    // A read applies nothing: the services retry the use case after a back-off.
                    await DropConnectionAsync().ConfigureAwait(false);
                    throw PostgresOutcome.Unavailable("a read", e);
                }
            }
        }
    }

    /// <summary>The session's connection, opened on first use (see <see cref="PostgresCommerceStore.OpenConnectionAsync"/>).</summary>
    private async ValueTask<NpgsqlConnection> ConnectionAsync(CancellationToken cancellationToken) =>
        _connection ??= await store.OpenConnectionAsync("a unit of work", cancellationToken).ConfigureAwait(false);

    private async ValueTask DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
