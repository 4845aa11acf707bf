namespace Commerce.Storage;

/// <summary>Units of one product sold inside a window, as a store reports them.</summary>
/// <param name="ProductId">The product.</param>
/// <param name="Quantity">The units sold.</param>
public readonly record struct ProductSales(ProductId ProductId, long Quantity);
