using System.Diagnostics;
using Commerce.Storage;

namespace Commerce;

/// <summary>
/// Runs a use case under an idempotency key. One unit of work reads the key's record with everything the
/// use case needs; a live record for the same request answers with its stored outcome and runs nothing; a
/// live record for another request is <see cref="CommerceErrorCode.IdempotencyKeyReused"/>; otherwise the
/// use case runs and its outcome (success or refusal) is saved in the same commit as its writes. Two
/// concurrent first calls both try to write the record; one commit wins and the other, retried, replays it.
/// </summary>
internal static class Idempotent
{
    /// <summary>A keyed request: its user, its key, and the digest of what it asks (its amount or its lines).</summary>
    public readonly record struct Request(UserId User, IdempotencyKey Key, long RequestHash);

    /// <summary>
    /// A use case that takes an idempotency key, as one object per service method that every request shares:
    /// its name and kind, the keys it reads with the record, the use case itself, what its stored outcome
    /// keeps of a success, and how a stored outcome is answered.
    /// </summary>
    public sealed class KeyedUseCase<TState, T>(
        string operation,
        IdempotentOperation kind,
        Action<IUnitOfWork, TState> prefetch,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> run,
        Func<T, (Money Balance, OrderId? OrderId)> outcomeOf,
        Func<IUnitOfWork, IdempotencyRecord, CancellationToken, ValueTask<Result<T>>> replay)
    {
        public string Operation { get; } = operation;

        public IdempotentOperation Kind { get; } = kind;

        public Action<IUnitOfWork, TState> Prefetch { get; } = prefetch;

        public Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> Run { get; } = run;

        public Func<T, (Money Balance, OrderId? OrderId)> OutcomeOf { get; } = outcomeOf;

        public Func<IUnitOfWork, IdempotencyRecord, CancellationToken, ValueTask<Result<T>>> Replay { get; } = replay;
    }

