namespace Commerce.Storage;

/// <summary>
/// A storage adapter: the port through which the services reach state. Adapters (the in-memory store,
/// database stores) implement it; hosts select one when they register the library.
/// </summary>
/// <remarks>Implementations must be thread-safe; the services share one instance.</remarks>
public interface ICommerceStore
{
    /// <summary>Opens a unit of work: a private view that records what it reads and stages what it writes.</summary>
    /// <param name="cancellationToken">Cancels opening (for example acquiring a connection).</param>
    /// <returns>A unit of work; dispose it when done, committed or not.</returns>
    ValueTask<IUnitOfWork> BeginAsync(CancellationToken cancellationToken = default);
}
