namespace Commerce.Storage;

/// <summary>Units of one product sold inside a window, as a store reports them.</summary>
/// <param name="ProductId">The product.</param>
/// <param name="Quantity">The units sold.</param>
public readonly record struct ProductSales(ProductId ProductId, long Quantity)
{
    /// <summary>The ranking's order, which stores sort by: more units first, then the lower product id.</summary>
    public static IComparer<ProductSales> BestFirst { get; } = Comparer<ProductSales>.Create(
        static (a, b) => a.Quantity != b.Quantity ? b.Quantity.CompareTo(a.Quantity) : a.ProductId.CompareTo(b.ProductId));
}
