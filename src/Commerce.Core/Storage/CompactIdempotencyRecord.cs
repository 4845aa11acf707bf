namespace Commerce.Storage;

/// <summary>
/// The <see cref="IdempotencyRecord"/> of a keyed request that succeeded, without what the key it is
/// stored at says already (the user): a charge's balance or an order's id, the key, the request's digest,
/// the time. 64 bytes where the record takes about 100. The library stages it instead of the record for a
/// store that keeps such records (<see cref="IStoresCompactIdempotencyRecords"/>).
/// </summary>
/// <remarks>
/// A compact record stands for exactly one <see cref="IdempotencyRecord"/> (<see cref="ToRecord"/>): no
/// refusal, a time in UTC, and either a charge's balance or an order's id. <see cref="Of"/> compacts any
/// record that is so. Immutable and thread-safe.
/// </remarks>
public sealed class CompactIdempotencyRecord
{
    // A charge's balance in _outcomeHigh; or an order id's two words, as StoreKey.ForOrder lays them out.
    private readonly long _outcomeHigh;
    private readonly long _outcomeLow;
    private readonly long _createdAtTicks;

    private CompactIdempotencyRecord(IdempotentOperation operation, string key, long requestHash, long createdAtTicks, long outcomeHigh, long outcomeLow)
    {
        Operation = operation;
        Key = key;
        RequestHash = requestHash;
        _createdAtTicks = createdAtTicks;
        _outcomeHigh = outcomeHigh;
        _outcomeLow = outcomeLow;
    }

    /// <summary>The kind of operation.</summary>
    public IdempotentOperation Operation { get; }

    /// <summary>The key, as the client sent it.</summary>
    public string Key { get; }

    /// <summary>A digest of the request (see <see cref="IdempotencyRecord.RequestHash"/>).</summary>
    public long RequestHash { get; }

    /// <summary>When the request committed, in UTC.</summary>
    public DateTimeOffset CreatedAt => new(_createdAtTicks, TimeSpan.Zero);

    /// <summary>
    /// The compact form of <paramref name="record"/>, or <see langword="null"/> if it has none: a refusal, a
    /// time with an offset, a charge's record with an order id, or an order's without one or with a balance.
    /// </summary>
    /// <param name="record">The record.</param>
    /// <returns>The compact record, which <see cref="ToRecord"/> turns back into one equal to <paramref name="record"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is <see langword="null"/>.</exception>
    public static CompactIdempotencyRecord? Of(IdempotencyRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Error is null && record.CreatedAt.Offset == TimeSpan.Zero
            ? Succeeded(record.Operation, record.Key, record.RequestHash, record.CreatedAt, record.Balance, record.OrderId)
            : null;
    }

    /// <summary>The record of a success, or <see langword="null"/> if its outcome does not fit (see <see cref="Of"/>).</summary>
    internal static CompactIdempotencyRecord? Succeeded(
        IdempotentOperation operation, string key, long requestHash, DateTimeOffset createdAt, Money balance, OrderId? orderId)
    {
        if (createdAt.Offset != TimeSpan.Zero)
        {
            return null;
        }

        if (operation == IdempotentOperation.Charge)
        {
            return orderId is null ? new(operation, key, requestHash, createdAt.UtcTicks, balance.Amount, 0) : null;
        }

        if (orderId is not { } id || balance != Money.Zero)
        {
            return null;
        }

        var words = StoreKey.ForOrder(id);
        return new(operation, key, requestHash, createdAt.UtcTicks, words.High, words.Low);
    }

    /// <summary>The record this stands for, as stored at a key of <paramref name="userId"/>.</summary>
    /// <param name="userId">The user of the key the record is stored at.</param>
    /// <returns>A new record.</returns>
    public IdempotencyRecord ToRecord(UserId userId) => Operation == IdempotentOperation.Charge
        ? new(userId, Operation, Key, RequestHash, CreatedAt, null, new Money(_outcomeHigh), null)
        : new(userId, Operation, Key, RequestHash, CreatedAt, null, Money.Zero, new StoreKey(StoreTable.Orders, _outcomeHigh, _outcomeLow).OrderId);
}