    /// <returns>The outcome, and whether it is a stored one (nothing ran).</returns>
    /// <remarks>
    /// No state machine of its own while every step completes at once (an in-memory store): each step
    /// goes on synchronously, and only a step that does not complete yet continues in an async method.
    /// </remarks>
    /// <param name="runtime">The runtime.</param>
    /// <param name="useCase">The keyed use case.</param>
    /// <param name="request">The request, whose key the caller found valid.</param>
    /// <param name="state">The use case's state.</param>
    /// <param name="scope">The telemetry scope the service started (an exception ends it as failed).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public static ValueTask<(Result<T> Result, bool Replayed)> RunAsync<TState, T>(
        CommerceRuntime runtime,
        KeyedUseCase<TState, T> useCase,
        Request request,
        TState state,
        UseCaseScope scope,
        CancellationToken cancellationToken)
    {
        // Each service checks the key first, before the request's other arguments, so it is checked once.
        Debug.Assert(request.Key.IsValid, "The caller checks the key.");

        // A keyed request that threw while a purge was due left it to this one, which runs it before its use case,
        // since it may throw too (see PurgedAsync). Otherwise this costs a read of one word.
        if (runtime.PurgeLeft)
        {
            var left = runtime.RunLeftPurgeAsync(cancellationToken);
            if (!left.IsCompletedSuccessfully)
            {
                return RunAfterAsync(left, runtime, useCase, request, state, scope, cancellationToken);
            }
        }

        // The key's digest, once for every attempt.
        var recordKey = StoreKey.ForIdempotency(request.User, useCase.Kind, request.Key.Value, runtime.Store as IIdempotencyDigest);

        // The runtime drops the writes of a failed result; a stored refusal must be committed, so the
        // outcome travels inside a successful result.
        var running = runtime.RunAsync(
            scope,
            useCase.Operation,
            new Attempt<TState, T>(runtime, useCase, request, recordKey, state),
            Attempt<TState, T>.RunAsync,
            cancellationToken);
        if (!running.IsCompletedSuccessfully)
        {
            return PurgedAsync(runtime, useCase.Operation, running, cancellationToken);
        }

        var outcome = running.Result;
        var purging = runtime.PurgeIdempotencyIfDueAsync(cancellationToken);
        return purging.IsCompletedSuccessfully
            ? new(Ended(runtime, useCase.Operation, outcome))
            : PurgedAsync(runtime, useCase.Operation, outcome, purging);
    }

    /// <summary>Awaits the purge left to this request, then runs the request (see <see cref="RunAsync"/>).</summary>
    private static async ValueTask<(Result<T> Result, bool Replayed)> RunAfterAsync<TState, T>(
        ValueTask purging,
        CommerceRuntime runtime,
        KeyedUseCase<TState, T> useCase,
        Request request,
        TState state,
        UseCaseScope scope,
        CancellationToken cancellationToken)
    {
        await purging.ConfigureAwait(false);
        return await RunAsync(runtime, useCase, request, state, scope, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Awaits the use case's run, then the purge it may be due for. A run that throws (cancelled, say) reaches no
    /// purge: it leaves one due to the next keyed request, so that requests which all throw still purge what
    /// their reads left (each creates its key's cell in the in-memory store). A store disposed has nothing left to purge.
    /// </summary>
    private static async ValueTask<(Result<T>, bool)> PurgedAsync<T>(
        CommerceRuntime runtime, string operation, ValueTask<Result<(Result<T>, bool)>> running, CancellationToken cancellationToken)
    {
        Result<(Result<T>, bool)> outcome;
        try
        {
            outcome = await running.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ObjectDisposedException)
        {
            runtime.LeavePurgeIfDue();
            throw;
        }

        return await PurgedAsync(runtime, operation, outcome, runtime.PurgeIdempotencyIfDueAsync(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Awaits the purge after the use case's run (a purge never throws: the request's commit is done).</summary>
    private static async ValueTask<(Result<T>, bool)> PurgedAsync<T>(
        CommerceRuntime runtime, string operation, Result<(Result<T>, bool)> outcome, ValueTask purging)
    {
        await purging.ConfigureAwait(false);
        return Ended(runtime, operation, outcome);
    }

    /// <summary>The run's outcome as the caller gets it, counting a replay.</summary>
    private static (Result<T>, bool) Ended<T>(CommerceRuntime runtime, string operation, Result<(Result<T>, bool)> outcome)
    {
        if (outcome.IsFailure)
        {
            return (Result<T>.Failure(outcome.Error), false);
        }

        if (outcome.Value.Item2)
        {
            runtime.Telemetry.Replayed(operation);
        }

        return outcome.Value;
    }

    /// <summary>
    /// One attempt of a keyed request, run by the runtime's loop: reads the key's record with everything the
    /// use case needs; answers from a live record; else runs the use case and stages its outcome.
    /// </summary>
    private readonly record struct Attempt<TState, T>(
        CommerceRuntime Runtime,
        KeyedUseCase<TState, T> UseCase,
        Request Request,
        StoreKey RecordKey,
        TState State)
    {
        public static ValueTask<Result<(Result<T>, bool)>> RunAsync(IUnitOfWork unitOfWork, Attempt<TState, T> attempt, CancellationToken ct)
        {
            var work = (UnitOfWork)unitOfWork;
            work.Prefetch(attempt.RecordKey);
            attempt.UseCase.Prefetch(unitOfWork, attempt.State);
            var finding = work.FindIdempotencyAsync(attempt.RecordKey, ct);
            return finding.IsCompletedSuccessfully
                ? Found(unitOfWork, attempt, finding.Result, ct)
                : FoundAsync(unitOfWork, attempt, finding, ct);
        }

        private static async ValueTask<Result<(Result<T>, bool)>> FoundAsync(
            IUnitOfWork unitOfWork, Attempt<TState, T> attempt, ValueTask<IdempotencyRecord?> finding, CancellationToken ct) =>
            await Found(unitOfWork, attempt, await finding.ConfigureAwait(false), ct).ConfigureAwait(false);

        /// <summary>The attempt once the key's record is read (<see langword="null"/>: none).</summary>
        private static ValueTask<Result<(Result<T>, bool)>> Found(IUnitOfWork unitOfWork, Attempt<TState, T> attempt, IdempotencyRecord? record, CancellationToken ct)
        {
            var (runtime, useCase, request) = (attempt.Runtime, attempt.UseCase, attempt.Request);
            var now = runtime.UtcNow();
            if (record is not null && now - record.CreatedAt < runtime.Options.IdempotencyRetention)
            {
                return record.Key == request.Key.Value && record.Operation == useCase.Kind && record.RequestHash == request.RequestHash
                    ? ReplayedAsync(unitOfWork, attempt, record, ct)
                    : new(Result<(Result<T>, bool)>.Success((Errors.IdempotencyKeyReused(useCase.Operation), false)));
            }

            var running = useCase.Run(unitOfWork, attempt.State, ct);
            return running.IsCompletedSuccessfully
                ? new(Staged(unitOfWork, attempt, now, running.Result))
                : StagedAsync(unitOfWork, attempt, now, running);
        }

        private static async ValueTask<Result<(Result<T>, bool)>> ReplayedAsync(
            IUnitOfWork unitOfWork, Attempt<TState, T> attempt, IdempotencyRecord record, CancellationToken ct) =>
            Result<(Result<T>, bool)>.Success((await attempt.UseCase.Replay(unitOfWork, record, ct).ConfigureAwait(false), true));

        private static async ValueTask<Result<(Result<T>, bool)>> StagedAsync(
            IUnitOfWork unitOfWork, Attempt<TState, T> attempt, DateTimeOffset now, ValueTask<Result<T>> running) =>
            Staged(unitOfWork, attempt, now, await running.ConfigureAwait(false));

        /// <summary>Stages the use case's outcome as the key's record (a refusal's, with its writes dropped).</summary>
        private static Result<(Result<T>, bool)> Staged(IUnitOfWork unitOfWork, Attempt<TState, T> attempt, DateTimeOffset now, Result<T> result)
        {
            var work = (UnitOfWork)unitOfWork;
            if (result.IsFailure)
            {
                work.DiscardWrites();
            }

            var request = attempt.Request;
            var (balance, orderId) = result.IsSuccess ? attempt.UseCase.OutcomeOf(result.Value) : default;
            if (result.IsSuccess
                && work.StoresCompactIdempotencyRecords
                && CompactIdempotencyRecord.Succeeded(attempt.UseCase.Kind, request.Key.Value, request.RequestHash, now, balance, orderId) is { } compact)
            {
                work.SaveIdempotency(attempt.RecordKey, compact);
            }
            else
            {
                work.SaveIdempotency(attempt.RecordKey, new IdempotencyRecord(
                    request.User, attempt.UseCase.Kind, request.Key.Value, request.RequestHash, now, result.IsSuccess ? null : result.Error, balance, orderId));
            }

            return Result<(Result<T>, bool)>.Success((result, false));
        }
    }

    /// <summary>
    /// The 64-bit digest of an order request's merged lines, by the store's digest (see
    /// <see cref="IIdempotencyDigest"/>; SHA-256's, the same in every process, if it has none).
    /// </summary>
    public static long HashOf(IReadOnlyList<OrderLineRequest> lines, ICommerceStore store)
    {
        var bytes = lines.Count <= 32 ? stackalloc byte[lines.Count * 12] : new byte[lines.Count * 12];
        for (var i = 0; i < lines.Count; i++)
        {
            BitConverter.TryWriteBytes(bytes[(i * 12)..], lines[i].ProductId.Value);
            BitConverter.TryWriteBytes(bytes[((i * 12) + 8)..], lines[i].Quantity);
        }

        return Digests.Of(bytes, store as IIdempotencyDigest);
    }
}
