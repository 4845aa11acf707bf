namespace Commerce.Storage;

/// <summary>The stored outcomes of requests made with idempotency keys, inside a unit of work.</summary>
public interface IIdempotencyRepository
{
    /// <summary>Reads the outcome stored for a user's key.</summary>
    /// <param name="userId">The user.</param>
    /// <param name="operation">The kind of operation.</param>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>
    /// The record at the key's digest (possibly expired, and in the astronomically rare case of a digest
    /// collision another key's: compare <see cref="IdempotencyRecord.Key"/>), or <see langword="null"/>.
    /// </returns>
    ValueTask<IdempotencyRecord?> FindAsync(UserId userId, IdempotentOperation operation, string key, CancellationToken cancellationToken = default);

    /// <summary>Stages a record: it replaces the one read (an expired one), or is inserted if none was.</summary>
    /// <param name="record">The record.</param>
    void Save(IdempotencyRecord record);
}
