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
    }

    public ICommerceStore Store { get; }

    public CommerceOptions Options { get; }

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

    /// <summary>
    /// Runs a use case as begin → read → pure transitions → stage → commit. On a conflict the whole use
    /// case runs again from fresh reads, up to <see cref="CommerceOptions.MaxCommitAttempts"/> times: after
    /// short random spins, then with jittered exponential back-off. A business failure is committed too (with nothing staged), so that
    /// the refusal is checked against a consistent snapshot of what it read.
    /// </summary>
    public async ValueTask<Result<T>> RunAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var unitOfWork = await Store.BeginAsync(cancellationToken).ConfigureAwait(false);
            await using (unitOfWork.ConfigureAwait(false))
            {
                var result = await useCase(unitOfWork, state, cancellationToken).ConfigureAwait(false);
                if (await unitOfWork.CommitAsync(cancellationToken).ConfigureAwait(false))
                {
                    return result;
                }
            }

            if (attempt >= Options.MaxCommitAttempts)
            {
                Log.RetriesExhausted(Logger, operation, attempt);
                return Errors.ConcurrencyConflict(operation, attempt);
            }

            Log.CommitConflict(Logger, operation, attempt);
            // Attempts 2 to 5 follow a short random spin, on this thread: a conflict usually means that one
            // other commit got there first, and it is over within microseconds; a timer (a millisecond at
            // least) or a hop to the thread pool would cost far more than the retry. The randomness keeps
            // colliding use cases from retrying in lockstep.
            if (attempt + 1 < FirstDelayedAttempt)
            {
                Thread.SpinWait(Random.Shared.Next(1 << (attempt + 5)));
                continue;
            }

            var delay = BackoffBefore(attempt + 1);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs a read-only use case; it only fails if reads keep meeting concurrent commits.</summary>
    public async ValueTask<T> ReadAsync<TState, T>(
        string operation,
        TState state,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        CancellationToken cancellationToken)
    {
        var result = await RunAsync(operation, state, useCase, cancellationToken).ConfigureAwait(false);
        return result.IsSuccess
            ? result.Value
            : throw new InvalidOperationException(result.Error.Message);
    }

    /// <summary>The first attempt that waits (a random time, see <see cref="BackoffBefore"/>) before it runs.</summary>
    internal const int FirstDelayedAttempt = 6;

    /// <summary>Full-jitter exponential back-off from <see cref="FirstDelayedAttempt"/> on; zero (run at once) before it.</summary>
    internal TimeSpan BackoffBefore(int attempt)
    {
        if (attempt < FirstDelayedAttempt)
        {
            return TimeSpan.Zero;
        }

        var exponent = Math.Min(attempt - FirstDelayedAttempt, 20);
        var cap = Math.Min(Options.MaxRetryDelay.Ticks, Options.RetryBaseDelay.Ticks << exponent);
        return TimeSpan.FromTicks((long)(Random.Shared.NextDouble() * cap));
    }
}
