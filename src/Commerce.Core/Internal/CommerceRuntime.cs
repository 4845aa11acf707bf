using System.Diagnostics;
using Commerce.Storage;
using Microsoft.Extensions.Logging;

namespace Commerce;

/// <summary>
/// What every service shares: the store, a snapshot of the options, the clock, the logger, and the
/// optimistic-concurrency loop that runs a use case until it commits.
/// </summary>
internal sealed class CommerceRuntime
{
    public CommerceRuntime(ICommerceStore store, CommerceOptions options, TimeProvider time, ILoggerFactory loggerFactory, CommerceTelemetry? telemetry = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        Store = store;
        Options = options.Snapshot();

        // The registered instance is mutable: a change made after AddCommerce validated it is checked here.
        var problems = Options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException("Invalid Commerce options: " + string.Join(" ", problems));
        }

        Time = time;
        Logger = loggerFactory.CreateLogger("Commerce");
        Telemetry = telemetry ?? CommerceTelemetry.Shared;
        // A store may outlive the process (a database): when it was last purged is not known, so the first
        // keyed request purges. Counting from the start instead, a process that never lives a quarter of the
        // retention (frequent deployments, scaling in and out) would never purge.
        var now = time.GetUtcNow();
        _lastPurge = now.UtcTicks - (Options.IdempotencyRetention.Ticks / 4);
        _jumps = new ClockJumps(time, now);
    }

    // When expired idempotency records were last purged (UTC ticks); one caller at a time claims the next purge.
    private long _lastPurge;

    // 1 once a keyed request that threw (and so ran no purge) found a purge due: the next keyed request runs it first.
    private int _purgeLeft;

    // How far the clock jumped ahead of elapsed time, looked at by each purge (see PurgeCutoff).
    private readonly ClockJumps _jumps;

    public ICommerceStore Store { get; }

    public CommerceOptions Options { get; }

    public TimeProvider Time { get; }

    /// <summary>
    /// The clock's instant at offset zero: the instant every order, ledger entry, idempotency record and event
    /// keeps. <see cref="TimeProvider.GetUtcNow"/> may carry an offset (a test clock started with one does),
    /// which a store that keeps instants (PostgreSQL's <c>timestamptz</c>) would drop, so that a value read
    /// back would differ from the one returned.
    /// </summary>
    public DateTimeOffset UtcNow() => Time.GetUtcNow().ToUniversalTime();

    public ILogger Logger { get; }

    /// <summary>The instruments and the activity source (see <see cref="CommerceDiagnostics"/>).</summary>
    public CommerceTelemetry Telemetry { get; }

    /// <summary>
    /// Runs a use case as begin → read → pure transitions → stage → commit. On a conflict the whole use
    /// case runs again from fresh reads, up to <see cref="CommerceOptions.MaxCommitAttempts"/> times: after
    /// short random spins while attempts are quick, then with jittered exponential back-off. An attempt
    /// the store refused (<see cref="StoreUnavailableException"/>: it applied nothing) is retried the same
    /// way, within the same budget. A business failure is committed too (with nothing staged), so that the
    /// refusal is checked against a consistent snapshot of what it read; whatever it staged before refusing
    /// is dropped.
    /// </summary>
    /// <returns>
    /// The use case's result; <see cref="CommerceErrorCode.ConcurrencyConflict"/> when the last attempt
    /// conflicted, <see cref="CommerceErrorCode.StoreUnavailable"/> when the store refused it.
    /// </returns>
    /// <remarks>
    /// <para>
    /// A use case that keeps losing takes priority (see <see cref="ContentionManager"/>): while it holds
    /// it, other writing use cases wait a bounded time before their attempts, and it retries without back-off.
    /// </para>
    /// <para>
    /// Pass <paramref name="useCase"/> as a static lambda, not as a static method itself: the runtime calls a
    /// delegate to a static method through a stub that shifts its arguments, one a lambda (an instance method
    /// of the compiler's cached closure) does not need, and that stub runs once per attempt.
    /// </para>
    /// </remarks>
    /// <exception cref="CommitOutcomeUnknownException">The store could not tell whether the commit applied.</exception>
    public ValueTask<Result<T>> RunAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken) =>
        RunAsync(operation, state, useCase, readOnly: false, cancellationToken);

    /// <summary>The contention manager shared by every use case of this runtime.</summary>
    internal ContentionManager Contention { get; } = new();

    private async ValueTask<Result<T>> RunAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        bool readOnly,
        CancellationToken cancellationToken)
    {
        object? priority = null;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!readOnly)
                {
                    // Reads never make a commit fail, so only writers give way to a use case that keeps losing.
                    await Contention.GiveWayAsync(priority, cancellationToken).ConfigureAwait(false);
                }

                // The attempt's duration decides nothing after the first attempt (see FirstAttemptTimed), so
                // the one attempt most use cases make reads no clock.
                var started = attempt > 1 || FirstAttemptTimed ? Stopwatch.GetTimestamp() : 0;
                StoreUnavailableException? refusal = null;
                var committed = false;
                var result = default(Result<T>);
                try
                {
                    var unitOfWork = (UnitOfWork)await UnitOfWork.BeginAsync(Store, Options.RankingResolution, pooled: true, cancellationToken).ConfigureAwait(false);
                    await using (unitOfWork.ConfigureAwait(false))
                    {
                        result = await useCase(unitOfWork, state, cancellationToken).ConfigureAwait(false);
                        if (result.IsFailure)
                        {
                            // A refusal applies nothing: it commits only its reads, to be judged on a consistent snapshot.
                            unitOfWork.DiscardWrites();
                        }

                        // An attempt cancelled before its commit starts tries none.
                        cancellationToken.ThrowIfCancellationRequested();
                        Telemetry.CommitAttempted(operation);
                        committed = await unitOfWork.CommitAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (StoreUnavailableException e) when (!committed)
                {
                    // Nothing applied: the attempt is retried like a conflict, from fresh reads.
                    refusal = e;
                }
                catch (Exception e) when (committed)
                {
                    // Closing the session failed after the commit: the outcome stands, and running again (or
                    // telling the caller it failed) would have it applied twice.
                    Log.SessionCloseFailedAfterCommit(Logger, operation, e);
                }

                if (committed)
                {
                    return result;
                }

                if (refusal is null)
                {
                    Telemetry.CommitConflicted(operation, attempt);
                }

                if (attempt >= Options.MaxCommitAttempts || refusal is { Retryable: false })
                {
                    if (refusal is not null)
                    {
                        // Not a give-up on conflicts (that counter's meaning): the store refused.
                        Log.StoreUnavailableRetriesExhausted(Logger, operation, attempt, refusal);
                        var unavailable = Errors.StoreUnavailable(operation, attempt, refusal.Retryable);
                        return readOnly ? throw new StoreUnavailableException(unavailable.Message, refusal) : unavailable;
                    }

                    Telemetry.GaveUp(operation);
                    Log.RetriesExhausted(Logger, operation, attempt);
                    return Errors.ConcurrencyConflict(operation, attempt);
                }

                if (refusal is not null)
                {
                    Log.StoreUnavailable(Logger, operation, attempt, refusal);
                }
                else
                {
                    Log.CommitConflict(Logger, operation, attempt);
                }
                if (!readOnly && refusal is null)
                {
                    priority ??= Contention.TryTake(attempt, Elapsed(started));
                    if (priority is not null)
                    {
                        continue; // The others give way: retry at once.
                    }
                }

                // A quick attempt (an in-memory store) is retried after a short random spin on this thread, up
                // to attempt 5: such a conflict usually means that one other commit got there first, and it is
                // over within microseconds; a timer (a millisecond at least) or a hop to the thread pool would
                // cost far more than the retry. A slow attempt (a database round trip) is retried at once, then
                // with back-off. The randomness keeps colliding use cases out of lockstep.
                var next = attempt + 1;
                var quick = Elapsed(started) < QuickAttempt;
                if (next < FirstDelayedAttempt(quick))
                {
                    Thread.SpinWait(Random.Shared.Next(1 << (next + 4)));
                    continue;
                }

                var delay = BackoffBefore(next, quick);
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            Contention.Release(priority);
        }
    }

    /// <summary>
    /// Runs a use case as <see cref="RunAsync{TState, T}(string, TState, Func{IUnitOfWork, TState, CancellationToken, ValueTask{Result{T}}}, CancellationToken)"/>
    /// does, for a use case whose telemetry <paramref name="scope"/> the caller started and ends: an exception
    /// ends the scope as failed, and goes through. Without a listener it adds nothing, not even a state machine.
    /// </summary>
    public ValueTask<Result<T>> RunAsync<TState, T>(
        UseCaseScope scope,
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken) =>
        RunAsync(scope, operation, state, useCase, readOnly: false, cancellationToken);

    private ValueTask<Result<T>> RunAsync<TState, T>(
        UseCaseScope scope,
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        bool readOnly,
        CancellationToken cancellationToken)
    {
        return scope.IsRecording ? Traced(scope, operation, state, useCase, readOnly, cancellationToken) : RunAsync(operation, state, useCase, readOnly, cancellationToken);

        async ValueTask<Result<T>> Traced(UseCaseScope scope, string operation, TState state, Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase, bool readOnly, CancellationToken cancellationToken)
        {
            try
            {
                return await RunAsync(operation, state, useCase, readOnly, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (scope.Fail(e))
            {
                throw;
            }
        }
    }

    /// <summary>
    /// Runs a use case as <see cref="RunAsync{TState, T}(string, TState, Func{IUnitOfWork, TState, CancellationToken, ValueTask{Result{T}}}, CancellationToken)"/>
    /// does, as its own span and duration (tagged with the user, product or order its request names first).
    /// Without a listener it adds nothing, not even a state machine.
    /// </summary>
    public ValueTask<Result<T>> TraceAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken)
    {
        return Telemetry.IsListened ? Traced(operation, state, useCase, cancellationToken) : RunAsync(operation, state, useCase, cancellationToken);

        // The span starts in this async method, so that it is the current activity of the use case only.
        async ValueTask<Result<T>> Traced(string operation, TState state, Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase, CancellationToken cancellationToken)
        {
            var scope = Telemetry.Start(UseCase.Of(operation), state);
            return scope.End(await RunAsync(scope, operation, state, useCase, cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>
    /// Runs a read-only use case, as its own span and duration (tagged with the user, product or order its
    /// request names first); it only fails if reads keep meeting concurrent commits
    /// (<see cref="InvalidOperationException"/>) or the store keeps refusing them (<see cref="StoreUnavailableException"/>).
    /// </summary>
    public async ValueTask<T> ReadAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken)
    {
        var scope = Telemetry.Start(UseCase.Of(operation), state);
        var result = await RunAsync(scope, operation, state, useCase, readOnly: true, cancellationToken).ConfigureAwait(false);
        if (result.IsFailure)
        {
            var exception = new InvalidOperationException(result.Error.Message);
            scope.Fail(exception);
            throw exception;
        }

        return scope.EndRead(result.Value);
    }

    /// <summary>
    /// Purges expired idempotency records on the first keyed request, then whenever a quarter of
    /// <see cref="CommerceOptions.IdempotencyRetention"/> has passed since the last purge, by the clock (or the
    /// clock was set back by as much: the last purge then lies in its future): the one keyed
    /// request that claims the purge runs it after its own commit (one that throws runs none, and leaves a purge due
    /// to the next keyed request: see <see cref="LeavePurgeIfDue"/>), so the records of a store are bounded by
    /// what a retention and a quarter bring, however briefly each process using it runs. The purge never
    /// fails the request, whose commit is done: a failed purge is logged and left to the next one due; a purge
    /// the request's cancellation stopped is handed back, so that the next keyed request runs it.
    /// </summary>
    /// <remarks>Completes at once, with no state machine, when no purge is due or another caller claimed it; never throws.</remarks>
    public ValueTask PurgeIdempotencyIfDueAsync(CancellationToken cancellationToken)
    {
        var now = UtcNow();
        // A plain atomic read: Interlocked.Read is a locked compare-exchange on 64-bit processors too, which
        // would take this object's cache line exclusive on every keyed request, from every core.
        var last = Volatile.Read(ref _lastPurge);
        return !PurgeDue(now, last) || Interlocked.CompareExchange(ref _lastPurge, now.UtcTicks, last) != last
            ? ValueTask.CompletedTask
            : PurgeIdempotencyAsync(now, last, cancellationToken);
    }

    /// <summary>
    /// Whether a keyed request that threw left the next one a purge (see <see cref="LeavePurgeIfDue"/>): a read of
    /// one word, which each keyed request makes before its use case.
    /// </summary>
    public bool PurgeLeft => Volatile.Read(ref _purgeLeft) != 0;

    /// <summary>
    /// Called by a keyed request that throws, which never reaches the purge that follows a commit: if a purge is
    /// due, leaves it to the next keyed request, which runs it before its use case (see <see cref="RunLeftPurgeAsync"/>).
    /// So purges go on while keyed requests come, whether they return or throw (as cancelled ones do), and the
    /// cells and records that keyed requests leave stay bounded. Claims nothing: the next request claims the purge
    /// as <see cref="PurgeIdempotencyIfDueAsync"/> does.
    /// </summary>
    public void LeavePurgeIfDue()
    {
        if (PurgeDue(UtcNow(), Volatile.Read(ref _lastPurge)))
        {
            Volatile.Write(ref _purgeLeft, 1);
        }
    }

    /// <summary>
    /// Runs the purge that a keyed request which threw left (see <see cref="LeavePurgeIfDue"/>), if it is still due,
    /// as <see cref="PurgeIdempotencyIfDueAsync"/> does: with <paramref name="cancellationToken"/>, the request's
    /// (a purge it stops is handed back; if the request then throws, it leaves the purge to the next again).
    /// </summary>
    /// <remarks>Completes at once when no purge was left, or another caller took it; never throws.</remarks>
    public ValueTask RunLeftPurgeAsync(CancellationToken cancellationToken) =>
        Interlocked.Exchange(ref _purgeLeft, 0) != 0 ? PurgeIdempotencyIfDueAsync(cancellationToken) : ValueTask.CompletedTask;

    /// <summary>Whether a purge is due at <paramref name="now"/>, the last one having run at <paramref name="last"/> (UTC ticks).</summary>
    private bool PurgeDue(DateTimeOffset now, long last) =>
        // Measured either way: a clock set back (an NTP correction, a restored virtual machine) leaves the last
        // purge in its future, and counting only forward would stop purging until the clock passed it again.
        // A small negative gap is only a caller that read the clock just before another claimed the purge.
        Math.Abs(now.UtcTicks - last) >= Options.IdempotencyRetention.Ticks / 4;

    /// <summary>
    /// Purges the idempotency records that expired by <paramref name="now"/> (see <see cref="PurgeIdempotencyIfDueAsync"/>),
    /// having claimed the purge by moving the last purge's time from <paramref name="claimedFrom"/> to <paramref name="now"/>.
    /// </summary>
    private async ValueTask PurgeIdempotencyAsync(DateTimeOffset now, long claimedFrom, CancellationToken cancellationToken)
    {
        try
        {
            var session = await Store.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
            await using (session.ConfigureAwait(false))
            {
                var purged = await session.PurgeIdempotencyAsync(PurgeCutoff(now), cancellationToken).ConfigureAwait(false);
                Log.IdempotencyPurged(Logger, purged);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Unless another claim came since, the purge is due again at once.
            Interlocked.CompareExchange(ref _lastPurge, claimedFrom, now.UtcTicks);
            Log.IdempotencyPurgeCancelled(Logger);
        }
        catch (Exception e)
        {
            Log.IdempotencyPurgeFailed(Logger, e);
        }
    }

    /// <summary>
    /// The instant before which a purge at <paramref name="now"/> removes records: <paramref name="now"/> less the
    /// retention, and less how far the clock jumped ahead of elapsed time over about the last retention. After a
    /// jump forward (a wrong time source, a resumed host), a record made just before it is a retention old by the
    /// clock but not by the time that passed, and once the clock is set right a retry finds its key live again: a
    /// purged record would make that retry run a second time. So a jump delays the purge of older records by as
    /// much, until elapsed time catches up a retention later. A clock set back delays nothing (its records expire
    /// later by it anyway).
    /// </summary>
    private DateTimeOffset PurgeCutoff(DateTimeOffset now)
    {
        var cutoff = now.UtcTicks - Options.IdempotencyRetention.Ticks - _jumps.Ahead(now, Options.IdempotencyRetention).Ticks;
        return cutoff <= 0 ? DateTimeOffset.MinValue : new DateTimeOffset(cutoff, TimeSpan.Zero);
    }

    /// <summary>
    /// Whether the first attempt of a use case must be timed. Its duration (is it quick, how long to let a use
    /// case that keeps losing hold priority) is read only on a conflict, to choose what comes before the second
    /// attempt: a spin whichever it is (<see cref="FirstDelayedAttempt"/> is later for both), and no priority
    /// (<see cref="ContentionManager.PriorityAfterAttempts"/> is later too). So it is not timed, unless those change.
    /// </summary>
    internal bool FirstAttemptTimed => FirstDelayedAttempt(quick: true) <= 2 || FirstDelayedAttempt(quick: false) <= 2 || Contention.PriorityAfterAttempts <= 1;

    /// <summary>The time since <paramref name="started"/>, a timestamp of an attempt; zero for an attempt not timed (0).</summary>
    private static TimeSpan Elapsed(long started) => started == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(started);

    /// <summary>An attempt shorter than this counts as quick (see <see cref="FirstDelayedAttempt"/>).</summary>
    internal static readonly TimeSpan QuickAttempt = TimeSpan.FromMicroseconds(50);

    /// <summary>
    /// The first attempt that waits a random time (see <see cref="BackoffBefore"/>) before it runs: the
    /// sixth after a quick attempt, the third after a slow one. Earlier attempts follow a short spin only.
    /// </summary>
    internal static int FirstDelayedAttempt(bool quick) => quick ? 6 : 3;

    /// <summary>Full-jitter exponential back-off from <see cref="FirstDelayedAttempt"/> on; zero before it.</summary>
    internal TimeSpan BackoffBefore(int attempt, bool quick)
    {
        var first = FirstDelayedAttempt(quick);
        if (attempt < first)
        {
            return TimeSpan.Zero;
        }

        var exponent = Math.Min(attempt - first, 20);
        var cap = Math.Min(Options.MaxRetryDelay.Ticks, Options.RetryBaseDelay.Ticks << exponent);
        return TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * cap));
    }
}
