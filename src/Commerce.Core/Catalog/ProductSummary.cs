namespace Commerce;

/// <summary>A product as a host shows it: id, name, unit price and remaining stock.</summary>
/// <param name="Id">The product id.</param>
/// <param name="Name">The name.</param>
/// <param name="Price">The unit price.</param>
/// <param name="Stock">The quantity on hand when it was read.</param>
public sealed record ProductSummary(ProductId Id, string Name, Money Price, int Stock);
