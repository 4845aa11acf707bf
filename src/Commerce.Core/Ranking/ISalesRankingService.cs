namespace Commerce;

/// <summary>The best-sellers ranking, from committed orders only.</summary>
/// <remarks>
/// Thread-safe. The window is cut into buckets of <see cref="CommerceOptions.RankingResolution"/>: a query
/// at time <c>now</c> over window W counts every sale placed in the bucket holding <c>now</c> or in the
/// <c>ceil(W / resolution) − 1</c> buckets before it. With the defaults that is the current minute and the
/// 4,319 whole minutes before it (3 days). Buckets are aligned to the Unix epoch, in UTC.
/// </remarks>
public interface ISalesRankingService
{
    /// <summary>The top <see cref="CommerceOptions.PopularProductsCount"/> products over <see cref="CommerceOptions.PopularProductsWindow"/> (5 over 3 days by default).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Up to that many products, most units sold first, ties by lower product id; products with no sales are not listed.</returns>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<IReadOnlyList<PopularProduct>> GetPopularProductsAsync(CancellationToken cancellationToken = default);

    /// <summary>The top <paramref name="count"/> products by units sold over the last <paramref name="window"/>.</summary>
    /// <param name="count">How many: 1 to <see cref="CommerceOptions.MaxPopularProductsCount"/>.</param>
    /// <param name="window">How far back: positive, at most <see cref="CommerceOptions.MaxRankingWindow"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Up to <paramref name="count"/> products, most units sold first, ties by lower product id; products with no sales are not listed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> or <paramref name="window"/> is out of range.</exception>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<IReadOnlyList<PopularProduct>> GetPopularProductsAsync(int count, TimeSpan window, CancellationToken cancellationToken = default);
}
