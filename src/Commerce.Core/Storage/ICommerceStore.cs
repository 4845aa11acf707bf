namespace Commerce.Storage;

/// <summary>
/// A storage adapter: the port through which the services reach state. Adapters (the in-memory store,
/// database stores) implement it; hosts select one when they register the library.
/// </summary>
/// <remarks>
/// Implementations must be thread-safe; the services share one instance. The library's unit of work
/// (<see cref="CommerceStoreExtensions.BeginAsync"/>) runs over the sessions a store opens.
/// </remarks>
public interface ICommerceStore
{
    /// <summary>Opens a session: the store's side of one unit of work.</summary>
    /// <param name="cancellationToken">Cancels opening (for example acquiring a connection).</param>
    /// <returns>A session; dispose it when done, committed or not.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed.</exception>
    ValueTask<IStoreSession> OpenSessionAsync(CancellationToken cancellationToken = default);
}
