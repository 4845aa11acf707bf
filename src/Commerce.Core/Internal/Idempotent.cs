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
    /// <summary>What a keyed request needs besides its use case (and the telemetry scope its service started).</summary>
    public readonly record struct Request(
        string Operation,
        IdempotentOperation Kind,
        UserId User,
        IdempotencyKey Key,
        long RequestHash,
        UseCaseScope Scope = default);

    /// <returns>The outcome, and whether it is a stored one (nothing ran).</returns>
    public static async ValueTask<(Result<T> Result, bool Replayed)> RunAsync<TState, T>(
        CommerceRuntime runtime,
        Request request,
        TState state,
        Action<IUnitOfWork, TState> prefetch,
        Func<IUnitOfWork, TState, CancellationToken, ValueTask<Result<T>>> useCase,
        Func<T, (Money Balance, OrderId? OrderId)> outcomeOf,
        Func<IUnitOfWork, IdempotencyRecord, CancellationToken, ValueTask<Result<T>>> replay,
        CancellationToken cancellationToken)
    {
        if (!request.Key.IsValid)
        {
            return (Errors.InvalidIdempotencyKey(), false);
        }

        // The key's digest, once for every attempt.
        var recordKey = StoreKey.ForIdempotency(request.User, request.Kind, request.Key.Value, runtime.Store as IIdempotencyDigest);

        // The runtime drops the writes of a failed result; a stored refusal must be committed, so the
        // outcome travels inside a successful result.
        var outcome = await runtime.RunAsync(
            request.Scope,
            request.Operation,
            (runtime, request, recordKey, state, prefetch, useCase, outcomeOf, replay),
            static async (unitOfWork, s, ct) =>
            {
                var (runtime, request, recordKey, state, prefetch, useCase, outcomeOf, replay) = s;
                var work = (UnitOfWork)unitOfWork;
                work.Prefetch(recordKey);
                prefetch(unitOfWork, state);
                var record = await work.FindIdempotencyAsync(recordKey, ct).ConfigureAwait(false);
                var now = runtime.Time.GetUtcNow();
                if (record is not null && now - record.CreatedAt < runtime.Options.IdempotencyRetention)
                {
                    return record.Key == request.Key.Value && record.Operation == request.Kind && record.RequestHash == request.RequestHash
                        ? Result<(Result<T>, bool)>.Success((await replay(unitOfWork, record, ct).ConfigureAwait(false), true))
                        : Result<(Result<T>, bool)>.Success((Errors.IdempotencyKeyReused(request.Operation), false));
                }

                var result = await useCase(unitOfWork, state, ct).ConfigureAwait(false);
                if (result.IsFailure)
                {
                    work.DiscardWrites();
                }

                var (balance, orderId) = result.IsSuccess ? outcomeOf(result.Value) : default;
                work.SaveIdempotency(recordKey, new IdempotencyRecord(
                    request.User, request.Kind, request.Key.Value, request.RequestHash, now, result.IsSuccess ? null : result.Error, balance, orderId));
                return Result<(Result<T>, bool)>.Success((result, false));
            },
            cancellationToken).ConfigureAwait(false);

        try
        {
            await runtime.PurgeIdempotencyIfDueAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (request.Scope.Fail(e))
        {
            throw;
        }

        if (outcome.IsFailure)
        {
            return (Result<T>.Failure(outcome.Error), false);
        }

        if (outcome.Value.Item2)
        {
            runtime.Telemetry.Replayed(request.Operation);
        }

        return outcome.Value;
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
