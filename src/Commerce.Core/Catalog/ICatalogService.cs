namespace Commerce;

/// <summary>Adds, restocks and lists products.</summary>
/// <remarks>Thread-safe.</remarks>
public interface ICatalogService
{
    /// <summary>Adds a product with its initial stock.</summary>
    /// <param name="id">The caller-chosen product id.</param>
    /// <param name="name">The name: 1 to <see cref="CommerceOptions.MaxProductNameLength"/> characters (UTF-16 code units: a surrogate pair counts two), not only white space, without control characters or unpaired surrogates.</param>
    /// <param name="price">The unit price; zero or more.</param>
    /// <param name="initialStock">The stock on hand; zero or more.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// The product, or a failure that changed nothing: <see cref="CommerceErrorCode.InvalidProductName"/>,
    /// <see cref="CommerceErrorCode.InvalidAmount"/> (negative price), <see cref="CommerceErrorCode.InvalidQuantity"/>
    /// (negative stock), <see cref="CommerceErrorCode.ProductAlreadyExists"/>, <see cref="CommerceErrorCode.ConcurrencyConflict"/> or <see cref="CommerceErrorCode.StoreUnavailable"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (an invalid name, a negative price or stock) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<ProductSummary>> AddProductAsync(ProductId id, string name, Money price, int initialStock, CancellationToken cancellationToken = default);

    /// <summary>Adds units to a product's stock.</summary>
    /// <param name="id">The product.</param>
    /// <param name="quantity">The units to add; positive.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>
    /// The product with its new stock, or a failure that changed nothing: <see cref="CommerceErrorCode.InvalidQuantity"/>
    /// (also when the stock would pass <see cref="int.MaxValue"/>), <see cref="CommerceErrorCode.ProductNotFound"/>,
    /// <see cref="CommerceErrorCode.ConcurrencyConflict"/> or <see cref="CommerceErrorCode.StoreUnavailable"/>.
    /// </returns>
    /// <exception cref="CommitOutcomeUnknownException">
    /// The store could not tell whether the change was applied (for example a database connection failed
    /// during the commit): it was applied entirely or not at all; read the state to find out which.
    /// Only stores that talk to a server raise it; the in-memory store never does.
    /// </exception>
    /// <exception cref="ObjectDisposedException">
    /// The store was disposed (with the service provider that created it). A request its arguments alone refuse
    /// (a quantity that is not positive) needs no store and gets that refusal, disposed or not.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed (a use case cancelled before its commit applies nothing).</exception>
    ValueTask<Result<ProductSummary>> RestockAsync(ProductId id, int quantity, CancellationToken cancellationToken = default);

    /// <summary>Reads one product with its stock.</summary>
    /// <param name="id">The product.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>
    /// The product, or <see cref="CommerceErrorCode.ProductNotFound"/>; <see cref="CommerceErrorCode.ConcurrencyConflict"/> or
    /// <see cref="CommerceErrorCode.StoreUnavailable"/> when the retry budget (<see cref="CommerceOptions.MaxCommitAttempts"/>) runs out.
    /// </returns>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<Result<ProductSummary>> GetProductAsync(ProductId id, CancellationToken cancellationToken = default);

    /// <summary>Lists the first page of products (<see cref="CommerceOptions.DefaultPageSize"/> of them) in ascending id order.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The page; a consistent snapshot of products and their stock.</returns>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<IReadOnlyList<ProductSummary>> ListProductsAsync(CancellationToken cancellationToken = default);

    /// <summary>Lists a page of products in ascending id order (keyset paging: pass the last id of a page to get the next).</summary>
    /// <param name="after">Only products with a greater id; <see langword="null"/> for the first page.</param>
    /// <param name="limit">The page size: 1 to <see cref="CommerceOptions.MaxPageSize"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The page; a consistent snapshot of products and their stock. Fewer than <paramref name="limit"/> entries means it is the last page.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="limit"/> is outside 1 to <see cref="CommerceOptions.MaxPageSize"/>.</exception>
    /// <exception cref="StoreUnavailableException">The store refused the last of the attempts the retry budget allows (see <see cref="CommerceOptions.MaxCommitAttempts"/>).</exception>
    /// <exception cref="InvalidOperationException">Every attempt the retry budget allows met a concurrent commit that changed what it read.</exception>
    /// <exception cref="ObjectDisposedException">The store was disposed (with the service provider that created it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call completed.</exception>
    ValueTask<IReadOnlyList<ProductSummary>> ListProductsAsync(ProductId? after, int limit, CancellationToken cancellationToken = default);
}
