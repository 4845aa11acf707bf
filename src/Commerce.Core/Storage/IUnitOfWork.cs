namespace Commerce.Storage;

/// <summary>
/// One use case's access to state, with optimistic concurrency. Reads return committed state and are
/// remembered; writes are staged. <see cref="CommitAsync"/> applies every staged write atomically if,
/// and only if, nothing that was read has changed since it was read; otherwise it applies nothing.
/// </summary>
/// <remarks>
/// <para>A unit of work is used by one operation at a time and is not thread-safe.</para>
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

    /// <summary>
    /// Applies every staged write atomically, iff every state read is still current. With no staged
    /// writes it only checks that the reads were a consistent snapshot.
    /// </summary>
    /// <param name="cancellationToken">Cancels the commit before it starts; once started a commit completes or fails as a whole.</param>
    /// <returns><see langword="true"/> if committed; <see langword="false"/> on a conflict, in which case nothing was applied.</returns>
    ValueTask<bool> CommitAsync(CancellationToken cancellationToken = default);
}
