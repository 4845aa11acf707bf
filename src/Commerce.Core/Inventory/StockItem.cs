namespace Commerce;

/// <summary>
/// The stock on hand of one product: an immutable quantity with pure transitions. Each transition
/// returns the next state or a typed error and never changes this instance.
/// </summary>
public sealed record StockItem
{
    /// <summary>Creates a stock item (used by stores to rehydrate state).</summary>
    /// <param name="productId">The product.</param>
    /// <param name="onHand">The quantity on hand; must not be negative.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="onHand"/> is negative.</exception>
    public StockItem(ProductId productId, int onHand)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(onHand);
        ProductId = productId;
        OnHand = onHand;
    }

    /// <summary>The product.</summary>
    public ProductId ProductId { get; }

    /// <summary>The quantity on hand, never negative.</summary>
    public int OnHand { get; }

    /// <summary>Removes sold units.</summary>
    /// <param name="quantity">The quantity; must be positive.</param>
    /// <returns>The reduced stock, or <see cref="CommerceErrorCode.InvalidQuantity"/> or <see cref="CommerceErrorCode.InsufficientStock"/>.</returns>
    public Result<StockItem> Deduct(int quantity)
    {
        if (quantity <= 0)
        {
            return Errors.NonPositiveQuantity(quantity);
        }

        if (quantity > OnHand)
        {
            return Errors.InsufficientStock(ProductId, OnHand, quantity);
        }

        return new StockItem(ProductId, OnHand - quantity);
    }

    /// <summary>Adds units.</summary>
    /// <param name="quantity">The quantity; must be positive.</param>
    /// <returns>The increased stock, or <see cref="CommerceErrorCode.InvalidQuantity"/> (also when the stock would overflow).</returns>
    public Result<StockItem> Restock(int quantity) =>
        RestockRefusal(ProductId, OnHand, quantity) is { } refusal ? refusal : new StockItem(ProductId, OnHand + quantity);

    /// <summary>Why a stock of <paramref name="onHand"/> units cannot take <paramref name="quantity"/> more (see <see cref="Restock"/>), or <see langword="null"/> if it can.</summary>
    internal static CommerceError? RestockRefusal(ProductId productId, int onHand, int quantity) =>
        quantity <= 0 ? Errors.NonPositiveQuantity(quantity)
        : quantity > int.MaxValue - onHand ? Errors.StockOverflow(productId)
        : null;
}
