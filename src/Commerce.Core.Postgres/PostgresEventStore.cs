using Commerce.Events;
using Commerce.Storage;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// The PostgreSQL store's event log. Commits append their events in their own batch
/// (<see cref="PostgresCommitBatch"/>); this class reads them, waits for them, keeps checkpoints and
/// purges. Each operation is one statement on a pooled connection, except a wait, which holds a
/// connection that listens (<c>LISTEN</c>) for the notification sent after commits with events
/// (<see cref="PostgresEventNotifier"/>). A checkpoint's save and the purge run at READ COMMITTED whatever
/// the session's default, as commits do (<see cref="PostgresSql.ReadCommitted"/>): under REPEATABLE READ or
/// SERIALIZABLE, one that waited for a row another transaction wrote (another instance's save or purge)
/// would fail with a serialization failure. So do the reads, as the sessions' do (see
/// <see cref="PostgresCommerceStore.QueryBatch"/>).
/// </summary>
/// <remarks>
/// A connection found broken is replaced once (every operation may run again harmlessly: reads, an
/// upsert, a purge of a prefix); a server that refuses for now, or cancels a statement on its own (at its
/// <c>statement_timeout</c> or <c>lock_timeout</c>) or at the command timeout (nothing applied, and not
/// <see cref="StoreUnavailableException.Retryable"/>), is <see cref="StoreUnavailableException"/>.
/// Thread-safe.
/// </remarks>
internal sealed class PostgresEventStore(PostgresCommerceStore store) : IEventStore, IEventConsumerLocks
{
    /// <summary>The number of stripes: fixed for the life of the data (a stream's stripe must not move).</summary>
    public const int Stripes = 64;

    private static readonly short[] StripeNumbers = [.. Enumerable.Range(0, Stripes).Select(static i => (short)i)];

    public int StripeCount => Stripes;

    /// <summary>
    /// How long a wait listens before it checks again without a notification: a safety net for a notification
    /// that cannot arrive (a connection through a transaction-pooling proxy, which does not keep a
    /// <c>LISTEN</c>).
    /// </summary>
    internal TimeSpan RecheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A test seam: called on the listening connection before each check of a wait.</summary>
    internal Func<NpgsqlConnection, Task>? BeforeCheck { get; set; }

    /// <summary>A test seam: called on a wait's connection, with the <c>UNLISTEN</c>'s token, just before the <c>UNLISTEN</c> is sent.</summary>
    internal Func<NpgsqlConnection, CancellationToken, Task>? BeforeUnlisten { get; set; }

