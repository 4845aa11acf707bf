using Commerce.Events;

namespace Commerce.Storage;

/// <summary>
/// One use case's access to state, with optimistic concurrency. Reads return committed state and are
/// remembered; writes are staged. <see cref="CommitAsync"/> applies every staged write atomically if,
/// and only if, nothing that was read has changed since it was read; otherwise it applies nothing.
/// </summary>
/// <remarks>
/// <para>
/// The library implements it once, over any store's <see cref="IStoreSession"/>; open one with
/// <see cref="CommerceStoreExtensions.BeginAsync"/>. It is used by one operation at a time and is not
/// thread-safe.
/// </para>
/// <para>
/// Within a unit of work, reading the same key twice returns the same state, and reading a key that
/// was written returns the staged state. Staging a write for a key that was not read first means
/// "insert": the commit then requires that the key is still absent.
/// </para>
/// </remarks>
public interface IUnitOfWork : IAsyncDisposable
{
    /// <summary>The wallets.</summary>
    IWalletRepository Wallets { get; }

    /// <summary>The catalog.</summary>
    IProductRepository Products { get; }

    /// <summary>The stock on hand.</summary>
    IInventoryRepository Inventory { get; }

    /// <summary>The carts.</summary>
    ICartRepository Carts { get; }

    /// <summary>The placed orders.</summary>
    IOrderRepository Orders { get; }

    /// <summary>The sales counted by the best-sellers ranking.</summary>
    ISalesRepository Sales { get; }

    /// <summary>The wallets' ledgers.</summary>
    ILedgerRepository Ledger { get; }

    /// <summary>The stored outcomes of requests made with idempotency keys.</summary>
    IIdempotencyRepository Idempotency { get; }

    /// <summary>
    /// Asks for a key to be read with the next <see cref="LoadAsync"/> (or the next read that misses), so
    /// that a use case fetches everything it needs in one call to the store. A key already known is ignored.
    /// </summary>
    /// <param name="key">The key.</param>
    void Prefetch(StoreKey key);

    /// <summary>Reads every prefetched key not read yet, in one call to the store.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>A task that completes when the keys are read; the repositories then answer from memory.</returns>
    ValueTask LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Stages an event, published by the commit with the staged writes (a transactional outbox): it exists
    /// if, and only if, the commit applies. A refused use case publishes nothing.
    /// </summary>
    /// <param name="event">The event.</param>
    /// <exception cref="ArgumentNullException"><paramref name="event"/> is null.</exception>
    void Publish(CommerceEvent @event);

    /// <summary>
    /// Applies every staged write atomically, iff every state read is still current. With no staged
    /// writes it only checks that the reads were a consistent snapshot.
    /// </summary>
    /// <param name="cancellationToken">Cancels the commit before it starts; once started a commit completes or fails as a whole.</param>
    /// <returns><see langword="true"/> if committed; <see langword="false"/> on a conflict, in which case nothing was applied.</returns>
    /// <exception cref="CommitOutcomeUnknownException">The store cannot tell whether the commit applied (it applied entirely or not at all).</exception>
    /// <exception cref="StoreUnavailableException">The store refused the commit for now; nothing applied.</exception>
    ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default);
}
