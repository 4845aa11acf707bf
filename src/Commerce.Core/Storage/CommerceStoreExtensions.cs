namespace Commerce.Storage;

/// <summary>Opens the library's unit of work over a store.</summary>
public static class CommerceStoreExtensions
{
    /// <summary>
    /// Opens a unit of work over a session of <paramref name="store"/>: the bookkeeping the services
    /// use, for store authors who drive a store through it in tests.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="options">The options whose <see cref="CommerceOptions.RankingResolution"/> numbers sales buckets; the defaults if <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels opening the session.</param>
    /// <returns>The unit of work; dispose it when done.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is <see langword="null"/>.</exception>
    public static ValueTask<IUnitOfWork> BeginAsync(this ICommerceStore store, CommerceOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        return UnitOfWork.BeginAsync(store, (options ?? DefaultOptions).RankingResolution, pooled: false, cancellationToken);
    }

    private static readonly CommerceOptions DefaultOptions = new();
}
