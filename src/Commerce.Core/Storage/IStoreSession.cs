namespace Commerce.Storage;

/// <summary>
/// A store's side of one unit of work: it reads batches of keys and commits a change set. The library's
/// unit of work keeps all the bookkeeping (what was read, what is staged, insert or update, write-once
/// rules, ranking buckets); a store only reads and commits.
/// </summary>
/// <remarks>
/// <para>A session serves one unit of work at a time and need not be thread-safe.</para>
/// <para>
/// Any of its methods may throw <see cref="StoreUnavailableException"/> when the store refused the
/// operation for now (a database with no connection left, say) and nothing of it applied; the services
/// then retry the use case. A commit whose outcome is in doubt is <see cref="CommitOutcomeUnknownException"/>.
/// </para>
/// <para>
/// A store must make <see cref="CommitAsync"/> atomic: every write of the change set applies, or none
/// does, and it applies only if every read of the change set still holds at the instant of the commit.
/// </para>
/// </remarks>
public interface IStoreSession : IAsyncDisposable
{
    /// <summary>Reads every requested key of a batch, ideally in one round trip.</summary>
    /// <param name="batch">The keys; set a result for each.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>A task that completes when every result is set.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="batch"/> is <see langword="null"/>.</exception>
    ValueTask ReadAsync(ReadBatch batch, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists products in ascending id order, each with its stock, adding both rows of each product to
    /// <paramref name="rows"/>.
    /// </summary>
    /// <param name="after">Only ids greater than this; <see langword="null"/> from the lowest.</param>
    /// <param name="limit">The most products; positive.</param>
    /// <param name="rows">Where the product and stock rows go.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The range the listing covered, which the commit will check.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is not positive.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rows"/> is <see langword="null"/>.</exception>
    ValueTask<ProductRange> ReadProductsAsync(ProductId? after, int limit, ReadBatch rows, CancellationToken cancellationToken = default);

    /// <summary>The best sellers over ranking buckets [<paramref name="firstBucket"/>, <paramref name="endBucket"/>).</summary>
    /// <param name="firstBucket">The first bucket counted.</param>
    /// <param name="endBucket">The bucket after the last counted.</param>
    /// <param name="count">The most entries; positive.</param>
    /// <param name="rows">Where the store may add the products it read along with the sales.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The best sellers.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rows"/> is <see langword="null"/>.</exception>
    ValueTask<SalesTop> ReadTopSalesAsync(long firstBucket, long endBucket, int count, ReadBatch rows, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes the idempotency records created before <paramref name="createdBefore"/>, so that the table
    /// does not grow without bound. A record being replaced or read concurrently is either removed or kept
    /// whole; a unit of work that read a removed record fails its commit. A store may keep a record a while
    /// longer where it still needs it (one whose commits' outcomes it may have to look up keeps it until no
    /// such lookup can come), as long as an expired record kept reads as one.
    /// </summary>
    /// <param name="createdBefore">Records with an earlier <see cref="IdempotencyRecord.CreatedAt"/> go.</param>
    /// <param name="cancellationToken">Cancels the purge (what was removed stays removed).</param>
    /// <returns>How many records were removed.</returns>
    ValueTask<int> PurgeIdempotencyAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies a change set atomically, iff its reads still hold. With no writes, only checks that the
    /// reads held together at one instant.
    /// </summary>
    /// <param name="changes">The change set.</param>
    /// <param name="cancellationToken">Cancels the commit before it starts; once started it completes or fails as a whole.</param>
    /// <returns><see langword="true"/> if committed; <see langword="false"/> on a conflict (nothing applied).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="changes"/> is <see langword="null"/>.</exception>
    /// <exception cref="CommitOutcomeUnknownException">The store cannot tell whether the commit applied (it applied entirely or not at all).</exception>
    /// <exception cref="StoreUnavailableException">The store refused the commit for now; nothing applied.</exception>
    ValueTask<bool> CommitAsync(ChangeSet changes, CancellationToken cancellationToken = default);
}
