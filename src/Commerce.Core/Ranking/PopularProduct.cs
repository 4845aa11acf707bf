namespace Commerce;

/// <summary>One entry of the best-sellers ranking.</summary>
/// <param name="Rank">The position, from 1; ties in quantity are ordered by lower product id, so ranks are always 1, 2, 3, …</param>
/// <param name="ProductId">The product.</param>
/// <param name="Name">The product's name.</param>
/// <param name="Price">The product's current unit price.</param>
/// <param name="QuantitySold">Units sold by committed orders inside the window.</param>
public sealed record PopularProduct(int Rank, ProductId ProductId, string Name, Money Price, long QuantitySold);
