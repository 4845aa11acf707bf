namespace Commerce.Storage;

/// <summary>The best sellers a store found over a range of ranking buckets.</summary>
/// <param name="Sales">Units per product, most units first, ties by lower product id; only positive quantities.</param>
/// <param name="Consistent">
/// <see langword="false"/> if the store could not read the buckets at one instant (a commit was in flight):
/// the unit of work then fails its commit, and the query runs again.
/// </param>
public readonly record struct SalesTop(IReadOnlyList<ProductSales> Sales, bool Consistent = true);
