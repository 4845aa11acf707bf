namespace Commerce.Storage;

/// <summary>
/// Implemented by a store (<see cref="ICommerceStore"/>) that keeps the record of a keyed request that
/// succeeded as a <see cref="CompactIdempotencyRecord"/>. For such a store, the library stages that record
/// as an insert or update at the <see cref="StoreTable.Idempotency"/> key whose <see cref="Change.State"/> is
/// the compact record, not an <see cref="IdempotencyRecord"/>: a keyed request then allocates no record that
/// the store would only copy into a smaller one.
/// </summary>
/// <remarks>
/// The store must read such a state back as the record it stands for
/// (<see cref="CompactIdempotencyRecord.ToRecord"/> with the key's <see cref="StoreKey.UserId"/>). Records
/// of refusals, and records saved through <see cref="IIdempotencyRepository.Save"/>, are still staged as
/// <see cref="IdempotencyRecord"/>. A store that does not implement this interface is given records only.
/// </remarks>
public interface IStoresCompactIdempotencyRecords;
