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
    public CommerceRuntime(ICommerceStore store, CommerceOptions options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        Store = store;
        Options = options.Snapshot();
        Time = time;
        Logger = loggerFactory.CreateLogger("Commerce");
        _lastPurge = time.GetUtcNow().UtcTicks;
    }

    // When expired idempotency records were last purged (UTC ticks); one caller at a time claims the next purge.
    private long _lastPurge;

    public ICommerceStore Store { get; }

    public CommerceOptions Options { get; }

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

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
    /// <exception cref="CommitOutcomeUnknownException">The store could not tell whether the commit applied.</exception>
    public async ValueTask<Result<T>> RunAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken) =>
        (await AttemptAsync(operation, state, useCase, cancellationToken).ConfigureAwait(false)).Result;

    /// <summary>
    /// Runs a read-only use case; it only fails if reads keep meeting concurrent commits
    /// (<see cref="InvalidOperationException"/>) or the store keeps refusing them (<see cref="StoreUnavailableException"/>).
    /// </summary>
    public async ValueTask<T> ReadAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken)
    {
        var (result, refusal) = await AttemptAsync(operation, state, useCase, cancellationToken).ConfigureAwait(false);
        return result.IsSuccess ? result.Value
            : refusal is not null ? throw new StoreUnavailableException(result.Error.Message, refusal)
            : throw new InvalidOperationException(result.Error.Message);
    }

    /// <summary>The loop behind <see cref="RunAsync"/>: the result, and the store's refusal when it failed the last attempt.</summary>
    private async ValueTask<(Result<T> Result, StoreUnavailableException? Refusal)> AttemptAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var started = Stopwatch.GetTimestamp();
            StoreUnavailableException? refusal = null;
            try
            {
                var unitOfWork = (UnitOfWork)await UnitOfWork.BeginAsync(Store, Options.RankingResolution, cancellationToken).ConfigureAwait(false);
                await using (unitOfWork.ConfigureAwait(false))
                {
                    var result = await useCase(unitOfWork, state, cancellationToken).ConfigureAwait(false);
                    if (result.IsFailure)
                    {
                        // A refusal applies nothing: it commits only its reads, to be judged on a consistent snapshot.
                        unitOfWork.DiscardWrites();
                    }

                    if (await unitOfWork.CommitAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return (result, null);
                    }
                }
            }
            catch (StoreUnavailableException e)
            {
                // Nothing applied: the attempt is retried like a conflict, from fresh reads.
                refusal = e;
            }

            if (attempt >= Options.MaxCommitAttempts)
            {
                if (refusal is not null)
                {
                    Log.StoreUnavailableRetriesExhausted(Logger, operation, attempt, refusal);
                    return (Errors.StoreUnavailable(operation, attempt), refusal);
                }

                Log.RetriesExhausted(Logger, operation, attempt);
                return (Errors.ConcurrencyConflict(operation, attempt), null);
            }

            if (refusal is not null)
            {
                Log.StoreUnavailable(Logger, operation, attempt, refusal);
            }
            else
            {
                Log.CommitConflict(Logger, operation, attempt);
            }

            // A quick attempt (an in-memory store) is retried after a short random spin on this thread, up
            // to attempt 5: such a conflict usually means that one other commit got there first, and it is
            // over within microseconds; a timer (a millisecond at least) or a hop to the thread pool would
            // cost far more than the retry. A slow attempt (a database round trip) is retried at once, then
            // with back-off. The randomness keeps colliding use cases out of lockstep.
            var next = attempt + 1;
            var quick = Stopwatch.GetElapsedTime(started) < QuickAttempt;
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

    /// <summary>
    /// Purges expired idempotency records when a quarter of <see cref="CommerceOptions.IdempotencyRetention"/>
    /// has passed since the last purge: the one keyed request that claims the purge runs it after its own
    /// commit, so the records of a store are bounded by what a retention and a quarter bring. A failed
    /// purge is logged and left to the next one; it never fails the request.
    /// </summary>
    public async ValueTask PurgeIdempotencyIfDueAsync(CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        var last = Interlocked.Read(ref _lastPurge);
        if (now.UtcTicks - last < Options.IdempotencyRetention.Ticks / 4
            || Interlocked.CompareExchange(ref _lastPurge, now.UtcTicks, last) != last)
        {
            return;
        }

        try
        {
            var session = await Store.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
            await using (session.ConfigureAwait(false))
            {
                var purged = await session.PurgeIdempotencyAsync(now - Options.IdempotencyRetention, cancellationToken).ConfigureAwait(false);
                Log.IdempotencyPurged(Logger, purged);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.IdempotencyPurgeFailed(Logger, e);
        }
    }

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
