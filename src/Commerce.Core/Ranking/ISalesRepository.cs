namespace Commerce.Storage;

/// <summary>The sales ledger behind the best-sellers ranking, inside a unit of work.</summary>
/// <remarks>
/// Sales are counted in buckets of <see cref="CommerceOptions.RankingResolution"/>; the services only ask
/// for intervals whose ends are multiples of it, so totals are exact.
/// </remarks>
public interface ISalesRepository
{
    /// <summary>Stages the sale of an order's lines at the order's <see cref="Order.PlacedAt"/>; it counts only if the unit of work commits.</summary>
    /// <param name="order">The order being placed.</param>
    void Record(Order order);

    /// <summary>Stages taking a cancelled order's units back out of the bucket it was counted in.</summary>
    /// <param name="order">The order being cancelled.</param>
    void Unrecord(Order order);

    /// <summary>
    /// The best sellers over [<paramref name="from"/>, <paramref name="to"/>): units per product from
    /// committed orders, most units first, ties by lower product id.
    /// </summary>
    /// <param name="from">The first instant counted (inclusive).</param>
    /// <param name="to">The end of the interval (exclusive).</param>
    /// <param name="count">The most entries to return; positive.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>Up to <paramref name="count"/> entries with positive quantities.</returns>
    ValueTask<IReadOnlyList<ProductSales>> GetTopAsync(DateTimeOffset from, DateTimeOffset to, int count, CancellationToken cancellationToken = default);
}
