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
}
