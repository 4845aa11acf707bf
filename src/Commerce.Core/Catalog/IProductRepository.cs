namespace Commerce.Storage;

/// <summary>The catalog inside a unit of work.</summary>
public interface IProductRepository
{
    /// <summary>Reads a product.</summary>
    /// <param name="productId">The product id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The product, or <see langword="null"/> if there is none with that id.</returns>
    ValueTask<Product?> FindAsync(ProductId productId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads one page of products in ascending id order. The page counts as read: the commit fails if
    /// a listed product changed or a product was added inside the page's range.
    /// </summary>
    /// <param name="after">Only products with a greater id; <see langword="null"/> for the first page.</param>
    /// <param name="limit">The most products to return; positive.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Up to <paramref name="limit"/> products.</returns>
    ValueTask<IReadOnlyList<Product>> ListAsync(ProductId? after, int limit, CancellationToken cancellationToken = default);

    /// <summary>Stages a new product; the commit fails if the id exists by then.</summary>
    /// <param name="product">The product.</param>
    void Add(Product product);
}
