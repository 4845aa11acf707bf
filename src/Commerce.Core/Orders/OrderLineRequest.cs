namespace Commerce;

/// <summary>One line of an order as a host asks for it: a product and a quantity.</summary>
/// <param name="ProductId">The product.</param>
/// <param name="Quantity">The quantity; must be positive.</param>
public readonly record struct OrderLineRequest(ProductId ProductId, int Quantity);
