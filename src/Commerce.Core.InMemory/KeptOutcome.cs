using Commerce.InMemory.LockFree;
using Commerce.Storage;

namespace Commerce.InMemory;

/// <summary>
/// How the in-memory store keeps the <see cref="IdempotencyRecord"/> of a request that succeeded: only what
/// its key's cell does not say already. The user is the cell's key, the refusal is none, and the record is
/// either a charge's (its balance) or an order's (its id), never both. 64 bytes where the record takes about
/// 100; every keyed request keeps one for the retention period, so the collector copies fewer bytes, and
/// reads of a kept record (a retried request, a reused key) make the record back.
/// </summary>
/// <remarks>
/// A record kept this way comes back equal (<see cref="ToRecord"/>); one that would not (a refusal, a time
/// with an offset, a balance on an order's record) is kept as it is (<see cref="StateOf"/>).
/// </remarks>
internal sealed class KeptOutcome
{
    // A charge's balance in _outcomeHigh; or an order id's two words (as StoreKey.ForOrder lays them out).
    private readonly long _outcomeHigh;
    private readonly long _outcomeLow;
    private readonly long _createdAtTicks;

    private KeptOutcome(IdempotencyRecord record, long outcomeHigh, long outcomeLow)
    {
        Key = record.Key;
        RequestHash = record.RequestHash;
        _createdAtTicks = record.CreatedAt.UtcTicks;
        Operation = record.Operation;
        _outcomeHigh = outcomeHigh;
        _outcomeLow = outcomeLow;
    }

    /// <summary>The key, as the client sent it.</summary>
    public string Key { get; }

    /// <summary>The digest of the request.</summary>
    public long RequestHash { get; }

    /// <summary>The kind of operation.</summary>
    public IdempotentOperation Operation { get; }

    /// <summary>When the request committed.</summary>
    public DateTimeOffset CreatedAt => new(_createdAtTicks, TimeSpan.Zero);

    /// <summary>The state to keep in a key's cell for <paramref name="record"/>: a <see cref="KeptOutcome"/> if it comes back equal, else the record.</summary>
    public static object StateOf(IdempotencyRecord record)
    {
        if (record.Error is not null || record.CreatedAt.Offset != TimeSpan.Zero)
        {
            return record;
        }

        if (record.Operation == IdempotentOperation.Charge)
        {
            return record.OrderId is null ? new KeptOutcome(record, record.Balance.Amount, 0) : record;
        }

        if (record.OrderId is not { } orderId || record.Balance != Money.Zero)
        {
            return record;
        }

        var words = StoreKey.ForOrder(orderId);
        return new KeptOutcome(record, words.High, words.Low);
    }

    /// <summary>The record of a key's cell <paramref name="state"/> (a kept outcome made back, for <paramref name="userId"/>), or <see langword="null"/> if it holds none.</summary>
    public static IdempotencyRecord? RecordOf(object state, UserId userId) => state switch
    {
        IdempotencyRecord record => record,
        KeptOutcome kept => kept.ToRecord(userId),
        _ => null,
    };

    /// <summary>The record this was made from (<paramref name="userId"/> is the one of its key's cell).</summary>
    public IdempotencyRecord ToRecord(UserId userId) => Operation == IdempotentOperation.Charge
        ? new(userId, Operation, Key, RequestHash, CreatedAt, null, new Money(_outcomeHigh), null)
        : new(userId, Operation, Key, RequestHash, CreatedAt, null, Money.Zero, new StoreKey(StoreTable.Orders, _outcomeHigh, _outcomeLow).OrderId);
}

/// <summary>
/// The handle of a read that made a record back from a <see cref="KeptOutcome"/>: the cell, and the state
/// it held (what a commit expects there, rather than the record made for the read).
/// </summary>
internal sealed class KeptRead(Cell cell, KeptOutcome state)
{
    /// <summary>The key's cell.</summary>
    public Cell Cell { get; } = cell;

    /// <summary>The state the cell held.</summary>
    public KeptOutcome State { get; } = state;
}