    public ValueTask<EventPage> ReadEventsAsync(EventCursor after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(after);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        EventCursorChecks.ThrowIfBeyondStripes(after, Stripes);
        return RunAsync(
            "a read of events",
            async (connection, token) =>
            {
                var batch = store.QueryBatch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    var sequences = Sequences(after);
                    batch.Add(store.Events.Read).With(StripeNumbers).With(sequences).With((long)limit);
                    if (!after.IsStart)
                    {
                        // After the page, so in a snapshot at least as recent: a cursor this store gave out is never ahead there.
                        batch.Add(store.Events.Ahead).With(StripeNumbers).With(sequences);
                    }

                    var reader = await batch.ExecuteReaderAsync(token).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        var events = new List<CommerceEvent>();
                        var next = after;
                        while (await reader.ReadAsync(token).ConfigureAwait(false))
                        {
                            var @event = PostgresEventRows.Read(reader);
                            events.Add(@event);
                            next = next.Through(@event.Position);
                        }

                        if (!after.IsStart
                            && await reader.NextResultAsync(token).ConfigureAwait(false)
                            && await reader.ReadAsync(token).ConfigureAwait(false))
                        {
                            EventCursorChecks.ThrowIfAhead(after, reader.GetInt16(0), reader.GetInt64(2));
                        }

                        return new EventPage(events, next);
                    }
                }
            },
            cancellationToken);
    }

    /// <summary>
    /// Listens on the schema's channel, then checks; until an event is found, waits for a notification
    /// (or <see cref="RecheckInterval"/>) and checks again. Holds one pooled connection for the wait, and
    /// stops listening before it goes back to the pool: after a wait ended by its token (or the store's
    /// disposal), in the background, so that a server that stopped responding cannot hold the caller. A connection found broken is replaced once, and
    /// again each time a connection that had checked breaks. Disposing the store ends the wait with
    /// <see cref="ObjectDisposedException"/>; the caller's token, with <see cref="OperationCanceledException"/> carrying it.
    /// </summary>
    public async ValueTask WaitForEventsAsync(EventCursor after, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(after);
        cancellationToken.ThrowIfCancellationRequested();

        // Counted until it ends, with its UNLISTEN, so that the store's disposal waits for it (its connection is the data source's).
        if (!store.TryEnter())
        {
            throw PostgresCommerceStore.DisposedException();
        }

        try
        {
            await WaitCountedAsync(after, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            store.Exit();
        }
    }

    /// <summary>The wait of <see cref="WaitForEventsAsync"/>, counted by the store.</summary>
    private async ValueTask WaitCountedAsync(EventCursor after, CancellationToken cancellationToken)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, store.Disposing);
        try
        {
            await WaitAsync(after, waiting.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (store.Disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Else the wait would hold its connection, listening, for as long as nobody cancels it.
            throw PostgresCommerceStore.DisposedException("while waiting for events.");
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested && e.CancellationToken != cancellationToken)
        {
            // Ended through the linked token (or by Npgsql's own): the caller is told of its own token.
            throw new OperationCanceledException(e.Message, e, cancellationToken);
        }
    }

    /// <summary>The wait of <see cref="WaitForEventsAsync"/>, which <paramref name="cancellationToken"/> ends (the caller's or the store's disposal).</summary>
    private async ValueTask WaitAsync(EventCursor after, CancellationToken cancellationToken)
    {
        var sequences = Sequences(after);
        for (var attempt = 1; ; attempt++)
        {
            var connection = await store.OpenConnectionAsync("a wait for events", cancellationToken).ConfigureAwait(false);
            var unlistening = false; // whether an UNLISTEN left running in the background disposes the connection
            try
            {
                // A notification that arrives while a command runs on the connection (the check itself: a commit
                // after its snapshot, notified before its answer) is consumed by that command, and a wait that
                // starts afterwards waits for the next message. So one heard meanwhile makes the loop check again.
                var notified = 0;
                NotificationEventHandler heard = (_, _) => Volatile.Write(ref notified, 1);
                connection.Notification += heard;
                try
                {
                    await ExecuteAsync(connection, store.Events.Listen, cancellationToken).ConfigureAwait(false);
                    try
                    {
                        // Listening first: a commit after the check notifies this connection.
                        while (true)
                        {
                            if (BeforeCheck is { } hook)
                            {
                                await hook(connection).ConfigureAwait(false);
                            }

                            if (await ExistsAsync(connection, sequences, cancellationToken).ConfigureAwait(false))
                            {
                                return;
                            }

                            // This connection works: if it breaks later (a server restarted during a long wait),
                            // it is replaced as the first one was.
                            attempt = 1;
                            if (Interlocked.Exchange(ref notified, 0) == 0)
                            {
                                await connection.WaitAsync(RecheckInterval, cancellationToken).ConfigureAwait(false);
                                Volatile.Write(ref notified, 0); // what ended the wait (no command runs until the next check)
                            }
                        }
                    }
                    finally
                    {
                        connection.Notification -= heard;
                        if (cancellationToken.IsCancellationRequested)
                        {
                            // The wait is over for its caller (or the store's disposal), who does not wait for the
                            // UNLISTEN: a server that stopped responding would hold it up to the command timeout.
                            unlistening = UnlistenInTheBackground(connection);
                        }
                        else
                        {
                            // Under the store's count: its disposal cancels this one too, after its grace.
                            await UnlistenAsync(connection, store.Stopping).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception e) when (PostgresOutcome.Cancelled("a wait for events", e, connection) is { } cancelled)
                {
                    throw cancelled;
                }
                catch (Exception e) when (attempt == 1 && PostgresOutcome.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
                {
                    // Waiting again on a fresh connection loses nothing: it checks first.
                }
                catch (PostgresException e) when (PostgresOutcome.IsRefusedForNow(e))
                {
                    throw PostgresOutcome.Unavailable("a wait for events", e);
                }
            }
            finally
            {
                if (!unlistening)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    public ValueTask<EventCursor?> LoadCheckpointAsync(string consumer, CancellationToken cancellationToken = default)
    {
        CheckpointNames.ThrowIfNotKeepable(consumer);
        return RunAsync(
            "a read of a checkpoint",
            async (connection, token) =>
            {
                var batch = store.QueryBatch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    batch.Add(store.Events.LoadCheckpoint).With(consumer);
                    return await batch.ExecuteScalarAsync(token).ConfigureAwait(false) is string text ? EventCursor.Parse(text) : null;
                }
            },
            cancellationToken);
    }

    public async ValueTask SaveCheckpointAsync(string consumer, EventCursor cursor, CancellationToken cancellationToken = default)
    {
        CheckpointNames.ThrowIfNotKeepable(consumer);
        ArgumentNullException.ThrowIfNull(cursor);
        await RunAsync(
            "a checkpoint",
            async (connection, token) =>
            {
                var batch = store.WriteBatch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    batch.Add(store.Events.SaveCheckpoint).With(consumer).With(cursor.ToString());
                    return await batch.ExecuteNonQueryAsync(token).ConfigureAwait(false);
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes the consumer's lock (see <see cref="PostgresEventConsumerLock"/>).</summary>
    public ValueTask<IEventConsumerLock?> TryLockAsync(string consumer, CancellationToken cancellationToken = default) =>
        PostgresEventConsumerLock.TryTakeAsync(store, consumer, cancellationToken);

    public ValueTask<long> PurgeEventsAsync(DateTimeOffset before, EventCursor upTo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(upTo);
        var (at, tick) = PostgresRows.SplitTicks(before);
        return RunAsync(
            "a purge of events",
            async (connection, token) =>
            {
                var batch = store.WriteBatch(connection);
                await using (batch.ConfigureAwait(false))
                {
                    batch.Add(store.Events.Purge).With(StripeNumbers).With(Sequences(upTo)).With(at).With(tick);
                    return (long)(await batch.ExecuteScalarAsync(token).ConfigureAwait(false))!;
                }
            },
            cancellationToken);
    }

    /// <summary>The cursor's number for each stripe of the store (a stripe beyond them holds nothing).</summary>
    private static long[] Sequences(EventCursor cursor)
    {
        var sequences = new long[Stripes];
        for (var i = 0; i < sequences.Length; i++)
        {
            sequences[i] = cursor[i];
        }

        return sequences;
    }

    private async ValueTask<bool> ExistsAsync(NpgsqlConnection connection, long[] sequences, CancellationToken cancellationToken)
    {
        var batch = store.QueryBatch(connection);
        await using (batch.ConfigureAwait(false))
        {
            batch.Add(store.Events.Exists).With(StripeNumbers).With(sequences);
            store.CountRoundTrip();
            return await batch.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
        }
    }

    private async ValueTask ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var command = store.Command(connection, sql);
        await using (command.ConfigureAwait(false))
        {
            store.CountRoundTrip();
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stops listening before the connection goes back to the pool, so that no idle pooled connection keeps
    /// the server's notification queue from advancing. A connection that is broken or busy is not pooled
    /// again: nothing to undo. An <c>UNLISTEN</c> cancelled (by the store's disposal, through
    /// <see cref="PostgresCommerceStore.Stopping"/>) on a connection still open, whose server cancelled it or never
    /// received it, leaves the session listening: the data source's pool is cleared (see <see cref="NpgsqlDataSource.Clear"/>),
    /// so that the connection is closed when it is returned rather than pooled listening, and the cancellation thrown.
    /// </summary>
    private async ValueTask UnlistenAsync(NpgsqlConnection connection, CancellationToken cancellationToken = default)
    {
        if (connection.FullState != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            if (BeforeUnlisten is { } hook)
            {
                await hook(connection, cancellationToken).ConfigureAwait(false);
            }

            await ExecuteAsync(connection, "UNLISTEN *", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (PostgresOutcome.IsConnectionFailure(e))
        {
            // The connection broke: it is discarded, not pooled, and its session (with its LISTEN) is gone.
        }
        catch (OperationCanceledException) when (connection.FullState == System.Data.ConnectionState.Open)
        {
            // Pooled so, it would keep listening (a data source with No Reset On Close=true, the store's own included,
            // hands its next user the LISTEN) and hold the server's notification queue back while idle. Npgsql closes
            // no single pooled connection on request: a cleared pool closes each connection opened before once it is
            // returned, this one included, and its idle ones at once (their next users open fresh ones). Only a
            // disposal whose grace a slow server outlasted gets here.
            store.DataSource.Clear();
            throw;
        }
    }

    /// <summary>
    /// Stops listening, as <see cref="UnlistenAsync"/> does, without the caller waiting: the connection goes back to
    /// the pool (or, broken, is discarded) once the <c>UNLISTEN</c> has ended; a failure other than a broken
    /// connection is logged. Returns whether it took the connection over (it did unless the connection is broken or busy).
    /// The store's disposal waits for it (counted by <see cref="PostgresCommerceStore.EnterNested"/>, within the wait's
    /// own count), and cancels it through <see cref="PostgresCommerceStore.Stopping"/> if it has not ended within
    /// <see cref="PostgresCommerceStore.ShutdownTimeout"/>: that is not logged.
    /// </summary>
    private bool UnlistenInTheBackground(NpgsqlConnection connection)
    {
        if (connection.FullState != System.Data.ConnectionState.Open)
        {
            return false;
        }

        store.EnterNested();
        _ = DetachedTask.Run(async () =>
        {
            try
            {
                await using (connection.ConfigureAwait(false))
                {
                    await UnlistenAsync(connection, store.Stopping).ConfigureAwait(false);
                }
            }
#pragma warning disable CA1031 // Nobody waits for this UNLISTEN: what fails is logged, never thrown unobserved.
            catch (Exception e)
#pragma warning restore CA1031
            {
                if (!store.Stopping.IsCancellationRequested && e is not ObjectDisposedException && store.EventStoreLogger is { } logger)
                {
                    Log.UnlistenFailed(logger, e);
                }
            }
            finally
            {
                store.Exit();
            }
        });
        return true;
    }

    /// <summary>Runs one statement on a pooled connection, on a fresh one once if the first is found broken.</summary>
    private async ValueTask<T> RunAsync<T>(string operation, Func<NpgsqlConnection, CancellationToken, Task<T>> run, CancellationToken cancellationToken)
    {
        // A host's data source outlives the store: refused all the same, as the store's sessions are.
        cancellationToken.ThrowIfCancellationRequested();
        store.ThrowIfDisposed();
        for (var attempt = 1; ; attempt++)
        {
            var connection = await store.OpenConnectionAsync(operation, cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    store.CountRoundTrip();
                    return await run(connection, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (PostgresOutcome.Cancelled(operation, e, connection) is { } cancelled)
                {
                    // At the command timeout (on a connection kept open: not a broken one) or the server's own timeouts.
                    throw cancelled;
                }
                catch (Exception e) when (attempt == 1 && PostgresOutcome.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
                {
                    // Every operation here may run again: reads, an upsert, the purge of a prefix.
                }
                catch (PostgresException e) when (PostgresOutcome.IsRefusedForNow(e))
                {
                    throw PostgresOutcome.Unavailable(operation, e);
                }
            }
        }
    }
}
