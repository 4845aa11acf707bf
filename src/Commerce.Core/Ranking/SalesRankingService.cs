using Commerce.Storage;

namespace Commerce;

/// <summary>Answers best-seller queries from the store's sales ledger.</summary>
internal sealed class SalesRankingService(CommerceRuntime runtime) : ISalesRankingService
{
    public ValueTask<IReadOnlyList<PopularProduct>> GetPopularProductsAsync(CancellationToken cancellationToken = default) =>
        GetPopularProductsAsync(runtime.Options.PopularProductsCount, runtime.Options.PopularProductsWindow, cancellationToken);

    public ValueTask<IReadOnlyList<PopularProduct>> GetPopularProductsAsync(int count, TimeSpan window, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (count > runtime.Options.MaxPopularProductsCount)
        {
            throw Errors.AboveOptionLimit(nameof(count), count, runtime.Options.MaxPopularProductsCount, nameof(CommerceOptions.MaxPopularProductsCount));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        if (window > runtime.Options.MaxRankingWindow)
        {
            throw Errors.AboveOptionLimit(nameof(window), window, runtime.Options.MaxRankingWindow, nameof(CommerceOptions.MaxRankingWindow));
        }

        var (from, to) = SalesWindow.Covering(runtime.UtcNow(), window, runtime.Options.RankingResolution);
        return runtime.ReadAsync(
            "GetPopularProducts",
            (from, to, count),
            static async (unitOfWork, state, ct) =>
            {
                var top = await unitOfWork.Sales.GetTopAsync(state.from, state.to, state.count, ct).ConfigureAwait(false);
                foreach (var sales in top)
                {
                    unitOfWork.Prefetch(StoreKey.ForProduct(sales.ProductId));
                }

                await unitOfWork.LoadAsync(ct).ConfigureAwait(false);
                var ranking = new List<PopularProduct>(top.Count);
                foreach (var sales in top)
                {
                    // A sold product always exists: products are never removed.
                    if (await unitOfWork.Products.FindAsync(sales.ProductId, ct).ConfigureAwait(false) is { } product)
                    {
                        ranking.Add(new PopularProduct(ranking.Count + 1, product.Id, product.Name, product.Price, sales.Quantity));
                    }
                }

                return Result<IReadOnlyList<PopularProduct>>.Success(ranking.AsReadOnly());
            },
            cancellationToken);
    }
}
