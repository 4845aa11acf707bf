namespace Commerce.Storage;

/// <summary>Stock on hand inside a unit of work.</summary>
public interface IInventoryRepository
{
    /// <summary>Reads a product's stock.</summary>
    /// <param name="productId">The product.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The stock, or <see langword="null"/> if the product does not exist.</returns>
    ValueTask<StockItem?> FindAsync(ProductId productId, CancellationToken cancellationToken = default);

    /// <summary>Stages a product's new stock.</summary>
    /// <param name="item">The new state.</param>
    void Save(StockItem item);

    /// <summary>
    /// Stages a relative change of a product's stock: at commit, <paramref name="delta"/> is added to
    /// whatever is on hand by then, and the commit fails if the result would be negative (or beyond
    /// <see cref="int.MaxValue"/>) or the product has no stock. A stock read earlier in the unit of work is
    /// not checked at commit, so concurrent orders for one product do not invalidate each other; the
    /// caller must have relied on that read only for what the guard checks again.
    /// </summary>
    /// <param name="productId">The product.</param>
    /// <param name="delta">Units added (positive) or taken (negative).</param>
    void Adjust(ProductId productId, int delta);

    /// <summary>
    /// As <see cref="Adjust(ProductId, int)"/>, and the commit also fails if fewer than
    /// <paramref name="minimum"/> units would remain (an order that must not take the last unit unseen).
    /// </summary>
    /// <param name="productId">The product.</param>
    /// <param name="delta">Units added (positive) or taken (negative).</param>
    /// <param name="minimum">The fewest units that may remain; not negative.</param>
    void Adjust(ProductId productId, int delta, int minimum);
}
