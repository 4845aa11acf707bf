using System.Transactions;
using Commerce.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Commerce.Postgres;

/// <summary>
/// The PostgreSQL store: opens a <see cref="PostgresSession"/> per unit of work on a data source.
/// Thread-safe.
/// </summary>
internal sealed class PostgresCommerceStore : ICommerceStore, IAsyncDisposable, IDisposable
{
    /// <summary>The default of <see cref="PostgresStoreOptions.ShutdownTimeout"/>.</summary>
    internal static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(5);

    private readonly bool _ownsDataSource;
    private readonly CancellationTokenSource _disposing = new(); // no timer, nothing linked: nothing to dispose
    private readonly CancellationTokenSource _stopping = new(); // likewise
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _roundTrips;

    // The work disposal waits for before it disposes the data source (see TryEnter): one count for the store itself
    // until its disposal starts, and one for each piece of work under way.
    private int _inFlight = 1;
    private int _closed;

    // Whether the data source's connections write the arrays the store sends as parameters: checked on the first
    // connection of a data source the host registered (one built with NpgsqlSlimDataSourceBuilder maps none unless
    // told to); the store's own data source does.
    private volatile bool _writesArrays;

    /// <param name="dataSource">The data source.</param>
    /// <param name="ownsDataSource">Whether the store disposes the data source.</param>
    /// <param name="schema">The schema.</param>
    /// <param name="commandTimeout">The timeout of each command, in seconds, or the connection's.</param>
    /// <param name="rankingResolution">The width of a ranking bucket.</param>
    /// <param name="maxGroupSize">With group commit, the most commits in one group; 0 for none (each commit alone).</param>
    /// <param name="loggerFactory">Where the store logs (a failed notification of waiters), if anywhere.</param>
    /// <param name="eventNotificationInterval">
    /// The least time between two notifications of waiters (see <see cref="PostgresStoreOptions.EventNotificationInterval"/>),
    /// on the system's clock: it paces a background task, and a host's clock may stand still in its tests.
    /// </param>
    /// <param name="shutdownTimeout">How long disposal lets the work under way end (see <see cref="ShutdownTimeout"/>); <see langword="null"/> for <see cref="DefaultShutdownTimeout"/>.</param>
    public PostgresCommerceStore(NpgsqlDataSource dataSource, bool ownsDataSource, string schema, int? commandTimeout, TimeSpan rankingResolution, int maxGroupSize = 0, ILoggerFactory? loggerFactory = null, TimeSpan eventNotificationInterval = default, TimeSpan? shutdownTimeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxGroupSize);
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rankingResolution, TimeSpan.Zero);
        var shutdown = shutdownTimeout ?? DefaultShutdownTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThan(shutdown, TimeSpan.Zero, nameof(shutdownTimeout));
        DataSource = dataSource;
        ShutdownTimeout = shutdown;
        _ownsDataSource = ownsDataSource;
        _writesArrays = ownsDataSource;
        Schema = schema;
        QuotedSchema = "\"" + schema + "\"";
        CommandTimeout = commandTimeout;
        RankingResolution = rankingResolution;
        Sql = new PostgresSql(QuotedSchema);
        Writes = new PostgresWriteSql(QuotedSchema);
        Events = new PostgresEventSql(QuotedSchema, schema);
        GroupSql = new PostgresGroupSql(QuotedSchema);
        GroupCommitter = maxGroupSize > 0 ? new PostgresGroupCommitter(this, maxGroupSize) : null;
        GroupReader = maxGroupSize > 0 ? new PostgresGroupReader(this, maxGroupSize) : null;
        EventStoreLogger = loggerFactory?.CreateLogger<PostgresEventStore>();
        var notifierLogger = loggerFactory?.CreateLogger<PostgresEventNotifier>();
        Notifier = new PostgresEventNotifier(NotifyAsync, notifierLogger is null ? null : e => Log.EventNotificationFailed(notifierLogger, e), eventNotificationInterval);
    }

    public NpgsqlDataSource DataSource { get; }

    public string Schema { get; }

    public string QuotedSchema { get; }

    public int? CommandTimeout { get; }

    public TimeSpan RankingResolution { get; }

    /// <summary>
    /// How long the store's disposal lets the work under way (the group commits and group reads queued or in flight,
    /// waits for events ending, their <c>UNLISTEN</c>s in the background) end on its own before it cancels it through
    /// <see cref="Stopping"/> (see <see cref="PostgresStoreOptions.ShutdownTimeout"/>).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; }

    public PostgresSql Sql { get; }

    public PostgresWriteSql Writes { get; }

    public PostgresEventSql Events { get; }

    /// <summary>The statements of set-based group commits (see <see cref="PostgresSetCommit"/>).</summary>
    public PostgresGroupSql GroupSql { get; }

    /// <summary>The committer that groups concurrent commits, if group commit is on.</summary>
    public PostgresGroupCommitter? GroupCommitter { get; }

    /// <summary>The reader that groups concurrent key reads, if group commit is on.</summary>
    public PostgresGroupReader? GroupReader { get; }

    /// <summary>Where the event store logs what fails in the background (a wait's <c>UNLISTEN</c> after its end), if anywhere.</summary>
    public ILogger? EventStoreLogger { get; }

    /// <summary>Wakes the waiters for events after commits that appended some.</summary>
    public PostgresEventNotifier Notifier { get; }

    /// <summary>
    /// How many commands and batches the store's sessions have sent: each is one round trip to the
    /// server (opening a pooled connection is not counted).
    /// </summary>
    internal long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Cancelled when the store is disposed: ends the waits for events under way (see <see cref="PostgresEventStore"/>).</summary>
    public CancellationToken Disposing => _disposing.Token;

    /// <summary>
    /// The refusal of work by the disposed store, the same from every path (a use case, a read or a commit through the group
    /// reader or committer, the event feed and store, the migrator, the health check's entry), so that a host recognises it
    /// whichever path met it: an <see cref="ObjectDisposedException"/> whose <see cref="ObjectDisposedException.ObjectName"/>
    /// is the store's full type name (as <see cref="ObjectDisposedException.ThrowIf(bool, object)"/> gives it) and whose
    /// message starts "The PostgreSQL store was disposed", followed by <paramref name="detail"/> (what became of the work it
    /// cut off), if any. The exception that ended such work is the store's own cancellation, which tells the caller nothing
    /// more; <see cref="ObjectDisposedException"/> has no constructor that takes both an object name and an inner exception.
    /// </summary>
    /// <param name="detail">The end of the message's sentence after "disposed" (such as "while waiting for events."), or <see langword="null"/>.</param>
    public static ObjectDisposedException DisposedException(string? detail = null) =>
        new(typeof(PostgresCommerceStore).FullName, detail is null ? "The PostgreSQL store was disposed." : "The PostgreSQL store was disposed " + detail);

    /// <summary>Throws <see cref="DisposedException"/>'s refusal once the store's disposal has started.</summary>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    public void ThrowIfDisposed()
    {
        if (_disposing.IsCancellationRequested)
        {
            throw DisposedException();
        }
    }

    /// <summary>
    /// Cancelled by the store's disposal once <see cref="ShutdownTimeout"/> has passed with work still under way (see
    /// <see cref="TryEnter"/>, and the group committer's and reader's batches): ends a wait's <c>UNLISTEN</c> left running
    /// in the background, and a group's batch or a lookup of its outcome, on a server that stopped responding (with no
    /// command timeout, nothing else would), so that nothing of the store runs on after its disposal.
    /// </summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>A test seam: called with the session's connection just before a commit sends its batch.</summary>
    internal Func<NpgsqlConnection, CancellationToken, Task>? BeforeCommit { get; set; }

    /// <summary>
    /// A test seam: false plays the case of a pooler in between, where a commit's lost backend cannot be named,
    /// so the lookup of its outcome cannot end it first, and relies on its fences alone (see
    /// <see cref="PostgresOutcome.ResolveAsync"/>).
    /// </summary>
    internal bool EndsLostBackends { get; set; } = true;

    /// <summary>A test seam: called when a connection is refused for now, before the refusal is reported.</summary>
    internal Func<Exception, Task>? OnConnectionRefused { get; set; }

    /// <summary>
    /// A pooled connection for <paramref name="operation"/>. One refused for now (too many connections, a
    /// server shutting down or starting up, a client pool with none free: see
    /// <see cref="PostgresOutcome.IsOpenRefusedForNow"/>) is <see cref="StoreUnavailableException"/>: nothing was sent.
    /// A token cancelled before the call throws <see cref="OperationCanceledException"/> with that token before a
    /// connection is asked for (Npgsql, finding no idle one, would start opening one and report the cancellation
    /// without the caller's token). The store's own data source, disposed with the store, refuses as the store does
    /// (<see cref="DisposedException"/>), not with Npgsql's refusal naming the data source: a unit of work begun before
    /// the disposal that opens its connection after it meets the same refusal as every other path.
    /// </summary>
    public async ValueTask<NpgsqlConnection> OpenConnectionAsync(string operation, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return await OpenOwnConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException) when (_ownsDataSource && _disposing.IsCancellationRequested)
        {
            throw DisposedException();
        }
        catch (Exception e) when (PostgresOutcome.IsOpenRefusedForNow(e))
        {
            if (OnConnectionRefused is { } hook)
            {
                await hook(e).ConfigureAwait(false);
            }

            throw PostgresOutcome.Unavailable(operation, e);
        }
    }

    /// <summary>
    /// A connection of the data source, never enlisted in an ambient <see cref="Transaction"/> of the caller's (Npgsql
    /// enlists a connection opened inside a <see cref="TransactionScope"/> when its connection string says
    /// <c>Enlist=true</c>, its default): the store's transactions are its own, so what a commit reported committed
    /// stays committed, whatever becomes of the caller's scope. Every connection of the store is opened here.
    /// </summary>
    /// <exception cref="InvalidOperationException">The registered data source does not write arrays (checked on its first connection).</exception>
    public ValueTask<NpgsqlConnection> OpenOwnConnectionAsync(CancellationToken cancellationToken) =>
        _writesArrays ? OpenAsync(cancellationToken) : OpenCheckedAsync(cancellationToken);

    private ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var opening = Transaction.Current is null ? DataSource.OpenConnectionAsync(cancellationToken) : OpenOutsideTheAmbientTransactionAsync(cancellationToken);
        return opening.IsCompletedSuccessfully || !cancellationToken.CanBeCanceled ? opening : HeedingTheTokenAsync(opening.AsTask(), cancellationToken);
    }

    /// <summary>
    /// Waits for <paramref name="opening"/> until <paramref name="cancellationToken"/> is cancelled. Npgsql heeds the token
    /// while it waits for the pool or for the socket to connect, but not once the socket is connected: a server that accepts
    /// the connection and never answers (hung, or behind a network that drops what follows) would hold the caller for the
    /// connection string's <c>Timeout</c>, 15 s by default, whatever its token says. A connection the abandoned open still
    /// gives is disposed, back to the pool; a failure of it is observed. The cancellation is reported with the caller's token.
    /// </summary>
    private static async ValueTask<NpgsqlConnection> HeedingTheTokenAsync(Task<NpgsqlConnection> opening, CancellationToken cancellationToken)
    {
        try
        {
            return await opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            _ = opening.ContinueWith(
                static async done =>
                {
                    if (done.IsCompletedSuccessfully)
                    {
                        await done.Result.DisposeAsync().ConfigureAwait(false);
                    }
                    else
                    {
                        _ = done.Exception; // observed: the caller has gone
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default).Unwrap();
            if (e.CancellationToken == cancellationToken)
            {
                throw;
            }

            throw new OperationCanceledException(e.Message, e, cancellationToken);
        }
    }

    /// <summary>
    /// A connection as <see cref="OpenOwnConnectionAsync"/> opens it, but without the check of a registered data source's
    /// types, which <see cref="CheckDataSourceAsync"/> then runs on it: the health check opens its connection in these two
    /// steps, to tell a failure to connect from a failure of the check.
    /// </summary>
    public ValueTask<NpgsqlConnection> OpenUncheckedConnectionAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    /// <summary>
    /// Checks, on <paramref name="connection"/>, that the data source writes arrays, unless that was checked already (the
    /// store's own data source does): one round trip the first time, none after. The caller disposes the connection if it throws.
    /// </summary>
    /// <exception cref="InvalidOperationException">The registered data source does not write arrays.</exception>
    public async ValueTask CheckDataSourceAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (!_writesArrays)
        {
            await PostgresDataSources.ThrowUnlessWritesArraysAsync(connection, cancellationToken).ConfigureAwait(false);
            _writesArrays = true;
        }
    }

    /// <summary>A connection of a registered data source whose types were not checked yet: they are, on it, before it is used.</summary>
    private async ValueTask<NpgsqlConnection> OpenCheckedAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await CheckDataSourceAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return connection;
    }

    private async ValueTask<NpgsqlConnection> OpenOutsideTheAmbientTransactionAsync(CancellationToken cancellationToken)
    {
        using var suppressed = new TransactionScope(TransactionScopeOption.Suppress, TransactionScopeAsyncFlowOption.Enabled);
        return await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a session; refused once the store is disposed, whether or not it owns its data source (a
    /// host's data source outlives it, but its committer, reader and notifier are stopped). Sessions
    /// opened before go on to their end.
    /// </summary>
    public ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        return new ValueTask<IStoreSession>(new PostgresSession(this));
    }

    /// <summary>
    /// Counts a piece of work the store's disposal waits for (a wait for events, from its start to its end), unless the
    /// disposal has started: then nothing is counted and the caller refuses the work. Each <see langword="true"/> is
    /// matched by one <see cref="Exit"/>. Thread-safe.
    /// </summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _closed) != 0)
        {
            Exit();
            return false;
        }

        return true;
    }

    /// <summary>
    /// Counts a piece of work started by work already counted (a wait's <c>UNLISTEN</c> left running in the
    /// background), which the disposal waits for even once it has started. Matched by one <see cref="Exit"/>.
    /// </summary>
    public void EnterNested() => Interlocked.Increment(ref _inFlight);

    /// <summary>Ends a piece of work counted by <see cref="TryEnter"/> or <see cref="EnterNested"/>.</summary>
    public void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>The first instant of a ranking bucket: the Unix epoch plus <paramref name="bucket"/> resolutions, within the range of <see cref="DateTimeOffset"/>.</summary>
    public DateTimeOffset BucketStart(long bucket)
    {
        var ticks = ((Int128)bucket * RankingResolution.Ticks) + DateTimeOffset.UnixEpoch.UtcTicks;
        return new DateTimeOffset((long)Int128.Clamp(ticks, DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero);
    }

    /// <summary>Counts one command or batch about to be sent.</summary>
    internal void CountRoundTrip() => Interlocked.Increment(ref _roundTrips);

    internal NpgsqlCommand Command(NpgsqlConnection connection, string sql)
    {
        var command = new NpgsqlCommand(sql, connection);
        if (CommandTimeout is { } timeout)
        {
            command.CommandTimeout = timeout;
        }

        return command;
    }

    internal NpgsqlBatch Batch(NpgsqlConnection connection)
    {
        var batch = new NpgsqlBatch(connection);
        if (CommandTimeout is { } timeout)
        {
            batch.Timeout = timeout;
        }

        return batch;
    }

    /// <summary>
    /// A batch for a transaction that writes (a commit, a lookup of a lost commit, a purge, a checkpoint's save), which
    /// runs at READ COMMITTED whatever the session's default (see <see cref="PostgresSql.ReadCommitted"/>).
    /// </summary>
    internal NpgsqlBatch WriteBatch(NpgsqlConnection connection)
    {
        var batch = Batch(connection);
        batch.Add(PostgresSql.ReadCommitted);
        return batch;
    }

    /// <summary>
    /// A batch for a read (a key read, alone or in a group, a listing, the ranking, a page of events, a wait's check, a
    /// checkpoint's load), which runs at READ COMMITTED whatever the session's default (see <see cref="PostgresSql.ReadCommitted"/>).
    /// Each read is one statement, so one snapshot at any level, and a commit checks what its unit of work read: a read
    /// needs nothing of SERIALIZABLE, under which PostgreSQL could abort it with a serialization failure (<c>40001</c>)
    /// to break a cycle among other serializable transactions (another application's).
    /// </summary>
    internal NpgsqlBatch QueryBatch(NpgsqlConnection connection)
    {
        var batch = Batch(connection);
        batch.Add(PostgresSql.ReadCommitted);
        return batch;
    }

    /// <summary>Sends one notification on a pooled connection, in a transaction of its own.</summary>
    private async Task NotifyAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenOwnConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = Command(connection, Events.Notify);
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Refuses new work, ends the waits for events under way, stops the group committer and reader taking work, waits for
    /// the work under way, the committer's and reader's included (see <see cref="StopInFlightWorkAsync"/>), stops the
    /// notifier, then disposes the data source if the store owns it. Safe to call more than once, and from several
    /// threads: each call returns once that is done.
    /// </summary>
    public void Dispose()
    {
        Cancellations.CancelAll(_disposing);
        GroupReader?.Complete();
        GroupCommitter?.Complete();
        StopInFlightWorkAsync().GetAwaiter().GetResult();
        Notifier.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (_ownsDataSource)
        {
            DataSource.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Cancellations.CancelAllAsync(_disposing).ConfigureAwait(false);
        GroupReader?.Complete();
        GroupCommitter?.Complete();
        await StopInFlightWorkAsync().ConfigureAwait(false);
        await Notifier.DisposeAsync().ConfigureAwait(false); // after the committer: the commits it finished wake waiters
        if (_ownsDataSource)
        {
            await DataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits for the work counted by <see cref="TryEnter"/> and <see cref="EnterNested"/>, and for the group committer and
    /// reader (which take no more work) to end: on its own for <see cref="ShutdownTimeout"/>, then cancelled through
    /// <see cref="Stopping"/> (Npgsql asks the server to cancel the statement, and breaks the connection if no answer comes
    /// within its <c>Cancellation Timeout</c>). Nothing of the store then runs on its connections once the store, and the
    /// data source it owns, are disposed.
    /// </summary>
    private async Task StopInFlightWorkAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            Exit(); // the store's own count: from now on TryEnter refuses
        }

        var work = Task.WhenAll(_drained.Task, GroupReader?.Completion ?? Task.CompletedTask, GroupCommitter?.Completion ?? Task.CompletedTask);
        if (!work.IsCompleted)
        {
            using (var grace = new CancellationTokenSource())
            {
                // The system's clock: a host's clock may stand still in its tests (see the notifier's interval).
                var delay = Task.Delay(ShutdownTimeout, TimeProvider.System, grace.Token);
                await Task.WhenAny(work, delay).ConfigureAwait(false);
                await grace.CancelAsync().ConfigureAwait(false);
            }

            await Cancellations.CancelAllAsync(_stopping).ConfigureAwait(false);
        }

        await work.ConfigureAwait(false);
    }
}
