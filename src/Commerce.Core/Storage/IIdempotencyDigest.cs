namespace Commerce.Storage;

/// <summary>
/// Implemented by a store (<see cref="ICommerceStore"/>) that chooses how the library digests idempotency
/// keys and requests into the 64-bit values it stores: the key's digest in <see cref="StoreKey.Low"/> of the
/// record's key, the request's in <see cref="IdempotencyRecord.RequestHash"/>. A store that does not
/// implement it gets the first 64 bits of SHA-256, the same in every process and version.
/// </summary>
/// <remarks>
/// A store that keeps records across restarts must keep its digest the same for as long as it keeps them
/// (a key digested otherwise after an upgrade would not find its record, and its request would run again).
/// A store whose records live only as long as its process, such as the in-memory store, may use a fast
/// hash seeded per store instead: SHA-256 costs about as much as the rest of a keyed request's bookkeeping.
/// A digest collision between two keys of one user is recognised (the record keeps its key, and the
/// second key's request is refused as <see cref="CommerceErrorCode.IdempotencyKeyReused"/>); a collision
/// between two requests under one key replays the first request's outcome, so the digest must make both
/// as unlikely as 64 well-mixed bits do.
/// </remarks>
public interface IIdempotencyDigest
{
    /// <summary>The 64-bit digest of <paramref name="data"/>: the same bytes give the same digest for the store's lifetime.</summary>
    /// <param name="data">The bytes: an operation's code and a key's UTF-8 text, or a request's fields.</param>
    /// <returns>The digest.</returns>
    long Digest(ReadOnlySpan<byte> data);
}
